//===- KernelMemory.cpp - block temporaries in shared memory or on the stack
//===//
//
// A kernel's per-block temporaries (its top-level memref.alloc) go to
// dynamic shared memory when the block has several threads, else on the
// thread's stack where small enough; the rest stays device malloc.
//
//===----------------------------------------------------------------------===//

#include "Transforms.h"

#include "moe/Conversion/MoeToKernels/KernelBuffers.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"

using namespace mlir;
using namespace mlir::moe;

/// Per-block temporaries up to this size (the bound of their dynamic
/// sizes) live on the thread's stack in a one-thread kernel instead of the
/// device malloc heap.
static constexpr int64_t kMaxStackBytes = 32 * 1024;

/// `alloc` replaced by `buffer` (of its bounded shape) viewed with its
/// dynamic shape, row-major; its deallocations go.
static void replaceByBoundedBuffer(RewriterBase &rewriter,
                                   memref::AllocOp alloc, Value buffer) {
  MemRefType type = alloc.getType();
  Value view = buffer;
  if (!type.hasStaticShape())
    view = buildRowMajorView(rewriter, alloc.getLoc(), buffer, type,
                             alloc.getMixedSizes());
  for (Operation *user : llvm::make_early_inc_range(alloc->getUsers()))
    if (isa<memref::DeallocOp>(user))
      rewriter.eraseOp(user);
  rewriter.replaceOp(alloc, view);
}

/// Places the block temporaries (the `memref.alloc` at the top of
/// `kernel` or of a branch there) of a kernel of several threads in its
/// dynamic shared memory, at the offsets of layoutShared, which `sharedBytes`
/// (moe.kernel_abi's `shared_memory`, what the manifest asks the launch for)
/// must cover. Each is a `memref.view` of the bound, seen through a cast to the
/// generic address space so that its users keep their types.
LogicalResult mlir::moe::nvidia::placeInSharedMemory(RewriterBase &rewriter,
                                                     gpu::GPUFuncOp kernel,
                                                     int64_t sharedBytes) {
  FailureOr<SharedLayout> layout = layoutShared(kernel.getBody().front());
  if (failed(layout))
    return kernel.emitError("a kernel of several threads may allocate only "
                            "bounded buffers at the top of its block body "
                            "or of a branch there");
  if (layout->bytes > sharedBytes)
    return kernel.emitError("the block temporaries do not fit in the ")
           << sharedBytes << " bytes of shared memory of moe.kernel_abi";
  if (layout->allocs.empty())
    return success();
  OpBuilder::InsertionGuard guard(rewriter);
  rewriter.setInsertionPointToStart(&kernel.getBody().front());
  RewriterBase &b = rewriter;
  Location loc = kernel.getLoc();
  auto workgroup = gpu::AddressSpaceAttr::get(
      b.getContext(), gpu::GPUDialect::getWorkgroupAddressSpace());
  Value base = gpu::DynamicSharedMemoryOp::create(
      b, loc,
      MemRefType::get({ShapedType::kDynamic}, b.getI8Type(), AffineMap(),
                      workgroup));
  for (auto [alloc, offset] : llvm::zip(layout->allocs, layout->offsets)) {
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
    replaceByBoundedBuffer(rewriter, alloc, generic);
  }
  return success();
}

/// In a one-thread kernel, replaces each `memref.alloc` at the top of
/// `kernel` (not in a loop, where an alloca would grow the stack per
/// iteration) that has a bounded shape of at most kMaxStackBytes by a
/// `memref.alloca` of the bound. The others stay device malloc.
void mlir::moe::nvidia::placeOnStack(RewriterBase &rewriter,
                                     gpu::GPUFuncOp kernel) {
  SmallVector<memref::AllocOp> allocs(
      kernel.getBody().front().getOps<memref::AllocOp>());
  for (memref::AllocOp alloc : allocs) {
    MemRefType type = alloc.getType();
    std::optional<SmallVector<int64_t>> bound = boundedShape(alloc);
    if (!bound || bufferBytes(*bound, type.getElementType()) > kMaxStackBytes)
      continue;
    rewriter.setInsertionPoint(alloc);
    Value buffer = memref::AllocaOp::create(
        rewriter, alloc.getLoc(),
        MemRefType::get(*bound, type.getElementType()));
    replaceByBoundedBuffer(rewriter, alloc, buffer);
  }
}
