//===- InputFile.h - the tools' text inputs, refused when not a file -*- C++
//-*-===//
//
// moe-run's and moe-translate's model files: "-" (stdin) or a regular
// file. A FIFO would block until a writer came, a device such as /dev/zero
// never ends, a directory is no file: each is refused at once (issue 20).
//
//===----------------------------------------------------------------------===//

#ifndef MOE_TOOLS_INPUTFILE_H
#define MOE_TOOLS_INPUTFILE_H

#include "mlir/IR/MLIRContext.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/MemoryBuffer.h"

#include <memory>
#include <string>

namespace moe {
/// mlir::openInputFile of `path` if it is "-" or a regular file; else null
/// and `error` says why.
std::unique_ptr<llvm::MemoryBuffer> openRegularInputFile(llvm::StringRef path,
                                                         std::string *error);
/// Errors do not print the operation they are on (a whole module can be
/// 30,000 lines of IR) unless --mlir-print-op-on-diagnostic was given.
void quietDiagnostics(mlir::MLIRContext &context);
} // namespace moe

#endif // MOE_TOOLS_INPUTFILE_H
