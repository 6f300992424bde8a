//===- TileModel.cpp - the cost model of moe-select-tiles -----------------===//
//
// See docs/tile-selection.md for the model and its assumptions.
//
//===----------------------------------------------------------------------===//

#include "moe/Transforms/TileModel.h"
#include "moe/Transforms/Passes.h"

#include "TensorCoreTiles.h"
#include "moe/Conversion/MoeToLinalg/Builders.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/bit.h"

#include <algorithm>
#include <cmath>
#include <limits>

using namespace mlir::moe;

namespace {

int64_t ceilDiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

int64_t nextPowerOfTwo(int64_t v) {
  int64_t p = 1;
  while (p < v)
    p *= 2;
  return p;
}

/// The depth of the K loop of a block (elements of the reduction per stage).
constexpr int64_t kTile = 64;

/// One expert GEMM kernel: `rows` routed rows in all, over `experts` active
/// experts, times [reduction x columns] weights per expert.
struct GemmProblem {
  int64_t activeExperts, rowsPerExpert, columns, reduction, weightBytes;
  /// Bytes of the weights each active expert reads (gate_up reads two
  /// matrices per column tile).
  int64_t weightMatrices;
  /// Bytes per element of a [rows, columns] tile the kernel form keeps in
  /// shared memory: its f32 accumulators in the tensor-core form (gate_up:
  /// two, the activation overwrites the gate one; down: one). The staged
  /// [rows, kTile] chunk of the rows comes on top.
  int64_t temporaryBytes;
  /// As LayerShape's: the dequantized chunks of quantized weights, and
  /// w8a8's scales and product tiles, sit beside them.
  bool dequantized;
  int64_t activationGroup;
};

struct GemmChoice {
  int64_t columns = 0, warps = 0, stages = 0;
  double seconds = std::numeric_limits<double>::infinity();

  void assignTo(int64_t &columnsEntry, int64_t &warpsEntry,
                int64_t &stagesEntry) const {
    columnsEntry = columns;
    warpsEntry = warps;
    stagesEntry = stages;
  }
};

/// The best column tile for `rows` rows per block: the estimated time is
/// the larger of the memory time (weights once, activation rows once, or
/// once per column tile when they overflow the L2) and the tensor-core time
/// (padded rows), each slowed by how little of the machine the grid fills
/// (occupancy) and by the last wave's idle multiprocessors (wave quantization).
/// With `onlyColumns`, that tile or none (columns 0 then).
GemmChoice chooseColumns(const GemmProblem &p, int64_t rows, const GpuTarget &t,
                         int64_t onlyColumns = 0) {
  GemmChoice best;
  int64_t rowBlocks = p.activeExperts * ceilDiv(p.rowsPerExpert, rows);
  for (int64_t columns : {32, 64, 128, 256}) {
    if (columns > 2 * nextPowerOfTwo(p.columns) && columns > 32)
      break;
    if (onlyColumns && columns != onlyColumns)
      continue;
    // The tensor-core form takes only column tiles that divide the
    // columns (planTensorCores); another tile gets the scalar form, whose
    // temporaries leave its kernel one thread per block. gpt-oss's 2880
    // columns took 256 at 8 tokens so: no mma.sync, load efficiency 0.125
    // (bench/results/emulator-profile-models.md).
    if (p.columns % columns != 0)
      continue;
    // The accumulators' rows are padded (planTensorCores).
    int64_t accumulators =
        accumulatorBytes(p.temporaryBytes / 4, rows, columns);
    int64_t fixedBytes = accumulators + rows * kTile * p.weightBytes;
    if (p.dequantized)
      fixedBytes += p.weightMatrices * columns * kTile * p.weightBytes;
    if (p.activationGroup)
      fixedBytes += accumulatorBytes(p.weightMatrices, rows, columns) +
                    rows * ceilDiv(p.reduction, p.activationGroup) * 4;
    if (fixedBytes > kKernelSharedMemoryBudget)
      continue;
    // Deepest pipeline (two stages at least) whose staging buffers fit in
    // shared memory. Plain weights must also fit staged as moe-form-kernels
    // lays them out: beside the rows, rows padded (kStagedRowPaddingBytes),
    // with the accumulators, in the kernel budget (planTensorCores); else
    // their mma fragments come straight from global memory, half of each
    // sector unused. Mixtral-8x7B's gate_up at 8 and 64 tokens took 256
    // columns so: load efficiency 0.502 and 4.6 extra wavefronts per shared
    // request, against 0.995 and 2.5 at 128
    // (bench/results/emulator-profile-models.md). Not a candidate.
    auto smem = [&](int64_t s) {
      return s * (rows + p.weightMatrices * columns) * kTile * p.weightBytes;
    };
    bool plain = !p.dequantized && !p.activationGroup;
    auto fits = [&](int64_t s) {
      int64_t staged =
          accumulators + s * (rows + p.weightMatrices * columns) *
                             (kTile * p.weightBytes + kStagedRowPaddingBytes);
      return smem(s) <= t.sharedMemoryPerBlock &&
             (!plain || staged <= kKernelSharedMemoryBudget);
    };
    int64_t stages = t.maxStages;
    while (stages > 2 && !fits(stages))
      --stages;
    if (!fits(stages))
      continue;
    int64_t perSm =
        std::clamp<int64_t>(t.sharedMemoryPerBlock / smem(stages), 1, 4);
    int64_t columnTiles = ceilDiv(p.columns, columns);
    int64_t blocks = rowBlocks * columnTiles;
    // Multiprocessors with work: a grid smaller than the machine leaves
    // bandwidth and tensor cores idle. Past one wave, the last wave's empty
    // slots idle the tensor cores (tail effect).
    int64_t slots = t.multiprocessors * perSm;
    int64_t waves = ceilDiv(blocks, slots);
    double occupancy =
        std::min(1.0, double(blocks) / double(t.multiprocessors));
    double waveUse =
        waves == 1 ? occupancy : double(blocks) / double(waves * slots);
    // Every column tile reads all the rows. While they fit in half the L2
    // (the other half for the weights streaming past), DRAM serves them
    // once and L2 the re-reads. Counting them once per tile made decode
    // pick tiles too wide to fill the GPU (Mixtral-8x7B's down: 128
    // working blocks on 132 SMs, bench/results/emulator-profile-mixtral.md)
    // to save re-reading 0.9 MiB of rows.
    double rowBytes = double(rowBlocks) * rows * p.reduction * p.weightBytes;
    double rowReads = rowBytes <= t.l2Bytes / 2 ? 1 : columnTiles;
    double bytes = double(p.activeExperts) * p.weightMatrices * p.columns *
                       p.reduction * p.weightBytes +
                   rowBytes * rowReads;
    double flops =
        2.0 * rowBlocks * rows * p.weightMatrices * p.columns * p.reduction;
    double seconds = std::max(bytes / (t.bytesPerSecond * occupancy),
                              flops / (t.flopsPerSecond * waveUse));
    // Ties (within 1%) go to the wider tile: fewer blocks re-read the rows
    // (from L2, which the model leaves out, when they fit there).
    if (seconds < best.seconds * 0.99 ||
        (seconds <= best.seconds * 1.01 && columns > best.columns)) {
      best.columns = columns;
      best.stages = stages;
      best.warps = expertKernelWarps(rows, columns);
      best.seconds = seconds;
    }
  }
  if (best.columns == 0 && !onlyColumns) // nothing fit: the smallest tile
    best = {32, 4, 2, best.seconds};
  return best;
}

/// The shared expert's GEMM `p` (`rows` a block) beside the routed
/// kernel's GEMM `routed` and its choice `routedChoice`, in its launch
/// (moe-fuse-launches runs kernels with as many column tiles and threads
/// in one): where the shared expert is as wide as a routed one, its blocks
/// take the routed kernel's tile and warps (the tensor-core form taking
/// them), and so a routed block's work. Beside the routed experts they take
/// the multiprocessors those leave idle: DeepSeek-V3's shared_gate_up had
/// 64 working blocks of its own at 1 and 8 tokens, on 132 SMs
/// (bench/results/emulator-profile-models.md), and two launches are saved.
/// A wider shared expert (Qwen2-57B-A14B's 20480 against 2560) keeps its
/// own best tile and launches: beside the routed blocks, its blocks would
/// each stream 8 times their weights, a tail on a few SMs.
GemmChoice chooseBesideRouted(const GemmProblem &p, int64_t rows,
                              const GemmProblem &routed,
                              const GemmChoice &routedChoice,
                              const GpuTarget &t) {
  if (p.columns == routed.columns && p.reduction == routed.reduction &&
      routedChoice.columns %
              (nvidia::mmaTileColumns(rows) * routedChoice.warps) ==
          0) {
    GemmChoice beside = chooseColumns(p, rows, t, routedChoice.columns);
    if (beside.columns == routedChoice.columns) {
      beside.warps = routedChoice.warps;
      return beside;
    }
  }
  return chooseColumns(p, rows, t);
}

/// Rows per block of an expert kernel: the smallest mma-friendly tile that
/// holds an expert's `rows`, at most 128: 8 (the swapped form, the tokens
/// as the mma's 8-column side: at decode half the padding of 16-row
/// tiles), else a power of two from 16 (the mma's M).
int64_t rowTile(int64_t rows) {
  return std::clamp<int64_t>(nextPowerOfTwo(rows), nvidia::kSwappedMmaRows,
                             128);
}

/// Tokens per block of a token-parallel kernel: enough blocks for every
/// multiprocessor, at most 64 tokens, and few enough that the block's
/// temporaries of `bytesPerToken` fit in kKernelSharedMemoryBudget.
int64_t tokensPerBlock(int64_t tokens, const GpuTarget &t,
                       int64_t bytesPerToken) {
  int64_t fit = std::max<int64_t>(kKernelSharedMemoryBudget / bytesPerToken, 1);
  // The largest power of two that fits.
  int64_t fitPow2 = nextPowerOfTwo(fit + 1) / 2;
  return std::clamp<int64_t>(nextPowerOfTwo(ceilDiv(tokens, t.multiprocessors)),
                             1, std::min<int64_t>(64, fitPow2));
}

} // namespace

std::optional<GpuTarget> mlir::moe::lookupGpuTarget(llvm::StringRef chip) {
  const nvidia::ChipInfo *info = nvidia::lookupChip(chip);
  if (!info)
    return std::nullopt;
  return *info;
}

namespace {
/// Every entry of a TileChoice by its `moe.tiles` key, the shared expert's
/// last.
std::vector<std::pair<const char *, int64_t TileChoice::*>> allEntries() {
  return {{"route_tokens", &TileChoice::routeTokens},
          {"router_experts", &TileChoice::routerExperts},
          {"expert_rows", &TileChoice::expertRows},
          {"gate_up_columns", &TileChoice::gateUpColumns},
          {"down_columns", &TileChoice::downColumns},
          {"combine_tokens", &TileChoice::combineTokens},
          {"gate_up_warps", &TileChoice::gateUpWarps},
          {"down_warps", &TileChoice::downWarps},
          {"gate_up_stages", &TileChoice::gateUpStages},
          {"down_stages", &TileChoice::downStages},
          {"launches", &TileChoice::launches},
          {"shared_expert_rows", &TileChoice::sharedExpertRows},
          {"shared_gate_up_columns", &TileChoice::sharedGateUpColumns},
          {"shared_down_columns", &TileChoice::sharedDownColumns},
          {"shared_gate_up_warps", &TileChoice::sharedGateUpWarps},
          {"shared_down_warps", &TileChoice::sharedDownWarps},
          {"shared_gate_up_stages", &TileChoice::sharedGateUpStages},
          {"shared_down_stages", &TileChoice::sharedDownStages},
          {"cpu_lanes", &TileChoice::cpuLanes},
          {"cpu_bf16_dot", &TileChoice::cpuBf16Dot}};
}
} // namespace

std::vector<std::pair<std::string, int64_t>> TileChoice::entries() const {
  std::vector<std::pair<std::string, int64_t>> result;
  for (auto [key, field] : allEntries())
    if (this->*field != 0)
      result.emplace_back(key, this->*field);
  return result;
}

bool TileChoice::set(llvm::StringRef key, int64_t value) {
  for (auto [name, field] : allEntries())
    if (key == name) {
      this->*field = value;
      return true;
    }
  return false;
}

int64_t mlir::moe::expertKernelWarps(int64_t rows, int64_t columns) {
  // One warp per 16 x 32 mma tile (8 x 32 in the swapped form of 8 rows),
  // 4 to 8 warps: at least 4 for enough loads in flight. Warps split the
  // columns, never the reduction, so a tile choice cannot change a token's
  // bits. The swapped form's mma tiles are 16 columns wide: at most one
  // warp per 16 columns (2 for 32, which moe-form-kernels would otherwise
  // cut them to).
  int64_t warps = std::clamp<int64_t>(
      std::max<int64_t>(rows / 16, 1) * (columns / 32), 4, 8);
  if (nvidia::isSwappedMma(rows))
    warps = std::min<int64_t>(warps, columns / nvidia::mmaTileColumns(rows));
  return warps;
}

int64_t mlir::moe::expectedActiveExperts(int64_t experts, int64_t topK,
                                         int64_t tokens) {
  experts = std::max<int64_t>(experts, 1);
  topK = std::clamp<int64_t>(topK, 1, experts);
  tokens = std::max<int64_t>(tokens, 1);
  double untouched =
      std::pow(1.0 - double(topK) / double(experts), double(tokens));
  int64_t expected = std::llround(double(experts) * (1.0 - untouched));
  return std::clamp<int64_t>(expected, topK, std::min(experts, tokens * topK));
}

int64_t mlir::moe::routerExpertsPerBlock(int64_t experts, int64_t hidden,
                                         int64_t routeTokens, int64_t wanted) {
  // The lanes' partial sums, unpadded (their tile has a lane more,
  // routerPartialWords, 1/32 past this).
  constexpr int64_t kPartialBytes = 32 * 1024;
  int64_t fit = kPartialBytes /
                (std::max<int64_t>(routeTokens, 1) * routerLanes(hidden) * 4);
  return largestDivisorUpTo(experts, std::min(wanted, fit));
}

int64_t mlir::moe::largestDivisorUpTo(int64_t n, int64_t most) {
  n = std::max<int64_t>(n, 1);
  most = std::clamp<int64_t>(most, 1, n);
  while (n % most != 0)
    --most;
  return most;
}

TileChoice mlir::moe::selectTiles(const LayerShape &shape,
                                  const GpuTarget &target, int64_t tokens) {
  TileChoice choice;
  tokens = std::max<int64_t>(tokens, 1);
  int64_t routed = tokens * shape.topK;
  // Routing spread evenly: the experts expected to have rows, and their
  // rows each. Not min(E, T K), the most that can: Llama-4-Scout (E 16,
  // K 1) at 8 tokens had 6 active, and its down_combine, tiled for 8, got
  // 120 working blocks on 132 SMs (bench/results/emulator-profile-models.md).
  int64_t active = expectedActiveExperts(shape.experts, shape.topK, tokens);
  int64_t rowsPerExpert = ceilDiv(routed, active);
  choice.expertRows = rowTile(rowsPerExpert);

  GemmProblem gateUp{active,       rowsPerExpert,     shape.intermediate,
                     shape.hidden, shape.weightBytes, 2,
                     4 + 4,        shape.dequantized, shape.fp8ActivationGroup};
  GemmProblem down{active,
                   rowsPerExpert,
                   shape.hidden,
                   shape.intermediate,
                   shape.weightBytes,
                   1,
                   4,
                   shape.dequantized,
                   shape.fp8ActivationGroup};
  GemmChoice g = chooseColumns(gateUp, choice.expertRows, target);
  GemmChoice d = chooseColumns(down, choice.expertRows, target);
  g.assignTo(choice.gateUpColumns, choice.gateUpWarps, choice.gateUpStages);
  d.assignTo(choice.downColumns, choice.downWarps, choice.downStages);
  choice.estimatedMicroseconds = (g.seconds + d.seconds) * 1e6;
  // The shared expert's kernels: one expert whose rows are all the
  // tokens, its tiles those that let it run beside the routed experts.
  if (int64_t shared = shape.sharedIntermediate) {
    choice.sharedExpertRows = rowTile(tokens);
    GemmProblem sharedGateUp = gateUp, sharedDown = down;
    sharedGateUp.activeExperts = sharedDown.activeExperts = 1;
    sharedGateUp.rowsPerExpert = sharedDown.rowsPerExpert = tokens;
    sharedGateUp.columns = sharedDown.reduction = shared;
    GemmChoice sg = chooseBesideRouted(sharedGateUp, choice.sharedExpertRows,
                                       gateUp, g, target);
    GemmChoice sd = chooseBesideRouted(sharedDown, choice.sharedExpertRows,
                                       down, d, target);
    sg.assignTo(choice.sharedGateUpColumns, choice.sharedGateUpWarps,
                choice.sharedGateUpStages);
    sd.assignTo(choice.sharedDownColumns, choice.sharedDownWarps,
                choice.sharedDownStages);
    choice.estimatedMicroseconds += (sg.seconds + sd.seconds) * 1e6;
  }
  // Route keeps about a dozen [tokens, E] f32/i32 arrays per block
  // (scores, top-k, group scores).
  choice.routeTokens =
      tokensPerBlock(tokens, target, std::max<int64_t>(shape.experts, 1) * 48);
  // The router GEMM has a kernel of its own over [route_tokens tokens,
  // router_experts experts] tiles, each token's gating in the block that
  // finishes its row last (moe-fuse-launches). The whole router in one
  // block per route tile read it from one SM at decode (Qwen3-30B-A3B at
  // 1 token: 23.8 of the layer's 52.4 us by the emulator profile's H100
  // estimate); its tiles are as small in experts as fill the SMs, and as
  // large as the partial sums fit in (L2 reads of the tokens' rows, once
  // per column of the grid, at prefill).
  choice.routerExperts = routerExpertsPerBlock(
      shape.experts, shape.hidden, choice.routeTokens,
      shape.experts * ceilDiv(tokens, choice.routeTokens) /
          static_cast<int64_t>(target.multiprocessors));
  // The combine runs in the last block of each of down's columns
  // (moe-fuse-launches), a step of [combine_tokens, down columns] output
  // elements at a time with no temporaries: about 1024 elements per step,
  // 8 for each of 128 threads, and no more tokens than there are.
  choice.combineTokens =
      std::clamp<int64_t>(1024 / std::max<int64_t>(choice.downColumns, 1), 1,
                          std::min<int64_t>(64, nextPowerOfTwo(tokens)));
  // The combine in down's blocks saves a launch but is a serial tail: the
  // last block of each column walks all T tokens of its columns, each
  // thread an element at a time, two dependent reads (the inverse, then
  // the row) per element, about 0.5 us. Worth it while a thread has at
  // most 8 elements (~4 us, about a launch); past that, the combine keeps
  // its own launch over the whole GPU.
  int64_t tail = ceilDiv(tokens * std::min(choice.downColumns, shape.hidden),
                         choice.downWarps * 32);
  choice.launches = tail <= 8 ? 3 : 4;
  return choice;
}

TileChoice mlir::moe::selectCpuTiles(const LayerShape &shape, int64_t lanes,
                                     bool bf16Dot) {
  TileChoice choice;
  choice.cpuLanes = lanes;
  choice.cpuBf16Dot = bf16Dot && lanes == 16;
  // A block's weight tile is read from memory once and then from the cache
  // for every 4 of its rows: at most 256 KiB of it (half of a 512 KiB L2;
  // more where L2 is larger), 16 to 256 columns.
  auto columnsFor = [&](int64_t reduction, int64_t matrices) {
    int64_t rowBytes =
        std::max<int64_t>(reduction * shape.weightBytes * matrices, 1);
    return std::clamp<int64_t>(
        static_cast<int64_t>(llvm::bit_floor(static_cast<uint64_t>(
            std::max<int64_t>(256 * 1024 / rowBytes, 1)))),
        16, 256);
  };
  // The router's blocks: 16 tokens by as many experts as such a tile
  // holds (a divisor of E, so that every block has as many).
  choice.routerExperts =
      largestDivisorUpTo(shape.experts, columnsFor(shape.hidden, 1));
  choice.expertRows = 128;
  choice.gateUpColumns = columnsFor(shape.hidden, 2);
  choice.downColumns = columnsFor(shape.intermediate, 1);
  // One thread per block: no warps to share it, nothing staged.
  choice.gateUpWarps = choice.downWarps = 1;
  choice.gateUpStages = choice.downStages = 1;
  if (shape.sharedIntermediate) {
    choice.sharedExpertRows = choice.expertRows;
    choice.sharedGateUpColumns = choice.gateUpColumns;
    choice.sharedDownColumns = columnsFor(shape.sharedIntermediate, 1);
    choice.sharedGateUpWarps = choice.sharedDownWarps = 1;
    choice.sharedGateUpStages = choice.sharedDownStages = 1;
  }
  return choice;
}
