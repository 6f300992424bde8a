//===- InputFile.h - text inputs, refused when not a file ------*- C++ -*-===//
//
// The inputs the tools and passes read as text (model files, tuning files):
// "-" (stdin) or a regular file. A FIFO would block until a writer came, a
// device such as /dev/zero never ends, a directory is no file: each is
// refused at once (issue 20).
//
//===----------------------------------------------------------------------===//

#ifndef MOE_JSON_INPUTFILE_H
#define MOE_JSON_INPUTFILE_H

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/MemoryBuffer.h"

#include <memory>
#include <string>

namespace mlir::moe {
/// mlir::openInputFile of `path` if it is "-" or a regular file; else null
/// and `error` says why.
std::unique_ptr<llvm::MemoryBuffer> openRegularInputFile(llvm::StringRef path,
                                                         std::string *error);
} // namespace mlir::moe

#endif // MOE_JSON_INPUTFILE_H
