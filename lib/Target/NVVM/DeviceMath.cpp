//===- DeviceMath.cpp - the kernels' math without libdevice ---------------===//
//
// convert-gpu-to-nvvm turns math ops (and even LLVM's floor and fabs
// intrinsics) into calls of libdevice's __nv_* functions, which only the
// CUDA toolkit ships: PTX that calls them cannot be written without it, and
// the emulator ran glibc's functions in their place. Here the device code's
// math becomes arithmetic before that conversion: upstream's expansions
// (powf, roundeven, round) and polynomial approximations (exp, log, erf, tanh,
// ...), fabs and copysign as sign-bit masks, the approximations' floors (of
// bounded exponents) as integer conversions and their fmas as LLVM's intrinsic.
// Written here because upstream has no libdevice-free math lowering for
// NVVM: its MathToLLVM patterns are legal to convert-gpu-to-nvvm only for
// fma.
//
//===----------------------------------------------------------------------===//

#include "Transforms.h"

#include "mlir/Conversion/LLVMCommon/TypeConverter.h"
#include "mlir/Conversion/MathToLLVM/MathToLLVM.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Math/Transforms/Passes.h"
#include "mlir/Transforms/DialectConversion.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

using namespace mlir;

namespace {

/// An f32's sign bit and the rest, as i32 masks.
constexpr int64_t kSignBit = int64_t(0x80000000u), kMagnitudeBits = 0x7fffffff;

/// f32 sign-bit arithmetic at one op, which it replaces.
struct SignBits {
  OpBuilder b;
  Location loc;
  explicit SignBits(Operation *op) : b(op), loc(op->getLoc()) {}
  /// The bits of `value` (an f32) under `mask`.
  Value masked(Value value, int64_t mask) {
    Value bits = arith::BitcastOp::create(b, loc, b.getI32Type(), value);
    return arith::AndIOp::create(
        b, loc, bits, arith::ConstantIntOp::create(b, loc, mask, 32));
  }
  /// `op`'s result replaced by the f32 of `bits`; `op` erased.
  void replace(Operation *op, Value bits) {
    op->getResult(0).replaceAllUsesWith(
        arith::BitcastOp::create(b, loc, b.getF32Type(), bits).getResult());
    op->erase();
  }
};

/// |x| of an f32 as its bits with the sign cleared: exact for every value.
void maskSignBits(math::AbsFOp abs) {
  SignBits s(abs);
  s.replace(abs, s.masked(abs.getOperand(), kMagnitudeBits));
}

/// copysign(x, y) of f32s as x's magnitude bits with y's sign bit: exact.
void copySignBits(math::CopySignOp copySign) {
  SignBits s(copySign);
  s.replace(copySign,
            arith::OrIOp::create(s.b, s.loc,
                                 s.masked(copySign.getLhs(), kMagnitudeBits),
                                 s.masked(copySign.getRhs(), kSignBit)));
}

/// floor(x) as trunc(x) - (trunc(x) > x): exact for |x| < 2^31, which the
/// approximations' exponents are (their inputs are clamped first).
void floorByConversion(math::FloorOp floor) {
  OpBuilder b(floor);
  Location loc = floor.getLoc();
  Value x = floor.getOperand();
  Value truncated = arith::SIToFPOp::create(
      b, loc, b.getF32Type(),
      arith::FPToSIOp::create(b, loc, b.getI32Type(), x));
  Value above =
      arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OGT, truncated, x);
  Value one = arith::ConstantOp::create(b, loc, b.getF32FloatAttr(1.0f));
  Value lowered = arith::SubFOp::create(b, loc, truncated, one);
  floor.replaceAllUsesWith(
      arith::SelectOp::create(b, loc, above, lowered, truncated).getResult());
  floor.erase();
}

bool isF32(Operation *op) {
  return op->getNumResults() == 1 && op->getResult(0).getType().isF32();
}

} // namespace

LogicalResult
mlir::moe::nvidia::lowerMathWithoutLibdevice(gpu::GPUModuleOp module) {
  MLIRContext *ctx = module.getContext();
  // Floors the kernels had before (none today) are not bounded: they stay.
  llvm::DenseSet<Operation *> ownFloors;
  module.walk([&](math::FloorOp floor) { ownFloors.insert(floor); });

  // Expansions and approximations, on the math ops and what their rewrites
  // make only: no folding or dead code removal elsewhere in the kernels.
  SmallVector<Operation *> mathOps;
  module.walk([&](Operation *op) {
    if (isa<math::MathDialect>(op->getDialect()))
      mathOps.push_back(op);
  });
  RewritePatternSet patterns(ctx);
  math::populateExpansionPatterns(patterns, {"powf", "roundeven", "round"});
  populateMathPolynomialApproximationPatterns(patterns, [](StringRef name) {
    return llvm::is_contained({"math.exp", "math.expm1", "math.log",
                               "math.log2", "math.log1p", "math.tanh",
                               "math.erf", "math.erfc"},
                              name);
  });
  GreedyRewriteConfig config;
  config.setStrictness(GreedyRewriteStrictness::ExistingAndNewOps);
  config.enableFolding(false);
  if (failed(applyOpPatternsGreedily(mathOps, std::move(patterns), config)))
    return module.emitError("expanding the kernels' math failed");

  SmallVector<Operation *> rest;
  module.walk([&](Operation *op) {
    if (isa<math::MathDialect>(op->getDialect()))
      rest.push_back(op);
  });
  for (Operation *op : rest) {
    if (auto abs = dyn_cast<math::AbsFOp>(op); abs && isF32(op))
      maskSignBits(abs);
    else if (auto copySign = dyn_cast<math::CopySignOp>(op);
             copySign && isF32(op))
      copySignBits(copySign);
    else if (auto floor = dyn_cast<math::FloorOp>(op);
             floor && isF32(op) && !ownFloors.contains(op))
      floorByConversion(floor);
  }

  LLVMTypeConverter converter(ctx);
  RewritePatternSet toIntrinsics(ctx);
  populateMathToLLVMConversionPatterns(converter, toIntrinsics);
  ConversionTarget target(*ctx);
  target.addIllegalOp<math::FmaOp>();
  target.markUnknownOpDynamicallyLegal([](Operation *) { return true; });
  if (failed(applyPartialConversion(module, target, std::move(toIntrinsics))))
    return failure();

  // Anything left would be a libdevice call: refused rather than PTX that
  // needs the toolkit.
  WalkResult left = module.walk([&](Operation *op) {
    if (!isa<math::MathDialect>(op->getDialect()))
      return WalkResult::advance();
    op->emitError("the device code has no lowering of '")
        << op->getName() << "' on " << op->getResultTypes()
        << " without libdevice";
    return WalkResult::interrupt();
  });
  return failure(left.wasInterrupted());
}
