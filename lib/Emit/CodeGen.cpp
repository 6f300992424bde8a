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
#include "llvm/Support/FileUtilities.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Program.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/Target/TargetMachine.h"
#include "llvm/Target/TargetOptions.h"
#include "llvm/TargetParser/Host.h"

#include <cstdlib>

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
                                          llvm::StringRef soPath,
                                          const HostCode &code) {
  OwningOpRef<ModuleOp> module = kernels.clone();
  PassManager pm(module->getContext());
  buildMoeLoopsToLLVMPipeline(pm, /*barePointers=*/true,
                              /*genericAllocation=*/false, code.threads);
  if (failed(pm.run(*module)))
    return fail(kernels, "lowering the kernels for the host failed");
  addPackedWrappers(*module);
  return buildSharedObject(*module, soPath, /*optLevel=*/3, code);
}

LogicalResult mlir::moe::buildSharedObject(ModuleOp module,
                                           llvm::StringRef soPath,
                                           unsigned optLevel,
                                           const HostCode &code) {
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

  // The process's triple with the CPU asked for (by default a generic one:
  // the library may run on any machine of this architecture, not only the
  // one that built it).
  llvm::Triple triple(llvm::sys::getProcessTriple());
  std::string error;
  const llvm::Target *target =
      llvm::TargetRegistry::lookupTarget(triple, error);
  if (!target)
    return fail(module, "no LLVM target for the host: " + error);
  std::unique_ptr<llvm::TargetMachine> machine(target->createTargetMachine(
      triple, code.cpu, code.features, llvm::TargetOptions(), llvm::Reloc::PIC_,
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
  if (code.threads != 1)
    args.push_back(MOE_LIBOMP);
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

std::optional<std::string> mlir::moe::findPtxas(llvm::StringRef cudaPath) {
  auto inToolkit = [](llvm::StringRef root) -> std::optional<std::string> {
    llvm::SmallString<256> path(root);
    llvm::sys::path::append(path, "bin", "ptxas");
    if (llvm::sys::fs::can_execute(path))
      return std::string(path);
    return std::nullopt;
  };
  if (!cudaPath.empty())
    return inToolkit(cudaPath);
  for (const char *variable : {"CUDA_HOME", "CUDA_PATH"})
    if (const char *root = std::getenv(variable); root && *root)
      return inToolkit(root);
  if (llvm::ErrorOr<std::string> onPath = llvm::sys::findProgramByName("ptxas"))
    return *onPath;
  return inToolkit("/usr/local/cuda");
}

/// `ptx` assembled for `chip` by `ptxas` (-O3, as gpu-module-to-binary
/// would); its log in the error.
static FailureOr<std::string> assemble(ModuleOp lowered, const std::string &ptx,
                                       llvm::StringRef chip,
                                       const std::string &ptxas) {
  llvm::SmallString<128> ptxFile, cubinFile, logFile;
  for (auto [suffix, path] :
       {std::pair{"ptx", &ptxFile}, std::pair{"cubin", &cubinFile},
        std::pair{"log", &logFile}})
    if (std::error_code ec =
            llvm::sys::fs::createTemporaryFile("moe-kernels", suffix, *path))
      return fail(lowered, "cannot create a temporary file: " + ec.message());
  llvm::FileRemover removePtx(ptxFile), removeCubin(cubinFile),
      removeLog(logFile);
  {
    std::error_code ec;
    llvm::raw_fd_ostream out(ptxFile, ec);
    if (ec)
      return fail(lowered, "cannot write " + ptxFile + ": " + ec.message());
    out << ptx;
  }
  llvm::StringRef args[] = {ptxas, "-arch",   chip,          ptxFile,
                            "-o",  cubinFile, "--opt-level", "3"};
  std::optional<llvm::StringRef> redirects[] = {std::nullopt, logFile.str(),
                                                logFile.str()};
  std::string message;
  if (llvm::sys::ExecuteAndWait(ptxas, args, std::nullopt, redirects, 0, 0,
                                &message) != 0) {
    auto log = llvm::MemoryBuffer::getFile(logFile);
    return fail(lowered, "ptxas (" + ptxas + ") failed for " + chip + ": " +
                             (log ? (*log)->getBuffer().str() : message));
  }
  auto cubin = llvm::MemoryBuffer::getFile(cubinFile, /*IsText=*/false);
  if (!cubin)
    return fail(lowered, "ptxas wrote no cubin for " + chip);
  return (*cubin)->getBuffer().str();
}

FailureOr<std::map<std::string, DeviceCode>>
mlir::moe::buildDeviceCode(ModuleOp lowered, llvm::ArrayRef<std::string> chips,
                           const std::optional<std::string> &ptxas) {
  MLIRContext *ctx = lowered.getContext();
  std::map<std::string, DeviceCode> result;
  OwningOpRef<ModuleOp> module = lowered.clone();
  PassManager binary(ctx);
  GpuModuleToBinaryPassOptions options;
  options.compilationTarget = "isa";
  binary.addPass(createGpuModuleToBinaryPass(options));
  // The NVVM target looks for libdevice in the toolkit that CUDA_ROOT,
  // CUDA_HOME or CUDA_PATH names, and reports an error when that toolkit
  // lacks it; the kernels call nothing of it, so the lookup is kept from
  // happening (restored after; nothing else runs meanwhile).
  std::vector<std::pair<const char *, std::string>> saved;
  for (const char *variable : {"CUDA_ROOT", "CUDA_HOME", "CUDA_PATH"})
    if (const char *value = std::getenv(variable)) {
      saved.emplace_back(variable, value);
      ::unsetenv(variable);
    }
  LogicalResult ran = binary.run(*module);
  for (auto &[variable, value] : saved)
    ::setenv(variable, value.c_str(), /*overwrite=*/1);
  if (failed(ran))
    return fail(lowered, "gpu-module-to-binary (PTX) failed");
  module->walk([&](gpu::BinaryOp op) {
    for (Attribute attr : op.getObjects()) {
      auto object = cast<gpu::ObjectAttr>(attr);
      auto target = cast<NVVM::NVVMTargetAttr>(object.getTarget());
      result[target.getChip().str()].ptx = object.getObject().getValue().str();
    }
  });
  for (const std::string &chip : chips) {
    DeviceCode &code = result[chip];
    if (code.ptx.empty())
      return fail(lowered, "no code for " + chip);
    if (!ptxas)
      continue;
    FailureOr<std::string> cubin = assemble(lowered, code.ptx, chip, *ptxas);
    if (failed(cubin))
      return failure();
    code.cubin = std::move(*cubin);
  }
  return result;
}
