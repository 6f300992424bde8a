//===- Fences.cpp - gpu-scope fences around atomics -----------------------===//

#include "Transforms.h"

#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"

using namespace mlir;

void mlir::moe::nvidia::fenceAtomics(RewriterBase &rewriter,
                                     gpu::GPUFuncOp kernel) {
  kernel.walk([&](memref::AtomicRMWOp atomic) {
    rewriter.setInsertionPoint(atomic);
    NVVM::MembarOp::create(rewriter, atomic.getLoc(), NVVM::MemScopeKind::GPU);
    rewriter.setInsertionPointAfter(atomic);
    NVVM::MembarOp::create(rewriter, atomic.getLoc(), NVVM::MemScopeKind::GPU);
  });
}
