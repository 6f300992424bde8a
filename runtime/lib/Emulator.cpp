//===- Emulator.cpp - Runs a kernel's device code on the CPU --------------===//
//
// Scheduling: a launch keeps up to `concurrentBlocks` blocks in flight, each
// in a slot with its own fiber stacks, shared memory and race shadow. The
// scheduler sweeps the runnable threads of every block in flight, in thread
// order, resuming each until it blocks (barrier, mma.sync), yields (a fence
// with two blocks in flight), or exits; then it resolves each block: a
// barrier opens when every thread waits at the same one; anything else with
// no thread runnable is an error, never a hang. An mma.sync completes when
// the 32nd lane of its warp arrives, inside that lane's call.
//
//===----------------------------------------------------------------------===//

#include "Emulator.h"

#include "EmuFiber.h"
#include "EmuMma.h"
#include "EmuProfile.h"
#include "moert/moert_emu_abi.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <dlfcn.h>
#include <map>
#include <random>
#include <unordered_map>

namespace moert {

//===----------------------------------------------------------------------===//
// The library
//===----------------------------------------------------------------------===//

namespace {
/// The site of the copies that land when their thread ends.
constexpr uint32_t kThreadEnd = ~uint32_t(0);

struct Thread;
struct Launch;
/// The thread whose fiber is running (one scheduler per OS thread).
thread_local Thread *current = nullptr;

uint32_t apiSreg(uint32_t which);
void apiBarrier(uint32_t site);
void apiMma(uint32_t type, uint32_t site, const uint32_t *a, const uint32_t *b,
            const float *c, float *d);
void apiCpAsync(void *dst, const void *src, uint32_t bytes, uint32_t srcBytes,
                uint32_t site);
void apiCpAsyncCommit();
void apiCpAsyncWait(uint32_t n, uint32_t site);
void apiFence(uint32_t site);
void *apiSharedBase();
void apiCheckAccess(const void *p, uint64_t bytes, uint32_t flags,
                    uint32_t site);

template <typename T> void *fn(T *f) {
  void *p;
  static_assert(sizeof p == sizeof f, "function pointer size");
  std::memcpy(&p, &f, sizeof p);
  return p;
}
} // namespace

EmulatorLibrary::~EmulatorLibrary() {
  if (handle_)
    dlclose(handle_);
}

Error EmulatorLibrary::load(const std::string &path,
                            const std::vector<std::string> &symbols) {
  handle_ = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!handle_) {
    const char *why = dlerror();
    return makeError(MOERT_ERROR_BACKEND, "cannot load emulator library '",
                     path, "': ", why ? why : "unknown dlopen error");
  }
  auto *version = static_cast<const uint32_t *>(
      dlsym(handle_, MOERT_EMU_ABI_VERSION_SYMBOL));
  auto *table = static_cast<void **>(dlsym(handle_, MOERT_EMU_API_SYMBOL));
  auto *numSites =
      static_cast<const uint32_t *>(dlsym(handle_, MOERT_EMU_NUM_SITES_SYMBOL));
  sites_ =
      static_cast<const char *const *>(dlsym(handle_, MOERT_EMU_SITES_SYMBOL));
  if (!version || !table || !numSites || (*numSites && !sites_))
    return makeError(MOERT_ERROR_BACKEND, "'", path,
                     "' is not an emulator library (no ",
                     MOERT_EMU_ABI_VERSION_SYMBOL, ", ", MOERT_EMU_API_SYMBOL,
                     " or ", MOERT_EMU_SITES_SYMBOL, ")");
  if (*version != MOERT_EMU_ABI_VERSION)
    return makeError(MOERT_ERROR_BACKEND, "emulator library '", path,
                     "' has ABI version ", *version, "; this runtime has ",
                     MOERT_EMU_ABI_VERSION, " (emit the kernels again)");
  numSites_ = *numSites;
  table[MOERT_EMU_SREG] = fn(&apiSreg);
  table[MOERT_EMU_BARRIER] = fn(&apiBarrier);
  table[MOERT_EMU_MMA_M16N8K16] = fn(&apiMma);
  table[MOERT_EMU_CP_ASYNC] = fn(&apiCpAsync);
  table[MOERT_EMU_CP_ASYNC_COMMIT] = fn(&apiCpAsyncCommit);
  table[MOERT_EMU_CP_ASYNC_WAIT] = fn(&apiCpAsyncWait);
  table[MOERT_EMU_FENCE] = fn(&apiFence);
  table[MOERT_EMU_SHARED_BASE] = fn(&apiSharedBase);
  table[MOERT_EMU_CHECK_ACCESS] = fn(&apiCheckAccess);
  for (const std::string &symbol : symbols) {
    std::string name = MOERT_EMU_KERNEL_PREFIX + symbol;
    void *p = dlsym(handle_, name.c_str());
    if (!p)
      return makeError(MOERT_ERROR_BACKEND, "emulator library '", path,
                       "' does not export '", name, "' (kernel '", symbol,
                       "')");
    KernelFn kernel;
    std::memcpy(&kernel, &p, sizeof kernel);
    kernels_.push_back(kernel);
  }
  return Error::success();
}

std::string EmulatorLibrary::site(uint32_t index) const {
  if (index == kThreadEnd)
    return "cp.async landing at the thread's end";
  if (index < numSites_ && sites_[index])
    return sites_[index];
  return str("site #", index);
}

//===----------------------------------------------------------------------===//
// Launch state
//===----------------------------------------------------------------------===//

namespace {

constexpr size_t kStackBytes = size_t(1) << 20;
constexpr size_t kSharedAlignment = 1024;
constexpr unsigned kWarpSize = 32;
constexpr uint16_t kManyReaders = 0xFFFF;

enum class State { Runnable, AtBarrier, AtMma, Done, Failed };

struct Block;

struct AsyncCopy {
  void *dst;
  const void *src;
  uint32_t bytes, srcBytes;
  uint64_t group; ///< The commit group (1-based), or the open group.
};

struct Thread {
  Fiber fiber;
  Block *block = nullptr;
  uint32_t tid[3] = {0, 0, 0};
  uint32_t linear = 0;
  State state = State::Runnable;
  uint32_t site = 0; ///< Of the barrier or mma.sync it waits at.
  // mma.sync operands while waiting for the warp.
  uint32_t mmaType = 0;
  const uint32_t *a = nullptr, *b = nullptr;
  const float *c = nullptr;
  float *d = nullptr;
  std::vector<AsyncCopy> copies;
  uint64_t committedGroups = 0;
  /// Profiling: how often the thread reached each site with a global and
  /// with a shared access (its warp's request number there).
  std::unordered_map<uint32_t, uint32_t> globalVisits, sharedVisits;
};

/// Last write, read and atomic update of one shared byte, by barrier
/// interval (epoch), and the cp.async copies into it that have not landed
/// yet. kManyReaders stands for several threads.
struct Shadow {
  uint32_t writeEpoch = 0, readEpoch = 0, atomicEpoch = 0;
  uint16_t writer = 0, reader = 0, atomicThread = 0;
  uint16_t inFlight = 0;
};

/// One slot of blocks in flight: its threads' stacks, shared memory and
/// shadow stay allocated across the blocks that use it.
struct Block {
  uint32_t slot = 0; ///< Index among the blocks in flight.
  bool busy = false;
  uint32_t ctaid[3] = {0, 0, 0};
  uint32_t epoch = 0;
  std::vector<std::unique_ptr<FiberStack>> stacks;
  std::vector<std::unique_ptr<Thread>> threads;
  std::vector<unsigned> warpArrived;
  std::vector<uint32_t> warpSite;
  std::vector<unsigned char> sharedStorage;
  unsigned char *shared = nullptr; ///< 1 KiB aligned in sharedStorage.
  std::vector<Shadow> shadow;
};

struct Launch {
  const EmulatorLibrary *library = nullptr;
  EmulatorLibrary::KernelFn kernel = nullptr;
  std::string symbol;
  std::array<uint32_t, 3> grid{}, block{};
  uint32_t threadsPerBlock = 0, sharedBytes = 0;
  void **params = nullptr;
  std::vector<EmulatedBuffer> buffers; ///< Sorted by address.
  /// Per buffer (weights only), the 32-byte sectors read.
  std::vector<std::vector<bool>> sectorsRead;
  const EmulatorOptions *options = nullptr;
  /// Whether options->columnStride applies (sampledColumnStride).
  bool sampleColumns = true;
  EmulatorStats *stats = nullptr;
  std::unique_ptr<LaunchProfiler> profiler; ///< With options->profile.
  Fiber scheduler;
  Error error;

  std::string where(const Block &b) const {
    return str("kernel '", symbol, "' block (", b.ctaid[0], ",", b.ctaid[1],
               ",", b.ctaid[2], ")");
  }
  std::string where(const Thread &t) const {
    return str(where(*t.block), " thread ", t.linear, " (", t.tid[0], ",",
               t.tid[1], ",", t.tid[2], ")");
  }
  std::string site(uint32_t index) const { return library->site(index); }
};

thread_local Launch *currentLaunch = nullptr;

/// Records the launch's first failure.
void record(Error error) {
  if (!currentLaunch->error)
    currentLaunch->error = std::move(error);
}

/// Leaves the failing thread for good. Nothing on its stack is destroyed,
/// so callers build their message in a statement of its own (FAIL).
[[noreturn]] void abandon(Thread &t) {
  t.state = State::Failed;
  Fiber::switchTo(t.fiber, currentLaunch->scheduler);
  __builtin_unreachable(); // A failed thread is never resumed.
}

#define FAIL(thread, error)                                                    \
  do {                                                                         \
    record(error);                                                             \
    abandon(thread);                                                           \
  } while (false)

Error emuError(const std::string &message) {
  return Error(MOERT_ERROR_BACKEND, "emulator: " + message);
}

/// Gives control back to the scheduler; returns when resumed.
void suspend(Thread &t) {
  current = nullptr;
  Fiber::switchTo(t.fiber, currentLaunch->scheduler);
  current = &t;
}

//===----------------------------------------------------------------------===//
// Memory checks
//===----------------------------------------------------------------------===//

void raceCheck(Thread &t, size_t offset, uint64_t bytes, bool write, bool read,
               uint32_t site) {
  Block &b = *t.block;
  uint16_t me = uint16_t(t.linear);
  for (uint64_t i = 0; i < bytes; ++i) {
    Shadow &s = b.shadow[offset + i];
    if (s.inFlight)
      FAIL(t, emuError(str(
                  "shared-memory race (cp.async in flight) in ",
                  currentLaunch->where(*t.block), ": thread ", t.linear, " ",
                  write ? "writes" : "reads", " byte offset ", offset + i, " (",
                  currentLaunch->site(site),
                  ") while a cp.async into it is in flight (it lands at its "
                  "thread's wait.group that covers its group; other threads "
                  "see it after a barrier)")));
    // An atomic (a read and a write in one access) does not race with
    // another atomic, only with plain accesses, as in racecheck.
    bool atomic = write && read;
    const char *hazard = nullptr, *otherDid = nullptr;
    uint16_t other = 0;
    if (s.writeEpoch == b.epoch && s.writer != me) {
      hazard = write ? "write after write" : "read after write";
      other = s.writer;
      otherDid = "wrote";
    } else if (write && s.readEpoch == b.epoch && s.reader != me) {
      hazard = "write after read";
      other = s.reader;
      otherDid = "read";
    } else if (!atomic && s.atomicEpoch == b.epoch && s.atomicThread != me) {
      hazard = write ? "write after atomic" : "read after atomic";
      other = s.atomicThread;
      otherDid = "updated atomically";
    }
    if (hazard)
      FAIL(t, emuError(str(
                  "shared-memory race (", hazard, ") in ",
                  currentLaunch->where(*t.block), ": thread ", t.linear, " ",
                  atomic  ? "updates"
                  : write ? "writes"
                          : "reads",
                  " byte offset ", offset + i, " (a ", bytes, "-byte access, ",
                  currentLaunch->site(site), ") that ",
                  other == kManyReaders ? std::string("several threads")
                                        : str("thread ", other),
                  " ", otherDid, " with no barrier between")));
    if (atomic) {
      s.atomicThread =
          s.atomicEpoch == b.epoch && s.atomicThread != me ? kManyReaders : me;
      s.atomicEpoch = b.epoch;
      continue;
    }
    if (write) {
      s.writeEpoch = b.epoch;
      s.writer = me;
    }
    if (read) {
      if (s.readEpoch == b.epoch && s.reader != me)
        s.reader = kManyReaders;
      else if (s.readEpoch != b.epoch)
        s.reader = me;
      s.readEpoch = b.epoch;
    }
  }
}

/// Checks [p, p + bytes) against the block's shared memory or the launch's
/// buffers; shared accesses also go through the race shadow.
void checkAccess(Thread &t, const void *p, uint64_t bytes, uint32_t flags,
                 uint32_t site, const char *what) {
  Launch &launch = *currentLaunch;
  ++launch.stats->checkedAccesses;
  uintptr_t address = reinterpret_cast<uintptr_t>(p);
  Block &b = *t.block;
  uintptr_t shared = reinterpret_cast<uintptr_t>(b.shared);
  bool inShared = address >= shared && address < shared + b.shadow.size();
  if ((flags & MOERT_EMU_ACCESS_SHARED) || inShared) {
    if (!inShared || address + bytes > shared + launch.sharedBytes)
      FAIL(t,
           emuError(str("shared-memory ", what, " out of bounds in ",
                        launch.where(t), ": ", bytes, " bytes at offset ",
                        int64_t(address - shared), " of ", launch.sharedBytes,
                        " bytes of dynamic shared memory (", launch.site(site),
                        ")")));
    raceCheck(t, address - shared, bytes, flags & MOERT_EMU_ACCESS_WRITE,
              flags & MOERT_EMU_ACCESS_READ, site);
    if (launch.profiler)
      launch.profiler->shared(b.slot, t.linear / kWarpSize, site,
                              t.sharedVisits[site]++, address - shared, bytes);
    return;
  }
  // The buffer with the largest start at or below the address.
  auto it = std::upper_bound(
      launch.buffers.begin(), launch.buffers.end(), address,
      [](uintptr_t a, const EmulatedBuffer &buf) { return a < buf.address; });
  if (it != launch.buffers.begin()) {
    const EmulatedBuffer &buf = *std::prev(it);
    if (address + bytes <= buf.address + buf.bytes) {
      if (launch.profiler)
        launch.profiler->global(
            b.slot, t.linear / kWarpSize, site, t.globalVisits[site]++,
            size_t(std::prev(it) - launch.buffers.begin()),
            address - buf.address, bytes, flags & MOERT_EMU_ACCESS_READ,
            flags & MOERT_EMU_ACCESS_WRITE, buf.weight);
      if (buf.weight && (flags & MOERT_EMU_ACCESS_READ) && bytes > 0) {
        std::vector<bool> &sectors =
            launch.sectorsRead[size_t(std::prev(it) - launch.buffers.begin())];
        for (uint64_t s = (address - buf.address) / 32;
             s <= (address + bytes - 1 - buf.address) / 32; ++s)
          sectors[s] = true;
      }
      return;
    }
    FAIL(t, emuError(str("global-memory ", what, " out of bounds in ",
                         launch.where(t), ": ", bytes, " bytes at offset ",
                         address - buf.address, " of buffer '", buf.name, "' (",
                         buf.bytes, " bytes) (", launch.site(site), ")")));
  }
  FAIL(t,
       emuError(str("global-memory ", what, " of ", bytes, " bytes at ", p,
                    " in ", launch.where(t), " is in no buffer of the launch (",
                    launch.site(site), ")")));
}

//===----------------------------------------------------------------------===//
// The calls of the emulator library
//===----------------------------------------------------------------------===//

Thread &self() { return *current; }

uint32_t apiSreg(uint32_t which) {
  Thread &t = self();
  const Launch &launch = *currentLaunch;
  switch (which) {
  case MOERT_EMU_TID_X:
  case MOERT_EMU_TID_Y:
  case MOERT_EMU_TID_Z:
    return t.tid[which - MOERT_EMU_TID_X];
  case MOERT_EMU_NTID_X:
  case MOERT_EMU_NTID_Y:
  case MOERT_EMU_NTID_Z:
    return launch.block[which - MOERT_EMU_NTID_X];
  case MOERT_EMU_CTAID_X:
  case MOERT_EMU_CTAID_Y:
  case MOERT_EMU_CTAID_Z:
    return t.block->ctaid[which - MOERT_EMU_CTAID_X];
  case MOERT_EMU_NCTAID_X:
  case MOERT_EMU_NCTAID_Y:
  case MOERT_EMU_NCTAID_Z:
    return launch.grid[which - MOERT_EMU_NCTAID_X];
  case MOERT_EMU_LANEID:
    return t.linear % kWarpSize;
  case MOERT_EMU_WARPID:
    return t.linear / kWarpSize;
  }
  FAIL(t, emuError(str("unknown special register ", which, " in ",
                       launch.where(t))));
}

void apiBarrier(uint32_t site) {
  Thread &t = self();
  ++currentLaunch->stats->barriers;
  if (currentLaunch->profiler && t.linear == 0)
    currentLaunch->profiler->barrier();
  t.state = State::AtBarrier;
  t.site = site;
  suspend(t);
}

void apiMma(uint32_t type, uint32_t site, const uint32_t *a, const uint32_t *b,
            const float *c, float *d) {
  Thread &t = self();
  Launch &launch = *currentLaunch;
  Block &blk = *t.block;
  if (type != MOERT_EMU_MMA_BF16 && type != MOERT_EMU_MMA_F16 &&
      type != MOERT_EMU_MMA_E4M3)
    FAIL(t, emuError(str("mma.sync with unknown type ", type, " in ",
                         launch.where(t))));
  unsigned warp = t.linear / kWarpSize;
  if ((warp + 1) * kWarpSize > launch.threadsPerBlock)
    FAIL(t, emuError(str("mma.sync in a partial warp: ", launch.where(t),
                         " of a block of ", launch.threadsPerBlock,
                         " threads (", launch.site(site), ")")));
  if (blk.warpArrived[warp] == 0) {
    blk.warpSite[warp] = site;
  } else if (blk.warpSite[warp] != site) {
    FAIL(t,
         emuError(str("warp ", warp, " of ", launch.where(blk),
                      " is split between two mma.sync: lane ",
                      t.linear % kWarpSize, " at ", launch.site(site),
                      ", other lanes at ", launch.site(blk.warpSite[warp]))));
  }
  t.mmaType = type;
  t.a = a;
  t.b = b;
  t.c = c;
  t.d = d;
  if (++blk.warpArrived[warp] < kWarpSize) {
    t.state = State::AtMma;
    t.site = site;
    suspend(t);
    return;
  }
  // The last lane: gather every lane's registers, compute, hand D out.
  blk.warpArrived[warp] = 0;
  ++launch.stats->mmas;
  MmaLaneOperands operands[kWarpSize];
  float results[kWarpSize][4];
  for (unsigned lane = 0; lane < kWarpSize; ++lane) {
    Thread &l = *blk.threads[warp * kWarpSize + lane];
    if (l.mmaType != type)
      FAIL(t, emuError(str("lanes of warp ", warp, " of ", launch.where(blk),
                           " disagree on the mma.sync type")));
    std::memcpy(operands[lane].a, l.a, sizeof operands[lane].a);
    std::memcpy(operands[lane].b, l.b, sizeof operands[lane].b);
    std::memcpy(operands[lane].c, l.c, sizeof operands[lane].c);
  }
  if (type == MOERT_EMU_MMA_E4M3)
    mmaM16N8K32E4M3(operands, results);
  else
    mmaM16N8K16(moert_emu_mma_type(type), operands, results);
  if (launch.profiler)
    launch.profiler->mma(type == MOERT_EMU_MMA_E4M3);
  for (unsigned lane = 0; lane < kWarpSize; ++lane) {
    Thread &l = *blk.threads[warp * kWarpSize + lane];
    std::memcpy(l.d, results[lane], sizeof results[lane]);
    l.state = State::Runnable;
  }
}

/// Counts a cp.async into [dst, dst + bytes) in (+1) or out (-1) of flight.
void markInFlight(Thread &t, void *dst, uint32_t bytes, int delta) {
  size_t offset = static_cast<unsigned char *>(dst) - t.block->shared;
  for (uint32_t i = 0; i < bytes; ++i)
    t.block->shadow[offset + i].inFlight += delta;
}

/// Lands the copies of committed groups up to `group` (all when ~0).
void landCopies(Thread &t, uint64_t group, uint32_t site) {
  auto landed = [&](const AsyncCopy &copy) { return copy.group <= group; };
  for (const AsyncCopy &copy : t.copies) {
    if (!landed(copy))
      continue;
    if (currentLaunch->options->checks)
      markInFlight(t, copy.dst, copy.bytes, -1);
    if (currentLaunch->options->checks)
      checkAccess(t, copy.dst, copy.bytes,
                  MOERT_EMU_ACCESS_WRITE | MOERT_EMU_ACCESS_SHARED, site,
                  "cp.async landing");
    uint32_t n = std::min(copy.bytes, copy.srcBytes);
    std::memcpy(copy.dst, copy.src, n);
    std::memset(static_cast<char *>(copy.dst) + n, 0, copy.bytes - n);
  }
  t.copies.erase(std::remove_if(t.copies.begin(), t.copies.end(), landed),
                 t.copies.end());
}

void apiCpAsync(void *dst, const void *src, uint32_t bytes, uint32_t srcBytes,
                uint32_t site) {
  Thread &t = self();
  Launch &launch = *currentLaunch;
  ++launch.stats->asyncCopies;
  if (bytes != 4 && bytes != 8 && bytes != 16)
    FAIL(t, emuError(str("cp.async of ", bytes, " bytes in ", launch.where(t),
                         " (", launch.site(site), ")")));
  if (reinterpret_cast<uintptr_t>(dst) % bytes ||
      reinterpret_cast<uintptr_t>(src) % bytes)
    FAIL(t, emuError(str("cp.async of ", bytes, " bytes from ", src, " to ",
                         dst, " is not ", bytes, "-byte aligned in ",
                         launch.where(t), " (", launch.site(site), ")")));
  if (launch.options->checks) {
    // Only bounds here; the shared write is recorded when it lands.
    uintptr_t shared = reinterpret_cast<uintptr_t>(t.block->shared);
    uintptr_t d = reinterpret_cast<uintptr_t>(dst);
    if (d < shared || d + bytes > shared + launch.sharedBytes)
      FAIL(t, emuError(str("cp.async destination out of bounds in ",
                           launch.where(t), ": ", bytes, " bytes at offset ",
                           int64_t(d - shared), " of ", launch.sharedBytes,
                           " bytes of dynamic shared memory (",
                           launch.site(site), ")")));
    if (srcBytes)
      checkAccess(t, src, std::min(bytes, srcBytes),
                  MOERT_EMU_ACCESS_READ | MOERT_EMU_ACCESS_GLOBAL, site,
                  "cp.async source");
    // The copy may write at any time from its issue on: a read or write
    // of these bytes by another thread since the last barrier is a race.
    raceCheck(t, d - shared, bytes, /*write=*/true, /*read=*/false, site);
    markInFlight(t, dst, bytes, +1);
  }
  t.copies.push_back({dst, src, bytes, srcBytes, t.committedGroups + 1});
}

void apiCpAsyncCommit() {
  Thread &t = self();
  ++t.committedGroups;
}

void apiCpAsyncWait(uint32_t n, uint32_t site) {
  Thread &t = self();
  // Every committed group but the n most recent is complete.
  if (t.committedGroups > n)
    landCopies(t, t.committedGroups - n, site);
}

void apiFence(uint32_t) {
  Thread &t = self();
  // Another block in flight may run here (the atomic ticket pattern).
  if (currentLaunch->options->concurrentBlocks > 1)
    suspend(t);
}

void *apiSharedBase() { return self().block->shared; }

void apiCheckAccess(const void *p, uint64_t bytes, uint32_t flags,
                    uint32_t site) {
  if (!currentLaunch->options->checks)
    return;
  Thread &t = self();
  const char *what =
      (flags & MOERT_EMU_ACCESS_WRITE)
          ? ((flags & MOERT_EMU_ACCESS_READ) ? "atomic" : "store")
          : "load";
  checkAccess(t, p, bytes, flags, site, what);
}

void threadEntry(void *arg) {
  Fiber::entered();
  Thread &t = *static_cast<Thread *>(arg);
  current = &t;
  currentLaunch->kernel(currentLaunch->params);
  // Copies still in flight land before the thread is gone.
  landCopies(t, ~uint64_t(0), kThreadEnd);
  t.state = State::Done;
  current = nullptr;
  Fiber::exitTo(t.fiber, currentLaunch->scheduler);
}

//===----------------------------------------------------------------------===//
// The scheduler
//===----------------------------------------------------------------------===//

/// "0-31,64", "0-126 step 2" (even threads), or the first runs and a count.
std::string listThreads(const std::vector<uint32_t> &ids) {
  if (ids.size() > 3) {
    uint32_t step = ids[1] - ids[0];
    bool progression = step > 1;
    for (size_t i = 2; progression && i < ids.size(); ++i)
      progression = ids[i] - ids[i - 1] == step;
    if (progression)
      return str(ids.front(), "-", ids.back(), " step ", step);
  }
  std::string list;
  size_t runs = 0;
  for (size_t i = 0; i < ids.size();) {
    size_t j = i;
    while (j + 1 < ids.size() && ids[j + 1] == ids[j] + 1)
      ++j;
    if (++runs > 8)
      return list + str(",... (", ids.size(), " threads)");
    list += (list.empty() ? "" : ",") + std::to_string(ids[i]) +
            (j > i ? "-" + std::to_string(ids[j]) : "");
    i = j + 1;
  }
  return list;
}

/// "threads 0-31,64 at barrier0 in ...": threads grouped by what they do.
std::string describeThreads(const Launch &launch, const Block &b) {
  std::map<std::string, std::vector<uint32_t>> groups;
  for (const auto &t : b.threads) {
    std::string what;
    switch (t->state) {
    case State::Runnable:
      what = "runnable";
      break;
    case State::AtBarrier:
    case State::AtMma:
      what = "at " + launch.site(t->site);
      break;
    case State::Done:
      what = "exited";
      break;
    case State::Failed:
      what = "failed";
      break;
    }
    groups[what].push_back(t->linear);
  }
  std::string text;
  for (const auto &[what, ids] : groups)
    text += str("; thread", ids.size() > 1 ? "s " : " ", listThreads(ids), " ",
                what);
  return text.substr(2);
}

} // namespace

/// EmulatorOptions::columnStride for this launch: never more than leaves two
/// columns to run, so that the profile tells the sectors every column
/// reads from those each column reads alone (LaunchProfiler::extrapolate).
static uint32_t sampledColumnStride(const Launch &launch) {
  if (!launch.profiler || !launch.sampleColumns || launch.grid[1] < 3)
    return 1;
  return std::min(launch.options->columnStride, launch.grid[1] - 1);
}

struct Emulator::Impl {
  std::vector<std::unique_ptr<Block>> slots;
  /// Barrier intervals of this launch (the shadow starts afresh with it).
  uint32_t epochCounter = 0;
  /// A launch failed: its threads never returned from their frames.
  bool abandoned = false;

  Error prepare(Block &b, const Launch &launch) {
    size_t n = launch.threadsPerBlock;
    while (b.stacks.size() < n) {
      auto stack = std::make_unique<FiberStack>();
      if (!stack->allocate(kStackBytes))
        return makeError(MOERT_ERROR_OUT_OF_MEMORY,
                         "emulator: cannot map a fiber stack");
      b.stacks.push_back(std::move(stack));
    }
    b.threads.resize(n);
    for (auto &t : b.threads)
      if (!t)
        t = std::make_unique<Thread>();
    b.warpArrived.assign((n + kWarpSize - 1) / kWarpSize, 0);
    b.warpSite.assign(b.warpArrived.size(), 0);
    // Threads abandoned by a failed launch left frames on these stacks.
    if (abandoned)
      for (auto &stack : b.stacks)
        stack->unpoison();
    // A non-empty arena even for kernels without shared memory, so its
    // address is never another allocation's; aligned as a GPU's (1 KiB).
    size_t bytes = std::max<size_t>(launch.sharedBytes, 16);
    if (b.sharedStorage.size() < bytes + kSharedAlignment)
      b.sharedStorage.assign(bytes + kSharedAlignment, 0);
    uintptr_t base = reinterpret_cast<uintptr_t>(b.sharedStorage.data());
    b.shared = b.sharedStorage.data() +
               (kSharedAlignment - base % kSharedAlignment) % kSharedAlignment;
    b.shadow.assign(bytes, Shadow());
    return Error::success();
  }

  void startBlock(Block &b, Launch &launch, uint64_t linear) {
    b.busy = true;
    b.ctaid[0] = uint32_t(linear % launch.grid[0]);
    b.ctaid[1] = uint32_t(linear / launch.grid[0] % launch.grid[1]);
    b.ctaid[2] = uint32_t(linear / launch.grid[0] / launch.grid[1]);
    b.epoch = ++epochCounter;
    if (launch.profiler)
      launch.profiler->startBlock(b.slot, b.ctaid[1]);
    // Uninitialised shared memory: NaN in f32, f16 and bf16.
    std::memset(b.shared, 0xFF, launch.sharedBytes);
    for (uint32_t i = 0; i < launch.threadsPerBlock; ++i) {
      Thread &t = *b.threads[i];
      t.block = &b;
      t.linear = i;
      t.tid[0] = i % launch.block[0];
      t.tid[1] = i / launch.block[0] % launch.block[1];
      t.tid[2] = i / launch.block[0] / launch.block[1];
      t.state = State::Runnable;
      t.copies.clear();
      t.committedGroups = 0;
      t.globalVisits.clear();
      t.sharedVisits.clear();
      t.fiber.start(*b.stacks[i], &threadEntry, &t);
    }
    ++launch.stats->blocks;
    launch.stats->threads += launch.threadsPerBlock;
  }

  /// After a sweep: opens a barrier every thread waits at, finishes a block
  /// whose threads all exited, and reports a block stuck otherwise.
  Error resolve(Block &b, Launch &launch) {
    unsigned runnable = 0, atMma = 0, done = 0;
    for (const auto &t : b.threads) {
      runnable += t->state == State::Runnable;
      atMma += t->state == State::AtMma;
      done += t->state == State::Done;
    }
    if (runnable)
      return Error::success();
    if (done == b.threads.size()) {
      b.busy = false;
      if (launch.profiler)
        launch.profiler->endBlock(b.slot);
      return Error::success();
    }
    if (atMma)
      return emuError(str("a warp of ", launch.where(b),
                          " waits at mma.sync for lanes that never arrive: ",
                          describeThreads(launch, b)));
    if (done)
      return emuError(str("barrier reached by only some threads of ",
                          launch.where(b), ": ", describeThreads(launch, b)));
    uint32_t site = b.threads.front()->site;
    for (const auto &t : b.threads)
      if (t->site != site)
        return emuError(str("threads of ", launch.where(b),
                            " wait at different barriers (a barrier in "
                            "divergent code): ",
                            describeThreads(launch, b)));
    b.epoch = ++epochCounter;
    for (auto &t : b.threads)
      t->state = State::Runnable;
    return Error::success();
  }

  Error run(Launch &launch) {
    uint64_t total = uint64_t(launch.grid[0]) * launch.grid[1] * launch.grid[2];
    std::vector<uint64_t> order(total);
    for (uint64_t i = 0; i < total; ++i)
      order[i] = i;
    // Column sampling: the blocks of columns y % stride == 0 only.
    uint32_t stride = sampledColumnStride(launch);
    if (stride > 1)
      order.erase(std::remove_if(order.begin(), order.end(),
                                 [&](uint64_t linear) {
                                   return linear / launch.grid[0] %
                                              launch.grid[1] % stride !=
                                          0;
                                 }),
                  order.end());
    total = order.size();
    if (launch.options->shuffle) {
      std::mt19937_64 random(launch.options->seed);
      std::shuffle(order.begin(), order.end(), random);
    }
    unsigned inFlight = std::max(1u, launch.options->concurrentBlocks);
    while (slots.size() < inFlight)
      slots.push_back(std::make_unique<Block>());
    epochCounter = 0;
    for (unsigned s = 0; s < inFlight; ++s) {
      slots[s]->slot = s;
      slots[s]->busy = false;
      if (Error e = prepare(*slots[s], launch))
        return e;
    }
    abandoned = false;
    launch.scheduler.adoptCurrentThread();
    const auto &progress = launch.options->progress;
    uint64_t launchIndex = launch.stats->launches - 1;
    auto lastReport = std::chrono::steady_clock::now();
    if (progress)
      progress(launch.symbol, launchIndex, 0, total);
    uint64_t next = 0;
    for (;;) {
      bool any = false;
      for (unsigned s = 0; s < inFlight; ++s) {
        Block &b = *slots[s];
        if (!b.busy && next < total)
          startBlock(b, launch, order[next++]);
        any |= b.busy;
      }
      if (!any) {
        if (progress)
          progress(launch.symbol, launchIndex, total, total);
        return Error::success();
      }
      // A clock read per round of the block's threads: noise beside the
      // hundred fiber switches of the round.
      if (progress) {
        auto now = std::chrono::steady_clock::now();
        if (now - lastReport >= std::chrono::seconds(1)) {
          lastReport = now;
          uint64_t started = next, running = 0;
          for (unsigned s = 0; s < inFlight; ++s)
            running += slots[s]->busy;
          progress(launch.symbol, launchIndex, started - running, total);
        }
      }
      for (unsigned s = 0; s < inFlight; ++s) {
        Block &b = *slots[s];
        if (!b.busy)
          continue;
        for (auto &t : b.threads) {
          if (t->state != State::Runnable)
            continue;
          current = t.get();
          Fiber::switchTo(launch.scheduler, t->fiber);
          current = nullptr;
          if (launch.error) {
            abandoned = true;
            return launch.error;
          }
        }
        if (Error e = resolve(b, launch)) {
          abandoned = true;
          return e;
        }
      }
    }
  }
};

namespace {
std::vector<uint64_t> bufferBytes(const std::vector<EmulatedBuffer> &buffers) {
  std::vector<uint64_t> bytes;
  for (const EmulatedBuffer &b : buffers)
    bytes.push_back(b.bytes);
  return bytes;
}
} // namespace

Emulator::Emulator(const EmulatorOptions &options)
    : options_(options), impl_(new Impl()) {
  // The profile reads the access hooks the checks run on.
  options_.checks |= options_.profile;
}

Emulator::~Emulator() = default;

Error Emulator::launch(const EmulatorLibrary &library, size_t index,
                       const std::string &symbol,
                       const std::array<uint32_t, 3> &grid,
                       const std::array<uint32_t, 3> &block,
                       uint32_t sharedBytes, void **params,
                       const std::vector<EmulatedBuffer> &buffers,
                       bool sampleColumns) {
  Launch launch;
  launch.sampleColumns = sampleColumns;
  launch.library = &library;
  launch.kernel = library.kernel(index);
  launch.symbol = symbol;
  launch.grid = grid;
  launch.block = block;
  launch.threadsPerBlock = block[0] * block[1] * block[2];
  launch.sharedBytes = sharedBytes;
  launch.params = params;
  launch.buffers = buffers;
  std::sort(launch.buffers.begin(), launch.buffers.end(),
            [](const EmulatedBuffer &x, const EmulatedBuffer &y) {
              return x.address < y.address;
            });
  for (const EmulatedBuffer &buffer : launch.buffers)
    launch.sectorsRead.emplace_back(
        buffer.weight ? size_t((buffer.bytes + 31) / 32) : 0, false);
  launch.options = &options_;
  launch.stats = &stats_;
  if (options_.profile)
    launch.profiler = std::make_unique<LaunchProfiler>(
        symbol, grid, block, sharedBytes, bufferBytes(launch.buffers));
  if (launch.threadsPerBlock == 0 || launch.threadsPerBlock > 1024)
    return emuError(str("kernel '", symbol, "' has a block of ",
                        launch.threadsPerBlock, " threads"));
  ++stats_.launches;
  Launch *outer = currentLaunch;
  currentLaunch = &launch;
  Error result = impl_->run(launch);
  currentLaunch = outer;
  uint32_t stride = sampledColumnStride(launch);
  if (launch.profiler && stride > 1)
    launch.profiler->extrapolate((grid[1] + stride - 1) / stride);
  if (launch.profiler) {
    std::vector<std::string> names;
    for (const EmulatedBuffer &buffer : launch.buffers)
      names.push_back(buffer.name);
    launch.profiler->reportLoadSites(
        [&](uint32_t site) { return library.site(site); }, names);
  }
  for (const std::vector<bool> &sectors : launch.sectorsRead)
    stats_.weightSectorBytes +=
        32 * uint64_t(std::count(sectors.begin(), sectors.end(), true));
  if (launch.profiler && !result)
    stats_.kernels.push_back(launch.profiler->profile());
  return result;
}

} // namespace moert
