//===- NvvmToEmulator.cpp - the moe-nvvm-to-emulator pass -----------------===//
//
// Rewrites a gpu.module lowered to NVVM into host code calling moert's SIMT
// emulator (moert_emu_abi.h). See Passes.td.
//
// The device code itself stays as it is, so the emulator runs the cubin's
// own arithmetic, indexing and control flow; only what a CPU thread cannot
// do alone (special registers, barriers, warp-wide mma.sync, cp.async,
// shared memory) becomes a call, plus a check before each memory access.
//
// Address spaces stay on the pointers: LLVM's x86 backend compiles loads,
// stores and casts of addrspace(1) and (3) as plain ones (llc-22, checked),
// and keeping them keeps the IR next to the cubin's. The checks take their
// memory space from the pointer's origin (PointerSpace.h), not its type.
//
//===----------------------------------------------------------------------===//

#include "EmulatorApi.h"
#include "EmulatorRewrites.h"
#include "PointerSpace.h"

#include "moe/Conversion/PackedWrapper.h"
#include "moe/Target/NVVM/ChipInfo.h"
#include "moe/Target/NVVM/NvvmToEmulator.h"
#include "moe/Transforms/Passes.h"

#include "mlir/Interfaces/DataLayoutInterfaces.h"
#include "llvm/ADT/StringSet.h"

namespace mlir::moe {
#define GEN_PASS_DEF_MOENVVMTOEMULATOR
#include "dialect/Moe/Passes.h.inc"
} // namespace mlir::moe

using namespace mlir;
using namespace mlir::moe;

namespace {

constexpr llvm::StringLiteral kPassName = "moe-nvvm-to-emulator: ";

/// libdevice functions whose C library namesake computes the same function
/// (`__nv_<f>` -> `<f>`). Not bit for bit: glibc's are correctly rounded
/// where libdevice's are within a few ulp.
const llvm::StringSet<> &libmFunctions() {
  static const llvm::StringSet<> names = [] {
    llvm::StringSet<> set;
    for (llvm::StringRef f :
         {"exp",   "exp2",  "expm1",   "log",   "log2",      "log10", "log1p",
          "sqrt",  "cbrt",  "pow",     "hypot", "sin",       "cos",   "tan",
          "asin",  "acos",  "atan",    "atan2", "sinh",      "cosh",  "tanh",
          "asinh", "acosh", "atanh",   "erf",   "erfc",      "fabs",  "floor",
          "ceil",  "trunc", "round",   "rint",  "nearbyint", "fmod",  "fma",
          "fmin",  "fmax",  "copysign"}) {
      set.insert(f);
      set.insert((f + "f").str());
    }
    return set;
  }();
  return names;
}

/// Whether `op` is an NVVM operation this pass rewrites; if not, says why.
LogicalResult checkSupported(Operation *op) {
  if (auto mma = dyn_cast<NVVM::MmaOp>(op))
    return success(succeeded(mmaType(mma)));
  if (auto barrier = dyn_cast<NVVM::BarrierOp>(op)) {
    if (barrier->getNumOperands() || barrier.getReductionOp())
      return op->emitError(kPassName)
             << "no emulation of nvvm.barrier with a barrier id, thread "
                "count or reduction";
    return success();
  }
  if (op->getName().getStringRef().starts_with("nvvm.read.ptx.sreg.")) {
    if (!specialRegister(op->getName().getStringRef()))
      return op->emitError(kPassName) << "no emulation of " << op->getName();
    if (!op->getResult(0).getType().isInteger(32))
      return op->emitError(kPassName)
             << op->getName() << " with a result other than i32";
    return success();
  }
  if (isa<NVVM::Barrier0Op, NVVM::CpAsyncOp, NVVM::CpAsyncCommitGroupOp,
          NVVM::CpAsyncWaitGroupOp, NVVM::MembarOp, NVVM::FenceScClusterOp>(op))
    return success();
  return op->emitError(kPassName) << "no emulation of " << op->getName();
}

/// Everything the rewrite cannot handle, reported before it starts.
LogicalResult checkModule(Operation *module) {
  if (SymbolTable::lookupSymbolIn(module, MOERT_EMU_API_SYMBOL))
    return module->emitError(kPassName) << "the module is converted already";
  bool ok = true;
  module->walk([&](Operation *op) {
    if (isa_and_nonnull<NVVM::NVVMDialect>(op->getDialect()) &&
        failed(checkSupported(op)))
      ok = false;
    if (auto intrinsic = dyn_cast<LLVM::CallIntrinsicOp>(op);
        intrinsic && intrinsic.getIntrin().starts_with("llvm.nvvm.") &&
        failed(checkE4M3Mma(intrinsic)))
      ok = false;
    if (auto call = dyn_cast<LLVM::CallOp>(op)) {
      std::optional<StringRef> callee = call.getCallee();
      if (callee && callee->starts_with("__nv_") &&
          !libmFunctions().contains(callee->drop_front(5))) {
        op->emitError(kPassName)
            << "no emulation of libdevice function " << *callee;
        ok = false;
      }
    }
    if (auto global = dyn_cast<LLVM::GlobalOp>(op);
        global && global.getAddrSpace() == 3 && !isDynamicShared(global)) {
      op->emitError(kPassName)
          << "no emulation of static shared memory (@" << global.getSymName()
          << "): only dynamic shared memory (a zero-sized array) is emulated";
      ok = false;
    }
  });
  return success(ok);
}

/// `__nv_<f>` -> `<f>`, or erased where nothing calls it.
void replaceLibdevice(Operation *module) {
  SymbolTable symbols(module);
  for (auto func : llvm::make_early_inc_range(
           module->getRegion(0).front().getOps<LLVM::LLVMFuncOp>())) {
    StringRef name = func.getName();
    if (!name.starts_with("__nv_"))
      continue;
    StringRef libm = name.drop_front(5);
    if (!libmFunctions().contains(libm) ||
        SymbolTable::symbolKnownUseEmpty(func, module)) {
      func.erase(); // checkModule refused the calls of the others
      continue;
    }
    auto libmAttr = StringAttr::get(module->getContext(), libm);
    if (failed(SymbolTable::replaceAllSymbolUses(func, libmAttr, module)))
      llvm_unreachable("symbol uses are visible in an LLVM module");
    if (symbols.lookup(libm))
      func.erase();
    else
      symbols.setSymbolName(func, libmAttr);
  }
}

/// Kernels become internal functions the runtime reaches through
/// `__moe_emu_kernel_<symbol>`, device functions internal ones (the library
/// exports only moert_emu_abi.h's symbols); nothing NVVM-specific stays on
/// functions.
void exportKernels(Operation *module) {
  for (auto func : llvm::to_vector(
           module->getRegion(0).front().getOps<LLVM::LLVMFuncOp>())) {
    bool kernel = isNvvmKernel(func);
    for (NamedAttribute attr : llvm::to_vector(func->getDiscardableAttrs()))
      if (attr.getName().strref().starts_with("gpu.") ||
          attr.getName().strref().starts_with("nvvm."))
        func->removeDiscardableAttr(attr.getName());
    for (unsigned i = 0, e = func.getNumArguments(); i < e; ++i)
      if (DictionaryAttr attrs = func.getArgAttrDict(i))
        for (NamedAttribute attr : attrs)
          if (attr.getName().strref().starts_with("nvvm."))
            func.removeArgAttr(i, attr.getName());
    if (func.getCConv() == LLVM::cconv::CConv::PTX_Kernel)
      func.setCConv(LLVM::cconv::CConv::C);
    if (func.isExternal())
      continue;
    func.setLinkage(LLVM::Linkage::Internal);
    if (kernel)
      addPackedWrapper(func, (MOERT_EMU_KERNEL_PREFIX + func.getName()).str());
  }
}

struct MoeNvvmToEmulatorPass
    : moe::impl::MoeNvvmToEmulatorBase<MoeNvvmToEmulatorPass> {
  using Base::Base;

  void runOnOperation() override {
    gpu::GPUModuleOp module = getOperation();
    if (!chip.empty() && !targetsChip(module, chip))
      return;
    if (failed(convertNvvmToEmulator(module)))
      signalPassFailure();
  }
};

} // namespace

bool mlir::moe::targetsChip(gpu::GPUModuleOp module, llvm::StringRef chip) {
  ArrayAttr targets = module.getTargetsAttr();
  return targets && llvm::any_of(targets, [&](Attribute target) {
           auto nvvm = dyn_cast<NVVM::NVVMTargetAttr>(target);
           return nvvm && nvvm.getChip() == chip;
         });
}

LogicalResult mlir::moe::convertNvvmToEmulator(Operation *module) {
  if (failed(checkModule(module)))
    return failure();
  SmallVector<Operation *> ops;
  module->walk([&](Operation *op) {
    if (isa_and_nonnull<NVVM::NVVMDialect>(op->getDialect()) ||
        isa<LLVM::LoadOp, LLVM::StoreOp, LLVM::AtomicRMWOp,
            LLVM::AtomicCmpXchgOp, LLVM::FenceOp, LLVM::MemcpyOp,
            LLVM::MemmoveOp, LLVM::MemsetOp, LLVM::AddressOfOp,
            LLVM::FPTruncOp>(op))
      ops.push_back(op);
    else if (auto call = dyn_cast<LLVM::CallIntrinsicOp>(op);
             call && call.getIntrin() == nvidia::kE4M3MmaIntrinsic)
      ops.push_back(op);
  });
  EmulatorApi api(module);
  // A detached gpu.module (the emulator library's clone) has the default
  // layout; DataLayout::closest needs a parent.
  DataLayout layout =
      module->getParentOp() ? DataLayout::closest(module) : DataLayout();
  EmulatorRewriter rewriter(api, layout);
  // Trace every access's pointer before anything moves: the kernels'
  // attributes and the shared-memory addressofs tell where they point.
  PointerSpaces spaces;
  for (Operation *op : ops)
    rewriter.plan(op, spaces);
  for (Operation *op : ops)
    rewriter.rewrite(op);
  for (auto global : llvm::make_early_inc_range(
           module->getRegion(0).front().getOps<LLVM::GlobalOp>()))
    if (isDynamicShared(global))
      global.erase();
  replaceLibdevice(module);
  exportKernels(module);
  api.finish();
  return success();
}
