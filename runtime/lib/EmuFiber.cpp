//===- EmuFiber.cpp - Stackful coroutines for the SIMT emulator -----------===//

#include "EmuFiber.h"

#include <cstring>
#include <pthread.h>
#include <sys/mman.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__)
#define MOERT_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define MOERT_ASAN 1
#endif
#endif

#ifdef MOERT_ASAN
extern "C" void __sanitizer_start_switch_fiber(void **fake_stack_save,
                                               const void *bottom, size_t size);
extern "C" void __sanitizer_finish_switch_fiber(void *fake_stack_save,
                                                const void **bottom_old,
                                                size_t *size_old);
extern "C" void __asan_get_shadow_mapping(size_t *shadow_scale,
                                          size_t *shadow_offset);
extern "C" void __asan_set_shadow_00(size_t shadow_address, size_t size);
#endif

#if defined(__x86_64__)
extern "C" void moert_emu_switch(void **saveSp, void *newSp);
extern "C" void moert_emu_fiber_start();
#endif

namespace moert {

FiberStack::~FiberStack() {
  // A stack mapped later at this address must not inherit these marks.
  unpoison();
  if (mapping_)
    munmap(mapping_, mappingSize_);
}

bool FiberStack::allocate(size_t bytes) {
  size_t page = size_t(sysconf(_SC_PAGESIZE));
  size_t rounded = (bytes + page - 1) / page * page;
  void *p = mmap(nullptr, rounded + page, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED)
    return false;
  mprotect(p, page, PROT_NONE); // The guard page: stacks grow down.
  mapping_ = p;
  mappingSize_ = rounded + page;
  base_ = static_cast<char *>(p) + page;
  size_ = rounded;
  return true;
}

void Fiber::adoptCurrentThread() {
  pthread_attr_t attr;
  if (pthread_getattr_np(pthread_self(), &attr) != 0)
    return;
  void *bottom = nullptr;
  size_t size = 0;
  if (pthread_attr_getstack(&attr, &bottom, &size) == 0) {
    stackBottom_ = bottom;
    stackSize_ = size;
  }
  pthread_attr_destroy(&attr);
}

void Fiber::entered() {
#ifdef MOERT_ASAN
  __sanitizer_finish_switch_fiber(nullptr, nullptr, nullptr);
#endif
}

void FiberStack::unpoison() {
#ifdef MOERT_ASAN
  // Writes the shadow itself: __asan_unpoison_memory_region does nothing
  // under allow_user_poisoning=0, which the sanitized tests need (the
  // uninstrumented libMLIR poisons its own memory).
  if (!base_)
    return;
  size_t scale = 0, offset = 0;
  __asan_get_shadow_mapping(&scale, &offset);
  uintptr_t begin = (uintptr_t(base_) >> scale) + offset;
  uintptr_t end = ((uintptr_t(base_) + size_) >> scale) + offset;
  __asan_set_shadow_00(begin, end - begin);
#endif
}

#if defined(__x86_64__)
void Fiber::start(FiberStack &stack, Entry entry, void *arg) {
  stackBottom_ = stack.bottom();
  stackSize_ = stack.size();
  fakeStack_ = nullptr;
  // The frame moert_emu_switch pops (EmuFiberSwitch.S), lowest address
  // first: MXCSR and x87 control word, r15, r14, r13, r12, rbx, rbp, return
  // address. After its `ret`, rsp is 16-byte aligned, as the entry's call
  // expects.
  uintptr_t top = (uintptr_t(stack.bottom()) + stack.size()) & ~uintptr_t(15);
  uint64_t *ret = reinterpret_cast<uint64_t *>(top - 24);
  uint64_t *frame = ret - 7;
  uint32_t controls[2] = {0x1F80, 0x037F}; // Defaults: all exceptions masked.
  std::memcpy(&frame[0], controls, sizeof controls);
  frame[1] = 0;                                 // r15
  frame[2] = 0;                                 // r14
  frame[3] = 0;                                 // r13
  frame[4] = reinterpret_cast<uint64_t>(entry); // r12
  frame[5] = reinterpret_cast<uint64_t>(arg);   // rbx
  frame[6] = 0;                                 // rbp
  ret[0] = reinterpret_cast<uint64_t>(&moert_emu_fiber_start);
  sp_ = frame;
}

void Fiber::jump(Fiber &from, Fiber &to) {
  moert_emu_switch(&from.sp_, to.sp_);
}
#else
void Fiber::trampoline(unsigned hi, unsigned lo) {
  Fiber *self = reinterpret_cast<Fiber *>((uintptr_t(hi) << 32) | lo);
  self->entry_(self->arg_);
}

void Fiber::start(FiberStack &stack, Entry entry, void *arg) {
  stackBottom_ = stack.bottom();
  stackSize_ = stack.size();
  fakeStack_ = nullptr;
  entry_ = entry;
  arg_ = arg;
  getcontext(&context_);
  context_.uc_stack.ss_sp = stack.bottom();
  context_.uc_stack.ss_size = stack.size();
  context_.uc_link = nullptr;
  uintptr_t self = reinterpret_cast<uintptr_t>(this);
  makecontext(&context_, reinterpret_cast<void (*)()>(&trampoline), 2,
              unsigned(self >> 32), unsigned(self));
}

void Fiber::jump(Fiber &from, Fiber &to) {
  swapcontext(&from.context_, &to.context_);
}
#endif

void Fiber::switchTo(Fiber &from, Fiber &to) {
#ifdef MOERT_ASAN
  __sanitizer_start_switch_fiber(&from.fakeStack_, to.stackBottom_,
                                 to.stackSize_);
#endif
  jump(from, to);
#ifdef MOERT_ASAN
  __sanitizer_finish_switch_fiber(from.fakeStack_, nullptr, nullptr);
#endif
}

void Fiber::exitTo(Fiber &from, Fiber &to) {
#ifdef MOERT_ASAN
  // A null save slot lets AddressSanitizer free this fiber's fake stack.
  __sanitizer_start_switch_fiber(nullptr, to.stackBottom_, to.stackSize_);
#endif
  jump(from, to);
  __builtin_unreachable();
}

} // namespace moert
