//===- TestHelpers.h - parse JSON text and collect diagnostics --*- C++ -*-===//

#ifndef MOE_UNITTESTS_TESTHELPERS_H
#define MOE_UNITTESTS_TESTHELPERS_H

#include "moe/Dialect/MoeDialect.h"

#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/SourceMgr.h"

#include <string>
#include <vector>

namespace moe_test {

/// A context with the moe dialect, a source manager holding `text` as
/// "test.json", and every diagnostic's "line:col: message" collected.
struct JsonFixture {
  explicit JsonFixture(llvm::StringRef text)
      : handler(&context, [this](mlir::Diagnostic &diag) {
          std::string entry;
          llvm::raw_string_ostream os(entry);
          if (auto loc =
                  llvm::dyn_cast<mlir::FileLineColLoc>(diag.getLocation()))
            os << loc.getLine() << ":" << loc.getColumn() << ": ";
          os << diag.str();
          messages.push_back(entry);
          return mlir::success();
        }) {
    context.loadDialect<mlir::moe::MoeDialect>();
    sourceMgr.AddNewSourceBuffer(
        llvm::MemoryBuffer::getMemBufferCopy(text, "test.json"), llvm::SMLoc());
  }

  mlir::MLIRContext context;
  llvm::SourceMgr sourceMgr;
  std::vector<std::string> messages;
  mlir::ScopedDiagnosticHandler handler;
};

} // namespace moe_test

#endif // MOE_UNITTESTS_TESTHELPERS_H
