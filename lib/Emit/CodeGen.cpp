//===- CodeGen.cpp - host and device code of outlined kernels -------------===//

#include "CodeGen.h"

#include "moe/Conversion/PackedWrapper.h"
#include "moe/Dialect/MoeDialect.h"
#include "moe/Pipelines/OptimizeLlvm.h"
#include "moe/Pipelines/Pipelines.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/GPU/Transforms/Passes.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/InitAllExtensions.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Target/LLVM/NVVM/Target.h"
#include "mlir/Target/LLVMIR/Dialect/All.h"
#include "mlir/Target/LLVMIR/Export.h"
#include "llvm/IR/LegacyPassManager.h"
#include "llvm/IR/Module.h"
#include "llvm/MC/TargetRegistry.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Program.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/Target/TargetMachine.h"
#include "llvm/Target/TargetOptions.h"
#include "llvm/TargetParser/Host.h"

using namespace mlir;
using namespace mlir::moe;

namespace {

/// `_mlir_<symbol>(void **params)` for each kernel: params[i] points to the
/// i-th argument (a pointer or an int64), as cuLaunchKernel's array does.
void addPackedWrappers(ModuleOp module) {
  SmallVector<LLVM::LLVMFuncOp> kernels;
  for (auto func : module.getOps<LLVM::LLVMFuncOp>())
    if (func->hasAttr(MoeDialect::kKernelAbiAttrName))
      kernels.push_back(func);
  for (LLVM::LLVMFuncOp kernel : kernels)
    addPackedWrapper(kernel, ("_mlir_" + kernel.getName()).str());
}

LogicalResult fail(ModuleOp module, const llvm::Twine &message) {
  return emitError(module.getLoc()) << message;
}

} // namespace

LogicalResult mlir::moe::buildHostLibrary(ModuleOp kernels,
                                          llvm::StringRef soPath) {
  OwningOpRef<ModuleOp> module = kernels.clone();
  PassManager pm(module->getContext());
  buildMoeLoopsToLLVMPipeline(pm, /*barePointers=*/true);
  if (failed(pm.run(*module)))
    return fail(kernels, "lowering the kernels for the host failed");
  addPackedWrappers(*module);
  return buildSharedObject(*module, soPath, /*optLevel=*/3);
}

LogicalResult mlir::moe::buildSharedObject(ModuleOp module,
                                           llvm::StringRef soPath,
                                           unsigned optLevel) {
  static bool initialized = [] {
    llvm::InitializeNativeTarget();
    llvm::InitializeNativeTargetAsmPrinter();
    return true;
  }();
  (void)initialized;
  MLIRContext *ctx = module->getContext();
  DialectRegistry registry;
  registerAllToLLVMIRTranslations(registry);
  ctx->appendDialectRegistry(registry);

  llvm::LLVMContext llvmContext;
  std::unique_ptr<llvm::Module> llvmModule =
      translateModuleToLLVMIR(module, llvmContext);
  if (!llvmModule)
    return fail(module, "translating the host code to LLVM IR failed");

  // The process's triple with a generic CPU: the library may run on any
  // machine of this architecture, not only the one that built it.
  llvm::Triple triple(llvm::sys::getProcessTriple());
  std::string error;
  const llvm::Target *target =
      llvm::TargetRegistry::lookupTarget(triple, error);
  if (!target)
    return fail(module, "no LLVM target for the host: " + error);
  std::unique_ptr<llvm::TargetMachine> machine(target->createTargetMachine(
      triple, "generic", "", llvm::TargetOptions(), llvm::Reloc::PIC_,
      std::nullopt, llvm::CodeGenOptLevel::Aggressive));
  llvmModule->setDataLayout(machine->createDataLayout());
  llvmModule->setTargetTriple(triple);
  if (llvm::Error e = optimizeModule(*llvmModule, optLevel, machine.get()))
    return fail(module, llvm::toString(std::move(e)));

  llvm::SmallString<128> objectPath(soPath);
  objectPath += ".o";
  {
    std::error_code ec;
    llvm::raw_fd_ostream os(objectPath, ec);
    if (ec)
      return fail(module, "cannot write " + objectPath + ": " + ec.message());
    llvm::legacy::PassManager codegen;
    if (machine->addPassesToEmitFile(codegen, os, nullptr,
                                     llvm::CodeGenFileType::ObjectFile))
      return fail(module, "LLVM cannot emit a host object file");
    codegen.run(*llvmModule);
  }

  // Linking a shared object is the system linker's job; the C compiler
  // driver knows its flags. $CC overrides "cc".
  const char *cc = std::getenv("CC");
  auto program = llvm::sys::findProgramByName(cc && *cc ? cc : "cc");
  if (!program)
    return fail(module, "no C compiler driver to link "
                        "(set CC): " +
                            program.getError().message());
  llvm::SmallVector<llvm::StringRef> args = {*program, "-shared",  "-o",
                                             soPath,   objectPath, "-lm"};
  std::string message;
  int rc = llvm::sys::ExecuteAndWait(*program, args, std::nullopt, {}, 0, 0,
                                     &message);
  llvm::sys::fs::remove(objectPath);
  if (rc != 0)
    return fail(
        module,
        "linking " + soPath + " failed (" + *program + "): " +
            (message.empty() ? "exit status " + std::to_string(rc) : message));
  return success();
}

FailureOr<OwningOpRef<ModuleOp>>
mlir::moe::lowerKernelsToNVVM(ModuleOp kernels,
                              llvm::ArrayRef<std::string> chips) {
  MLIRContext *ctx = kernels.getContext();
  DialectRegistry registry;
  // convert-gpu-to-nvvm takes its patterns from the dialects' ToLLVM
  // interfaces; gpu-module-to-binary needs the NVVM target and the LLVM IR
  // translations.
  registerAllExtensions(registry);
  registerAllToLLVMIRTranslations(registry);
  NVVM::registerNVVMTargetInterfaceExternalModels(registry);
  ctx->appendDialectRegistry(registry);

  OwningOpRef<ModuleOp> lowered = kernels.clone();
  PassManager pm(ctx);
  buildMoeKernelsToNVVMPipeline(pm, chips);
  if (failed(pm.run(*lowered)))
    return fail(kernels, "lowering the kernels to NVVM failed");
  return lowered;
}

FailureOr<std::map<std::string, DeviceCode>>
mlir::moe::buildDeviceCode(ModuleOp lowered, llvm::ArrayRef<std::string> chips,
                           llvm::StringRef cudaPath) {
  MLIRContext *ctx = lowered.getContext();
  std::map<std::string, DeviceCode> result;
  for (llvm::StringRef format : {"isa", "bin"}) {
    OwningOpRef<ModuleOp> module = lowered.clone();
    PassManager binary(ctx);
    GpuModuleToBinaryPassOptions options;
    options.compilationTarget = format.str();
    options.toolkitPath = cudaPath.str();
    binary.addPass(createGpuModuleToBinaryPass(options));
    if (failed(binary.run(*module)))
      return fail(lowered, "gpu-module-to-binary (" + format + ") failed");
    module->walk([&](gpu::BinaryOp op) {
      for (Attribute attr : op.getObjects()) {
        auto object = cast<gpu::ObjectAttr>(attr);
        auto target = cast<NVVM::NVVMTargetAttr>(object.getTarget());
        DeviceCode &code = result[target.getChip().str()];
        (format == "isa" ? code.ptx : code.cubin) =
            object.getObject().getValue().str();
      }
    });
  }
  for (const std::string &chip : chips)
    if (result[chip].ptx.empty() || result[chip].cubin.empty())
      return fail(lowered, "no code for " + chip);
  return result;
}
