//===- InputFile.cpp - the tools' text inputs -----------------------------===//

#include "InputFile.h"

#include "mlir/Support/FileUtilities.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"

void moe::quietDiagnostics(mlir::MLIRContext &context) {
  auto &options = llvm::cl::getRegisteredOptions();
  auto it = options.find("mlir-print-op-on-diagnostic");
  if (it == options.end() || it->second->getNumOccurrences() == 0)
    context.printOpOnDiagnostic(false);
}

std::unique_ptr<llvm::MemoryBuffer>
moe::openRegularInputFile(llvm::StringRef path, std::string *error) {
  if (path != "-") {
    // status() does not open the file: a FIFO does not block it.
    llvm::sys::fs::file_status status;
    if (std::error_code ec = llvm::sys::fs::status(path, status)) {
      *error = "cannot open input file '" + path.str() + "': " + ec.message();
      return nullptr;
    }
    if (status.type() != llvm::sys::fs::file_type::regular_file) {
      *error = "cannot open input file '" + path.str() +
               "': not a regular file (a directory, device or FIFO)";
      return nullptr;
    }
  }
  return mlir::openInputFile(path, error);
}
