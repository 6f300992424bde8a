//===- Emulator.h - Runs a kernel's device code on the CPU ------*- C++ -*-===//
//
// The SIMT emulator behind the cuda-emu backend. An emulator library
// (moert_emu_abi.h) holds the kernels' NVVM code built for the host, each
// NVVM operation a call into this file. A launch runs the grid block by
// block (grid order, a seeded shuffle, or two blocks interleaved); the
// threads of a block are fibers (EmuFiber.h) on the calling OS thread, each
// running until its next barrier, mma.sync, fence or exit, so the schedule
// is deterministic. What it checks, naming kernel, block and thread:
// barriers every thread reaches at the same place, whole warps at each
// mma.sync, cp.async data landing only at the wait that covers its group
// (shared memory starts as 0xFF bytes, a NaN in every float type, so early
// reads show), and, with checks on, every shared and global access within
// the block's dynamic shared memory or the launch's buffers and no two
// threads touching the same shared bytes between barriers unless both
// only read.
//
//===----------------------------------------------------------------------===//

#ifndef MOERT_EMULATOR_H
#define MOERT_EMULATOR_H

#include "EmuProfile.h"
#include "Error.h"

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace moert {

struct EmulatorOptions {
  /// Blocks in grid order when false; else a shuffle seeded by `seed`.
  bool shuffle = false;
  uint64_t seed = 0;
  /// Blocks in flight at once (1 or 2); with 2 a block may run between
  /// another's fences and atomics.
  unsigned concurrentBlocks = 1;
  /// Bounds and race checks on every shared and global access.
  bool checks = true;
  /// Counts per launch what a profiler would (KernelProfile); implies
  /// checks, whose access hooks it reads.
  bool profile = false;
  /// Column sampling of a profile (1: every block). With S > 1, a launch
  /// whose grid has three columns (grid y) or more runs only the columns
  /// y % S' == 0, S' = min(S, grid y - 1) so that two run at least, and
  /// its profile scales the counts to the whole grid
  /// (LaunchProfiler::extrapolate). Its outputs are then incomplete. A
  /// launch run with sampleColumns = false runs whole.
  unsigned columnStride = 1;
  /// moert_emu_options.progress: (kernel, launch, blocks done, blocks).
  std::function<void(const std::string &, uint64_t, uint64_t, uint64_t)>
      progress;
};

/// A buffer a launch may touch: [address, address + bytes).
struct EmulatedBuffer {
  uint64_t address = 0;
  uint64_t bytes = 0;
  std::string name;
  /// A weight buffer: the launch counts the 32-byte sectors read from it.
  bool weight = false;
};

/// What the emulator counted over its launches.
struct EmulatorStats {
  uint64_t launches = 0, blocks = 0, threads = 0, barriers = 0, mmas = 0,
           asyncCopies = 0, checkedAccesses = 0;
  /// Per launch, the distinct 32-byte sectors of weight buffers read, times
  /// 32, summed over the launches: the weight bytes DRAM serves when the
  /// caches catch every reuse within a launch.
  uint64_t weightSectorBytes = 0;
  /// With EmulatorOptions::profile, one entry per launch.
  std::vector<KernelProfile> kernels;
};

/// A loaded emulator library.
class EmulatorLibrary {
public:
  ~EmulatorLibrary();
  /// dlopen()s `path`, checks its ABI version, fills its call table and
  /// resolves `__moe_emu_kernel_<symbol>` for each symbol.
  Error load(const std::string &path, const std::vector<std::string> &symbols);
  using KernelFn = void (*)(void **params);
  KernelFn kernel(size_t index) const { return kernels_[index]; }
  /// The site's description ("barrier0 in ... at file:line:col").
  std::string site(uint32_t index) const;

private:
  void *handle_ = nullptr;
  std::vector<KernelFn> kernels_;
  const char *const *sites_ = nullptr;
  uint32_t numSites_ = 0;
};

class Emulator {
public:
  explicit Emulator(const EmulatorOptions &options);
  ~Emulator();

  /// Runs kernel `index` of `library` over `grid` x `block` threads to
  /// completion. MOERT_ERROR_BACKEND with the kernel, block, threads and
  /// site when the code does something a GPU would not do correctly.
  /// `sampleColumns`: the options' column stride applies to this launch.
  Error launch(const EmulatorLibrary &library, size_t index,
               const std::string &symbol, const std::array<uint32_t, 3> &grid,
               const std::array<uint32_t, 3> &block, uint32_t sharedBytes,
               void **params, const std::vector<EmulatedBuffer> &buffers,
               bool sampleColumns = true);

  const EmulatorStats &stats() const { return stats_; }
  const EmulatorOptions &options() const { return options_; }

private:
  struct Impl;
  EmulatorOptions options_;
  EmulatorStats stats_;
  std::unique_ptr<Impl> impl_;
};

} // namespace moert

#endif // MOERT_EMULATOR_H
