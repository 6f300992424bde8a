//===- MoeToLinalgPass.cpp - the convert-moe-to-linalg pass ---------------===//

#include "Patterns.h"

#include "moe/Dialect/MoeOps.h"
#include "moe/Transforms/Passes.h"

#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Transforms/DialectConversion.h"

namespace mlir::moe {
#define GEN_PASS_DEF_CONVERTMOETOLINALG
#include "dialect/Moe/Passes.h.inc"
} // namespace mlir::moe

using namespace mlir;
using namespace mlir::moe;

namespace {
struct ConvertMoeToLinalgPass
    : moe::impl::ConvertMoeToLinalgBase<ConvertMoeToLinalgPass> {
  void runOnOperation() override {
    MLIRContext *ctx = &getContext();
    ConversionTarget target(*ctx);
    target.addIllegalDialect<MoeDialect>();
    target.markUnknownOpDynamicallyLegal([](Operation *) { return true; });
    RewritePatternSet patterns(ctx);
    populateMoeDecomposeLayerPatterns(patterns);
    populateRoutingToLinalgPatterns(patterns);
    populateDispatchToLinalgPatterns(patterns);
    populateExpertsToLinalgPatterns(patterns);
    if (failed(applyPartialConversion(getOperation(), target,
                                      std::move(patterns))))
      signalPassFailure();
  }
};
} // namespace
