//===- EmuProfile.h - What a launch did to memory, as a profiler counts --===//
//
// With EmulatorOptions::profile, the emulator hands every global and shared
// access, mma.sync and barrier of a launch to a LaunchProfiler, which
// counts what Nsight Compute would report for it. The threads of a warp run
// one after another here, not in lockstep, so a warp's memory request is
// rebuilt from the accesses its lanes make at the same site for the same
// time: the n-th access of site s by any lane of warp w belongs to request
// (w, s, n).
//
//===----------------------------------------------------------------------===//

#ifndef MOERT_EMUPROFILE_H
#define MOERT_EMUPROFILE_H

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <unordered_map>
#include <vector>

namespace moert {

/// The load requests of one instruction (site) on one buffer, summed over
/// a launch: where the sectors a launch pulls without using go.
struct LoadSite {
  std::string site, buffer;
  uint64_t requests = 0, sectors = 0, requestedBytes = 0;
};

/// One launch's counts (docs/emulator-profile.md defines each).
struct KernelProfile {
  std::string name;
  std::array<uint32_t, 3> grid{}, block{};
  uint32_t dynamicSharedMemory = 0;
  /// Blocks that read at least one byte of a weight buffer.
  uint64_t workingBlocks = 0;
  /// Distinct 32-byte sectors of global memory the launch read or wrote,
  /// times 32: what DRAM serves if L2 catches all reuse within the launch.
  uint64_t dramBytes = 0;
  /// Bytes the threads asked for in global loads, stores and atomics, each
  /// warp request's distinct 4-byte words counted once (a broadcast load
  /// asks for its bytes once).
  uint64_t requestedGlobalBytes = 0;
  /// Warp-level global memory requests, and the distinct 32-byte sectors
  /// of each, summed.
  uint64_t globalRequests = 0, globalSectors = 0;
  /// Requested load bytes and the sectors of the load requests alone.
  uint64_t requestedLoadBytes = 0, loadSectors = 0;
  /// Warp-level shared-memory requests and their extra wavefronts: per
  /// request, the most distinct 4-byte words any one of the 32 banks holds
  /// (the wavefronts it takes) minus the wavefronts its bytes need at best
  /// (distinct words / 32, rounded up: a 16-byte access per lane is 4
  /// conflict-free wavefronts).
  uint64_t sharedRequests = 0, sharedBankConflicts = 0;
  /// Warp-wide mma.sync m16n8k16 (bf16, f16) and m16n8k32 (e4m3, twice
  /// the FLOPs); moe-run's profile relates them to the layer's useful
  /// FLOPs: the emulator cannot tell padding rows, which the kernels may
  /// fill with copies of real ones, from tokens.
  uint64_t mmaCount = 0, fp8MmaCount = 0;
  uint64_t barriers = 0, atomics = 0;
  /// 0: every column of the grid ran. Else the columns (grid y) that ran
  /// under column sampling, and every count above is extrapolated from
  /// them to the whole grid (LaunchProfiler::extrapolate).
  uint32_t columnsRun = 0;
  /// The load sites that leave the most sector bytes unused (sectors x 32
  /// - requested bytes), most first, at most kReportedLoadSites.
  std::vector<LoadSite> loadSites;
};

constexpr size_t kReportedLoadSites = 6;

class LaunchProfiler {
public:
  /// `bufferBytes`: the sizes of the launch's buffers, in the order the
  /// emulator numbers them.
  LaunchProfiler(std::string name, std::array<uint32_t, 3> grid,
                 std::array<uint32_t, 3> block, uint32_t sharedBytes,
                 const std::vector<uint64_t> &bufferBytes);

  /// A global access of `bytes` at byte `offset` of buffer `buffer` by warp
  /// `warp` of block slot `slot`, its lane's `occurrence`-th at `site`.
  void global(uint32_t slot, uint32_t warp, uint32_t site, uint32_t occurrence,
              size_t buffer, uint64_t offset, uint64_t bytes, bool read,
              bool write, bool weight);
  /// A shared access at byte `offset` of the block's shared memory.
  void shared(uint32_t slot, uint32_t warp, uint32_t site, uint32_t occurrence,
              uint64_t offset, uint64_t bytes);
  void mma(bool fp8) { ++(fp8 ? profile_.fp8MmaCount : profile_.mmaCount); }
  void barrier() { ++profile_.barriers; }
  /// Folds the requests of the block in `slot` into the counts.
  void endBlock(uint32_t slot);

  /// Block slot `slot` starts the block of grid column `column` (its y).
  void startBlock(uint32_t slot, uint32_t column);

  /// Column sampling: only `columnsRun` (at least 2) of the grid's columns
  /// ran, spread evenly over it. Scales the counts to the whole grid, as if
  /// every column did what the average column that ran did. A DRAM sector
  /// that one column alone touched stands for `grid y / columnsRun` of them
  /// (a GEMM's weights and output, which the columns split between them);
  /// one that several columns touched counts once (a GEMM's A, the
  /// routing tables, which every column reads). Call after the last block.
  void extrapolate(uint32_t columnsRun);

  /// Names the launch's load sites (`siteName` of a site index, and the
  /// buffers' names in the order the emulator numbers them) and keeps the
  /// most wasteful in the profile. Call last.
  void reportLoadSites(const std::function<std::string(uint32_t)> &siteName,
                       const std::vector<std::string> &bufferNames);

  /// The counts; call after the last block ended.
  const KernelProfile &profile() const { return profile_; }

private:
  struct RequestKey {
    uint32_t warp, site, occurrence;
    bool operator==(const RequestKey &o) const {
      return warp == o.warp && site == o.site && occurrence == o.occurrence;
    }
  };
  struct RequestHash {
    size_t operator()(const RequestKey &k) const {
      uint64_t h =
          (uint64_t(k.site) << 32) ^ (uint64_t(k.occurrence) << 5) ^ k.warp;
      return size_t(h * 0x9E3779B97F4A7C15ULL);
    }
  };
  /// A request's sectors and 4-byte words (tagged with their buffer), with
  /// repeats: made distinct when the block ends.
  struct GlobalRequest {
    std::vector<uint64_t> sectors, words;
    bool load = false;
    size_t buffer = 0;
  };
  struct SiteCounts {
    uint64_t requests = 0, sectors = 0, requestedBytes = 0;
  };
  /// Load requests by (site, buffer).
  std::map<std::pair<uint32_t, size_t>, SiteCounts> loadSites_;
  struct BlockState {
    std::unordered_map<RequestKey, GlobalRequest, RequestHash> global;
    /// Per request, the 4-byte words of shared memory (offset / 4).
    std::unordered_map<RequestKey, std::vector<uint32_t>, RequestHash> shared;
    bool working = false;
    uint32_t column = 0;
  };

  KernelProfile profile_;
  /// Per buffer and 32-byte sector (by offset): kUntouched, the grid column
  /// (+1) of the only blocks that touched it, or kSeveralColumns.
  struct BufferUse {
    std::vector<uint16_t> columns;
    uint64_t sectors = 0, touched = 0;
  };
  std::vector<BufferUse> buffers_;
  /// The buffers' touched sectors, summed.
  uint64_t touchedCount_ = 0;
  std::unordered_map<uint32_t, BlockState> blocks_;
};

/// {"kernels": [...]}: one object per launch, keys as documented in
/// docs/emulator-profile.md.
std::string profileJson(const std::vector<KernelProfile> &kernels);

} // namespace moert

#endif // MOERT_EMUPROFILE_H
