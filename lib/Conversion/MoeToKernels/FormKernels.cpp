//===- FormKernels.cpp - the moe-form-kernels pass ------------------------===//
//
// Fuses and tiles a decomposed moe layer into its kernel form: one
// scf.forall per kernel over tensors, mapped to GPU blocks, which the CPU
// runs as loops and the GPU finish turns into launches. See the pass
// description in Passes.td for the kernels.
//
// Written with explicit builders rather than TilingInterface and upstream
// tile-and-fuse: the expert kernels walk a ragged, data-dependent schedule
// (blocks of each expert's dispatched rows, found from the offsets at run
// time), which no upstream tiling expresses.
//
//===----------------------------------------------------------------------===//

#include "ActivationGroups.h"
#include "TensorCoreTiles.h"
#include "moe/Conversion/MoeToLinalg/Builders.h"

#include "moe/Dialect/MoeOps.h"
#include "moe/Transforms/Passes.h"
#include "moe/Transforms/TileModel.h"

#include "CpuGemm.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"
#include "llvm/ADT/bit.h"

namespace mlir::moe {
#define GEN_PASS_DEF_MOEFORMKERNELS
#include "dialect/Moe/Passes.h.inc"
} // namespace mlir::moe

using namespace mlir;
using namespace mlir::moe;

namespace {

struct Tiles {
  int64_t routeTokens, expertRows, gateUpColumns, downColumns, combineTokens;
  /// Whether the expert GEMMs may take the tensor-core form.
  bool tensorCores;
  /// Whether w8a8 GEMMs with e4m3 weights may take its e4m3 form (chips
  /// with e4m3 mma.sync only).
  bool e4m3TensorCores = false;
  /// Warps per block of the expert kernels (moe-select-tiles); 0: the
  /// default of moe-distribute-threads.
  int64_t gateUpWarps = 0, downWarps = 0;
  /// Staging tiles of the expert GEMMs' software pipeline
  /// (moe-select-tiles; two without it), fewer where they do not fit.
  int64_t gateUpStages = 2, downStages = 2;
  /// Whether the combine may run in down's blocks (moe-select-tiles'
  /// `launches`: 3, the default; 4 keeps it apart).
  bool combineInDown = true;
  /// Experts per router block (moe-select-tiles); 0: as many as fit
  /// (routerExpertsPerBlock).
  int64_t routerExperts = 0;
  /// The CPU form of the expert GEMMs with this many f32 lanes per output
  /// (moe-select-tiles for the CPU target; CpuGemm.h), one thread per
  /// block; 0: the GPU's forms.
  int64_t cpuLanes = 0;
  /// The CPU form's bf16 GEMMs in AVX512-BF16 pair dot products.
  bool cpuBf16Dot = false;
};

/// The ops one decomposed layer consists of, found from its combine.
struct LayerChain {
  RouterOp router;
  GateOp gate;
  DispatchOp dispatch;
  ExpertsOp experts;
  CombineOp combine;
  SharedExpertOp shared; // optional, with the addf that adds it
  arith::AddFOp sum;
  arith::TruncFOp trunc; // optional: the sum's conversion to the result type

  /// The op whose result the kernels replace.
  Operation *root() {
    if (trunc)
      return trunc;
    if (sum)
      return sum;
    return combine;
  }
};

FailureOr<LayerChain> matchChain(CombineOp combine) {
  LayerChain c;
  c.combine = combine;
  c.experts = combine.getRows().getDefiningOp<ExpertsOp>();
  c.dispatch = combine.getPermutation().getDefiningOp<DispatchOp>();
  if (!c.experts || !c.dispatch ||
      c.experts.getPermutation() != combine.getPermutation() ||
      c.experts.getOffsets() != c.dispatch.getOffsets())
    return failure();
  c.gate = c.dispatch.getIndices().getDefiningOp<GateOp>();
  if (!c.gate)
    return failure();
  Value weights = c.gate.getWeights();
  if ((combine.getWeights() && combine.getWeights() != weights) ||
      (c.experts.getRowScale() && c.experts.getRowScale() != weights))
    return failure();
  c.router = c.gate.getLogits().getDefiningOp<RouterOp>();
  if (!c.router || c.router.getInput() != c.experts.getInput())
    return failure();
  if (combine->hasOneUse())
    if (auto add = dyn_cast<arith::AddFOp>(*combine->user_begin())) {
      Value other =
          add.getLhs() == combine.getResult() ? add.getRhs() : add.getLhs();
      auto shared = other.getDefiningOp<SharedExpertOp>();
      if (shared && shared.getInput() == c.router.getInput()) {
        c.shared = shared;
        c.sum = add;
        // With a shared expert the sum is in f32 and then converted: the
        // combine kernel writes the result type itself.
        if (add->hasOneUse())
          c.trunc = dyn_cast<arith::TruncFOp>(*add->user_begin());
      }
    }
  return c;
}

/// Index arithmetic at one insertion point.
struct IndexMath {
  OpBuilder &b;
  Location loc;
  Value c(int64_t v) { return arith::ConstantIndexOp::create(b, loc, v); }
  Value add(Value x, Value y) { return arith::AddIOp::create(b, loc, x, y); }
  Value sub(Value x, Value y) { return arith::SubIOp::create(b, loc, x, y); }
  Value mul(Value x, Value y) { return arith::MulIOp::create(b, loc, x, y); }
  Value min(Value x, Value y) { return arith::MinSIOp::create(b, loc, x, y); }
  Value max(Value x, Value y) { return arith::MaxSIOp::create(b, loc, x, y); }
  Value ceilDiv(Value x, int64_t y) {
    return arith::CeilDivSIOp::create(b, loc, x, c(y));
  }
  Value dim(Value tensor, int64_t d) { return buildDim(b, loc, tensor, d); }
  /// tensor[i] of an i32 tensor, as an index.
  Value load(Value tensor, ValueRange indices) {
    Value v = tensor::ExtractOp::create(b, loc, tensor, indices);
    return arith::IndexCastOp::create(b, loc, b.getIndexType(), v);
  }
};

/// A slice of `source` with the given offsets and sizes, unit strides.
Value slice(OpBuilder &b, Location loc, Value source,
            ArrayRef<OpFoldResult> offsets, ArrayRef<OpFoldResult> sizes) {
  SmallVector<OpFoldResult> strides(offsets.size(), b.getIndexAttr(1));
  return tensor::ExtractSliceOp::create(b, loc, source, offsets, sizes,
                                        strides);
}

/// `type` with a dynamic leading dimension.
RankedTensorType dynamicRows(Type type) {
  auto ranked = cast<RankedTensorType>(type);
  SmallVector<int64_t> shape(ranked.getShape());
  shape[0] = ShapedType::kDynamic;
  return ranked.clone(shape);
}

/// One insertion of a kernel's tile into a shared output.
struct TileInsert {
  Value tile;
  unsigned output;
  SmallVector<OpFoldResult> offsets, sizes;
};

using KernelBody = function_ref<SmallVector<TileInsert>(
    OpBuilder &, Location, ValueRange ivs, ValueRange outputs)>;

/// `scf.forall` over `gridSizes` blocks (x first) with `outputs` as shared
/// outs, named `name`; `body` computes the tiles each iteration inserts.
scf::ForallOp buildKernel(OpBuilder &b, Location loc, StringRef name,
                          ArrayRef<OpFoldResult> gridSizes, ValueRange outputs,
                          KernelBody body) {
  MLIRContext *ctx = b.getContext();
  SmallVector<Attribute> mapping;
  gpu::MappingId ids[] = {gpu::MappingId::DimX, gpu::MappingId::DimY,
                          gpu::MappingId::DimZ};
  for (size_t d = 0; d < gridSizes.size(); ++d)
    mapping.push_back(gpu::GPUBlockMappingAttr::get(ctx, ids[d]));
  auto forall = scf::ForallOp::create(b, loc, gridSizes, outputs,
                                      b.getArrayAttr(mapping));
  forall->setAttr(MoeDialect::kKernelAttrName, b.getStringAttr(name));
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPoint(forall.getTerminator());
  SmallVector<TileInsert> inserts =
      body(b, loc, forall.getInductionVars(), forall.getRegionIterArgs());
  b.setInsertionPointToEnd(forall.getTerminator().getBody());
  for (TileInsert &insert : inserts) {
    SmallVector<OpFoldResult> strides(insert.offsets.size(), b.getIndexAttr(1));
    tensor::ParallelInsertSliceOp::create(
        b, loc, insert.tile, forall.getRegionIterArgs()[insert.output],
        insert.offsets, insert.sizes, strides);
  }
  return forall;
}

/// Clones `op` with `mapping` and a dynamic leading dimension on every
/// result: the op applied to a tile of tokens.
Operation *cloneOnTile(OpBuilder &b, Operation *op, IRMapping &mapping) {
  Operation *clone = b.clone(*op, mapping);
  for (OpResult result : clone->getResults())
    result.setType(dynamicRows(result.getType()));
  return clone;
}

/// The block of dispatched rows that block `block` of an expert kernel
/// works on: rows `start .. start + count` of expert `expert`. Block b
/// belongs to the last expert e whose first block (`firstBlocks`[e], the
/// running total of ceildiv(rows_e, blockRows): buildCountingSort) is at
/// most b; from firstBlocks[E] on, blocks have no rows (count 0).
struct RowBlock {
  /// Null in the shared expert's kernels.
  Value expert, start, count;
};

RowBlock findRowBlock(OpBuilder &b, Location loc, Value offsets,
                      Value firstBlocks, int64_t numExperts, int64_t blockRows,
                      Value block) {
  IndexMath m{b, loc};
  Value zero = m.c(0);
  // Blocks from the total on (the grid's E blocks for the experts' partial
  // blocks leave many: at decode most of the grid) stop after this load.
  Value inRange =
      arith::CmpIOp::create(b, loc, arith::CmpIPredicate::slt, block,
                            m.load(firstBlocks, m.c(numExperts)));
  Type index = b.getIndexType();
  auto found = scf::IfOp::create(b, loc, TypeRange{index, index, index},
                                 inRange, /*withElseRegion=*/true);
  {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(found.thenBlock());
    // A binary search, ceil(log2 E) loads, where a scan of the offsets
    // made one load per expert (in every thread of every working block).
    // The steps add up to E - 1 at least; a probe past E reads entry E,
    // the total, which is past b.
    Value expert = zero;
    for (int64_t step = llvm::bit_floor(uint64_t(numExperts - 1)); step >= 1;
         step /= 2) {
      Value probe = m.min(m.add(expert, m.c(step)), m.c(numExperts));
      Value within = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::sle,
                                           m.load(firstBlocks, probe), block);
      expert = arith::SelectOp::create(b, loc, within, probe, expert);
    }
    Value begin = m.load(offsets, expert);
    Value end = m.load(offsets, m.add(expert, m.c(1)));
    Value first = m.load(firstBlocks, expert);
    Value start = m.add(begin, m.mul(m.sub(block, first), m.c(blockRows)));
    scf::YieldOp::create(b, loc, ValueRange{expert, start, m.sub(end, start)});
    // Out of range: an empty block at row 0.
    b.setInsertionPointToStart(found.elseBlock());
    scf::YieldOp::create(b, loc, ValueRange{zero, zero, zero});
  }
  // The min outside the branch bounds the block's temporaries (upperBound).
  return {found.getResult(0), found.getResult(1),
          m.min(m.c(blockRows), found.getResult(2))};
}

/// Expert `expert`'s rows `offset .. offset + size` of a stacked weight
/// [E, N, K] as an [size, K] tensor (or a bias [E, N] as [size]). A
/// quantized weight's rows stay a slice of its moe.dequantize: the GEMMs
/// dequantize what they read (buildWeightSlice, buildDequantizedTile).
/// With w8a8 (`group`), the columns of the reduction a scale block of
/// `stacked` spans when it is a moe.dequantize of e4m3 values
/// (planTensorCores' e4m3WeightBlock); else 0.
int64_t e4m3WeightBlock(int64_t group, Value stacked) {
  auto dequantize = stacked.getDefiningOp<DequantizeOp>();
  if (!group || !dequantize ||
      !isa<Float8E4M3FNType>(getElementTypeOrSelf(dequantize.getQuantized())))
    return 0;
  return dequantize.getBlock()[1];
}

Value expertRows(OpBuilder &b, Location loc, Value stacked, Value expert,
                 OpFoldResult offset, OpFoldResult size) {
  auto type = cast<RankedTensorType>(stacked.getType());
  // Without an expert index, `stacked` is one expert's weight (the shared
  // expert's [N, K]).
  int64_t first = expert ? 1 : 0;
  SmallVector<OpFoldResult> offsets, sizes;
  if (expert) {
    offsets.push_back(expert);
    sizes.push_back(b.getIndexAttr(1));
  }
  offsets.push_back(offset);
  sizes.push_back(size);
  for (int64_t d = first + 1; d < type.getRank(); ++d) {
    offsets.push_back(b.getIndexAttr(0));
    sizes.push_back(b.getIndexAttr(type.getDimSize(d)));
  }
  SmallVector<int64_t> shape = {
      getConstantIntValue(size).value_or(ShapedType::kDynamic)};
  llvm::append_range(shape, type.getShape().drop_front(first + 1));
  SmallVector<OpFoldResult> strides(type.getRank(), b.getIndexAttr(1));
  return tensor::ExtractSliceOp::create(
      b, loc, RankedTensorType::get(shape, type.getElementType()), stacked,
      offsets, sizes, strides);
}

/// What an expert kernel multiplies. The routed experts: stacked [E, N, K]
/// weights over the dispatched rows, read through the permutation in the
/// flat schedule of the offsets. The shared expert: one [N, K] weight over
/// every token in order (no permutation, offsets or expert index), in
/// kernels of its own beside the routed ones, so that its weights are
/// streamed by as many blocks as the routed experts' (run inside route, as
/// before, they were streamed by one block per tile of tokens: at one
/// token, by one SM).
struct ExpertGemms {
  FfnAttr ffn;
  Value input, gateUp, down;
  Value gateUpBias, downBias, rowScale;    // routed only, optional
  Value permutation, offsets, firstBlocks; // routed only
  int64_t numExperts = 1, topK = 1;

  static ExpertGemms routed(ExpertsOp experts, Value permutation, Value offsets,
                            Value firstBlocks, Value rowScale) {
    ExpertGemms gemms;
    gemms.ffn = experts.getFfn();
    gemms.input = experts.getInput();
    gemms.gateUp = experts.getGateUp();
    gemms.down = experts.getDown();
    gemms.gateUpBias = experts.getGateUpBias();
    gemms.downBias = experts.getDownBias();
    gemms.rowScale = rowScale;
    gemms.permutation = permutation;
    gemms.offsets = offsets;
    gemms.firstBlocks = firstBlocks;
    gemms.numExperts =
        cast<RankedTensorType>(experts.getDown().getType()).getDimSize(0);
    gemms.topK = experts.getTopK();
    return gemms;
  }
  static ExpertGemms shared(SharedExpertOp op) {
    ExpertGemms gemms;
    gemms.ffn = op.getFfn();
    gemms.input = op.getInput();
    gemms.gateUp = op.getGateUp();
    gemms.down = op.getDown();
    return gemms;
  }

  bool isShared() const { return !permutation; }
  int64_t inter() const {
    return cast<RankedTensorType>(down.getType()).getShape().back();
  }
  /// The rows the kernels compute: dispatched rows, or tokens.
  Value rowCount(OpBuilder &b, Location loc) const {
    return buildDim(b, loc, isShared() ? input : permutation, 0);
  }
  /// The token of row `row` of `start`'s block (an index).
  Value token(OpBuilder &b, Location loc, Value start, Value row) const {
    if (isShared())
      return arith::AddIOp::create(b, loc, start, row);
    return buildDispatchedToken(b, loc, permutation, start, row, topK);
  }
  /// Where the CPU form reads that row (CpuGemm.h).
  CpuGemmRow cpuRow(OpBuilder &b, Location loc, Value start, Value row) const {
    Value scale = rowScale ? buildDispatchedRowScale(b, loc, permutation,
                                                     rowScale, start, row, topK)
                           : Value();
    return {input, token(b, loc, start, row), scale};
  }
  /// The tokens (i32) and routing weights of rows 0 .. blockRows of
  /// `start`'s block, read once into [blockRows] tiles where the weight
  /// applies to the input (Llama 4), so that staging a row scales each
  /// element by the tile's weight: read per element, the permutation entry
  /// and the weight were four global loads at a quarter of a sector each,
  /// Llama-4-Scout's gate_up's worst load sites. Rows past `count` repeat
  /// its last row, as the staged rows do; nothing is read for an empty
  /// block. Two small block temporaries (8 bytes a row) in the part of the
  /// shared memory the tiles leave (kKernelSharedMemoryBudget).
  std::pair<Value, Value> scaledRowTiles(OpBuilder &b, Location loc,
                                         Value start, Value count,
                                         int64_t blockRows) const {
    auto tokensType = RankedTensorType::get({blockRows}, b.getI32Type());
    auto scalesType = RankedTensorType::get(
        {blockRows}, getElementTypeOrSelf(rowScale.getType()));
    Value tokens =
        bufferization::AllocTensorOp::create(b, loc, tokensType, ValueRange{});
    Value scales =
        bufferization::AllocTensorOp::create(b, loc, scalesType, ValueRange{});
    Value some =
        arith::CmpIOp::create(b, loc, arith::CmpIPredicate::sgt, count,
                              arith::ConstantIndexOp::create(b, loc, 0));
    auto read = scf::IfOp::create(
        b, loc, some,
        [&](OpBuilder &nb, Location nloc) {
          AffineMap identity = nb.getMultiDimIdentityMap(1);
          auto tiles = linalg::GenericOp::create(
              nb, nloc, TypeRange{tokensType, scalesType}, ValueRange{},
              ValueRange{tokens, scales}, {identity, identity},
              {utils::IteratorType::parallel},
              [&](OpBuilder &gb, Location gloc, ValueRange) {
                Value row = arith::MinSIOp::create(
                    gb, gloc, linalg::IndexOp::create(gb, gloc, 0),
                    arith::SubIOp::create(
                        gb, gloc, count,
                        arith::ConstantIndexOp::create(gb, gloc, 1)));
                Value token = arith::IndexCastOp::create(
                    gb, gloc, gb.getI32Type(),
                    buildDispatchedToken(gb, gloc, permutation, start, row,
                                         topK));
                linalg::YieldOp::create(
                    gb, gloc,
                    ValueRange{token, buildDispatchedRowScale(
                                          gb, gloc, permutation, rowScale,
                                          start, row, topK)});
              });
          scf::YieldOp::create(nb, nloc, tiles.getResults());
        },
        [&](OpBuilder &nb, Location nloc) {
          scf::YieldOp::create(nb, nloc, ValueRange{tokens, scales});
        });
    return {read.getResult(0), read.getResult(1)};
  }

  /// Element k of that row in f32 (times its routing weight where the
  /// weight applies to the input).
  Value gathered(OpBuilder &b, Location loc, Value start, Value row,
                 Value k) const {
    if (isShared())
      return toF32(
          b, loc,
          tensor::ExtractOp::create(b, loc, input,
                                    ValueRange{token(b, loc, start, row), k}));
    return buildGatheredElement(b, loc, input, permutation, rowScale, start,
                                row, k, topK);
  }
};

/// An expert kernel over `output` [rows, columns]: a forall over the row
/// blocks (of the routed experts' flat schedule, ceildiv(rows, blockRows)
/// + E of them; of the shared expert's tokens, ceildiv(rows, blockRows))
/// and the column tiles; `body` gets the block's rows and its columns
/// column .. column + width and returns the tile it stores there. With
/// `cpuForm` a block is one thread (its GEMMs are CpuGemm's loops), else
/// `warps` of them.
scf::ForallOp
buildExpertKernel(OpBuilder &b, Location loc, StringRef name,
                  const ExpertGemms &gemms, int64_t blockRows,
                  int64_t columnTile, int64_t warps, bool cpuForm, Value output,
                  function_ref<Value(OpBuilder &, Location, const RowBlock &,
                                     Value column, Value width)>
                      body) {
  IndexMath m{b, loc};
  int64_t columns = cast<RankedTensorType>(output.getType()).getDimSize(1);
  Value rows = m.dim(output, 0);
  Value rowBlocks = m.ceilDiv(rows, blockRows);
  if (!gemms.isShared())
    rowBlocks = m.add(rowBlocks, m.c(gemms.numExperts));
  int64_t columnTiles = llvm::divideCeil(columns, columnTile);
  scf::ForallOp kernel = buildKernel(
      b, loc, name, {rowBlocks, b.getIndexAttr(columnTiles)}, output,
      [&](OpBuilder &nb, Location nloc, ValueRange ivs, ValueRange) {
        IndexMath n{nb, nloc};
        RowBlock block;
        if (gemms.isShared()) {
          block.start = n.mul(ivs[0], n.c(blockRows));
          block.count = n.min(n.c(blockRows), n.sub(rows, block.start));
        } else {
          block = findRowBlock(nb, nloc, gemms.offsets, gemms.firstBlocks,
                               gemms.numExperts, blockRows, ivs[0]);
        }
        Value column = n.mul(ivs[1], n.c(columnTile));
        Value width = n.min(n.c(columnTile), n.sub(n.c(columns), column));
        Value tile = body(nb, nloc, block, column, width);
        return SmallVector<TileInsert>{
            {tile, 0, {block.start, column}, {block.count, width}}};
      });
  kernel->setAttr(MoeDialect::kColumnTileAttrName,
                  b.getI64IntegerAttr(columnTile));
  if (cpuForm) {
    kernel->setAttr(MoeDialect::kBlockThreadsAttrName, b.getI64IntegerAttr(1));
    return kernel;
  }
  // Warps split the column tile into 8-column mma tiles (moe-distribute-
  // threads): the most warps, up to those asked for, that divide it (4
  // always do for the tensor-core form's 32-column multiples); when fewer
  // than 4 would, and 4 or more were asked for, the default 4. Blocks of 8
  // rows take the swapped form's 16-column tiles: as many warps as divide
  // the tile into them (2 for 32 columns), from the 4 of moe-distribute-
  // threads' default 128 threads where none were asked for (hand-given
  // tiles; left to that default, 32 columns fell back to scalar code).
  bool swapped = nvidia::isSwappedMma(blockRows);
  int64_t mmaColumns = nvidia::mmaTileColumns(blockRows);
  if (swapped && warps == 0)
    warps = 4;
  int64_t dividing = warps;
  while (dividing > 1 && columnTile % (mmaColumns * dividing) != 0)
    --dividing;
  warps = warps >= 4 && !swapped ? std::max<int64_t>(dividing, 4) : dividing;
  if (warps > 0)
    kernel->setAttr(MoeDialect::kBlockThreadsAttrName,
                    b.getI64IntegerAttr(warps * nvidia::kWarpSize));
  return kernel;
}

struct FormLayerKernels : OpRewritePattern<CombineOp> {
  FormLayerKernels(MLIRContext *ctx, Tiles defaults)
      : OpRewritePattern(ctx), defaults(defaults) {}

  LogicalResult matchAndRewrite(CombineOp combine,
                                PatternRewriter &rewriter) const override {
    FailureOr<LayerChain> chain = matchChain(combine);
    if (failed(chain))
      return rewriter.notifyMatchFailure(combine, "not a decomposed layer");
    LayerChain &c = *chain;
    Tiles tiles = tilesFor(combine);
    Operation *root = c.root();
    rewriter.setInsertionPoint(root);
    Location loc = combine.getLoc();
    OpBuilder &b = rewriter;
    IndexMath m{b, loc};

    Value input = c.router.getInput();
    Value tokens = m.dim(input, 0);
    // The router's rows and the route's blocks: one value, so that
    // moe-fuse-launches sees they are as many.
    Value routeTiles = m.ceilDiv(tokens, tiles.routeTokens);
    Value logits = buildRouter(b, loc, c, tiles, tokens, routeTiles);
    auto [weights, indices, sharedLogit] =
        buildRoute(b, loc, c, tiles, tokens, routeTiles, logits);
    CountingSortResult dispatched =
        buildDispatch(b, loc, c, indices, tokens, tiles.expertRows);
    Value weightsOrScale = c.experts.getRowScale() ? weights : Value();
    ExpertGemms routed = ExpertGemms::routed(
        c.experts, dispatched.permutation, dispatched.offsets,
        dispatched.firstBlocks, weightsOrScale);
    Value activated = buildGateUp(b, loc, routed, tiles, "gate_up");
    // The shared expert's kernels between the routed ones: each beside the
    // routed kernel next to it, which moe-fuse-launches may run them in
    // (gate_up_shared_gate_up, shared_down_down), and the combine right
    // after down, whose blocks may run it.
    Value shared;
    if (c.shared) {
      ExpertGemms gemms = ExpertGemms::shared(c.shared);
      Tiles sharedTiles = sharedTilesFor(combine, tiles);
      shared =
          buildDown(b, loc, gemms, sharedTiles,
                    buildGateUp(b, loc, gemms, sharedTiles, "shared_gate_up"),
                    "shared_down");
    }
    Value rows = buildDown(b, loc, routed, tiles, activated, "down");
    Value result = buildCombine(
        b, loc, c, tiles, tokens, rows, dispatched.inverse,
        c.combine.getWeights() ? weights : Value(), shared, sharedLogit);
    rewriter.replaceOp(root, result);
    return success();
  }

private:
  Tiles defaults;

  /// Tiles from the `moe.tiles` of `moe-select-tiles`, entry by entry,
  /// else the pass options.
  Tiles tilesFor(CombineOp combine) const {
    Tiles tiles = defaults;
    auto chosen = combine->getAttrOfType<TilesAttr>(MoeDialect::kTilesAttrName);
    if (!chosen)
      return tiles;
    tiles.routeTokens = chosen.getRouteTokens().value_or(tiles.routeTokens);
    tiles.routerExperts =
        chosen.getRouterExperts().value_or(tiles.routerExperts);
    tiles.expertRows = chosen.getExpertRows().value_or(tiles.expertRows);
    tiles.gateUpColumns =
        chosen.getGateUpColumns().value_or(tiles.gateUpColumns);
    tiles.downColumns = chosen.getDownColumns().value_or(tiles.downColumns);
    tiles.combineTokens =
        chosen.getCombineTokens().value_or(tiles.combineTokens);
    tiles.gateUpWarps = chosen.getGateUpWarps().value_or(tiles.gateUpWarps);
    tiles.downWarps = chosen.getDownWarps().value_or(tiles.downWarps);
    tiles.gateUpStages = chosen.getGateUpStages().value_or(tiles.gateUpStages);
    tiles.downStages = chosen.getDownStages().value_or(tiles.downStages);
    tiles.combineInDown = chosen.getLaunches().value_or(3) == 3;
    tiles.cpuLanes = chosen.getCpuLanes().value_or(tiles.cpuLanes);
    tiles.cpuBf16Dot = chosen.getCpuBf16Dot().has_value();
    if (tiles.cpuLanes)
      tiles.tensorCores = false;
    return tiles;
  }

  /// The shared expert's kernels' tiles: the routed GEMMs' `tiles` with the
  /// `shared_*` entries moe-select-tiles chose apart.
  static Tiles sharedTilesFor(CombineOp combine, Tiles tiles) {
    auto chosen = combine->getAttrOfType<TilesAttr>(MoeDialect::kTilesAttrName);
    if (!chosen)
      return tiles;
    tiles.expertRows = chosen.getSharedExpertRows().value_or(tiles.expertRows);
    tiles.gateUpColumns =
        chosen.getSharedGateUpColumns().value_or(tiles.gateUpColumns);
    tiles.downColumns =
        chosen.getSharedDownColumns().value_or(tiles.downColumns);
    tiles.gateUpWarps =
        chosen.getSharedGateUpWarps().value_or(tiles.gateUpWarps);
    tiles.downWarps = chosen.getSharedDownWarps().value_or(tiles.downWarps);
    tiles.gateUpStages =
        chosen.getSharedGateUpStages().value_or(tiles.gateUpStages);
    tiles.downStages = chosen.getSharedDownStages().value_or(tiles.downStages);
    return tiles;
  }

  /// router: the router GEMM's logits [T, E] (f32), per tile of route
  /// tokens by router experts: one block per tile, so that at decode the
  /// router's rows stream from many SMs (in the route kernel, one block
  /// read all of them). The GEMM keeps its lane-split order
  /// (buildLaneSplitLinear), whatever the tile.
  static Value buildRouter(OpBuilder &b, Location loc, LayerChain &c,
                           const Tiles &tiles, Value tokens, Value routeTiles) {
    auto logitsType = dynamicRows(c.router.getLogits().getType());
    int64_t experts = logitsType.getDimSize(1);
    int64_t hidden =
        cast<RankedTensorType>(c.router.getInput().getType()).getDimSize(1);
    // A quantized router (hand-written IR; no importer makes one) is read
    // whole by its moe.dequantize, which moves in: one column.
    auto dequantize = c.router.getWeight().getDefiningOp<DequantizeOp>();
    Type inputElement = getElementTypeOrSelf(c.router.getInput().getType());
    // The CPU form (CpuGemm.h): no lane-split temporary to bound the
    // experts per block, just the largest divisor of E up to the choice.
    bool cpuForm = tiles.cpuLanes && !dequantize &&
                   canTakeCpuForm(c.router.getWeight(), inputElement);
    int64_t wanted = tiles.routerExperts ? tiles.routerExperts : experts;
    int64_t perBlock =
        dequantize ? experts
        : cpuForm
            ? largestDivisorUpTo(experts, wanted)
            : routerExpertsPerBlock(experts, hidden, tiles.routeTokens, wanted);
    auto kernel = buildKernel(
        b, loc, "router",
        {OpFoldResult(routeTiles), b.getIndexAttr(experts / perBlock)},
        {buildEmpty(b, loc, logitsType, tokens)},
        [&](OpBuilder &nb, Location nloc, ValueRange ivs, ValueRange) {
          IndexMath n{nb, nloc};
          Value first = n.mul(ivs[0], n.c(tiles.routeTokens));
          Value count = n.min(n.c(tiles.routeTokens), n.sub(tokens, first));
          Value expert = n.mul(ivs[1], n.c(perBlock));
          IRMapping mapping;
          if (cpuForm) {
            Value weightTile = slice(
                nb, nloc, c.router.getWeight(), {expert, nb.getIndexAttr(0)},
                {nb.getIndexAttr(perBlock), nb.getIndexAttr(hidden)});
            Value logits = buildCpuLinear(
                nb, nloc, count, weightTile, tiles.cpuLanes,
                tiles.cpuBf16Dot &&
                    takesBf16Pairs(c.router.getWeight(), inputElement,
                                   /*scaledRows=*/false),
                [&](OpBuilder &rb, Location rloc, Value row) {
                  return CpuGemmRow{c.router.getInput(),
                                    arith::AddIOp::create(rb, rloc, first, row),
                                    Value()};
                });
            if (Value bias = c.router.getBias())
              logits = buildAddRowBias(
                  nb, nloc, logits,
                  slice(nb, nloc, bias, {expert}, {nb.getIndexAttr(perBlock)}));
            return SmallVector<TileInsert>{
                {logits,
                 0,
                 {first, expert},
                 {count, nb.getIndexAttr(perBlock)}}};
          }
          mapping.map(c.router.getInput(),
                      slice(nb, nloc, c.router.getInput(),
                            {first, nb.getIndexAttr(0)},
                            {count, nb.getIndexAttr(hidden)}));
          mapping.map(c.router.getWeight(),
                      dequantize ? nb.clone(*dequantize)->getResult(0)
                                 : slice(nb, nloc, c.router.getWeight(),
                                         {expert, nb.getIndexAttr(0)},
                                         {nb.getIndexAttr(perBlock),
                                          nb.getIndexAttr(hidden)}));
          if (Value bias = c.router.getBias())
            mapping.map(bias, slice(nb, nloc, bias, {expert},
                                    {nb.getIndexAttr(perBlock)}));
          Operation *router = nb.clone(*c.router, mapping);
          router->getResult(0).setType(RankedTensorType::get(
              {ShapedType::kDynamic, perBlock}, nb.getF32Type()));
          return SmallVector<TileInsert>{{router->getResult(0),
                                          0,
                                          {first, expert},
                                          {count, nb.getIndexAttr(perBlock)}}};
        });
    // A block's threads: one per lane-split partial sum, up to 128; the
    // CPU form's one.
    int64_t sums = tiles.routeTokens * perBlock * routerLanes(hidden);
    kernel->setAttr(
        MoeDialect::kBlockThreadsAttrName,
        b.getI64IntegerAttr(
            cpuForm ? 1
                    : std::clamp<int64_t>(
                          static_cast<int64_t>(llvm::NextPowerOf2(sums - 1)),
                          nvidia::kWarpSize, 128)));
    return kernel.getResult(0);
  }

  /// route: gating per tile of tokens, on the router kernel's `logits`,
  /// and with a gated shared expert (Qwen2-MoE) its gate's logit
  /// input[t] . gate ([T, 1], f32; null without one), which the combine
  /// applies.
  static std::tuple<Value, Value, Value>
  buildRoute(OpBuilder &b, Location loc, LayerChain &c, const Tiles &tiles,
             Value tokens, Value routeTiles, Value logits) {
    auto weightsType = dynamicRows(c.gate.getWeights().getType());
    auto indicesType = dynamicRows(c.gate.getIndices().getType());
    int64_t topK = weightsType.getDimSize(1);
    int64_t hidden =
        cast<RankedTensorType>(c.router.getInput().getType()).getDimSize(1);
    SmallVector<Value> outputs = {buildEmpty(b, loc, weightsType, tokens),
                                  buildEmpty(b, loc, indicesType, tokens)};
    Value sharedGate = c.shared ? c.shared.getGate() : Value();
    if (sharedGate)
      outputs.push_back(buildEmpty(
          b, loc,
          RankedTensorType::get({ShapedType::kDynamic, 1}, b.getF32Type()),
          tokens));
    auto kernel = buildKernel(
        b, loc, "route", {OpFoldResult(routeTiles)}, outputs,
        [&](OpBuilder &nb, Location nloc, ValueRange ivs, ValueRange) {
          IndexMath n{nb, nloc};
          Value first = n.mul(ivs[0], n.c(tiles.routeTokens));
          Value count = n.min(n.c(tiles.routeTokens), n.sub(tokens, first));
          IRMapping mapping;
          int64_t experts =
              cast<RankedTensorType>(logits.getType()).getDimSize(1);
          mapping.map(c.router.getLogits(),
                      slice(nb, nloc, logits, {first, nb.getIndexAttr(0)},
                            {count, nb.getIndexAttr(experts)}));
          Operation *gate = cloneOnTile(nb, c.gate, mapping);
          SmallVector<OpFoldResult> offsets = {first, nb.getIndexAttr(0)};
          SmallVector<OpFoldResult> sizes = {count, nb.getIndexAttr(topK)};
          SmallVector<TileInsert> inserts = {
              {gate->getResult(0), 0, offsets, sizes},
              {gate->getResult(1), 1, offsets, sizes}};
          if (sharedGate) {
            // A quantized gate's moe.dequantize moves in with it (buildLinear
            // reads its stored values).
            Value gateWeight = sharedGate;
            if (auto dequantize = gateWeight.getDefiningOp<DequantizeOp>())
              gateWeight = nb.clone(*dequantize)->getResult(0);
            Value inputTile = slice(nb, nloc, c.router.getInput(),
                                    {first, nb.getIndexAttr(0)},
                                    {count, nb.getIndexAttr(hidden)});
            inserts.push_back({buildLinear(nb, nloc, inputTile, gateWeight),
                               2,
                               offsets,
                               {count, nb.getIndexAttr(1)}});
          }
          return inserts;
        });
    // Block x reads only the router's row x of logits.
    kernel->setAttr(MoeDialect::kRowLocalAttrName, b.getUnitAttr());
    return {kernel.getResult(0), kernel.getResult(1),
            sharedGate ? kernel.getResult(2) : Value()};
  }

  /// dispatch: the counting sort (one block, buildCountingSort), the
  /// inverse permutation the combine gathers with, and where each expert's
  /// blocks of `blockRows` rows start (findRowBlock).
  static CountingSortResult buildDispatch(OpBuilder &b, Location loc,
                                          LayerChain &c, Value indices,
                                          Value tokens, int64_t blockRows) {
    IndexMath m{b, loc};
    int64_t topK = cast<RankedTensorType>(indices.getType()).getDimSize(1);
    Value rowCount = m.mul(tokens, m.c(topK));
    auto permutationType = dynamicRows(c.dispatch.getPermutation().getType());
    auto offsetsType = c.dispatch.getOffsets().getType();
    SmallVector<Value> outputs = {buildEmpty(b, loc, permutationType, rowCount),
                                  buildEmpty(b, loc, offsetsType, {}),
                                  buildEmpty(b, loc, permutationType, rowCount),
                                  buildEmpty(b, loc, offsetsType, {})};
    auto kernel = buildKernel(
        b, loc, "dispatch", {b.getIndexAttr(1)}, outputs,
        [&](OpBuilder &nb, Location nloc, ValueRange, ValueRange) {
          // Routed row s = t * K + k.
          Value flat = tensor::CollapseShapeOp::create(
              nb, nloc, indices, SmallVector<ReassociationIndices>{{0, 1}});
          CountingSortResult sorted = buildCountingSort(
              nb, nloc, flat, rowCount, c.dispatch.getNumExperts(),
              permutationType, offsetsType, /*withInverse=*/true, blockRows);
          SmallVector<OpFoldResult> zero = {nb.getIndexAttr(0)};
          SmallVector<OpFoldResult> rows = {rowCount};
          SmallVector<OpFoldResult> experts = {
              nb.getIndexAttr(offsetsType.getDimSize(0))};
          return SmallVector<TileInsert>{
              {sorted.permutation, 0, zero, rows},
              {sorted.offsets, 1, zero, experts},
              {sorted.inverse, 2, zero, rows},
              {sorted.firstBlocks, 3, zero, experts}};
        });
    return {kernel.getResult(0), kernel.getResult(1), kernel.getResult(2),
            kernel.getResult(3)};
  }

  /// The gate_up kernel's tile from its gate and up `products` (rows
  /// `firstRows` of the expert's gate_up): biases added, the activation,
  /// stored in `storage`. In the tensor-core form the activation overwrites
  /// the gate product (a view of its accumulator), which nothing reads
  /// after: one [rows, columns] f32 temporary fewer in shared memory.
  static Value buildActivatedTile(OpBuilder &nb, Location nloc,
                                  const ExpertGemms &gemms, Value expert,
                                  Value width, ArrayRef<Value> firstRows,
                                  ArrayRef<Value> products, bool tensorCores,
                                  Type storage) {
    FfnAttr ffn = gemms.ffn;
    auto project = [&](unsigned i) {
      Value product = products[i];
      if (Value bias = gemms.gateUpBias)
        product = buildAddRowBias(
            nb, nloc, product,
            expertRows(nb, nloc, bias, expert, firstRows[i], width),
            /*inPlace=*/tensorCores);
      return product;
    };
    Value activated;
    if (ffn.isGated()) {
      Value gate = project(0);
      Value up = project(1);
      activated = buildMap(
          nb, nloc, {gate, up}, nb.getF32Type(),
          [&](OpBuilder &mb, Location mloc, ValueRange args) {
            return buildActivation(mb, mloc, ffn, args[0], args[1]);
          },
          tensorCores ? gate : Value());
    } else {
      Value up = project(0);
      activated = buildMap(
          nb, nloc, up, nb.getF32Type(),
          [&](OpBuilder &mb, Location mloc, ValueRange args) {
            return buildActivation(mb, mloc, ffn, Value(), args[0]);
          },
          tensorCores ? up : Value());
    }
    return buildConvert(nb, nloc, activated, storage);
  }

  /// An expert GEMM's tile outside the tensor-core form: the block's
  /// `count` rows (`rows`, f32 elements) times `weight`^T, read in the
  /// GEMM's body. With w8a8 (`scales` of the block's rows, per `group`
  /// columns: buildActivationScales), each element is quantized first
  /// (e4m3(x / s) * s in f32).
  static Value buildFallbackLinear(OpBuilder &b, Location loc, Value count,
                                   Value scales, int64_t group, RowElement rows,
                                   Value weight) {
    return buildLinearOfElements(
        b, loc, count, weight,
        [&](OpBuilder &nb, Location nloc, Value i, Value column) {
          Value x = toF32(nb, nloc, rows(nb, nloc, i, column));
          if (!scales)
            return x;
          Value scale =
              buildActivationScale(nb, nloc, scales, group, i, column);
          return arith::MulFOp::create(
                     nb, nloc, buildE4M3Quantized(nb, nloc, x, scale), scale)
              .getResult();
        });
  }

  /// gate_up: per (row block, column tile c), act(rows x gate[c]^T,
  /// rows x up[c]^T) stored in the input's type.
  static Value buildGateUp(OpBuilder &b, Location loc, const ExpertGemms &gemms,
                           const Tiles &tiles, StringRef name) {
    FfnAttr ffn = gemms.ffn;
    int64_t inter = gemms.inter();
    Type storage = getElementTypeOrSelf(gemms.input.getType());
    Value rowCount = gemms.rowCount(b, loc);
    int64_t hidden =
        cast<RankedTensorType>(gemms.input.getType()).getDimSize(1);
    int64_t group = ffn.getFp8ActivationGroup();
    TensorCorePlan plan =
        tiles.tensorCores
            ? planTensorCores(
                  storage, getElementTypeOrSelf(gemms.gateUp.getType()),
                  tiles.expertRows, inter, tiles.gateUpColumns, hidden,
                  ffn.isGated() ? 2 : 1, tiles.gateUpStages,
                  quantizedStorage(gemms.gateUp), group,
                  e4m3WeightBlock(group, gemms.gateUp), tiles.e4m3TensorCores)
            : TensorCorePlan();
    bool tensorCores = bool(plan);
    // w8a8 keeps the activated rows in f32 until down quantizes them: the
    // scale of a group and which e4m3 value each element takes then follow
    // from the f32 values, as in the unfused lowering and the reference
    // (rounded to bf16 first, an element near a rounding boundary, above
    // all a group's largest, could take another value in each).
    Type activatedElement = group ? b.getF32Type() : storage;
    auto activatedType =
        RankedTensorType::get({ShapedType::kDynamic, inter}, activatedElement);
    Value output = buildEmpty(b, loc, activatedType, rowCount);
    auto kernel = buildExpertKernel(
        b, loc, name, gemms, tiles.expertRows, tiles.gateUpColumns,
        tiles.gateUpWarps, tiles.cpuLanes != 0, output,
        [&](OpBuilder &nb, Location nloc, const RowBlock &block, Value column,
            Value width) {
          IndexMath n{nb, nloc};
          // Gate rows c .. c + w and up rows I + c .. I + c + w of gate_up
          // (relu: only the "up" block, rows c .. c + w), times the block's
          // dispatched rows read through the permutation (no gathered
          // copy: a block keeps only [rows, w] tiles).
          SmallVector<Value> firstRows = {column};
          if (ffn.isGated())
            firstRows.push_back(n.add(column, n.c(inter)));
          // With tensor cores, gate and up share each staged chunk of the
          // gathered rows.
          SmallVector<Value> products;
          if (tensorCores) {
            SmallVector<Value> weights;
            for (Value firstRow : firstRows)
              weights.push_back(
                  expertRows(nb, nloc, gemms.gateUp, block.expert, firstRow,
                             nb.getIndexAttr(tiles.gateUpColumns)));
            // Not a structured binding: the lambda below captures them
            // (C++17; clang refuses, gcc allows).
            Value rowTokens, rowScales;
            if (gemms.rowScale)
              std::tie(rowTokens, rowScales) = gemms.scaledRowTiles(
                  nb, nloc, block.start, block.count, tiles.expertRows);
            products = buildTensorCoreLinears(
                nb, nloc, tiles.expertRows, block.count, width, weights,
                storage, plan,
                [&](OpBuilder &rb, Location rloc, Value row, Value k) {
                  // A row scaled by its routing weight (Llama 4) is staged
                  // rounded to the rows' type, as Hugging Face's bf16
                  // multiply rounds it; the scalar form keeps it in f32.
                  if (rowTokens) {
                    Value token = arith::IndexCastOp::create(
                        rb, rloc, rb.getIndexType(),
                        tensor::ExtractOp::create(rb, rloc, rowTokens, row));
                    Value x =
                        toF32(rb, rloc,
                              tensor::ExtractOp::create(rb, rloc, gemms.input,
                                                        ValueRange{token, k}));
                    Value scaled = arith::MulFOp::create(
                        rb, rloc, x,
                        tensor::ExtractOp::create(rb, rloc, rowScales, row));
                    return buildScalarConvert(rb, rloc, scaled, storage);
                  }
                  Value token = gemms.token(rb, rloc, block.start, row);
                  return tensor::ExtractOp::create(rb, rloc, gemms.input,
                                                   ValueRange{token, k})
                      .getResult();
                },
                group, ffn.getFp8Pow2Scales(),
                /*rowsCopied=*/!gemms.rowScale);
          } else {
            auto gathered = [&](OpBuilder &rb, Location rloc, Value row,
                                Value k) {
              return gemms.gathered(rb, rloc, block.start, row, k);
            };
            // w8a8: the rows' scales, once for gate and up.
            Value scales =
                group ? buildActivationScales(nb, nloc, tiles.expertRows,
                                              block.count, hidden, group,
                                              ffn.getFp8Pow2Scales(), gathered)
                      : Value();
            // w8a8 multiplies the weights exactly (f32).
            Type exact = group ? nb.getF32Type() : Type();
            bool cpuForm = tiles.cpuLanes && !group &&
                           canTakeCpuForm(gemms.gateUp, storage);
            for (Value firstRow : firstRows)
              products.push_back(
                  cpuForm
                      ? buildCpuLinear(
                            nb, nloc, block.count,
                            expertRows(nb, nloc, gemms.gateUp, block.expert,
                                       firstRow, width),
                            tiles.cpuLanes,
                            tiles.cpuBf16Dot &&
                                takesBf16Pairs(
                                    gemms.gateUp, storage,
                                    /*scaledRows=*/bool(gemms.rowScale)),
                            [&](OpBuilder &rb, Location rloc, Value row) {
                              return gemms.cpuRow(rb, rloc, block.start, row);
                            })
                      : buildFallbackLinear(
                            nb, nloc, block.count, scales, group, gathered,
                            buildDequantizedTile(
                                nb, nloc,
                                expertRows(nb, nloc, gemms.gateUp, block.expert,
                                           firstRow, width),
                                exact)));
          }
          return buildActivatedTile(nb, nloc, gemms, block.expert, width,
                                    firstRows, products, tensorCores,
                                    activatedElement);
        });
    return kernel.getResult(0);
  }

  /// down: per (row block, column tile c), activated rows x down[c]^T
  /// (+ bias), the experts op's f32 result in dispatched order.
  static Value buildDown(OpBuilder &b, Location loc, const ExpertGemms &gemms,
                         const Tiles &tiles, Value activated, StringRef name) {
    IndexMath m{b, loc};
    int64_t inter = gemms.inter();
    Value rowCount = m.dim(activated, 0);
    int64_t hidden = cast<RankedTensorType>(gemms.down.getType())
                         .getShape()
                         .drop_back()
                         .back();
    auto resultType =
        RankedTensorType::get({ShapedType::kDynamic, hidden}, b.getF32Type());
    int64_t group = gemms.ffn.getFp8ActivationGroup();
    // The staged rows' type: with w8a8, the e4m3 values of the f32 rows in
    // the weights' (exact in bf16 and f16).
    Type storage = group ? getElementTypeOrSelf(gemms.down.getType())
                         : getElementTypeOrSelf(activated.getType());
    TensorCorePlan plan =
        tiles.tensorCores
            ? planTensorCores(
                  storage, getElementTypeOrSelf(gemms.down.getType()),
                  tiles.expertRows, resultType.getDimSize(1), tiles.downColumns,
                  inter, 1, tiles.downStages, quantizedStorage(gemms.down),
                  group, e4m3WeightBlock(group, gemms.down),
                  tiles.e4m3TensorCores)
            : TensorCorePlan();
    bool tensorCores = bool(plan);
    Value output = buildEmpty(b, loc, resultType, rowCount);
    auto kernel = buildExpertKernel(
        b, loc, name, gemms, tiles.expertRows, tiles.downColumns,
        tiles.downWarps, tiles.cpuLanes != 0, output,
        [&](OpBuilder &nb, Location nloc, const RowBlock &block, Value column,
            Value width) {
          // The activated rows as stored (the model's type; f32 with w8a8),
          // read in the GEMMs' bodies or staged: no copy of the block's
          // rows is kept.
          Value product;
          auto activatedRow = [&](OpBuilder &rb, Location rloc, Value row,
                                  Value k) {
            Value at = arith::AddIOp::create(rb, rloc, block.start, row);
            return tensor::ExtractOp::create(rb, rloc, activated,
                                             ValueRange{at, k})
                .getResult();
          };
          if (tensorCores) {
            Value weight =
                expertRows(nb, nloc, gemms.down, block.expert, column,
                           nb.getIndexAttr(tiles.downColumns));
            Value padded = buildTensorCoreLinears(
                nb, nloc, tiles.expertRows, block.count, width, weight, storage,
                plan, activatedRow, group, gemms.ffn.getFp8Pow2Scales())[0];
            // A copy the threads share, into the output tile.
            product = buildMap(
                nb, nloc, padded, nb.getF32Type(),
                [](OpBuilder &, Location, ValueRange args) { return args[0]; });
          } else if (group) {
            Value scales = buildActivationScales(
                nb, nloc, tiles.expertRows, block.count, inter, group,
                gemms.ffn.getFp8Pow2Scales(), activatedRow);
            product = buildFallbackLinear(
                nb, nloc, block.count, scales, group, activatedRow,
                buildDequantizedTile(nb, nloc,
                                     expertRows(nb, nloc, gemms.down,
                                                block.expert, column, width),
                                     nb.getF32Type()));
          } else if (tiles.cpuLanes && canTakeCpuForm(gemms.down, storage)) {
            product = buildCpuLinear(
                nb, nloc, block.count,
                expertRows(nb, nloc, gemms.down, block.expert, column, width),
                tiles.cpuLanes,
                tiles.cpuBf16Dot &&
                    takesBf16Pairs(gemms.down, storage, /*scaledRows=*/false),
                [&](OpBuilder &rb, Location rloc, Value row) {
                  return CpuGemmRow{
                      activated,
                      arith::AddIOp::create(rb, rloc, block.start, row),
                      Value()};
                });
          } else {
            Value rows =
                slice(nb, nloc, activated, {block.start, nb.getIndexAttr(0)},
                      {block.count, nb.getIndexAttr(inter)});
            product = buildLinear(
                nb, nloc, rows,
                buildDequantizedTile(nb, nloc,
                                     expertRows(nb, nloc, gemms.down,
                                                block.expert, column, width)));
          }
          if (Value bias = gemms.downBias)
            product = buildAddRowBias(
                nb, nloc, product,
                expertRows(nb, nloc, bias, block.expert, column, width),
                /*inPlace=*/tensorCores);
          return product;
        });
    return kernel.getResult(0);
  }

  /// combine: per tile of tokens and of down's columns, sum over k in
  /// ascending order of weights[t, k] * rows[inverse[t * K + k]], plus the
  /// shared expert's output (shared_down's f32 rows, times the sigmoid of
  /// `sharedLogit` where it is gated). One elementwise op with the sum
  /// over k in its body: no temporaries, so the tiles can run in the last
  /// block of each column of the down kernel (moe-fuse-launches).
  static Value buildCombine(OpBuilder &b, Location loc, LayerChain &c,
                            const Tiles &tiles, Value tokens, Value rows,
                            Value inverse, Value weights, Value shared,
                            Value sharedLogit) {
    IndexMath m{b, loc};
    Operation *root = c.root();
    auto resultType = dynamicRows(root->getResult(0).getType());
    int64_t hidden = resultType.getDimSize(1);
    int64_t columnTile = std::min(tiles.downColumns, hidden);
    Value output = buildEmpty(b, loc, resultType, tokens);
    auto kernel = buildKernel(
        b, loc, "combine",
        {OpFoldResult(m.ceilDiv(tokens, tiles.combineTokens)),
         b.getIndexAttr(llvm::divideCeil(hidden, columnTile))},
        output, [&](OpBuilder &nb, Location nloc, ValueRange ivs, ValueRange) {
          IndexMath n{nb, nloc};
          Value first = n.mul(ivs[0], n.c(tiles.combineTokens));
          Value count = n.min(n.c(tiles.combineTokens), n.sub(tokens, first));
          Value column = n.mul(ivs[1], n.c(columnTile));
          Value width = n.min(n.c(columnTile), n.sub(n.c(hidden), column));
          SmallVector<OpFoldResult> offsets = {first, column};
          SmallVector<OpFoldResult> sizes = {count, width};
          SmallVector<Value> inputs;
          if (shared)
            inputs.push_back(slice(nb, nloc, shared, offsets, sizes));
          auto tileType = RankedTensorType::get(
              {ShapedType::kDynamic, ShapedType::kDynamic},
              resultType.getElementType());
          Value init = buildEmpty(nb, nloc, tileType, ValueRange{count, width});
          AffineMap identity = nb.getMultiDimIdentityMap(2);
          SmallVector<AffineMap> maps(inputs.size() + 1, identity);
          Value tile =
              linalg::GenericOp::create(
                  nb, nloc, tileType, inputs, ValueRange{init}, maps,
                  {utils::IteratorType::parallel,
                   utils::IteratorType::parallel},
                  [&](OpBuilder &mb, Location mloc, ValueRange args) {
                    Value token = arith::AddIOp::create(
                        mb, mloc, first, linalg::IndexOp::create(mb, mloc, 0));
                    Value at = arith::AddIOp::create(
                        mb, mloc, column, linalg::IndexOp::create(mb, mloc, 1));
                    linalg::YieldOp::create(
                        mb, mloc,
                        buildCombinedElement(
                            mb, mloc, c, rows, inverse, weights, token, at,
                            shared ? args[0] : Value(), sharedLogit,
                            resultType.getElementType()));
                  })
                  .getResult(0);
          return SmallVector<TileInsert>{{tile, 0, offsets, sizes}};
        });
    // Tile (j, c) reads only columns c of down's output.
    if (tiles.combineInDown)
      kernel->setAttr(MoeDialect::kColumnLocalAttrName, b.getUnitAttr());
    Value result = kernel.getResult(0);
    Type rootType = root->getResult(0).getType();
    if (result.getType() != rootType)
      result = tensor::CastOp::create(b, loc, rootType, result);
    return result;
  }

  /// One element of the layer's result at (token, column), as the unfused
  /// layer computes it: the combine in f32 (k ascending), converted to the
  /// combine's type; with a shared expert, its output (`shared`, f32, times
  /// sigmoid(sharedLogit[token]) where gated, in the shared expert's type)
  /// added in that type (the sum's operand order) and converted to the
  /// result type.
  static Value buildCombinedElement(OpBuilder &b, Location loc, LayerChain &c,
                                    Value rows, Value inverse, Value weights,
                                    Value token, Value column, Value shared,
                                    Value sharedLogit, Type resultType) {
    IndexMath m{b, loc};
    int64_t topK = c.combine.getTopK();
    Value zero = arith::ConstantOp::create(b, loc, b.getF32FloatAttr(0.0));
    auto loop = scf::ForOp::create(
        b, loc, m.c(0), m.c(topK), m.c(1), ValueRange{zero},
        [&](OpBuilder &lb, Location lloc, Value k, ValueRange acc) {
          IndexMath l{lb, lloc};
          Value row = l.load(inverse, l.add(l.mul(token, l.c(topK)), k));
          Value value = tensor::ExtractOp::create(lb, lloc, rows,
                                                  ValueRange{row, column});
          value = buildScalarConvert(lb, lloc, value, lb.getF32Type());
          if (weights)
            value = arith::MulFOp::create(
                lb, lloc,
                tensor::ExtractOp::create(lb, lloc, weights,
                                          ValueRange{token, k}),
                value);
          scf::YieldOp::create(
              lb, lloc,
              arith::AddFOp::create(lb, lloc, acc[0], value).getResult());
        });
    Value result = buildScalarConvert(
        b, loc, loop.getResult(0), getElementTypeOrSelf(c.combine.getType()));
    if (!shared)
      return result;
    if (sharedLogit) {
      Value logit = tensor::ExtractOp::create(b, loc, sharedLogit,
                                              ValueRange{token, m.c(0)});
      shared =
          arith::MulFOp::create(b, loc, shared, buildSigmoid(b, loc, logit));
    }
    shared = buildScalarConvert(
        b, loc, shared, getElementTypeOrSelf(c.shared.getResult().getType()));
    bool combineFirst = c.sum.getLhs() == c.combine.getResult();
    result = arith::AddFOp::create(b, loc, combineFirst ? result : shared,
                                   combineFirst ? shared : result);
    return buildScalarConvert(b, loc, result, resultType);
  }
};

struct MoeFormKernelsPass : moe::impl::MoeFormKernelsBase<MoeFormKernelsPass> {
  using MoeFormKernelsBase::MoeFormKernelsBase;

  void runOnOperation() override {
    for (int64_t tile : {routeTokens.getValue(), expertRows.getValue(),
                         gateUpColumns.getValue(), downColumns.getValue(),
                         combineTokens.getValue()})
      if (tile <= 0) {
        getOperation()->emitError("moe-form-kernels: tile sizes must be "
                                  "positive");
        return signalPassFailure();
      }
    Tiles tiles{routeTokens, expertRows,    gateUpColumns,
                downColumns, combineTokens, tensorCores};
    tiles.e4m3TensorCores = e4m3TensorCores;
    RewritePatternSet patterns(&getContext());
    patterns.add<FormLayerKernels>(&getContext(), tiles);
    // One rewrite per layer; the replaced ops die with the canonicalizer.
    GreedyRewriteConfig config;
    config.setRegionSimplificationLevel(GreedySimplifyRegionLevel::Disabled);
    if (failed(
            applyPatternsGreedily(getOperation(), std::move(patterns), config)))
      signalPassFailure();
  }
};
} // namespace
