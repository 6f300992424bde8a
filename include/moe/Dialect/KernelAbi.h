//===- KernelAbi.h - reading a kernel function's moe.kernel_abi -*- C++ -*-===//
//
// The launch fields moe-distribute-threads adds to moe.kernel_abi (the
// dialect verifies them), read by moe-kernels-to-gpu and the manifest
// writer alike.
//
//===----------------------------------------------------------------------===//

#ifndef MOE_DIALECT_KERNELABI_H
#define MOE_DIALECT_KERNELABI_H

#include "mlir/IR/BuiltinAttributes.h"

#include <array>

namespace mlir::moe {

/// The block (x, y, z) a kernel is launched with: its `block`, or one
/// thread for a kernel moe-distribute-threads did not share out.
inline std::array<int64_t, 3> kernelBlock(DictionaryAttr abi) {
  std::array<int64_t, 3> block = {1, 1, 1};
  if (auto sizes = abi ? abi.getAs<ArrayAttr>("block") : nullptr)
    for (auto [d, size] : llvm::enumerate(sizes))
      if (d < 3)
        block[d] = cast<IntegerAttr>(size).getInt();
  return block;
}

/// The bytes of dynamic shared memory a kernel is launched with: its
/// `shared_memory`, else 0.
inline int64_t kernelSharedMemory(DictionaryAttr abi) {
  auto bytes = abi ? abi.getAs<IntegerAttr>("shared_memory") : nullptr;
  return bytes ? bytes.getInt() : 0;
}

} // namespace mlir::moe

#endif // MOE_DIALECT_KERNELABI_H
