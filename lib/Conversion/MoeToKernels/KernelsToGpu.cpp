//===- KernelsToGpu.cpp - the moe-kernels-to-gpu pass ---------------------===//
//
// Moves the outlined kernel functions into a gpu.module as gpu.func kernels
// whose block ids replace the block scf.forall. See Passes.td.
//
// Written by hand rather than with the transform dialect's
// map_forall_to_blocks: that needs static trip counts, and our grids are
// formulas in the token count, launched with the exact grid by the runtime.
//
//===----------------------------------------------------------------------===//

#include "RowMajorView.h"

#include "moe/Dialect/MoeOps.h"
#include "moe/Transforms/Passes.h"

#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Interfaces/ValueBoundsOpInterface.h"

namespace mlir::moe {
#define GEN_PASS_DEF_MOEKERNELSTOGPU
#include "dialect/Moe/Passes.h.inc"
} // namespace mlir::moe

using namespace mlir;
using namespace mlir::moe;

namespace {

/// Replaces the block forall at the top of `kernel`'s body by its body, its
/// indices by the block ids they are mapped to.
LogicalResult inlineBlockForall(gpu::GPUFuncOp kernel) {
  SmallVector<scf::ForallOp> foralls;
  for (auto forall : kernel.getBody().front().getOps<scf::ForallOp>())
    foralls.push_back(forall);
  if (foralls.size() != 1)
    return kernel.emitError("a kernel function must hold one block forall");
  scf::ForallOp forall = foralls.front();
  IRRewriter rewriter(forall);
  SmallVector<Value> ids;
  ArrayAttr mapping = *forall.getMapping(); // not a temporary's member
  for (Attribute attr : mapping) {
    auto block = cast<gpu::GPUBlockMappingAttr>(attr);
    auto dim = static_cast<gpu::Dimension>(block.getMappingId());
    ids.push_back(gpu::BlockIdOp::create(rewriter, forall.getLoc(), dim));
  }
  Block *body = forall.getBody();
  rewriter.eraseOp(body->getTerminator());
  rewriter.inlineBlockBefore(body, forall, ids);
  rewriter.eraseOp(forall);
  return success();
}

/// Per-block temporaries up to this size (the bound of their dynamic
/// sizes) live on the thread's stack instead of the device malloc heap.
constexpr int64_t kMaxStackBytes = 32 * 1024;

/// A constant upper bound of the index `v`: ValueBoundsConstraintSet, which
/// does not see through min/max/select, after the tile arithmetic of the
/// kernel form (`min(rest, tile)`, `select(valid, max(min(...), 0), 0)`).
std::optional<int64_t> upperBound(Value v) {
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

/// Replaces each `memref.alloc` at the top of `kernel` (not in a loop,
/// where an alloca would grow the stack per iteration) whose dynamic sizes
/// have constant upper bounds (upperBound) and whose bounded
/// size is at most kMaxStackBytes by a `memref.alloca` of the bound, recast
/// to the dynamic shape (row-major in the bounded buffer); its
/// deallocations go. The others stay device malloc.
void promoteBoundedAllocs(gpu::GPUFuncOp kernel) {
  SmallVector<memref::AllocOp> allocs;
  for (auto alloc : kernel.getBody().front().getOps<memref::AllocOp>())
    allocs.push_back(alloc);
  for (memref::AllocOp alloc : allocs) {
    MemRefType type = alloc.getType();
    SmallVector<int64_t> bound(type.getShape());
    bool bounded = type.getLayout().isIdentity();
    unsigned next = 0;
    for (int64_t &size : bound) {
      if (!bounded || !ShapedType::isDynamic(size))
        continue;
      std::optional<int64_t> ub = upperBound(alloc.getDynamicSizes()[next++]);
      bounded = ub && *ub >= 0;
      if (bounded)
        size = std::max<int64_t>(*ub, 1);
    }
    int64_t bytes = type.getElementTypeBitWidth() / 8;
    for (int64_t size : bound)
      bytes = bounded ? bytes * size : 0;
    if (!bounded || bytes > kMaxStackBytes)
      continue;
    OpBuilder b(alloc);
    Location loc = alloc.getLoc();
    Value buffer = memref::AllocaOp::create(
        b, loc, MemRefType::get(bound, type.getElementType()));
    Value view = buffer;
    if (!type.hasStaticShape())
      view = buildRowMajorView(b, loc, buffer, type, alloc.getMixedSizes());
    for (Operation *user : llvm::make_early_inc_range(alloc->getUsers()))
      if (isa<memref::DeallocOp>(user))
        user->erase();
    alloc.replaceAllUsesWith(view);
    alloc.erase();
  }
}

struct MoeKernelsToGpuPass
    : public moe::impl::MoeKernelsToGpuBase<MoeKernelsToGpuPass> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    MLIRContext *ctx = module.getContext();
    SmallVector<Attribute> targets;
    SmallVector<std::string> chipList(chips.begin(), chips.end());
    if (chipList.empty())
      chipList = {"sm_80", "sm_90"};
    for (const std::string &chip : chipList)
      targets.push_back(NVVM::NVVMTargetAttr::get(
          ctx, /*optLevel=*/3, "nvptx64-nvidia-cuda", chip, features));

    OpBuilder b(ctx);
    b.setInsertionPointToEnd(module.getBody());
    auto gpuModule = gpu::GPUModuleOp::create(b, module.getLoc(), moduleName,
                                              b.getArrayAttr(targets));
    module->setAttr(gpu::GPUDialect::getContainerModuleAttrName(),
                    b.getUnitAttr());
    // The layer functions it maps to are not device code.
    module->removeAttr(MoeDialect::kLayerMapAttrName);

    SmallVector<func::FuncOp> funcs(module.getOps<func::FuncOp>());
    for (func::FuncOp func : funcs) {
      if (!func->hasAttr(MoeDialect::kKernelAbiAttrName)) {
        func.erase();
        continue;
      }
      b.setInsertionPointToEnd(gpuModule.getBody());
      auto kernel = gpu::GPUFuncOp::create(b, func.getLoc(), func.getName(),
                                           func.getFunctionType());
      kernel->setAttr(MoeDialect::kKernelAbiAttrName,
                      func->getAttr(MoeDialect::kKernelAbiAttrName));
      kernel->setAttr(gpu::GPUDialect::getKernelFuncAttrName(),
                      b.getUnitAttr());
      kernel.setKnownBlockSizeAttr(b.getDenseI32ArrayAttr({1, 1, 1}));
      // Move the body; the func.return becomes gpu.return.
      Region &body = kernel.getBody();
      body.getBlocks().clear();
      body.takeBody(func.getBody());
      Operation *ret = body.back().getTerminator();
      b.setInsertionPoint(ret);
      gpu::ReturnOp::create(b, ret->getLoc());
      ret->erase();
      func.erase();
      if (failed(inlineBlockForall(kernel)))
        return signalPassFailure();
      promoteBoundedAllocs(kernel);
    }
  }
};

} // namespace
