//===- ToolVersion.h - --version of the moe tools ---------------*- C++ -*-===//
//
// What `moe-opt --version`, `moe-translate --version` and `moe-run
// --version` print: the tool, the commit it was built from (git describe,
// with -dirty for uncommitted changes) and the LLVM it links.
//
//===----------------------------------------------------------------------===//

#ifndef MOE_TOOLS_TOOLVERSION_H
#define MOE_TOOLS_TOOLVERSION_H

#include "llvm/ADT/StringRef.h"

namespace moe {
/// Makes `tool --version` print the moe version line (cl::SetVersionPrinter).
void setToolVersionPrinter(llvm::StringRef tool);
} // namespace moe

#endif // MOE_TOOLS_TOOLVERSION_H
