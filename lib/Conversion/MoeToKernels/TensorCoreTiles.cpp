//===- TensorCoreTiles.cpp - expert GEMM tiles in tensor-core form --------===//
//
// The mma.sync instructions multiply full 16 x 8 x 16 tiles, so the block's
// ragged rows are padded to blockRows and the reduction walks
// chunks whose staged rows fit in shared memory whatever the hidden size
// (a whole [16, 7168] bf16 row block would not). Built on tensors with
// upstream ops; the padding and staging are explicit here because upstream
// tensor.pad would pad the whole reduction at once.
//
//===----------------------------------------------------------------------===//

#include "TensorCoreTiles.h"

#include "../MoeToLinalg/Builders.h"

#include "moe/Dialect/MoeDialect.h"
#include "moe/Transforms/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

using namespace mlir;
using namespace mlir::moe;

int64_t mlir::moe::tensorCoreChunk(int64_t k) {
  for (int64_t chunk : {64, 32, 16})
    if (k > 0 && k % chunk == 0)
      return chunk;
  return 0;
}

bool mlir::moe::useTensorCores(Type storage, Type weightType, int64_t blockRows,
                               int64_t columns, int64_t width, int64_t k,
                               int64_t weights) {
  int64_t chunk = tensorCoreChunk(k);
  if (!(storage.isBF16() || storage.isF16()) || storage != weightType ||
      chunk == 0 || blockRows % 16 != 0 || width % 32 != 0 ||
      columns % width != 0)
    return false;
  int64_t bytes = weights * blockRows * width * 4 + blockRows * chunk * 2;
  return bytes <= kKernelSharedMemoryBudget;
}

SmallVector<Value>
mlir::moe::buildTensorCoreLinears(OpBuilder &b, Location loc, int64_t blockRows,
                                  Value count, Value width, ValueRange weights,
                                  Type storage, RowElement rows) {
  auto firstType = cast<RankedTensorType>(weights.front().getType());
  int64_t columns = firstType.getDimSize(0), k = firstType.getDimSize(1);
  int64_t chunk = tensorCoreChunk(k);
  auto index = [&](int64_t v) {
    return arith::ConstantIndexOp::create(b, loc, v);
  };
  auto accType = RankedTensorType::get({blockRows, columns}, b.getF32Type());
  // alloc_tensor, not tensor.empty: CSE would merge the accumulators'
  // empty tensors and fills, and bufferization then copy them apart.
  Value zeroF32 = arith::ConstantOp::create(b, loc, b.getF32FloatAttr(0.0));
  SmallVector<Value> initial;
  for (size_t i = 0; i < weights.size(); ++i) {
    Value acc =
        bufferization::AllocTensorOp::create(b, loc, accType, ValueRange{});
    initial.push_back(
        linalg::FillOp::create(b, loc, zeroF32, acc).getResult(0));
  }
  // One staging tile for every chunk: bufferized once, at the block's top.
  auto stagedType = RankedTensorType::get({blockRows, chunk}, storage);
  Value staging = buildEmpty(b, loc, stagedType, ValueRange{});
  // An empty block (past the last expert's rows) reads no weights.
  Value some =
      arith::CmpIOp::create(b, loc, arith::CmpIPredicate::sgt, count, index(0));
  Value end = arith::SelectOp::create(b, loc, some, index(k), index(0));

  auto loop = scf::ForOp::create(
      b, loc, index(0), end, index(chunk), initial,
      [&](OpBuilder &nb, Location nloc, Value k0, ValueRange accs) {
        // staged[i, j] = rows[min(i, count - 1), k0 + j]: the padding
        // repeats the last row (the loop runs only when count > 0). Row i
        // of a product depends on staged row i alone, and the rows past
        // count are not kept, so any finite padding would do.
        auto stage = linalg::GenericOp::create(
            nb, nloc, stagedType, ValueRange{}, ValueRange{staging},
            {nb.getMultiDimIdentityMap(2)},
            {utils::IteratorType::parallel, utils::IteratorType::parallel},
            [&](OpBuilder &gb, Location gloc, ValueRange) {
              Value i = linalg::IndexOp::create(gb, gloc, 0);
              Value j = linalg::IndexOp::create(gb, gloc, 1);
              Value last = arith::SubIOp::create(
                  gb, gloc, count, arith::ConstantIndexOp::create(gb, gloc, 1));
              Value row = arith::MinSIOp::create(gb, gloc, i, last);
              Value at = arith::AddIOp::create(gb, gloc, k0, j);
              linalg::YieldOp::create(gb, gloc, rows(gb, gloc, row, at));
            });
        // Each staged row is a run of chunk elements from column k0, k0 a
        // multiple of chunk (16 or more) and the rows' length k too: 16-byte
        // runs aligned to 16 bytes, which the GPU copies asynchronously.
        stage->setAttr(MoeDialect::kAsyncCopyAttrName, nb.getUnitAttr());
        SmallVector<Value> next;
        for (auto [weight, acc] : llvm::zip(weights, accs)) {
          SmallVector<OpFoldResult> offsets = {nb.getIndexAttr(0), k0};
          SmallVector<OpFoldResult> sizes = {nb.getIndexAttr(columns),
                                             nb.getIndexAttr(chunk)};
          SmallVector<OpFoldResult> strides(2, nb.getIndexAttr(1));
          Value weightChunk = tensor::ExtractSliceOp::create(
              nb, nloc, weight, offsets, sizes, strides);
          Value gemm =
              buildLinear(nb, nloc, stage.getResult(0), weightChunk, acc);
          gemm.getDefiningOp()->setAttr(MoeDialect::kTensorCoreAttrName,
                                        nb.getUnitAttr());
          next.push_back(gemm);
        }
        scf::YieldOp::create(nb, nloc, next);
      });
  SmallVector<Value> products;
  for (Value acc : loop.getResults()) {
    SmallVector<OpFoldResult> offsets(2, b.getIndexAttr(0));
    SmallVector<OpFoldResult> sizes = {count, width};
    SmallVector<OpFoldResult> strides(2, b.getIndexAttr(1));
    products.push_back(
        tensor::ExtractSliceOp::create(b, loc, acc, offsets, sizes, strides));
  }
  return products;
}
