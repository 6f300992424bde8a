//===- Passes.h - moe passes ------------------------------------*- C++ -*-===//

#ifndef MOE_TRANSFORMS_PASSES_H
#define MOE_TRANSFORMS_PASSES_H

#include "moe/Dialect/MoeDialect.h"
#include "moe/Target/NVVM/ChipInfo.h"

#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/NVGPU/IR/NVGPUDialect.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/Dialect/X86Vector/X86VectorDialect.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Pass/Pass.h"

namespace mlir::moe {

/// Bytes of block temporaries a kernel may keep in dynamic shared memory:
/// what every chip kernels are built for gives a block (sm_80's limit;
/// sm_90 allows 227 KiB), moe-distribute-threads' default.
constexpr int64_t kKernelSharedMemoryLimit =
    nvidia::kPortableSharedMemoryPerBlock;

/// The part of it the tiles may take (moe-select-tiles, the tensor-core
/// pipeline's stages): the rest is left for a kernel's small temporaries,
/// such as moe-fuse-launches' ticket.
constexpr int64_t kKernelSharedMemoryBudget = 160 * 1024;

#define GEN_PASS_DECL
#include "dialect/Moe/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "dialect/Moe/Passes.h.inc"

/// The pattern that expands moe.layer into its parts.
void populateMoeDecomposeLayerPatterns(RewritePatternSet &patterns);

} // namespace mlir::moe

#endif // MOE_TRANSFORMS_PASSES_H
