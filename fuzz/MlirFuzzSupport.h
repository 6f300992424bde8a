//===- MlirFuzzSupport.h - an MLIR context per fuzz input -------*- C++ -*-===//
//
// A fresh single-threaded context per input, so nothing one input interns
// (types, attributes, locations) accumulates over a run or changes how the
// next input behaves, and a handler that swallows its diagnostics: nearly
// every input is refused with an error, and printing them would only slow
// fuzzing down.
//
//===----------------------------------------------------------------------===//

#ifndef MOE_FUZZ_MLIRFUZZSUPPORT_H
#define MOE_FUZZ_MLIRFUZZSUPPORT_H

#include "FuzzSupport.h"

#include "moe/Dialect/MoeDialect.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/MLIRContext.h"

namespace moefuzz {

/// The dialects moe-translate registers for --import-moe-json, which is
/// what moe IR is made of before lowering.
inline const mlir::DialectRegistry &moeDialects() {
  static const mlir::DialectRegistry *registry = [] {
    auto *r = new mlir::DialectRegistry();
    r->insert<mlir::moe::MoeDialect, mlir::func::FuncDialect,
              mlir::arith::ArithDialect, mlir::tensor::TensorDialect>();
    return r;
  }();
  return *registry;
}

class FuzzContext {
public:
  explicit FuzzContext(const mlir::DialectRegistry &registry)
      : context(registry, mlir::MLIRContext::Threading::DISABLED),
        handler(&context, [](mlir::Diagnostic &diag) {
          if (verbose())
            llvm::errs() << diag.getLocation() << ": " << diag << "\n";
          return mlir::success();
        }) {}

  mlir::MLIRContext *get() { return &context; }

private:
  mlir::MLIRContext context;
  mlir::ScopedDiagnosticHandler handler;
};

} // namespace moefuzz

#endif // MOE_FUZZ_MLIRFUZZSUPPORT_H
