//===- SanitizerDefaults.cpp - sanitizer options built into the fuzzers ---===//
//
// Linked into every fuzzer, so they hold also when a fuzzer is run by hand
// (ASAN_OPTIONS / UBSAN_OPTIONS in the environment still override them).
//
// allow_user_poisoning=0: LLVM's BumpPtrAllocator poisons each new slab and
// unpoisons what Allocate hands out, in inline header code. Inlined into our
// instrumented code it poisons; inlined into the uninstrumented libMLIR.so it
// does not unpoison, so MLIR's own writes into its allocators (through
// intercepted memcpy/memmove) were reported as use-after-poison. Ignoring
// manual poisoning removes those false reports; ordinary heap, stack and
// global checks are unaffected.
//
//===----------------------------------------------------------------------===//

extern "C" const char *__asan_default_options() {
  return "allow_user_poisoning=0:detect_leaks=1:strict_string_checks=1";
}

extern "C" const char *__ubsan_default_options() {
  return "print_stacktrace=1:halt_on_error=1";
}
