//===- KernelBuffers.cpp - buffers of the outlined kernels ----------------===//

#include "moe/Conversion/MoeToKernels/KernelBuffers.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Arith/Utils/Utils.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "mlir/Interfaces/ValueBoundsOpInterface.h"
#include "mlir/Interfaces/ViewLikeInterface.h"

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

std::optional<int64_t> mlir::moe::upperBound(Value v) {
  Operation *op = v.getDefiningOp();
  auto both = [&](auto combine) -> std::optional<int64_t> {
    std::optional<int64_t> a =
        upperBound(op->getOperand(op->getNumOperands() - 2));
    std::optional<int64_t> b =
        upperBound(op->getOperand(op->getNumOperands() - 1));
    return combine(a, b);
  };
  if (op && isa<arith::MinSIOp, arith::MinUIOp>(op))
    return both([](auto a, auto b) -> std::optional<int64_t> {
      if (a && b)
        return std::min(*a, *b);
      return a ? a : b;
    });
  // A product with a non-negative constant (rows rounded to whole tiles).
  if (auto product = dyn_cast_or_null<arith::MulIOp>(op)) {
    std::optional<int64_t> factor = getConstantIntValue(product.getRhs());
    std::optional<int64_t> other = upperBound(product.getLhs());
    if (factor && *factor >= 0 && other)
      return *other * *factor;
  }
  if (op && isa<arith::MaxSIOp, arith::MaxUIOp, arith::SelectOp>(op))
    return both([](auto a, auto b) -> std::optional<int64_t> {
      if (a && b)
        return std::max(*a, *b);
      return std::nullopt;
    });
  FailureOr<int64_t> ub = ValueBoundsConstraintSet::computeConstantBound(
      presburger::BoundType::UB, v, /*stopCondition=*/nullptr,
      /*closedUB=*/true);
  if (failed(ub))
    return std::nullopt;
  return *ub;
}

std::optional<SmallVector<int64_t>>
mlir::moe::boundedShape(memref::AllocOp alloc) {
  MemRefType type = alloc.getType();
  Type element = type.getElementType();
  if (!type.getLayout().isIdentity() ||
      !(element.isIntOrFloat() || element.isIndex()))
    return std::nullopt;
  SmallVector<int64_t> bound(type.getShape());
  unsigned next = 0;
  for (int64_t &size : bound) {
    if (!ShapedType::isDynamic(size))
      continue;
    std::optional<int64_t> ub = upperBound(alloc.getDynamicSizes()[next++]);
    if (!ub || *ub < 0)
      return std::nullopt;
    size = std::max<int64_t>(*ub, 1);
  }
  return bound;
}

int64_t mlir::moe::bufferBytes(ArrayRef<int64_t> shape, Type elementType) {
  // index is 64-bit on both targets.
  int64_t bytes =
      elementType.isIndex() ? 8 : (elementType.getIntOrFloatBitWidth() + 7) / 8;
  for (int64_t size : shape)
    bytes *= size;
  return bytes;
}

FailureOr<mlir::moe::SharedLayout> mlir::moe::layoutShared(Block &body) {
  SharedLayout layout;
  // Lays `allocs` out from `start`; returns where they end.
  auto place = [&](ArrayRef<memref::AllocOp> allocs,
                   int64_t start) -> FailureOr<int64_t> {
    for (memref::AllocOp alloc : allocs) {
      std::optional<SmallVector<int64_t>> shape = boundedShape(alloc);
      if (!shape)
        return failure();
      layout.allocs.push_back(alloc);
      layout.offsets.push_back(start);
      int64_t bytes = bufferBytes(*shape, alloc.getType().getElementType());
      start += (bytes + 15) / 16 * 16;
    }
    return start;
  };
  SmallVector<memref::AllocOp> top(body.getOps<memref::AllocOp>());
  FailureOr<int64_t> end = place(top, 0);
  if (failed(end))
    return failure();
  layout.bytes = *end;
  // The branches of a block's scf.if (moe-fuse-launches' kernels side by
  // side) run one at a time: their temporaries overlap.
  for (auto branch : body.getOps<scf::IfOp>()) {
    int64_t branchEnd = layout.bytes;
    for (Region &region : branch->getRegions()) {
      if (region.empty())
        continue;
      SmallVector<memref::AllocOp> allocs(
          region.front().getOps<memref::AllocOp>());
      FailureOr<int64_t> regionEnd = place(allocs, layout.bytes);
      if (failed(regionEnd))
        return failure();
      branchEnd = std::max(branchEnd, *regionEnd);
    }
    layout.bytes = branchEnd;
  }
  // Any other allocation is in a loop or deeper: not a block temporary. A
  // stack buffer would be private to each thread.
  bool elsewhere = false;
  body.walk([&](Operation *op) {
    auto alloc = dyn_cast<memref::AllocOp>(op);
    elsewhere |= isa<memref::AllocaOp>(op) ||
                 (alloc && !llvm::is_contained(layout.allocs, alloc));
  });
  if (elsewhere)
    return failure();
  return layout;
}

scf::ForallOp mlir::moe::buildThreadForall(OpBuilder &b, Location loc,
                                           int64_t count) {
  auto mapping = b.getArrayAttr(
      {gpu::GPUThreadMappingAttr::get(b.getContext(), gpu::MappingId::DimX)});
  auto forall = scf::ForallOp::create(b, loc, {b.getIndexAttr(count)},
                                      /*outputs=*/ValueRange{}, mapping);
  b.setInsertionPoint(forall.getBody()->getTerminator());
  return forall;
}

Value mlir::moe::rootBuffer(Value view) {
  while (auto viewLike = view.getDefiningOp<ViewLikeOpInterface>())
    view = viewLike.getViewSource();
  return view;
}

OpFoldResult mlir::moe::viewSize(Value view, unsigned d) {
  auto type = cast<MemRefType>(view.getType());
  if (!type.isDynamicDim(d))
    return IntegerAttr::get(IndexType::get(view.getContext()),
                            type.getDimSize(d));
  auto subview = view.getDefiningOp<memref::SubViewOp>();
  if (!subview)
    return {};
  // A rank-reducing subview drops sizes of 1, which are static.
  unsigned kept = 0;
  llvm::SmallBitVector dropped = subview.getDroppedDims();
  for (auto [i, size] : llvm::enumerate(subview.getMixedSizes())) {
    if (dropped.test(i))
      continue;
    if (kept++ == d)
      return size;
  }
  return {};
}

std::optional<int64_t> mlir::moe::sizeBound(OpFoldResult size) {
  if (!size)
    return std::nullopt;
  if (std::optional<int64_t> constant = getConstantIntValue(size))
    return constant;
  return upperBound(cast<Value>(size));
}
