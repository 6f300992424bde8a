//===- Transforms.h - the steps of moe-kernels-to-gpu -----------*- C++ -*-===//
//
// Each step lowers one thing of a kernel that moe-kernels-to-gpu has moved
// into a gpu.func (one file each). They run in this order: block ids,
// memory placement, thread/warp ids (with cp.async and mma.sync), waits,
// fences.
//
//===----------------------------------------------------------------------===//

#ifndef MOE_LIB_TARGET_NVVM_TRANSFORMS_H
#define MOE_LIB_TARGET_NVVM_TRANSFORMS_H

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/PatternMatch.h"

namespace mlir::moe::nvidia {

/// BlockMapping.cpp. `kernel`'s body must hold exactly one scf.forall
/// mapped to blocks at its top; it is replaced by its body, its indices by
/// the block ids they are mapped to.
LogicalResult inlineBlockForall(RewriterBase &rewriter, gpu::GPUFuncOp kernel);

/// BlockMapping.cpp. Every forall of `kernel`, a block of `threads`
/// threads, must be mapped to at most `threads` threads (x) or to all its
/// warps (x), not nested. Each is replaced by its body on the thread ids
/// below its trip count (its staging stores to shared memory becoming
/// cp.async, lowerToAsyncCopies), or on the warp ids with its
/// moe.tensor_core contractions lowered to mma.sync, between barriers: the
/// other threads' writes before it are visible to it, and its writes to
/// what follows.
LogicalResult mapThreadForalls(RewriterBase &rewriter, gpu::GPUFuncOp kernel,
                               int64_t threads);

/// KernelMemory.cpp. For a kernel of several threads: its block
/// temporaries (the memref.alloc at the top of its body, each with a
/// bounded shape) must fit `sharedBytes` at the offsets of layoutShared
/// and no other allocation may be in it; each becomes a memref.view of the
/// dynamic shared memory, seen through a cast to the generic address space.
LogicalResult placeInSharedMemory(RewriterBase &rewriter, gpu::GPUFuncOp kernel,
                                  int64_t sharedBytes);

/// KernelMemory.cpp. For a one-thread kernel: each top-level memref.alloc
/// with a bounded shape of at most 32 KiB becomes a memref.alloca of the
/// bound; the others stay device malloc.
void placeOnStack(RewriterBase &rewriter, gpu::GPUFuncOp kernel);

/// AsyncCopies.cpp. Replaces each moe.async_copy vector.store in `forall`
/// (a thread forall of a GPU kernel) that copies the 16 bytes of a
/// vector.load from global memory into a view of workgroup memory by
/// nvgpu.device_async_copy (cp.async, L1 bypassed), and ends the forall's
/// body with a commit and a wait until at most N groups (the mark's value)
/// are in flight. Other marked stores stay plain vector copies.
void lowerToAsyncCopies(RewriterBase &rewriter, scf::ForallOp forall);

/// AsyncCopies.cpp. Waits for every async copy before `kernel` returns, if
/// it makes any.
void waitForAsyncCopies(RewriterBase &rewriter, gpu::GPUFuncOp kernel);

/// Fences.cpp. Brackets each memref.atomic_rmw of `kernel` with gpu-scope
/// fences.
void fenceAtomics(RewriterBase &rewriter, gpu::GPUFuncOp kernel);

/// DeviceMath.cpp. The math ops of `module`'s kernels as arithmetic that
/// needs no libdevice (expansions, polynomial approximations, bit masks,
/// LLVM's fma); an error for any it cannot lower so.
LogicalResult lowerMathWithoutLibdevice(gpu::GPUModuleOp module);

} // namespace mlir::moe::nvidia

#endif // MOE_LIB_TARGET_NVVM_TRANSFORMS_H
