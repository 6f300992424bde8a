//===- InputFile.h - the tools' inputs and diagnostics ----------*- C++ -*-===//
//
// moe-run's and moe-translate's model files are opened by
// moe/Json/InputFile.h's openRegularInputFile (regular files only, issue
// 20), shared with moe-select-tiles' tuning files.
//
//===----------------------------------------------------------------------===//

#ifndef MOE_TOOLS_INPUTFILE_H
#define MOE_TOOLS_INPUTFILE_H

#include "moe/Json/InputFile.h" // openRegularInputFile, for the tools

#include "mlir/IR/MLIRContext.h"

namespace moe {
/// Errors do not print the operation they are on (a whole module can be
/// 30,000 lines of IR) unless --mlir-print-op-on-diagnostic was given.
void quietDiagnostics(mlir::MLIRContext &context);
} // namespace moe

#endif // MOE_TOOLS_INPUTFILE_H
