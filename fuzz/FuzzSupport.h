//===- FuzzSupport.h - shared helpers of the libFuzzer targets --*- C++ -*-===//
//
// Reporting a broken invariant as a crash that libFuzzer records, and the
// MOE_FUZZ_VERBOSE switch. Free of MLIR (the safetensors target uses it).
//
//===----------------------------------------------------------------------===//

#ifndef MOE_FUZZ_FUZZSUPPORT_H
#define MOE_FUZZ_FUZZSUPPORT_H

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/raw_ostream.h"

#include <cstdlib>

namespace moefuzz {

/// Reports a broken invariant (something the project promises, as opposed
/// to a sanitizer finding) and aborts, which libFuzzer records as a crash.
[[noreturn]] inline void fail(llvm::StringRef what,
                              llvm::StringRef detail = "") {
  llvm::errs() << "==moe-fuzz== invariant broken: " << what << "\n";
  if (!detail.empty())
    llvm::errs() << "---- detail ----\n" << detail << "\n---- end ----\n";
  llvm::errs().flush();
  std::abort();
}

/// MOE_FUZZ_VERBOSE=1 prints the diagnostics and errors that the targets
/// otherwise swallow (useful when replaying one input).
inline bool verbose() {
  static const bool value = [] {
    const char *env = std::getenv("MOE_FUZZ_VERBOSE");
    return env && *env && *env != '0';
  }();
  return value;
}

} // namespace moefuzz

#endif // MOE_FUZZ_FUZZSUPPORT_H
