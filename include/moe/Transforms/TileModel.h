//===- TileModel.h - the cost model of moe-select-tiles ---------*- C++ -*-===//
//
// Picks the kernel form's tile sizes, warps and pipeline stages for one MoE
// layer shape, an expected token count and a GPU target, from an analytical
// model of the expert GEMM kernels (docs/tile-selection.md). Plain C++.
//
//===----------------------------------------------------------------------===//

#ifndef MOE_TRANSFORMS_TILEMODEL_H
#define MOE_TRANSFORMS_TILEMODEL_H

#include "moe/Target/NVVM/ChipInfo.h"

#include "llvm/ADT/StringRef.h"

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace mlir::moe {

/// What the model needs to know of a layer.
struct LayerShape {
  int64_t hidden = 0;             // H
  int64_t experts = 0;            // E
  int64_t topK = 0;               // K
  int64_t intermediate = 0;       // I of one routed expert
  int64_t weightBytes = 2;        // bytes per weight element
  int64_t sharedIntermediate = 0; // I of the shared expert (0: none)
  /// Quantized expert weights, whose chunks each block dequantizes into
  /// shared memory.
  bool dequantized = false;
  /// w8a8's activation group (0: weight-only): each block keeps its rows'
  /// scales and an f32 product tile per weight.
  int64_t fp8ActivationGroup = 0;
};

/// A GPU as the model sees it (dense bf16 tensor-core peak, HBM bandwidth,
/// shared memory a block may use, the pipeline depth worth having): the
/// chip facts of ChipInfo.h.
using GpuTarget = nvidia::ChipInfo;

/// The chips of nvidia::kChips (sm_80, sm_90); none for other chips.
std::optional<GpuTarget> lookupGpuTarget(llvm::StringRef chip);

/// The choice, by the keys of the `moe.tiles` dictionary.
struct TileChoice {
  /// Experts per block of the router kernel (routerExpertsPerBlock).
  int64_t routerExperts = 1;
  int64_t routeTokens = 16, expertRows = 16, gateUpColumns = 64,
          downColumns = 64, combineTokens = 16;
  int64_t gateUpWarps = 4, downWarps = 4, gateUpStages = 3, downStages = 3;
  /// Launches per layer: 3 runs the combine in the last block of each of
  /// down's columns (moe-fuse-launches), 4 keeps it a kernel of its own.
  int64_t launches = 3;
  /// The shared expert's GEMM kernels (shared_gate_up, shared_down: one
  /// expert over every token), chosen apart: its rows are all the tokens
  /// and its width is not the routed experts'. 0 without a shared expert.
  int64_t sharedExpertRows = 0, sharedGateUpColumns = 0, sharedDownColumns = 0,
          sharedGateUpWarps = 0, sharedDownWarps = 0, sharedGateUpStages = 0,
          sharedDownStages = 0;
  /// The CPU form's f32 lanes per output (the CPU target); 0 on GPUs.
  int64_t cpuLanes = 0;
  /// 1: the CPU form's bf16 GEMMs in AVX512-BF16 pair dot products.
  int64_t cpuBf16Dot = 0;
  /// The model's estimate of the expert GEMM kernels (the shared expert's
  /// too), in microseconds.
  double estimatedMicroseconds = 0;

  /// (key, value) pairs in a fixed order: the `moe.tiles` entries (the
  /// shared expert's only where it has them).
  std::vector<std::pair<std::string, int64_t>> entries() const;
  /// Sets the entry named `key`; false for an unknown key.
  bool set(llvm::StringRef key, int64_t value);
};

/// The largest divisor of `n` (at least 1) from 1 to `most`: tiles that
/// split a dimension into equal parts.
int64_t largestDivisorUpTo(int64_t n, int64_t most);

/// Experts per block of the router kernel, whose blocks each take
/// `routeTokens` tokens by that many experts: the largest divisor of
/// `experts` up to `wanted` whose lane-split partial sums ([tokens,
/// experts, routerLanes(hidden)] f32, a block temporary) fit in 32 KiB.
int64_t routerExpertsPerBlock(int64_t experts, int64_t hidden,
                              int64_t routeTokens, int64_t wanted);

/// The experts expected to receive rows when each of `tokens` tokens picks
/// `topK` of `experts` uniformly: E (1 - (1 - K/E)^T), rounded, between
/// min(K, E) and min(E, T K).
int64_t expectedActiveExperts(int64_t experts, int64_t topK, int64_t tokens);

/// The warps of an expert kernel whose blocks take `rows` x `columns`
/// tiles, by the model's rule (docs/tile-selection.md).
int64_t expertKernelWarps(int64_t rows, int64_t columns);

/// The model's choice for `shape` at `tokens` tokens on `target`.
TileChoice selectTiles(const LayerShape &shape, const GpuTarget &target,
                       int64_t tokens);

/// The CPU target's choice for `shape`: the CPU form of the expert GEMMs
/// with `lanes` f32 lanes per output (with `bf16Dot`, bf16 GEMMs in
/// AVX512-BF16 pair dot products), one thread per block, and tiles whose
/// weights stay in cache (docs/tile-selection.md, "The CPU target").
TileChoice selectCpuTiles(const LayerShape &shape, int64_t lanes, bool bf16Dot);

} // namespace mlir::moe

#endif // MOE_TRANSFORMS_TILEMODEL_H
