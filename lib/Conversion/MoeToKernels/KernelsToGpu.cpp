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

#include "KernelBuffers.h"
#include "MmaSync.h"
#include "StagingCopies.h"

#include "moe/Dialect/MoeOps.h"
#include "moe/Transforms/Passes.h"

#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "llvm/ADT/StringExtras.h"

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
/// sizes) live on the thread's stack in a one-thread kernel instead of the
/// device malloc heap.
constexpr int64_t kMaxStackBytes = 32 * 1024;

/// `alloc` replaced by `buffer` (of its bounded shape) viewed with its
/// dynamic shape, row-major; its deallocations go.
void replaceByBoundedBuffer(OpBuilder &b, memref::AllocOp alloc, Value buffer) {
  MemRefType type = alloc.getType();
  Value view = buffer;
  if (!type.hasStaticShape())
    view = buildRowMajorView(b, alloc.getLoc(), buffer, type,
                             alloc.getMixedSizes());
  for (Operation *user : llvm::make_early_inc_range(alloc->getUsers()))
    if (isa<memref::DeallocOp>(user))
      user->erase();
  alloc.replaceAllUsesWith(view);
  alloc.erase();
}

/// Places the block temporaries (the `memref.alloc` at the top of
/// `kernel`) of a kernel of several threads in its dynamic shared memory,
/// at the offsets of layoutShared, which `sharedBytes` (moe.kernel_abi's
/// `shared_memory`, what the manifest asks the launch for) must cover. Each
/// is a `memref.view` of the bound, seen through a cast to the generic
/// address space so that its users keep their types.
LogicalResult placeInSharedMemory(gpu::GPUFuncOp kernel, int64_t sharedBytes) {
  SmallVector<memref::AllocOp> allocs(
      kernel.getBody().front().getOps<memref::AllocOp>());
  FailureOr<SharedLayout> layout = layoutShared(allocs);
  if (failed(layout) || layout->bytes > sharedBytes)
    return kernel.emitError("the block temporaries do not fit in the ")
           << sharedBytes << " bytes of shared memory of moe.kernel_abi";
  WalkResult nested = kernel.walk([&](Operation *op) {
    bool top = op->getBlock() == &kernel.getBody().front();
    return isa<memref::AllocaOp>(op) || (isa<memref::AllocOp>(op) && !top)
               ? WalkResult::interrupt()
               : WalkResult::advance();
  });
  if (nested.wasInterrupted())
    return kernel.emitError("a kernel of several threads may allocate "
                            "only at the top of its block body");
  if (allocs.empty())
    return success();
  OpBuilder b(kernel.getBody());
  Location loc = kernel.getLoc();
  auto workgroup = gpu::AddressSpaceAttr::get(
      b.getContext(), gpu::GPUDialect::getWorkgroupAddressSpace());
  Value base = gpu::DynamicSharedMemoryOp::create(
      b, loc,
      MemRefType::get({ShapedType::kDynamic}, b.getI8Type(), AffineMap(),
                      workgroup));
  for (auto [alloc, offset] : llvm::zip(allocs, layout->offsets)) {
    b.setInsertionPoint(alloc);
    MemRefType type = alloc.getType();
    SmallVector<int64_t> bound = *boundedShape(alloc);
    Value shared = memref::ViewOp::create(
        b, loc,
        MemRefType::get(bound, type.getElementType(), AffineMap(), workgroup),
        base, arith::ConstantIndexOp::create(b, loc, offset),
        /*sizes=*/ValueRange{});
    Value generic = memref::MemorySpaceCastOp::create(
        b, loc, MemRefType::get(bound, type.getElementType()), shared);
    replaceByBoundedBuffer(b, alloc, generic);
  }
  return success();
}

/// In a one-thread kernel, replaces each `memref.alloc` at the top of
/// `kernel` (not in a loop, where an alloca would grow the stack per
/// iteration) that has a bounded shape of at most kMaxStackBytes by a
/// `memref.alloca` of the bound. The others stay device malloc.
void placeOnStack(gpu::GPUFuncOp kernel) {
  SmallVector<memref::AllocOp> allocs(
      kernel.getBody().front().getOps<memref::AllocOp>());
  for (memref::AllocOp alloc : allocs) {
    MemRefType type = alloc.getType();
    std::optional<SmallVector<int64_t>> bound = boundedShape(alloc);
    if (!bound || bufferBytes(*bound, type.getElementType()) > kMaxStackBytes)
      continue;
    OpBuilder b(alloc);
    Value buffer = memref::AllocaOp::create(
        b, alloc.getLoc(), MemRefType::get(*bound, type.getElementType()));
    replaceByBoundedBuffer(b, alloc, buffer);
  }
}

/// `kernel`'s moe.kernel_abi.
KernelAbiAttr kernelAbi(gpu::GPUFuncOp kernel) {
  return kernel->getAttrOfType<KernelAbiAttr>(MoeDialect::kKernelAbiAttrName);
}

/// Whether the ops before `op` in its block, back to a barrier, may read
/// memory that `op` then writes: at the start of a block (a loop body, a
/// branch) that is unknown, at the kernel's entry nothing was read.
bool readsSinceBarrier(Operation *op) {
  for (Operation *before = op->getPrevNode(); before;
       before = before->getPrevNode()) {
    if (isa<gpu::BarrierOp>(before))
      return false;
    if (before->getNumRegions() != 0 ||
        mightHaveEffect<MemoryEffects::Read>(before))
      return true;
  }
  return !isa<gpu::GPUFuncOp>(op->getParentOp());
}

/// Replaces each forall mapped to threads (moe-distribute-threads) by its
/// body on the thread ids below its trip count, and each forall mapped to
/// warps by its body on the warp ids with its tensor-core contractions
/// lowered to mma.sync, between barriers: the other threads' writes before
/// it are visible to it, and its writes to what follows.
LogicalResult mapThreadForalls(gpu::GPUFuncOp kernel, int64_t threads) {
  SmallVector<scf::ForallOp> foralls;
  kernel.walk([&](scf::ForallOp forall) { foralls.push_back(forall); });
  for (scf::ForallOp forall : foralls) {
    std::optional<ArrayAttr> mapping = forall.getMapping();
    Attribute only =
        mapping && mapping->size() == 1 ? (*mapping)[0] : Attribute();
    auto thread = dyn_cast_or_null<gpu::GPUThreadMappingAttr>(only);
    auto warp = dyn_cast_or_null<gpu::GPUWarpMappingAttr>(only);
    std::optional<int64_t> count =
        getConstantIntValue(forall.getMixedUpperBound()[0]);
    bool nested = !forall.getOutputs().empty() ||
                  forall->getParentOfType<scf::ForallOp>();
    if (warp) {
      // mma.sync needs every lane of each warp: a forall over all of them.
      if (warp.getWarp() != gpu::MappingId::DimX || !count ||
          *count * moe::kWarpSize != threads || nested)
        return forall.emitError("expected a forall over the ")
               << threads / moe::kWarpSize
               << " warps (x) of the block, not nested";
      SmallVector<linalg::LinalgOp> contractions;
      forall.walk([&](linalg::LinalgOp op) {
        if (op->hasAttr(MoeDialect::kTensorCoreAttrName))
          contractions.push_back(op);
      });
      for (linalg::LinalgOp op : contractions)
        if (failed(lowerToMmaSync(op)))
          return failure();
    } else if (!thread || thread.getThread() != gpu::MappingId::DimX ||
               !count || *count > threads || nested) {
      return forall.emitError("expected a forall over at most ")
             << threads << " threads (x) of the block, not nested";
    }
    if (thread)
      lowerToAsyncCopies(forall);
    IRRewriter rewriter(forall);
    Location loc = forall.getLoc();
    if (readsSinceBarrier(forall))
      gpu::BarrierOp::create(rewriter, loc);
    Value id = gpu::ThreadIdOp::create(rewriter, loc, gpu::Dimension::x);
    if (warp) {
      id = arith::DivUIOp::create(
          rewriter, loc, id,
          arith::ConstantIndexOp::create(rewriter, loc, moe::kWarpSize));
      count = threads;
    }
    Block *body = forall.getBody();
    rewriter.eraseOp(body->getTerminator());
    if (*count == threads) {
      rewriter.inlineBlockBefore(body, forall, id);
    } else {
      Value active = arith::CmpIOp::create(
          rewriter, loc, arith::CmpIPredicate::ult, id,
          arith::ConstantIndexOp::create(rewriter, loc, *count));
      auto guard = scf::IfOp::create(rewriter, loc, active);
      rewriter.inlineBlockBefore(body, guard.thenBlock()->getTerminator(), id);
    }
    gpu::BarrierOp::create(rewriter, loc);
    rewriter.eraseOp(forall);
  }
  return success();
}

/// Brackets each atomic read-modify-write (moe-fuse-launches' ticket) with
/// gpu-scope fences (`__threadfence`): the kernel form gives it
/// acquire-release order (as memref.atomic_rmw has on the CPU), which the
/// NVPTX backend drops (it emits a relaxed `atom`). The barrier before it
/// orders the other threads' writes of the block; the one after it, their
/// reads of what the other blocks wrote.
void fenceAtomics(gpu::GPUFuncOp kernel) {
  kernel.walk([](memref::AtomicRMWOp atomic) {
    OpBuilder b(atomic);
    NVVM::MembarOp::create(b, atomic.getLoc(), NVVM::MemScopeKind::GPU);
    b.setInsertionPointAfter(atomic);
    NVVM::MembarOp::create(b, atomic.getLoc(), NVVM::MemScopeKind::GPU);
  });
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
      if (func.isExternal()) {
        func.emitError("a kernel function must have a body");
        return signalPassFailure();
      }
      b.setInsertionPointToEnd(gpuModule.getBody());
      auto kernel = gpu::GPUFuncOp::create(b, func.getLoc(), func.getName(),
                                           func.getFunctionType());
      kernel->setAttr(MoeDialect::kKernelAbiAttrName,
                      func->getAttr(MoeDialect::kKernelAbiAttrName));
      kernel->setAttr(gpu::GPUDialect::getKernelFuncAttrName(),
                      b.getUnitAttr());
      // moe-distribute-threads shares blocks out along x only.
      int64_t threads = kernelAbi(kernel).getBlockSizes()[0];
      kernel.setKnownBlockSizeAttr(
          b.getDenseI32ArrayAttr({static_cast<int32_t>(threads), 1, 1}));
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
      if (threads > 1) {
        if (failed(placeInSharedMemory(kernel,
                                       kernelAbi(kernel).getSharedMemory())))
          return signalPassFailure();
      } else {
        placeOnStack(kernel);
      }
      if (failed(mapThreadForalls(kernel, threads)))
        return signalPassFailure();
      waitForAsyncCopies(kernel);
      fenceAtomics(kernel);
    }
    // bf16 and f16 mma.sync m16n8k16 need sm_80 or newer.
    bool mma = false;
    gpuModule.walk([&](NVVM::MmaOp) { mma = true; });
    for (const std::string &chip : chipList) {
      unsigned number = 0;
      StringRef digits = StringRef(chip).drop_front(3).take_while(
          [](char c) { return llvm::isDigit(c); });
      if (mma && (!StringRef(chip).starts_with("sm_") ||
                  digits.getAsInteger(10, number) || number < 80)) {
        module.emitError("the expert GEMMs use mma.sync m16n8k16, which ")
            << chip << " lacks (sm_80 or newer)";
        return signalPassFailure();
      }
    }
  }
};

} // namespace
