//===- EmuFiber.h - Stackful coroutines for the SIMT emulator ---*- C++ -*-===//
//
// Each emulated GPU thread runs on a fiber of its own and switches back to
// the scheduler at every barrier, warp-collective op or fence. A switch is
// a few instructions (EmuFiberSwitch.S saves the callee-saved registers and
// the FP control words); glibc's swapcontext makes a sigprocmask syscall per
// switch, about 460 ns here, which made a block of 256 threads crawl through
// its barriers. Other architectures than x86-64 fall back to ucontext.
//
//===----------------------------------------------------------------------===//

#ifndef MOERT_EMUFIBER_H
#define MOERT_EMUFIBER_H

#include <cstddef>
#include <cstdint>

#if !defined(__x86_64__)
#include <ucontext.h>
#endif

namespace moert {

/// A fiber's stack: mmap()ed with a guard page below it, so an overflow
/// faults instead of corrupting the neighbour's stack.
class FiberStack {
public:
  FiberStack() = default;
  FiberStack(const FiberStack &) = delete;
  FiberStack &operator=(const FiberStack &) = delete;
  ~FiberStack();
  /// False if the memory could not be mapped.
  bool allocate(size_t bytes);
  void *bottom() const { return base_; }
  size_t size() const { return size_; }
  /// Clears AddressSanitizer's marks left by frames that never returned
  /// (threads abandoned after an error); a no-op without it.
  void unpoison();

private:
  void *mapping_ = nullptr;
  size_t mappingSize_ = 0;
  void *base_ = nullptr;
  size_t size_ = 0;
};

/// One execution context. The scheduler owns a `Fiber` for itself (never
/// started) and one per emulated thread.
class Fiber {
public:
  using Entry = void (*)(void *arg);

  /// Prepares the fiber to run entry(arg) on `stack` at its first resume.
  /// `entry` must never return: it ends by switching away for good.
  void start(FiberStack &stack, Entry entry, void *arg);

  /// Makes this the fiber of the calling OS thread (the scheduler's), whose
  /// stack bounds AddressSanitizer needs when a fiber switches back to it.
  void adoptCurrentThread();

  /// Saves the current context into `from` and continues `to`.
  static void switchTo(Fiber &from, Fiber &to);
  /// Leaves `from` for good (it is never resumed, only started again).
  static void exitTo(Fiber &from, Fiber &to);

  /// The first thing an entry function calls (completes the switch into
  /// the new fiber for AddressSanitizer).
  static void entered();

private:
  /// The context switch itself, without AddressSanitizer's bookkeeping.
  static void jump(Fiber &from, Fiber &to);

#if defined(__x86_64__)
  void *sp_ = nullptr;
#else
  ucontext_t context_;
  static void trampoline(unsigned hi, unsigned lo);
  Entry entry_ = nullptr;
  void *arg_ = nullptr;
#endif
  // AddressSanitizer must be told which stack it is on.
  const void *stackBottom_ = nullptr;
  size_t stackSize_ = 0;
  void *fakeStack_ = nullptr;
};

} // namespace moert

#endif // MOERT_EMUFIBER_H
