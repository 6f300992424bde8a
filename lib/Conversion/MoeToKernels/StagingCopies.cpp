//===- StagingCopies.cpp - moe.async_copy staging copies ------------------===//
//
// The expert GEMMs stage each chunk of their rows in shared memory. As a
// structured op dealt out element by element, that is one 1- to 4-byte load per
// thread and step (and, for gathered rows, a load of the permutation with
// it); here a thread moves 16 bytes at once (on the GPU without registers
// in between: cp.async, lib/Target/NVVM/AsyncCopies.cpp).
//
// Written by hand: upstream vectorizes a gather (the rows come through the
// permutation) only as a vector.gather of elements.
//
//===----------------------------------------------------------------------===//

#include "moe/Conversion/MoeToKernels/StagingCopies.h"

#include "moe/Conversion/MoeToKernels/KernelBuffers.h"

#include "moe/Dialect/MoeDialect.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

using namespace mlir;
using namespace mlir::moe;

namespace {

/// Whether `v` may vary with `op`'s loop `dim`: it is computed in `op`'s
/// body from linalg.index `dim` or from an element of an operand
/// (conservatively, also from anything with regions).
bool variesWith(linalg::GenericOp op, Value v, unsigned dim,
                llvm::SmallDenseMap<Value, bool> &known) {
  if (auto arg = dyn_cast<BlockArgument>(v))
    return arg.getOwner() == op.getBlock();
  Operation *def = v.getDefiningOp();
  if (!def || !op->isProperAncestor(def))
    return false;
  if (auto it = known.find(v); it != known.end())
    return it->second;
  bool varies;
  if (auto index = dyn_cast<linalg::IndexOp>(def))
    varies = index.getDim() == dim;
  else
    varies = def->getNumRegions() != 0 ||
             llvm::any_of(def->getOperands(), [&](Value operand) {
               return variesWith(op, operand, dim, known);
             });
  known[v] = varies;
  return varies;
}

/// Whether a run of `width` elements from [.., x + column] of `source` (a
/// column a multiple of `width`) starts 16-byte aligned wherever the
/// buffer does: its static row strides and offset, and x, are multiples of
/// `width`.
bool runsAligned(MemRefType source, Value x, int64_t width) {
  SmallVector<int64_t> strides;
  int64_t offset;
  if (failed(source.getStridesAndOffset(strides, offset)) ||
      ShapedType::isDynamic(offset) || offset % width != 0)
    return false;
  for (int64_t stride : ArrayRef<int64_t>(strides).drop_back())
    if (ShapedType::isDynamic(stride) || stride % width != 0)
      return false;
  return !x || isMultipleOf(x, width);
}

/// The load whose value `op` yields, if `op` is a staging copy that
/// distributeStagingCopy handles; `width` is set to the elements of a run.
memref::LoadOp matchStagingCopy(linalg::GenericOp op, int64_t &width,
                                Value &x) {
  if (!op->hasAttr(MoeDialect::kAsyncCopyAttrName) ||
      !op.hasPureBufferSemantics() || op.getNumDpsInputs() != 0 ||
      op.getNumDpsInits() != 1 || op.getNumLoops() != 2 ||
      op.getNumReductionLoops() != 0 ||
      !op.getIndexingMapsArray()[0].isIdentity())
    return {};
  auto outType = cast<MemRefType>(op.getDpsInitOperand(0)->get().getType());
  Type element = outType.getElementType();
  if (!outType.hasStaticShape() || !outType.isLastDimUnitStride() ||
      !element.isIntOrFloat() ||
      (element.getIntOrFloatBitWidth() != 8 &&
       element.getIntOrFloatBitWidth() != 16 &&
       element.getIntOrFloatBitWidth() != 32))
    return {};
  width = kStagingCopyBytes * 8 / element.getIntOrFloatBitWidth();
  if (outType.getDimSize(1) % width != 0)
    return {};
  // Loads and index arithmetic only: nothing else may run once per run
  // instead of once per element.
  for (Operation &nested : op.getBlock()->without_terminator())
    if (!isa<memref::LoadOp>(nested) && !isMemoryEffectFree(&nested))
      return {};
  auto load = op.getBlock()
                  ->getTerminator()
                  ->getOperand(0)
                  .getDefiningOp<memref::LoadOp>();
  Operation *source = load ? load.getMemRef().getDefiningOp() : nullptr;
  if (!load || (source && op->isProperAncestor(source)) ||
      !load.getMemRefType().isLastDimUnitStride() ||
      load.getMemRefType().getElementType() != element)
    return {};
  // The last index is x + column, x and the others the same along a row.
  llvm::SmallDenseMap<Value, bool> known;
  auto isColumn = [&](Value v) {
    auto index = v.getDefiningOp<linalg::IndexOp>();
    return index && index.getDim() == 1 && index->getBlock() == op.getBlock();
  };
  ValueRange indices = load.getIndices();
  if (indices.empty())
    return {};
  for (Value index : indices.drop_back())
    if (variesWith(op, index, 1, known))
      return {};
  Value last = indices.back();
  if (isColumn(last))
    return load;
  auto sum = last.getDefiningOp<arith::AddIOp>();
  if (!sum)
    return {};
  if (isColumn(sum.getRhs()) && !variesWith(op, sum.getLhs(), 1, known))
    x = sum.getLhs();
  else if (isColumn(sum.getLhs()) && !variesWith(op, sum.getRhs(), 1, known))
    x = sum.getRhs();
  else
    return {};
  return load;
}

} // namespace

bool mlir::moe::distributeStagingCopy(linalg::GenericOp op, int64_t threads) {
  int64_t width = 0;
  Value x;
  memref::LoadOp load = matchStagingCopy(op, width, x);
  if (!load)
    return false;
  // On the body as it is (x may be computed in it or outside).
  bool aligned = runsAligned(load.getMemRefType(), x, width);
  Value out = op.getDpsInitOperand(0)->get();
  auto outType = cast<MemRefType>(out.getType());
  int64_t runsPerRow = outType.getDimSize(1) / width;
  int64_t runs = outType.getDimSize(0) * runsPerRow;
  OpBuilder b(op);
  Location loc = op.getLoc();
  scf::ForallOp forall = buildThreadForall(b, loc, threads);
  auto index = [&](int64_t v) {
    return arith::ConstantIndexOp::create(b, loc, v);
  };
  auto loop = scf::ForOp::create(b, loc, forall.getInductionVar(0), index(runs),
                                 index(threads));
  b.setInsertionPoint(loop.getBody()->getTerminator());
  Value run = loop.getInductionVar();
  Value row = arith::DivUIOp::create(b, loc, run, index(runsPerRow));
  Value column = arith::MulIOp::create(
      b, loc, arith::RemUIOp::create(b, loc, run, index(runsPerRow)),
      index(width));
  // The body at the run's first element, its load widened to the run.
  IRMapping mapping;
  for (Operation &nested : op.getBlock()->without_terminator()) {
    if (auto loopIndex = dyn_cast<linalg::IndexOp>(nested)) {
      mapping.map(loopIndex.getResult(),
                  loopIndex.getDim() == 0 ? row : column);
      continue;
    }
    if (&nested != load.getOperation())
      b.clone(nested, mapping);
  }
  SmallVector<Value> from = llvm::map_to_vector(
      load.getIndices(), [&](Value v) { return mapping.lookupOrDefault(v); });
  auto runType = VectorType::get({width}, outType.getElementType());
  Value values =
      vector::LoadOp::create(b, loc, runType, load.getMemRef(), from);
  auto store =
      vector::StoreOp::create(b, loc, values, out, ValueRange{row, column});
  // Only runs that start 16-byte aligned (for certain) may become
  // cp.async; the others stay vector copies.
  if (aligned)
    store->setAttr(MoeDialect::kAsyncCopyAttrName,
                   op->getAttr(MoeDialect::kAsyncCopyAttrName));
  op->erase();
  return true;
}
