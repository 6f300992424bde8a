//===- CpuTarget.h - the CPU a CPU-form build is for ------------*- C++ -*-===//
//
// The CPU form (moe-select-tiles target=cpu) is built either for the host
// (moe-run's JIT) or, for the emitted CPU library, for a named instruction
// set that other machines can be checked against before they load it: an
// x86-64 microarchitecture level (x86-64, x86-64-v2, -v3, -v4: the psABI's
// names, which LLVM compiles for exactly and moert checks feature by
// feature with __builtin_cpu_supports) plus optional extra features
// (avx512bf16).
//
//===----------------------------------------------------------------------===//

#ifndef MOE_TRANSFORMS_CPUTARGET_H
#define MOE_TRANSFORMS_CPUTARGET_H

#include "llvm/ADT/StringRef.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace mlir::moe {

struct CpuTarget {
  /// LLVM's CPU name of the level ("x86-64-v4"), or "generic" off x86-64.
  std::string isa = "generic";
  /// Features beyond the level, by LLVM's names ("avx512bf16").
  std::vector<std::string> features;

  /// f32 lanes of the widest vectors: 16 (AVX-512), 8 (AVX2), else 4.
  int64_t lanes() const;
  /// AVX512-BF16's pair dot products (vdpbf16ps) on 4, 8 and 16 lanes.
  bool bf16Dot() const;
  /// "x86-64-v4+avx512bf16": what --cpu takes and moert reports.
  std::string name() const;
  /// The features as LLVM's target machine takes them ("+avx512bf16").
  std::string llvmFeatures() const;
};

/// The host's level and extra features (the highest level all of whose
/// features it has).
CpuTarget hostCpuTarget();

/// `spec`: "host", or a level with "+feature"s, e.g. "x86-64-v4+avx512bf16".
/// None, with `error` set, for an unknown level or feature (an extra
/// feature must be one moert can check: avx512bf16, on x86-64-v4).
std::optional<CpuTarget> parseCpuTarget(llvm::StringRef spec,
                                        std::string &error);

} // namespace mlir::moe

#endif // MOE_TRANSFORMS_CPUTARGET_H
