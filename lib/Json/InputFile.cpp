//===- InputFile.cpp - JSON and IR inputs, refused when not a file --------===//

#include "moe/Json/InputFile.h"

#include "mlir/Support/FileUtilities.h"
#include "llvm/Support/FileSystem.h"

std::unique_ptr<llvm::MemoryBuffer>
mlir::moe::openRegularInputFile(llvm::StringRef path, std::string *error) {
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
