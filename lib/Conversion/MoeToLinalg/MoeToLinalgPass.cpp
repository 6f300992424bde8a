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
    // First everything but moe.dequantize, whose users dequantize just the
    // slices they read (buildWeightSlice); then what is left of it.
    ConversionTarget target(*ctx);
    target.addIllegalDialect<MoeDialect>();
    target.addLegalOp<DequantizeOp>();
    target.markUnknownOpDynamicallyLegal([](Operation *) { return true; });
    RewritePatternSet patterns(ctx);
    populateMoeDecomposeLayerPatterns(patterns);
    populateRoutingToLinalgPatterns(patterns);
    populateDispatchToLinalgPatterns(patterns);
    populateExpertsToLinalgPatterns(patterns);
    if (failed(applyPartialConversion(getOperation(), target,
                                      std::move(patterns)))) {
      signalPassFailure();
      return;
    }
    SmallVector<DequantizeOp> unused;
    getOperation()->walk([&](DequantizeOp op) {
      if (op->use_empty())
        unused.push_back(op);
    });
    for (DequantizeOp op : unused)
      op->erase();
    ConversionTarget whole(*ctx);
    whole.addIllegalDialect<MoeDialect>();
    whole.markUnknownOpDynamicallyLegal([](Operation *) { return true; });
    RewritePatternSet dequantize(ctx);
    populateDequantizeToLinalgPatterns(dequantize);
    if (failed(applyPartialConversion(getOperation(), whole,
                                      std::move(dequantize))))
      signalPassFailure();
  }
};
} // namespace
