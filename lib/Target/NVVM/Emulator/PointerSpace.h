//===- PointerSpace.h - which memory an NVVM pointer may point into -*- C++
//-*-===//

#ifndef MOE_LIB_TARGET_NVVM_EMULATOR_POINTERSPACE_H
#define MOE_LIB_TARGET_NVVM_EMULATOR_POINTERSPACE_H

#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "llvm/ADT/DenseMap.h"

namespace mlir::moe {

/// Whether `func` is a GPU kernel (what convert-gpu-to-nvvm marks).
bool isNvvmKernel(LLVM::LLVMFuncOp func);

/// Where a pointer may point: a thread's own memory (an alloca or a
/// malloc), the block's shared memory, global memory (a kernel parameter),
/// or where its origins disagree or cannot be seen.
enum class MemorySpace { Private, Shared, Global, Unknown };

/// Traces pointers back through GEPs, casts, selects, block arguments and
/// the memref descriptors (insertvalue/extractvalue) they travel in.
class PointerSpaces {
public:
  MemorySpace get(Value pointer);

private:
  llvm::DenseMap<Value, MemorySpace> cache;
};

} // namespace mlir::moe

#endif // MOE_LIB_TARGET_NVVM_EMULATOR_POINTERSPACE_H
