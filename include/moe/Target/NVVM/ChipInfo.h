//===- ChipInfo.h - what moe-opt knows of NVIDIA GPUs -----------*- C++ -*-===//
//
// The one place for NVIDIA facts: the warp size, the chips the kernels are
// built for, their shared memory per block, multiprocessors, bandwidth and
// tensor-core peak (moe-select-tiles' cost model), and what mma.sync needs.
// Generic kernel-form code (warps of a block, the shared-memory budget) and
// the NVVM lowering read them here. Header-only: no library to link.
//
//===----------------------------------------------------------------------===//

#ifndef MOE_TARGET_NVVM_CHIPINFO_H
#define MOE_TARGET_NVVM_CHIPINFO_H

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/StringRef.h"

#include <cstdint>
#include <optional>

namespace mlir::moe::nvidia {

/// Threads per warp.
constexpr int64_t kWarpSize = 32;

/// A chip as the kernels and the tile cost model see it: dense bf16
/// tensor-core peak, HBM bandwidth, the shared memory a block may use, the
/// staging pipeline depth worth having and the L2 cache.
struct ChipInfo {
  const char *name;
  int64_t multiprocessors;
  int64_t sharedMemoryPerBlock;
  double bytesPerSecond;
  double flopsPerSecond;
  int64_t maxStages;
  int64_t l2Bytes;
};

/// The chips kernels are built for by default: A100 SXM and H100 SXM.
inline constexpr ChipInfo kChips[] = {
    {"sm_80", 108, 163 * 1024, 2.039e12, 312e12, 3, 40 << 20},
    {"sm_90", 132, 227 * 1024, 3.35e12, 989e12, 4, 50 << 20},
};

/// Shared memory per block that every chip of kChips gives: the budget of
/// kernels built for all of them (sm_80's).
constexpr int64_t kPortableSharedMemoryPerBlock = [] {
  int64_t least = kChips[0].sharedMemoryPerBlock;
  for (const ChipInfo &chip : kChips)
    least =
        chip.sharedMemoryPerBlock < least ? chip.sharedMemoryPerBlock : least;
  return least;
}();

/// bf16/f16 mma.sync m16n8k16 (the expert GEMMs) needs this compute
/// capability or newer.
constexpr int64_t kMmaSyncMinCapability = 80;

/// The rows of a block whose mma.sync tiles take the swapped form: the
/// block's rows as the 8-column side (B) of m16n8, the weights as its
/// 16-row side (A), C^T's tiles (lib/Target/NVVM/MmaSync.cpp). At decode
/// half the padding of 16-row tiles.
constexpr int64_t kSwappedMmaRows = 8;

/// Whether a block of `rows` rows takes the swapped form.
constexpr bool isSwappedMma(int64_t rows) { return rows == kSwappedMmaRows; }

/// The columns of one mma tile of a block of `rows` rows: mma.sync's n (8),
/// or its m (16) in the swapped form. A warp takes whole tiles of them.
constexpr int64_t mmaTileColumns(int64_t rows) {
  return isSwappedMma(rows) ? 16 : 8;
}

/// e4m3 mma.sync m16n8k32 (w8a8's expert GEMMs with fp8 weights) needs
/// this compute capability or newer, and this PTX ISA version (8.4).
constexpr int64_t kFp8MmaMinCapability = 89;
constexpr int64_t kFp8MmaMinPtx = 84;

/// LLVM's intrinsic of mma.sync m16n8k32 row.col, e4m3 x e4m3 + f32 (MLIR
/// 22's nvvm.mma.sync has no such shape).
constexpr llvm::StringLiteral kE4M3MmaIntrinsic =
    "llvm.nvvm.mma.m16n8k32.row.col.f32.e4m3.e4m3.f32";

/// The entry of kChips named `name`, or null.
inline const ChipInfo *lookupChip(llvm::StringRef name) {
  for (const ChipInfo &chip : kChips)
    if (name == chip.name)
      return &chip;
  return nullptr;
}

/// The compute capability of "sm_<digits>[a|f]" (90 for sm_90a), or none.
inline std::optional<int64_t> computeCapability(llvm::StringRef chip) {
  if (!chip.consume_front("sm_"))
    return std::nullopt;
  if (chip.ends_with("a") || chip.ends_with("f"))
    chip = chip.drop_back();
  int64_t number = 0;
  if (chip.empty() || !llvm::all_of(chip, llvm::isDigit) ||
      chip.getAsInteger(10, number))
    return std::nullopt;
  return number;
}

/// Whether every chip named in `chips` has e4m3 mma.sync (false for none:
/// the default chips include sm_80).
template <typename Range> bool haveFp8Mma(const Range &chips) {
  bool any = false;
  for (const auto &chip : chips) {
    std::optional<int64_t> capability = computeCapability(chip);
    if (!capability || *capability < kFp8MmaMinCapability)
      return false;
    any = true;
  }
  return any;
}

} // namespace mlir::moe::nvidia

#endif // MOE_TARGET_NVVM_CHIPINFO_H
