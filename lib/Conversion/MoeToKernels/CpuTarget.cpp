//===- CpuTarget.cpp - the CPU a CPU-form build is for --------------------===//

#include "moe/Transforms/CpuTarget.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/TargetParser/Host.h"
#include "llvm/TargetParser/Triple.h"

using namespace mlir::moe;

namespace {

/// The x86-64 psABI's microarchitecture levels, each with the features it
/// adds to the one before (LLVM's feature names).
struct Level {
  const char *name;
  std::vector<const char *> adds;
};
const std::vector<Level> &levels() {
  static const std::vector<Level> table = {
      {"x86-64", {}},
      {"x86-64-v2",
       {"cx16", "sahf", "popcnt", "sse3", "sse4.1", "sse4.2", "ssse3"}},
      {"x86-64-v3",
       {"avx", "avx2", "bmi", "bmi2", "f16c", "fma", "lzcnt", "movbe",
        "xsave"}},
      {"x86-64-v4",
       {"avx512f", "avx512bw", "avx512cd", "avx512dq", "avx512vl"}}};
  return table;
}

/// Extra features moert knows how to check, and the level each needs.
bool knownFeature(llvm::StringRef isa, llvm::StringRef feature) {
  return feature == "avx512bf16" && isa == "x86-64-v4";
}

bool hostIsX86_64() {
  return llvm::Triple(llvm::sys::getProcessTriple()).getArch() ==
         llvm::Triple::x86_64;
}

} // namespace

int64_t CpuTarget::lanes() const {
  if (isa == "x86-64-v4")
    return 16;
  if (isa == "x86-64-v3")
    return 8;
  return 4;
}

bool CpuTarget::bf16Dot() const {
  return isa == "x86-64-v4" && llvm::is_contained(features, "avx512bf16");
}

std::string CpuTarget::name() const {
  std::string text = isa;
  for (const std::string &f : features)
    text += "+" + f;
  return text;
}

std::string CpuTarget::llvmFeatures() const {
  std::string text;
  for (const std::string &f : features)
    text += (text.empty() ? "+" : ",+") + f;
  return text;
}

CpuTarget mlir::moe::hostCpuTarget() {
  CpuTarget target;
  if (!hostIsX86_64())
    return target;
  llvm::StringMap<bool> host = llvm::sys::getHostCPUFeatures();
  for (const Level &level : levels()) {
    if (!llvm::all_of(level.adds,
                      [&](const char *f) { return host.lookup(f); }))
      break;
    target.isa = level.name;
  }
  if (knownFeature(target.isa, "avx512bf16") && host.lookup("avx512bf16"))
    target.features.push_back("avx512bf16");
  return target;
}

std::optional<CpuTarget> mlir::moe::parseCpuTarget(llvm::StringRef spec,
                                                   std::string &error) {
  if (spec == "host")
    return hostCpuTarget();
  llvm::SmallVector<llvm::StringRef> parts;
  spec.split(parts, '+');
  CpuTarget target;
  target.isa = parts.front().str();
  bool x86 = llvm::any_of(
      levels(), [&](const Level &level) { return target.isa == level.name; });
  if (!x86 && target.isa != "generic") {
    error = "unknown CPU '" + target.isa +
            "' (host, generic, x86-64, x86-64-v2, x86-64-v3, x86-64-v4)";
    return std::nullopt;
  }
  if (x86 && !hostIsX86_64()) {
    error = "CPU '" + target.isa + "' is not of this host's architecture";
    return std::nullopt;
  }
  for (llvm::StringRef feature : llvm::drop_begin(parts)) {
    if (!knownFeature(target.isa, feature)) {
      error = "unknown feature '" + feature.str() + "' for " + target.isa +
              " (known: avx512bf16, on x86-64-v4)";
      return std::nullopt;
    }
    if (!llvm::is_contained(target.features, feature))
      target.features.push_back(feature.str());
  }
  return target;
}
