//===- InputFile.cpp - the tools' diagnostics ----------------------------===//

#include "InputFile.h"

#include "llvm/Support/CommandLine.h"

void moe::quietDiagnostics(mlir::MLIRContext &context) {
  auto &options = llvm::cl::getRegisteredOptions();
  auto it = options.find("mlir-print-op-on-diagnostic");
  if (it == options.end() || it->second->getNumOccurrences() == 0)
    context.printOpOnDiagnostic(false);
}
