//===- ActivationGroups.cpp - w8a8 activation groups in the kernels -------===//

#include "ActivationGroups.h"

#include "moe/Conversion/MoeToLinalg/Builders.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

using namespace mlir;
using namespace mlir::moe;

Value mlir::moe::buildActivationScales(OpBuilder &b, Location loc,
                                       int64_t blockRows, Value count,
                                       int64_t k, int64_t group,
                                       bool pow2Scales, RowElement rows) {
  auto index = [](OpBuilder &nb, Location nloc, int64_t v) -> Value {
    return arith::ConstantIndexOp::create(nb, nloc, v);
  };
  int64_t groups = (k + group - 1) / group;
  auto type = RankedTensorType::get({blockRows, groups}, b.getF32Type());
  Value tile = bufferization::AllocTensorOp::create(b, loc, type, ValueRange{});
  Value some = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::sgt, count,
                                     index(b, loc, 0));
  auto ifOp = scf::IfOp::create(
      b, loc, some,
      [&](OpBuilder &nb, Location nloc) {
        auto generic = linalg::GenericOp::create(
            nb, nloc, type, ValueRange{}, ValueRange{tile},
            {nb.getMultiDimIdentityMap(2)},
            {utils::IteratorType::parallel, utils::IteratorType::parallel},
            [&](OpBuilder &gb, Location gloc, ValueRange) {
              Value i = linalg::IndexOp::create(gb, gloc, 0);
              Value g = linalg::IndexOp::create(gb, gloc, 1);
              Value row = arith::MinSIOp::create(
                  gb, gloc, i,
                  arith::SubIOp::create(gb, gloc, count, index(gb, gloc, 1)));
              Value first =
                  arith::MulIOp::create(gb, gloc, g, index(gb, gloc, group));
              Value last = arith::MinSIOp::create(
                  gb, gloc,
                  arith::AddIOp::create(gb, gloc, first,
                                        index(gb, gloc, group)),
                  index(gb, gloc, k));
              Value zero =
                  arith::ConstantOp::create(gb, gloc, gb.getF32FloatAttr(0.0f));
              auto loop = scf::ForOp::create(
                  gb, gloc, first, last, index(gb, gloc, 1), ValueRange{zero},
                  [&](OpBuilder &lb, Location lloc, Value j, ValueRange acc) {
                    Value v = toF32(lb, lloc, rows(lb, lloc, row, j));
                    scf::YieldOp::create(
                        lb, lloc,
                        arith::MaximumFOp::create(
                            lb, lloc, acc[0], math::AbsFOp::create(lb, lloc, v))
                            .getResult());
                  });
              linalg::YieldOp::create(
                  gb, gloc,
                  buildFp8GroupScale(gb, gloc, loop.getResult(0), pow2Scales));
            });
        scf::YieldOp::create(nb, nloc, generic.getResult(0));
      },
      [&](OpBuilder &nb, Location nloc) {
        scf::YieldOp::create(nb, nloc, tile);
      });
  return ifOp.getResult(0);
}

Value mlir::moe::buildActivationScale(OpBuilder &b, Location loc, Value scales,
                                      int64_t group, Value row, Value column) {
  Value g = arith::DivUIOp::create(
      b, loc, column, arith::ConstantIndexOp::create(b, loc, group));
  return tensor::ExtractOp::create(b, loc, scales, ValueRange{row, g});
}

Value mlir::moe::buildQuantizedActivation(OpBuilder &b, Location loc,
                                          Value scales, int64_t group,
                                          Value row, Value column,
                                          Value value) {
  return buildE4M3Quantized(
      b, loc, value, buildActivationScale(b, loc, scales, group, row, column));
}
