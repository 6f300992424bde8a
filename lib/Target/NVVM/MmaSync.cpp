//===- MmaSync.cpp - moe.tensor_core contractions to mma.sync -------------===//
//
// Written by hand: upstream's convert-vector-to-gpu (use-nvgpu) and
// convert-nvgpu-to-nvvm build mma.sync fragments for f16, tf32 and
// integers but not bf16 (nvgpu::getMmaSyncRegisterType has no bf16 case)
// nor fp8, and the expert weights of the models we take are bf16 or fp8.
// The fragment layouts are those of the PTX ISA for mma.m16n8k16 (row.col):
// with g = lane / 4 and t = lane % 4, A holds rows g and g + 8 at columns
// 2t, 2t + 1 and 2t + 8, 2t + 9; B (stored [n, k], "col") holds column g
// at k = 2t, 2t + 1 and 2t + 8, 2t + 9; C holds rows g, g + 8 at columns
// 2t, 2t + 1. mma.m16n8k32 for e4m3 (sm_89+) has the same registers, each
// holding four 8-bit elements where m16n8k16's hold two: A at columns
// 4t .. 4t + 3 and 4t + 16 .. 4t + 19, B at those k. NVVM's nvvm.mma.sync
// has no dense e4m3 shape in MLIR 22, so that one is a call of LLVM's
// intrinsic, which the NVPTX backend selects from PTX 8.4 on.
//
// A block of 8 rows (decode: an expert's one or few tokens) takes the
// swapped form: the weights are the 16-row side (A: weight rows g, g + 8 of
// a 16-column tile) and the tokens the 8-column side (B: token row g), so
// the mma computes C^T's 16 x 8 tile and a lane's accumulators are C[2t,
// g], C[2t + 1, g], C[2t, g + 8], C[2t + 1, g + 8]. Half the padding of
// 16-row tiles multiplied, and each element's products and sums the same
// (f32, k in the same order), so a token's bits do not depend on the form.
//
//===----------------------------------------------------------------------===//

#include "MmaSync.h"

#include "moe/Conversion/MoeToKernels/KernelBuffers.h"
#include "moe/Dialect/MoeDialect.h"
#include "moe/Target/NVVM/ChipInfo.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

using namespace mlir;
using namespace mlir::moe;

namespace {

/// Whether `type` is a 2-d memref whose rows are contiguous and start a
/// multiple of `n` elements apart (the offset too, where static), with a
/// static row length.
bool hasAlignedUnitStrideRows(MemRefType type, int64_t n) {
  SmallVector<int64_t> strides;
  int64_t offset;
  return type.getRank() == 2 && !type.isDynamicDim(1) &&
         succeeded(type.getStridesAndOffset(strides, offset)) &&
         strides.back() == 1 && !ShapedType::isDynamic(strides[0]) &&
         strides[0] % n == 0 &&
         (ShapedType::isDynamic(offset) || offset % n == 0);
}

/// Whether `v`, computed in `body`, reads no block argument but `arg`.
bool readsOnly(Value v, Value arg, Block *body) {
  if (isa<BlockArgument>(v))
    return v == arg || cast<BlockArgument>(v).getOwner() != body;
  Operation *def = v.getDefiningOp();
  if (!def || def->getBlock() != body)
    return true;
  return llvm::all_of(def->getOperands(), [&](Value operand) {
    return readsOnly(operand, arg, body);
  });
}

/// Whether `op`'s body is the GEMM step this lowering implements:
/// out + f32(a) * f32(b), in either operand order; f32 is a widening of
/// bf16 and f16, and of e4m3 (`decoded`) any computation of the one
/// element (moe-form-kernels decodes the bits in arith).
bool isMultiplyAccumulate(linalg::LinalgOp op, bool decoded) {
  Block *body = op.getBlock();
  auto yield = cast<linalg::YieldOp>(body->getTerminator());
  auto add = yield.getOperand(0).getDefiningOp<arith::AddFOp>();
  if (!add || add->getBlock() != body)
    return false;
  Value acc = body->getArgument(2);
  Value product = add.getLhs() == acc ? add.getRhs() : add.getLhs();
  if ((add.getLhs() == acc) == (add.getRhs() == acc))
    return false;
  auto mul = product.getDefiningOp<arith::MulFOp>();
  if (!mul || mul->getBlock() != body)
    return false;
  auto widened = [&](Value v) -> Value {
    if (auto ext = v.getDefiningOp<arith::ExtFOp>())
      return ext.getIn();
    return v;
  };
  Value a = body->getArgument(0), b = body->getArgument(1);
  if (decoded) {
    Value lhs = mul.getLhs(), rhs = mul.getRhs();
    return (readsOnly(lhs, a, body) && readsOnly(rhs, b, body)) ||
           (readsOnly(lhs, b, body) && readsOnly(rhs, a, body));
  }
  Value lhs = widened(mul.getLhs()), rhs = widened(mul.getRhs());
  return (lhs == a && rhs == b) || (lhs == b && rhs == a);
}

/// Whether `op` computes C[m, n] += f(A[m, k]) * f(B[n, k]) with the
/// indexing maps and loops of a transposed-B GEMM (the body is the one
/// moe-form-kernels builds: widen, multiply, add).
bool isTransposedBGemm(linalg::LinalgOp op) {
  if (op.getNumDpsInputs() != 2 || op.getNumDpsInits() != 1 ||
      op.getNumLoops() != 3)
    return false;
  MLIRContext *ctx = op->getContext();
  AffineExpr m, n, k;
  bindDims(ctx, m, n, k);
  SmallVector<AffineMap> expected = {AffineMap::get(3, 0, {m, k}, ctx),
                                     AffineMap::get(3, 0, {n, k}, ctx),
                                     AffineMap::get(3, 0, {m, n}, ctx)};
  SmallVector<utils::IteratorType> iterators = op.getIteratorTypesArray();
  return op.getIndexingMapsArray() == expected &&
         iterators[0] == utils::IteratorType::parallel &&
         iterators[1] == utils::IteratorType::parallel &&
         iterators[2] == utils::IteratorType::reduction;
}

/// The lane's view of a warp's [rows, columns] += [rows, depth] x
/// [columns, depth]^T product as m16n8k16 tiles (m16n8k32 for e4m3):
/// where its fragments lie, and the builders of their loads and of the
/// mma.sync steps. Its tiles are 16 rows x 8 columns, or in the swapped
/// form (8 rows) 8 rows x 16 columns.
class MmaSyncEmitter {
public:
  /// `rows`: the rows of A and C (8: the swapped form), or with `usedRows`
  /// (a multiple of 16) the bound of their dynamic count. `pairedC`: C's
  /// rows start an even number of elements apart, 8-byte aligned.
  MmaSyncEmitter(OpBuilder &b, Location loc, Value a, Value bMatrix, Value c,
                 int64_t rows, Value usedRows, bool pairedC)
      : b(b), loc(loc), a(a), bMatrix(bMatrix), c(c),
        element(cast<MemRefType>(a.getType()).getElementType()),
        perRegister(32 / element.getIntOrFloatBitWidth()),
        kStep(8 * perRegister), rows(rows), usedRows(usedRows),
        swapped(nvidia::isSwappedMma(rows)), pairedC(pairedC && !swapped) {
    auto aType = cast<MemRefType>(a.getType());
    depth = aType.getDimSize(1);
    columns = cast<MemRefType>(bMatrix.getType()).getDimSize(0);
    rowTiles = rows / (swapped ? 8 : 16);
    columnTiles = columns / nvidia::mmaTileColumns(rows);
  }

  /// Emits the whole product: at most kMaxTiles tiles (4 f32 registers
  /// each) live at once, so wider warp tiles go in groups of columns, each
  /// its own loop over the reduction (a 128 x 64 warp tile would need 256
  /// registers and spill).
  ///
  /// With a dynamic row count, a warp whose row tiles all have rows (every
  /// block but each expert's last at prefill) runs the product as with
  /// static rows, and the others skip the tiles past the count: the
  /// branches around those tiles' fragment loads and mma.sync would keep
  /// the full tiles' loads from being issued ahead of the mma.syncs.
  void emit() {
    computeFragmentPositions();
    if (!usedRows) {
      emitColumnGroups();
      return;
    }
    Value whole = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq,
                                        usedRows, index(rows));
    auto branch = scf::IfOp::create(b, loc, whole, /*withElseRegion=*/true);
    OpBuilder::InsertionGuard guard(b);
    SmallVector<Value> guards = std::exchange(active, {});
    active.assign(rowTiles, Value());
    b.setInsertionPoint(branch.thenBlock()->getTerminator());
    emitColumnGroups();
    active = std::move(guards);
    b.setInsertionPoint(branch.elseBlock()->getTerminator());
    emitColumnGroups();
  }

private:
  void emitColumnGroups() {
    constexpr int64_t kMaxTiles = 32;
    int64_t groupTiles = std::max<int64_t>(1, kMaxTiles / rowTiles);
    for (int64_t j0 = 0; j0 < columnTiles; j0 += groupTiles)
      emitColumnGroup(j0, std::min(columnTiles, j0 + groupTiles));
  }

  /// Constants before everything emitted (so before both branches of
  /// emit), which use them.
  Value index(int64_t v) {
    Value &constant = constants[v];
    if (!constant) {
      OpBuilder before(b.getContext());
      if (firstConstant)
        before.setInsertionPoint(firstConstant);
      else
        before.setInsertionPoint(b.getInsertionBlock(), b.getInsertionPoint());
      constant = arith::ConstantIndexOp::create(before, loc, v);
      if (!firstConstant)
        firstConstant = constant.getDefiningOp();
    }
    return constant;
  }
  static Value add(OpBuilder &nb, Location loc, Value x, Value y) {
    return arith::AddIOp::create(nb, loc, x, y).getResult();
  }

  /// The rows and columns of the lane's fragments (g = lane / 4, and the
  /// first k of the lane's register, 2t or 4t with t = lane % 4).
  void computeFragmentPositions() {
    for (int64_t v : {int64_t{0}, int64_t{2}, int64_t{4}, int64_t{8},
                      perRegister, kStep / 2, kStep, depth})
      index(v);
    Value lane = gpu::LaneIdOp::create(b, loc, /*upperBound=*/nullptr);
    group = arith::DivUIOp::create(b, loc, lane, index(4));
    Value t = arith::RemUIOp::create(b, loc, lane, index(4));
    pair = arith::MulIOp::create(b, loc, t, index(perRegister));
    // C's columns are 2t, 2t + 1 whatever the multiplicands' type (C^T's
    // in the swapped form).
    Value cPair = arith::MulIOp::create(b, loc, t, index(2));
    if (swapped) {
      computeSwappedPositions(cPair);
      return;
    }
    for (int64_t i = 0; i < rowTiles; ++i) {
      tops.push_back(offset(group, 16 * i));
      bottoms.push_back(offset(group, 16 * i + 8));
      // With a dynamic row count, whether row tile i has rows: the same in
      // every lane, so a tile without any is skipped by the whole warp.
      active.push_back(
          usedRows ? arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult,
                                           index(16 * i), usedRows)
                         .getResult()
                   : Value());
    }
    for (int64_t j = 0; j < columnTiles; ++j) {
      lefts.push_back(offset(cPair, 8 * j));
      rights.push_back(offset(cPair, 8 * j + 1));
      weightRows.push_back(offset(group, 8 * j));
    }
  }

  /// The swapped form's: C^T's tile, rows 2t, 2t + 1 (tops, bottoms) of
  /// the row tile and columns g, g + 8 (lefts, rights: C^T's rows) of
  /// the 16-column tile; the tokens' fragment is row g of the row tile
  /// (rowFragments) and the weights' rows g, g + 8 of the column tile
  /// (weightRows, weightRowsBelow).
  void computeSwappedPositions(Value cPair) {
    for (int64_t i = 0; i < rowTiles; ++i) {
      tops.push_back(offset(cPair, 8 * i));
      bottoms.push_back(offset(cPair, 8 * i + 1));
      rowFragments.push_back(offset(group, 8 * i));
      active.push_back(Value());
    }
    for (int64_t j = 0; j < columnTiles; ++j) {
      weightRows.push_back(offset(group, 16 * j));
      weightRowsBelow.push_back(offset(group, 16 * j + 8));
    }
    lefts = weightRows;
    rights = weightRowsBelow;
  }

  /// `base` + `v` (`base` itself for 0), at the builder's point.
  Value offset(Value base, int64_t v) {
    return v == 0 ? base : add(b, loc, base, index(v));
  }

  /// C fragment of tile (i, j) in the registers' order: rows top/bottom x
  /// columns left/right; swapped, C^T's rows left/right x its columns
  /// top/bottom.
  SmallVector<std::pair<Value, Value>> cCoords(int64_t i, int64_t j) const {
    if (swapped)
      return {{tops[i], lefts[j]},
              {bottoms[i], lefts[j]},
              {tops[i], rights[j]},
              {bottoms[i], rights[j]}};
    return {{tops[i], lefts[j]},
            {tops[i], rights[j]},
            {bottoms[i], lefts[j]},
            {bottoms[i], rights[j]}};
  }

  /// The C fragment of tile (i, j), in cCoords' order. Where C's rows
  /// allow it (pairedC), each row's two neighbouring columns are one
  /// 64-bit access: with moe-form-kernels' padded accumulator rows (a
  /// stride of 8 words past a multiple of 32) the 32 lanes' pairs then
  /// fill every bank twice, where 32 scalar accesses to rows a multiple of
  /// 32 words apart fall 8 to a bank.
  SmallVector<Value> loadC(OpBuilder &nb, int64_t i, int64_t j) {
    SmallVector<Value> values;
    if (!pairedC) {
      for (auto [row, col] : cCoords(i, j))
        values.push_back(
            memref::LoadOp::create(nb, loc, c, ValueRange{row, col}));
      return values;
    }
    for (Value row : {tops[i], bottoms[i]}) {
      Value pairValue = vector::LoadOp::create(
          nb, loc, VectorType::get({2}, nb.getF32Type()), c,
          ValueRange{row, lefts[j]}, /*nontemporal=*/false, llvm::Align(8));
      for (int64_t e = 0; e < 2; ++e)
        values.push_back(vector::ExtractOp::create(nb, loc, pairValue,
                                                   ArrayRef<int64_t>{e}));
    }
    return values;
  }
  void storeC(OpBuilder &nb, int64_t i, int64_t j, ValueRange values) {
    if (!pairedC) {
      for (auto [value, coords] : llvm::zip(values, cCoords(i, j)))
        memref::StoreOp::create(nb, loc, value, c,
                                ValueRange{coords.first, coords.second});
      return;
    }
    Value rowsOfTile[] = {tops[i], bottoms[i]};
    for (auto [half, row] : llvm::enumerate(rowsOfTile)) {
      Value pairValue = vector::FromElementsOp::create(
          nb, loc, VectorType::get({2}, nb.getF32Type()),
          values.slice(2 * half, 2));
      vector::StoreOp::create(nb, loc, pairValue, c, ValueRange{row, lefts[j]},
                              /*nontemporal=*/false, llvm::Align(8));
    }
  }

  /// Two neighbouring 16-bit elements of a row (four 8-bit ones) as one
  /// 32-bit register, read as one 32-bit load: the columns are multiples
  /// of the elements per register and so are the row strides and the
  /// views' offsets (checked by lowerToMmaSync, or built so by
  /// moe-form-kernels), so the load is 4-byte aligned. NVVM takes f16
  /// pairs as vector<2xf16>, the others as i32.
  Value loadPair(OpBuilder &nb, Value matrix, Value row, Value column) {
    Value pairValue =
        vector::LoadOp::create(nb, loc, VectorType::get({perRegister}, element),
                               matrix, ValueRange{row, column},
                               /*nontemporal=*/false, llvm::Align(4));
    if (element.isF16())
      return pairValue;
    Value word = vector::BitCastOp::create(
        nb, loc, VectorType::get({1}, nb.getI32Type()), pairValue);
    return vector::ExtractOp::create(nb, loc, word, ArrayRef<int64_t>{0})
        .getResult();
  }

  /// Column tiles [j0, j1) of every row tile in registers over the
  /// reduction: at each step of kStep, the A fragment of each row tile and
  /// the B fragment of each column tile are loaded once and used by all
  /// the mma.sync of its row or column.
  void emitColumnGroup(int64_t j0, int64_t j1) {
    int64_t perTile = 4 * (j1 - j0);
    SmallVector<Value> accs;
    for (int64_t i = 0; i < rowTiles; ++i)
      llvm::append_range(accs, guarded(b, i, perTile, [&](OpBuilder &nb) {
                           SmallVector<Value> loaded;
                           for (int64_t j = j0; j < j1; ++j)
                             llvm::append_range(loaded, loadC(nb, i, j));
                           return loaded;
                         }));
    auto loop = scf::ForOp::create(
        b, loc, index(0), index(depth), index(kStep), accs,
        [&](OpBuilder &lb, Location, Value k, ValueRange acc) {
          scf::YieldOp::create(lb, loc, emitStep(lb, k, acc, j0, j1));
        });
    for (int64_t i = 0; i < rowTiles; ++i) {
      ValueRange results = loop.getResults().slice(i * perTile, perTile);
      guarded(b, i, 0, [&](OpBuilder &nb) {
        for (int64_t j = j0; j < j1; ++j)
          storeC(nb, i, j, results.slice(4 * (j - j0), 4));
        return SmallVector<Value>();
      });
    }
  }

  /// `build`'s `count` f32 values, built where row tile i has rows; where
  /// it has none (a dynamic row count), `otherwise` (zeros by default).
  SmallVector<Value>
  guarded(OpBuilder &nb, int64_t i, int64_t count,
          function_ref<SmallVector<Value>(OpBuilder &)> build,
          ValueRange otherwise = {}) {
    if (!active[i])
      return build(nb);
    SmallVector<Value> fallback(otherwise);
    if (fallback.empty() && count > 0)
      fallback.assign(
          count, arith::ConstantOp::create(nb, loc, nb.getF32FloatAttr(0.0)));
    auto branch = scf::IfOp::create(
        nb, loc, active[i],
        [&](OpBuilder &tb, Location) {
          scf::YieldOp::create(tb, loc, build(tb));
        },
        [&](OpBuilder &eb, Location) {
          scf::YieldOp::create(eb, loc, fallback);
        });
    return SmallVector<Value>(branch.getResults());
  }

  /// One step of kStep along the reduction at `k`: the fragments' loads
  /// and an mma.sync per tile; returns the new accumulators.
  SmallVector<Value> emitStep(OpBuilder &lb, Value k, ValueRange acc,
                              int64_t j0, int64_t j1) {
    Value low = add(lb, loc, k, pair);
    Value high = add(lb, loc, low, index(kStep / 2));
    if (swapped)
      return emitSwappedStep(lb, low, high, acc, j0, j1);
    SmallVector<SmallVector<Value>> bRegs;
    for (int64_t j = j0; j < j1; ++j)
      bRegs.push_back({loadPair(lb, bMatrix, weightRows[j], low),
                       loadPair(lb, bMatrix, weightRows[j], high)});
    int64_t perTile = 4 * (j1 - j0);
    SmallVector<Value> next;
    for (int64_t i = 0; i < rowTiles; ++i) {
      ValueRange tileAcc = acc.slice(i * perTile, perTile);
      llvm::append_range(
          next,
          guarded(
              lb, i, perTile,
              [&](OpBuilder &nb) {
                SmallVector<Value> aRegs = {loadPair(nb, a, tops[i], low),
                                            loadPair(nb, a, bottoms[i], low),
                                            loadPair(nb, a, tops[i], high),
                                            loadPair(nb, a, bottoms[i], high)};
                SmallVector<Value> tileNext;
                for (int64_t j = j0; j < j1; ++j) {
                  Value mma = emitMma(nb, aRegs, bRegs[j - j0],
                                      tileAcc.slice(4 * (j - j0), 4));
                  for (int64_t e = 0; e < 4; ++e)
                    tileNext.push_back(LLVM::ExtractValueOp::create(
                        nb, loc, mma, ArrayRef<int64_t>{e}));
                }
                return tileNext;
              },
              tileAcc));
    }
    return next;
  }

  /// The swapped form's step: the tokens' fragment (B) of each row tile,
  /// then per column tile the weights' (A, rows g, g + 8 at k = low, high:
  /// a0 .. a3 in the PTX ISA's order) and its mma.sync, so that only one
  /// column tile's A registers are live at a time.
  SmallVector<Value> emitSwappedStep(OpBuilder &lb, Value low, Value high,
                                     ValueRange acc, int64_t j0, int64_t j1) {
    int64_t perTile = 4 * (j1 - j0);
    SmallVector<Value> next;
    for (int64_t i = 0; i < rowTiles; ++i) {
      SmallVector<Value> tokenRegs = {loadPair(lb, a, rowFragments[i], low),
                                      loadPair(lb, a, rowFragments[i], high)};
      for (int64_t j = j0; j < j1; ++j) {
        SmallVector<Value> weightRegs = {
            loadPair(lb, bMatrix, weightRows[j], low),
            loadPair(lb, bMatrix, weightRowsBelow[j], low),
            loadPair(lb, bMatrix, weightRows[j], high),
            loadPair(lb, bMatrix, weightRowsBelow[j], high)};
        Value mma = emitMma(lb, weightRegs, tokenRegs,
                            acc.slice(i * perTile + 4 * (j - j0), 4));
        for (int64_t e = 0; e < 4; ++e)
          next.push_back(
              LLVM::ExtractValueOp::create(lb, loc, mma, ArrayRef<int64_t>{e}));
      }
    }
    return next;
  }

  /// One mma.sync of A, B and C's registers: nvvm.mma.sync m16n8k16 for
  /// bf16 and f16, LLVM's m16n8k32 e4m3 intrinsic for f8E4M3FN.
  Value emitMma(OpBuilder &lb, ValueRange aRegs, ValueRange bRegs,
                ValueRange cRegs) {
    auto resultType = LLVM::LLVMStructType::getLiteral(
        lb.getContext(), SmallVector<Type>(4, lb.getF32Type()));
    if (isa<Float8E4M3FNType>(element)) {
      SmallVector<Value> operands(aRegs);
      llvm::append_range(operands, bRegs);
      llvm::append_range(operands, cRegs);
      return LLVM::CallIntrinsicOp::create(
                 lb, loc, resultType,
                 lb.getStringAttr(nvidia::kE4M3MmaIntrinsic), operands)
          .getResult(0);
    }
    NVVM::MMATypes ptxType =
        element.isBF16() ? NVVM::MMATypes::bf16 : NVVM::MMATypes::f16;
    return NVVM::MmaOp::create(lb, loc, resultType, aRegs, bRegs, cRegs,
                               /*shape=*/{16, 8, 16}, /*b1Op=*/std::nullopt,
                               /*intOverflow=*/std::nullopt,
                               std::array<NVVM::MMATypes, 2>{ptxType, ptxType},
                               std::array<NVVM::MMALayout, 2>{
                                   NVVM::MMALayout::row, NVVM::MMALayout::col});
  }

  OpBuilder &b;
  Location loc;
  Value a, bMatrix, c;
  Type element;
  /// Elements per 32-bit register (2 or 4) and the reduction per mma.sync.
  int64_t perRegister, kStep;
  int64_t rows;
  Value usedRows;
  /// The swapped form (8 rows): tiles of 8 rows x 16 columns.
  bool swapped;
  bool pairedC;
  int64_t depth, columns, rowTiles, columnTiles;
  llvm::SmallDenseMap<int64_t, Value> constants;
  Operation *firstConstant = nullptr;
  Value group, pair;
  SmallVector<Value> tops, bottoms, lefts, rights, weightRows;
  /// The swapped form's: the token row of each row tile's B fragment and
  /// the lower weight row of each column tile's A fragment.
  SmallVector<Value> rowFragments, weightRowsBelow;
  /// Per row tile, whether it has rows (null where the rows are static).
  SmallVector<Value> active;
};

} // namespace

LogicalResult mlir::moe::lowerToMmaSync(linalg::LinalgOp op) {
  auto error = [&] {
    return op->emitError("expected a moe.tensor_core contraction of static "
                         "[16m, 8n] f32 += [16m, 16k] x [8n, 16k]^T in bf16 "
                         "or f16 (widened, multiplied, added) with "
                         "contiguous rows an even stride apart, or "
                         "[16m, 32k] x [8n, 32k]^T in f8E4M3FN (decoded, "
                         "multiplied, added) with rows a multiple of 4 "
                         "apart, or 8 rows and [16n] columns (the swapped "
                         "form); m static, or a dynamic count of A's and "
                         "C's rows that is a product with a multiple of 16 "
                         "and has a constant bound");
  };
  if (!op.hasPureBufferSemantics() || !isTransposedBGemm(op))
    return error();
  Value a = op.getDpsInputOperand(0)->get();
  Value bMatrix = op.getDpsInputOperand(1)->get();
  Value c = op.getDpsInitOperand(0)->get();
  auto aType = cast<MemRefType>(a.getType());
  auto bType = cast<MemRefType>(bMatrix.getType());
  auto cType = cast<MemRefType>(c.getType());
  Type element = aType.getElementType();
  bool e4m3 = isa<Float8E4M3FNType>(element);
  int64_t perRegister = e4m3 ? 4 : 2;
  if (!hasAlignedUnitStrideRows(aType, perRegister) ||
      !hasAlignedUnitStrideRows(bType, perRegister) ||
      !bType.hasStaticShape() || cType.getRank() != 2 ||
      cType.isDynamicDim(1) || !(element.isBF16() || element.isF16() || e4m3) ||
      bType.getElementType() != element || !cType.getElementType().isF32() ||
      !isMultiplyAccumulate(op, /*decoded=*/e4m3))
    return error();
  // The rows: static, or (the rows a block uses) one dynamic count of A
  // and C, a multiple of 16 with a constant bound.
  OpFoldResult aRows = viewSize(a, 0), cRows = viewSize(c, 0);
  std::optional<int64_t> bound = sizeBound(aRows);
  bool dynamicRows = aType.isDynamicDim(0);
  if (!bound || dynamicRows != cType.isDynamicDim(0) ||
      (dynamicRows && (aRows != cRows || !isMultipleOf(aRows, 16))))
    return error();
  int64_t rows = *bound, depth = aType.getDimSize(1);
  int64_t columns = bType.getDimSize(0);
  // 16-row tiles, or the swapped form's 16-column tiles of 8 rows.
  bool swapped = !dynamicRows && nvidia::isSwappedMma(rows);
  if ((!swapped && rows % 16 != 0) ||
      columns % nvidia::mmaTileColumns(rows) != 0 ||
      depth % (8 * perRegister) != 0 || bType.getDimSize(1) != depth ||
      (!dynamicRows && cType.getDimSize(0) != rows) ||
      cType.getDimSize(1) != columns)
    return error();

  OpBuilder b(op);
  MmaSyncEmitter(b, op->getLoc(), a, bMatrix, c, rows,
                 dynamicRows ? cast<Value>(aRows) : Value(),
                 hasAlignedUnitStrideRows(cType, 2))
      .emit();
  op->erase();
  return success();
}
