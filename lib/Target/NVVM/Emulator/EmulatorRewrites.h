//===- EmulatorRewrites.h - one NVVM operation into emulator calls -*- C++
//-*-===//

#ifndef MOE_LIB_TARGET_NVVM_EMULATOR_EMULATORREWRITES_H
#define MOE_LIB_TARGET_NVVM_EMULATOR_EMULATORREWRITES_H

#include "EmulatorApi.h"
#include "PointerSpace.h"

#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Interfaces/DataLayoutInterfaces.h"

#include <optional>

namespace mlir::moe {

/// MOERT_EMU_SREG's code for `nvvm.read.ptx.sreg.<name>`, if emulated.
std::optional<moert_emu_sreg> specialRegister(llvm::StringRef opName);

/// The emulator's type of an mma.sync it can run (m16n8k16 row.col, bf16
/// or f16 multiplicands, f32 accumulators); else an error on `op`.
FailureOr<moert_emu_mma_type> mmaType(NVVM::MmaOp op);

/// Whether `call` is LLVM's e4m3 mma.sync m16n8k32 intrinsic with the
/// operands MmaSync.cpp gives it (4 + 2 i32 registers, four f32
/// accumulators, a struct of four f32); else an error on `call`.
LogicalResult checkE4M3Mma(LLVM::CallIntrinsicOp call);

/// Whether `global` is dynamic shared memory: a zero-sized addrspace(3)
/// array.
bool isDynamicShared(LLVM::GlobalOp global);

/// Rewrites operations one at a time, in the order the sites are to be
/// numbered. plan() every access before the first rewrite(): the origins
/// of pointers are traced in the untouched IR.
class EmulatorRewriter {
public:
  EmulatorRewriter(EmulatorApi &api, const DataLayout &layout)
      : api(api), layout(layout) {}

  void plan(Operation *op, PointerSpaces &spaces);
  void rewrite(Operation *op);

private:
  struct MmaBuffers {
    Value a, b, c, d;
  };
  MmaBuffers buffers(Operation *op);
  /// An mma.sync of `type` (the op's registers A, B, C and its struct of
  /// four f32) into MOERT_EMU_MMA_M16N8K16.
  void rewriteMma(Operation *op, moert_emu_mma_type type, ValueRange a,
                  ValueRange b, ValueRange c);
  void truncateToBF16(LLVM::FPTruncOp op);
  template <typename AtomicOp>
  void rewriteAtomic(OpBuilder &b, AtomicOp op, llvm::StringRef name,
                     Value &site);
  template <typename CopyOp>
  void checkCopy(OpBuilder &b, CopyOp op, llvm::StringRef name, Value &site);
  /// MOERT_EMU_CHECK_ACCESS of `bytes` (an integer value, or the size of a
  /// type) through operand `operand` of `op`, unless that points to the
  /// thread's own memory. `site` is made ("<what> #k ...") if still null.
  void checkAccess(OpBuilder &b, Operation *op, unsigned operand, Value bytes,
                   unsigned flags, llvm::StringRef what, Value &site);
  void checkAccess(OpBuilder &b, Operation *op, unsigned operand, Type type,
                   unsigned flags, llvm::StringRef what, Value &site);
  Value constant(OpBuilder &b, Location loc, Type type, int64_t value);

  EmulatorApi &api;
  const DataLayout &layout;
  llvm::DenseMap<std::pair<Operation *, unsigned>, MemorySpace> spaces;
  llvm::DenseMap<Operation *, MmaBuffers> mmaBuffers;
};

} // namespace mlir::moe

#endif // MOE_LIB_TARGET_NVVM_EMULATOR_EMULATORREWRITES_H
