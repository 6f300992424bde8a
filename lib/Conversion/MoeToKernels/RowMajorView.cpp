//===- RowMajorView.cpp - a buffer seen as a dense row-major memref -------===//

#include "RowMajorView.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Arith/Utils/Utils.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"

using namespace mlir;

Value mlir::moe::buildRowMajorView(OpBuilder &b, Location loc, Value buffer,
                                   MemRefType type,
                                   ArrayRef<OpFoldResult> sizes) {
  SmallVector<OpFoldResult> strides(sizes.size());
  OpFoldResult stride = b.getIndexAttr(1);
  for (int64_t d = static_cast<int64_t>(sizes.size()) - 1; d >= 0; --d) {
    strides[d] = stride;
    std::optional<int64_t> s = getConstantIntValue(stride);
    std::optional<int64_t> n = getConstantIntValue(sizes[d]);
    if (s && n)
      stride = b.getIndexAttr(*s * *n);
    else
      stride = arith::MulIOp::create(
                   b, loc, getValueOrCreateConstantIndexOp(b, loc, stride),
                   getValueOrCreateConstantIndexOp(b, loc, sizes[d]))
                   .getResult();
  }
  return memref::ReinterpretCastOp::create(b, loc, type, buffer,
                                           b.getIndexAttr(0), sizes, strides);
}
