//===- OutlineKernels.cpp - the moe-outline-kernels pass ------------------===//
//
// Turns each kernel of the bufferized kernel form into a function with the
// manifest's ABI (docs/kernel-manifest.md): buffers as bare pointers, then
// the token count. See the pass description in Passes.td.
//
// Written by hand rather than with gpu-kernel-outlining: that pass orders
// parameters by first use and passes memref descriptors, while the manifest
// fixes one pointer per buffer plus T, and the same functions must also be
// compiled for the host. The grid and every buffer shape must also be known
// as formulas in T, which only an analysis of the layer function gives.
//
//===----------------------------------------------------------------------===//

#include "moe/Conversion/MoeToKernels/KernelBuffers.h"

#include "moe/Dialect/MoeOps.h"
#include "moe/Transforms/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/Matchers.h"
#include "mlir/Transforms/RegionUtils.h"
#include "llvm/ADT/SetVector.h"
#include "llvm/ADT/TypeSwitch.h"

#include <optional>

namespace mlir::moe {
#define GEN_PASS_DEF_MOEOUTLINEKERNELS
#include "dialect/Moe/Passes.h.inc"
} // namespace mlir::moe

using namespace mlir;
using namespace mlir::moe;

namespace {

/// What the layer function's top level computes from the token count.
class TokenMath {
public:
  explicit TokenMath(Value input) : input(input) {}

  /// `v` is `memref.dim %input, 0`.
  bool isTokenCount(Value v) const {
    auto dim = v.getDefiningOp<memref::DimOp>();
    std::optional<int64_t> index = dim ? dim.getConstantIndex() : std::nullopt;
    return dim && dim.getSource() == input && index == 0;
  }

  /// `v` as an affine expression of T (dimension 0), or nothing when it is
  /// not one (min and max included, which the manifest's grammar has but an
  /// AffineExpr does not; no layer needs them).
  std::optional<AffineExpr> formula(Value v) const {
    MLIRContext *ctx = v.getContext();
    if (isTokenCount(v))
      return getAffineDimExpr(0, ctx);
    Operation *op = v.getDefiningOp();
    if (!op)
      return std::nullopt;
    if (auto c = dyn_cast<arith::ConstantIndexOp>(op))
      return getAffineConstantExpr(c.value(), ctx);
    if (op->getNumOperands() != 2)
      return std::nullopt;
    std::optional<AffineExpr> a = formula(op->getOperand(0));
    std::optional<AffineExpr> b = formula(op->getOperand(1));
    if (!a || !b)
      return std::nullopt;
    auto divisor = dyn_cast<AffineConstantExpr>(*b);
    return TypeSwitch<Operation *, std::optional<AffineExpr>>(op)
        .Case([&](arith::AddIOp) { return *a + *b; })
        .Case([&](arith::SubIOp) { return *a - *b; })
        .Case([&](arith::MulIOp) -> std::optional<AffineExpr> {
          if (!isa<AffineConstantExpr>(*a) && !isa<AffineConstantExpr>(*b))
            return std::nullopt;
          return *a * *b;
        })
        .Case([&](arith::CeilDivSIOp) -> std::optional<AffineExpr> {
          if (!divisor || divisor.getValue() <= 0)
            return std::nullopt;
          return a->ceilDiv(*b);
        })
        .Default([](Operation *) { return std::nullopt; });
  }

  /// Rebuilds `v` at `b` from `tokens` (T in the kernel), cloning the
  /// constants and arithmetic it is computed from.
  Value rebuild(OpBuilder &b, Value v, Value tokens, IRMapping &map) const {
    if (Value known = map.lookupOrNull(v))
      return known;
    if (isTokenCount(v)) {
      map.map(v, tokens);
      return tokens;
    }
    Operation *op = v.getDefiningOp();
    for (Value operand : op->getOperands())
      rebuild(b, operand, tokens, map);
    return b.clone(*op, map)->getResult(0);
  }

private:
  Value input;
};

/// Whether `op` zeroes a whole top-level allocation of the layer before
/// its kernels (moe-fuse-launches' ticket counter): the manifest's
/// zero_init, which the runtime does itself.
memref::AllocOp zeroedAllocation(Operation *op) {
  auto fill = dyn_cast<linalg::FillOp>(op);
  if (!fill || !fill.hasPureBufferSemantics())
    return {};
  bool zero = matchPattern(fill.value(), m_Zero()) ||
              matchPattern(fill.value(), m_PosZeroFloat());
  if (!zero)
    return {};
  auto alloc = fill.output().getDefiningOp<memref::AllocOp>();
  if (!alloc || alloc->getBlock() != op->getBlock())
    return {};
  for (Operation *before = op->getPrevNode(); before;
       before = before->getPrevNode())
    if (isa<scf::ForallOp>(before))
      return {};
  return alloc;
}

/// One buffer of a layer: a function argument or a top-level allocation.
struct Buffer {
  std::string name;
  StringRef kind;
  Value value;
  MemRefType type;
  /// The size of each dimension as an expression of T.
  SmallVector<AffineExpr> shape;
  /// Zeroed by the layer before its kernels (the manifest's zero_init).
  bool zeroInit = false;
  /// The type a kernel parameter has: the buffer's when static, else a
  /// rank-0 memref (the pointer to the first element).
  MemRefType paramType() const {
    if (type.hasStaticShape())
      return type;
    return MemRefType::get({}, type.getElementType());
  }
};

class LayerOutliner {
public:
  LayerOutliner(func::FuncOp func) : func(func), math(func.getArgument(0)) {}

  LogicalResult run();

private:
  LogicalResult collectBuffers();
  FailureOr<Buffer *> bufferOf(Value value, Operation *user);
  LogicalResult outline(scf::ForallOp forall, StringRef kernelName);
  /// The grid of a kernel's block `forall`: each dimension's trip count
  /// where its block id goes.
  FailureOr<AffineMap> gridOf(scf::ForallOp forall);
  /// What `forall` captures: the buffers (in buffer order) that become
  /// parameters, and the index values computed from T that the kernel
  /// recomputes.
  LogicalResult captures(scf::ForallOp forall, SmallVector<Buffer *> &params,
                         SmallVector<Value> &scalars);
  /// `kernel`'s body: the scalars recomputed from T, the buffers viewed
  /// with their shapes, then `forall`.
  void buildKernelBody(func::FuncOp kernel, scf::ForallOp forall,
                       ArrayRef<Buffer *> params, ArrayRef<Value> scalars);

  func::FuncOp func;
  TokenMath math;
  std::vector<std::unique_ptr<Buffer>> buffers;
  SmallVector<Attribute> launches;
};

LogicalResult LayerOutliner::collectBuffers() {
  Block &body = func.getBody().front();
  auto returnOp = cast<func::ReturnOp>(body.getTerminator());
  if (returnOp.getNumOperands() != 1)
    return returnOp.emitError("a layer function returns one memref");
  Value result = returnOp.getOperand(0);

  auto add = [&](std::string name, StringRef kind,
                 Value value) -> LogicalResult {
    auto type = dyn_cast<MemRefType>(value.getType());
    if (!type || !type.getLayout().isIdentity())
      return emitError(value.getLoc())
             << "buffer '" << name << "' must be a memref with the identity "
             << "layout";
    auto buffer = std::make_unique<Buffer>();
    buffer->name = std::move(name);
    buffer->kind = kind;
    buffer->value = value;
    buffer->type = type;
    auto alloc = value.getDefiningOp<memref::AllocOp>();
    unsigned dynamicIndex = 0;
    for (auto [d, size] : llvm::enumerate(type.getShape())) {
      if (!ShapedType::isDynamic(size)) {
        buffer->shape.push_back(getAffineConstantExpr(size, func.getContext()));
        continue;
      }
      std::optional<AffineExpr> f;
      if (alloc)
        f = math.formula(alloc.getDynamicSizes()[dynamicIndex++]);
      else if (value == func.getArgument(0) && d == 0)
        f = getAffineDimExpr(0, func.getContext());
      if (!f)
        return emitError(value.getLoc())
               << "dimension " << d << " of buffer '" << buffer->name
               << "' is not a formula in the token count";
      buffer->shape.push_back(*f);
    }
    buffers.push_back(std::move(buffer));
    return success();
  };

  for (BlockArgument arg : func.getArguments())
    if (failed(add(arg.getArgNumber() == 0
                       ? std::string("hidden_states")
                       : "weight" + std::to_string(arg.getArgNumber() - 1),
                   arg.getArgNumber() == 0 ? "input" : "weight", arg)))
      return failure();
  unsigned workspaces = 0;
  for (Operation &op : body) {
    if (memref::AllocOp zeroed = zeroedAllocation(&op)) {
      for (auto &buffer : buffers)
        buffer->zeroInit |= buffer->value == zeroed.getResult();
      continue;
    }
    auto alloc = dyn_cast<memref::AllocOp>(op);
    if (!alloc)
      continue;
    bool isOutput = alloc.getResult() == result;
    if (failed(add(isOutput ? std::string("output")
                            : "workspace" + std::to_string(workspaces++),
                   isOutput ? "output" : "workspace", alloc)))
      return failure();
  }
  if (!result.getDefiningOp<memref::AllocOp>() ||
      result.getParentBlock() != &body)
    return returnOp.emitError(
        "a layer function must return an allocation of its own");
  return success();
}

FailureOr<Buffer *> LayerOutliner::bufferOf(Value value, Operation *user) {
  for (auto &buffer : buffers)
    if (buffer->value == value)
      return buffer.get();
  return user->emitError("a kernel may only use the layer's arguments and "
                         "top-level allocations as memrefs");
}

FailureOr<AffineMap> LayerOutliner::gridOf(scf::ForallOp forall) {
  MLIRContext *ctx = func.getContext();
  SmallVector<AffineExpr> grid(3, getAffineConstantExpr(1, ctx));
  for (auto [attr, bound] :
       llvm::zip(*forall.getMapping(), forall.getMixedUpperBound())) {
    auto block = dyn_cast<gpu::GPUBlockMappingAttr>(attr);
    if (!block || block.getMappingId() > 2)
      return forall.emitError("a kernel's scf.forall must map every "
                              "dimension to block x, y or z");
    std::optional<AffineExpr> f;
    if (auto value = dyn_cast<Value>(bound))
      f = math.formula(value);
    else
      f = getAffineConstantExpr(
          cast<IntegerAttr>(cast<Attribute>(bound)).getInt(), ctx);
    if (!f)
      return forall.emitError("the grid is not a formula in the token count");
    grid[block.getMappingId()] = *f;
  }
  return AffineMap::get(1, 0, grid, ctx);
}

LogicalResult LayerOutliner::captures(scf::ForallOp forall,
                                      SmallVector<Buffer *> &params,
                                      SmallVector<Value> &scalars) {
  llvm::SetVector<Value> captured;
  getUsedValuesDefinedAbove(forall.getRegion(), captured);
  for (OpFoldResult bound : forall.getMixedUpperBound())
    if (auto value = dyn_cast<Value>(bound))
      captured.insert(value);
  for (Value value : captured) {
    if (isa<MemRefType>(value.getType())) {
      FailureOr<Buffer *> buffer = bufferOf(value, forall);
      if (failed(buffer))
        return failure();
      params.push_back(*buffer);
      continue;
    }
    if (!math.formula(value) && !matchPattern(value, m_Constant()))
      return forall.emitError("a kernel captures a value that is neither a "
                              "buffer nor computed from the token count");
    scalars.push_back(value);
  }
  llvm::sort(params, [&](Buffer *a, Buffer *b) {
    auto index = [&](Buffer *x) {
      return llvm::find_if(buffers, [&](auto &p) { return p.get() == x; }) -
             buffers.begin();
    };
    return index(a) < index(b);
  });
  return success();
}

void LayerOutliner::buildKernelBody(func::FuncOp kernel, scf::ForallOp forall,
                                    ArrayRef<Buffer *> params,
                                    ArrayRef<Value> scalars) {
  Location loc = forall.getLoc();
  Block *entry = kernel.addEntryBlock();
  OpBuilder b = OpBuilder::atBlockBegin(entry);
  Value tokens = entry->getArguments().back();
  IRMapping map;
  for (Value scalar : scalars)
    math.rebuild(b, scalar, tokens, map);
  for (auto [buffer, arg] : llvm::zip(params, entry->getArguments())) {
    if (buffer->type.hasStaticShape()) {
      map.map(buffer->value, arg);
      continue;
    }
    // Recast the pointer to the buffer's shape.
    SmallVector<OpFoldResult> sizes;
    auto alloc = buffer->value.getDefiningOp<memref::AllocOp>();
    unsigned dynamicIndex = 0;
    for (int64_t size : buffer->type.getShape()) {
      if (!ShapedType::isDynamic(size))
        sizes.push_back(b.getIndexAttr(size));
      else if (alloc)
        sizes.push_back(math.rebuild(b, alloc.getDynamicSizes()[dynamicIndex++],
                                     tokens, map));
      else
        sizes.push_back(tokens);
    }
    map.map(buffer->value, buildRowMajorView(b, loc, arg, buffer->type, sizes));
  }
  b.clone(*forall, map);
  func::ReturnOp::create(b, loc);
  // A kernel calls no runtime library: strided copies (memrefCopy in MLIR's
  // C runner utils, absent on the GPU and from the host library) become
  // linalg.copy, lowered to loops with the rest.
  kernel.walk([&](memref::CopyOp copy) {
    OpBuilder cb(copy);
    linalg::CopyOp::create(cb, copy.getLoc(), copy.getSource(),
                           copy.getTarget());
    copy.erase();
  });
}

LogicalResult LayerOutliner::outline(scf::ForallOp forall,
                                     StringRef kernelName) {
  if (!forall.isNormalized() || forall.getNumResults() != 0)
    return forall.emitError("a kernel must be a normalized scf.forall on "
                            "memrefs");
  std::optional<ArrayAttr> mapping = forall.getMapping();
  if (!mapping || mapping->size() != static_cast<size_t>(forall.getRank()))
    return forall.emitError("a kernel's scf.forall must map every "
                            "dimension to GPU blocks");
  FailureOr<AffineMap> grid = gridOf(forall);
  // What the kernel captures: buffers become parameters (in buffer order),
  // index values are recomputed from T.
  SmallVector<Buffer *> params;
  SmallVector<Value> scalars;
  if (failed(grid) || failed(captures(forall, params, scalars)))
    return failure();

  // The kernel function.
  MLIRContext *ctx = func.getContext();
  OpBuilder b(func);
  Location loc = forall.getLoc();
  std::string symbol = (func.getSymName() + "_" + kernelName).str();
  SmallVector<Type> types;
  SmallVector<Attribute> names;
  for (Buffer *buffer : params) {
    types.push_back(buffer->paramType());
    names.push_back(b.getStringAttr(buffer->name));
  }
  types.push_back(b.getIndexType());
  names.push_back(b.getStringAttr("T"));
  auto kernel = func::FuncOp::create(b, loc, symbol,
                                     b.getFunctionType(types, TypeRange{}));
  auto abi = KernelAbiAttr::getChecked(
      [&] { return forall.emitError(); }, ctx, b.getStringAttr(kernelName),
      b.getArrayAttr(names), *grid, DenseI64ArrayAttr(), int64_t{0});
  if (!abi)
    return failure();
  kernel->setAttr(MoeDialect::kKernelAbiAttrName, abi);
  buildKernelBody(kernel, forall, params, scalars);

  // The layer function calls it instead.
  b.setInsertionPoint(forall);
  SmallVector<Value> args;
  for (Buffer *buffer : params) {
    if (buffer->type.hasStaticShape()) {
      args.push_back(buffer->value);
      continue;
    }
    args.push_back(memref::ReinterpretCastOp::create(
        b, loc, buffer->paramType(), buffer->value, b.getIndexAttr(0),
        ArrayRef<OpFoldResult>{}, ArrayRef<OpFoldResult>{}));
  }
  args.push_back(memref::DimOp::create(b, loc, func.getArgument(0), 0));
  func::CallOp::create(b, loc, kernel, args);
  launches.push_back(FlatSymbolRefAttr::get(kernel.getSymNameAttr()));
  forall.erase();
  return success();
}

LogicalResult LayerOutliner::run() {
  if (func.getNumArguments() == 0 ||
      !isa<MemRefType>(func.getArgument(0).getType()))
    return func.emitError("a layer function takes its hidden states first");
  // Only what the manifest can express may run outside the kernels.
  for (Operation &op : func.getBody().front()) {
    if (isa<scf::ForallOp>(op)) {
      if (!op.hasAttr(MoeDialect::kKernelAttrName))
        return op.emitError("an scf.forall outside the kernels must name "
                            "its kernel (moe.kernel)");
      continue;
    }
    if (isa<memref::AllocOp, memref::DeallocOp, func::ReturnOp>(op) ||
        zeroedAllocation(&op) ||
        (op.getNumResults() == 1 && op.getResult(0).getType().isIndex() &&
         math.formula(op.getResult(0))) ||
        matchPattern(&op, m_Constant()))
      continue;
    return op.emitError("the manifest cannot express this operation outside "
                        "a kernel");
  }
  if (failed(collectBuffers()))
    return failure();
  SmallVector<scf::ForallOp> kernels;
  for (auto forall : func.getBody().front().getOps<scf::ForallOp>())
    kernels.push_back(forall);
  for (scf::ForallOp forall : kernels) {
    StringRef name =
        forall->getAttrOfType<StringAttr>(MoeDialect::kKernelAttrName)
            .getValue();
    if (failed(outline(forall, name)))
      return failure();
  }

  Builder b(func.getContext());
  SmallVector<Attribute> descriptions;
  for (auto &buffer : buffers) {
    auto description = BufferAttr::getChecked(
        [&] { return emitError(buffer->value.getLoc()); }, func.getContext(),
        b.getStringAttr(buffer->name), b.getStringAttr(buffer->kind),
        buffer->type, AffineMap::get(1, 0, buffer->shape, func.getContext()),
        buffer->zeroInit);
    if (!description)
      return failure();
    descriptions.push_back(description);
  }
  func->setAttr(MoeDialect::kBuffersAttrName, b.getArrayAttr(descriptions));
  func->setAttr(MoeDialect::kLaunchesAttrName, b.getArrayAttr(launches));
  return success();
}

struct MoeOutlineKernelsPass
    : public moe::impl::MoeOutlineKernelsBase<MoeOutlineKernelsPass> {
  void runOnOperation() override {
    SmallVector<func::FuncOp> layers;
    for (auto func : getOperation().getOps<func::FuncOp>()) {
      bool hasKernels = false;
      func.walk([&](scf::ForallOp forall) {
        hasKernels |= forall->hasAttr(MoeDialect::kKernelAttrName);
      });
      if (hasKernels)
        layers.push_back(func);
    }
    for (func::FuncOp func : layers)
      if (failed(LayerOutliner(func).run()))
        return signalPassFailure();
  }
};

} // namespace
