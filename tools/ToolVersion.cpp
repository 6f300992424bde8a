//===- ToolVersion.cpp - --version of the moe tools -----------------------===//

#include "ToolVersion.h"
#include "MoeVersion.inc"

#include "llvm/Config/llvm-config.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/raw_ostream.h"

#include <string>

void moe::setToolVersionPrinter(llvm::StringRef tool) {
  static std::string name;
  name = tool.str();
  llvm::cl::SetVersionPrinter([](llvm::raw_ostream &os) {
    os << name << " (moe-opt project) " << MOE_VERSION_STRING << ", LLVM "
       << LLVM_VERSION_STRING << "\n";
  });
}
