//===- AsyncCopies.cpp - staging copies as cp.async -----------------------===//
//
// The 16-byte runs moe-distribute-threads gives a staging copy
// (moe.async_copy vector stores) become cp.async (nvgpu.device_async_copy)
// from global to shared memory, committed and waited for per pipeline step.
//
// Written by hand: transform.nvgpu.create_async_groups needs
// vector.transfer_read/write pairs with a static source, not our row index
// computed per run.
//
//===----------------------------------------------------------------------===//

#include "Transforms.h"

#include "moe/Conversion/MoeToKernels/KernelBuffers.h"
#include "moe/Conversion/MoeToKernels/StagingCopies.h"
#include "moe/Dialect/MoeDialect.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/NVGPU/IR/NVGPUDialect.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

using namespace mlir;
using namespace mlir::moe;

/// Commits the thread's async copies as one group at `b`'s insertion point
/// and waits until at most `pending` of its groups are in flight.
static void commitAndWait(OpBuilder &b, Location loc, int64_t pending) {
  Value group = nvgpu::DeviceAsyncCreateGroupOp::create(
      b, loc, nvgpu::DeviceAsyncTokenType::get(b.getContext()), ValueRange{});
  nvgpu::DeviceAsyncWaitOp::create(b, loc, group, b.getI32IntegerAttr(pending));
}

/// `base`, a view of a block temporary in the generic address space (a
/// memory_space_cast of its workgroup buffer, or subviews of one: the
/// padded staging tiles), as the same view of the workgroup buffer; null
/// when it is something else. cp.async writes shared memory through a
/// workgroup pointer.
static Value workgroupView(RewriterBase &rewriter, Value base,
                           llvm::DenseMap<Value, Value> &views) {
  if (Value known = views.lookup(base))
    return known;
  Value view;
  if (auto spaceCast = base.getDefiningOp<memref::MemorySpaceCastOp>()) {
    if (gpu::GPUDialect::hasWorkgroupMemoryAddressSpace(
            cast<MemRefType>(spaceCast.getSource().getType())))
      view = spaceCast.getSource();
  } else if (auto subview = base.getDefiningOp<memref::SubViewOp>()) {
    if (Value source = workgroupView(rewriter, subview.getSource(), views)) {
      OpBuilder::InsertionGuard guard(rewriter);
      rewriter.setInsertionPoint(subview);
      view = memref::SubViewOp::create(
          rewriter, subview.getLoc(), source, subview.getMixedOffsets(),
          subview.getMixedSizes(), subview.getMixedStrides());
    }
  }
  if (view)
    views[base] = view;
  return view;
}

void mlir::moe::nvidia::lowerToAsyncCopies(RewriterBase &rewriter,
                                           scf::ForallOp forall) {
  llvm::DenseMap<Value, Value> views;
  SmallVector<vector::StoreOp> stores;
  forall.walk([&](vector::StoreOp store) {
    if (store->hasAttr(MoeDialect::kAsyncCopyAttrName))
      stores.push_back(store);
  });
  bool copied = false;
  int64_t pending = 0;
  for (vector::StoreOp store : stores) {
    auto inFlight =
        store->getAttrOfType<IntegerAttr>(MoeDialect::kAsyncCopyAttrName);
    store->removeAttr(MoeDialect::kAsyncCopyAttrName);
    auto load = store.getValueToStore().getDefiningOp<vector::LoadOp>();
    // cp.async reads global memory: not a block temporary (a view of the
    // workgroup memory).
    auto source =
        load ? dyn_cast<MemRefType>(rootBuffer(load.getBase()).getType())
             : MemRefType();
    if (!source || gpu::GPUDialect::hasWorkgroupMemoryAddressSpace(source))
      continue;
    if (!load->hasOneUse() ||
        store.getVectorType().getNumElements() *
                store.getVectorType().getElementTypeBitWidth() !=
            kStagingCopyBytes * 8)
      continue;
    // The block temporaries are views of workgroup memory seen through a
    // cast to the generic address space (moe-kernels-to-gpu).
    Value view = workgroupView(rewriter, store.getBase(), views);
    if (!view)
      continue;
    rewriter.setInsertionPoint(store);
    nvgpu::DeviceAsyncCopyOp::create(
        rewriter, store.getLoc(), view, store.getIndices(), load.getBase(),
        load.getIndices(),
        rewriter.getIndexAttr(store.getVectorType().getNumElements()),
        /*srcElements=*/Value(), /*bypassL1=*/rewriter.getUnitAttr());
    rewriter.eraseOp(store);
    rewriter.eraseOp(load);
    copied = true;
    pending = std::max<int64_t>(pending, inFlight ? inFlight.getInt() : 0);
  }
  if (!copied)
    return;
  // Each thread commits its copies as one group and waits for its own
  // groups but the `pending` latest (those of the next chunks of a
  // pipeline); the barrier that follows the forall then makes every
  // thread's completed copies visible to all.
  rewriter.setInsertionPoint(forall.getBody()->getTerminator());
  commitAndWait(rewriter, forall.getLoc(), pending);
}

void mlir::moe::nvidia::waitForAsyncCopies(RewriterBase &rewriter,
                                           gpu::GPUFuncOp kernel) {
  if (!kernel
           .walk(
               [](nvgpu::DeviceAsyncCopyOp) { return WalkResult::interrupt(); })
           .wasInterrupted())
    return;
  // A pipeline's last copies (of chunks past the end) may still be in
  // flight: none may outlive the block.
  kernel.walk([&](gpu::ReturnOp ret) {
    rewriter.setInsertionPoint(ret);
    commitAndWait(rewriter, ret.getLoc(), /*pending=*/0);
  });
}
