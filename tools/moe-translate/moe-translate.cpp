//===- moe-translate.cpp - JSON model descriptions <-> moe IR -------------===//
//
// mlir-translate's driver, but the output is written atomically (a
// temporary file renamed over the target on success): a failed run leaves no
// partial file and does not clobber an existing one.
//
// --emit-kernels OUT_DIR compiles a JSON model description (or a moe
// dialect module with its moe.layer ops, .mlir) to the kernel
// artifacts of docs/kernel-manifest.md instead (cubin/PTX per chip, host
// library, C header, manifest.json; --emulator: an emulator library per
// chip). --emulator-library OUT.so builds one emulator library from an NVVM
// module (moe-opt --moe-kernels-to-nvvm's output, maybe mutated by hand or
// by --moe-test-mutate-nvvm).
//
//===----------------------------------------------------------------------===//

#include "InputFile.h"
#include "ToolVersion.h"
#include "moe/Emit/EmitKernels.h"
#include "moe/Emit/EmulatorLibrary.h"
#include "moe/Import/Import.h"

#include "mlir/IR/AsmState.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/Verifier.h"
#include "mlir/InitAllDialects.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Support/FileUtilities.h"
#include "mlir/Tools/mlir-translate/Translation.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/Error.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/Process.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/raw_ostream.h"

using namespace mlir;

int main(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  mlir::moe::registerMoeTranslations();
  registerAsmPrinterCLOptions();
  registerMLIRContextCLOptions();
  registerTranslationCLOptions();

  // The tool's own options: --help lists these (and --emit-kernels'), not
  // the ~400 of LLVM's backends linked in.
  llvm::cl::OptionCategory translateCategory("moe-translate options");
  llvm::cl::opt<std::string> inputFilename(
      llvm::cl::Positional, llvm::cl::desc("<input file>"), llvm::cl::init("-"),
      llvm::cl::cat(translateCategory));
  llvm::cl::opt<std::string> outputFilename(
      "o", llvm::cl::desc("Output filename"), llvm::cl::value_desc("filename"),
      llvm::cl::init("-"), llvm::cl::cat(translateCategory));
  llvm::cl::opt<const Translation *, false, TranslationParser> translation(
      llvm::cl::desc("Translation to perform"),
      llvm::cl::cat(translateCategory));
  llvm::cl::OptionCategory emitCategory("Kernel emission (--emit-kernels)");
  llvm::cl::opt<std::string> emitDir(
      "emit-kernels", llvm::cl::value_desc("OUT_DIR"),
      llvm::cl::desc(
          "Compile the JSON model description or moe module to kernels, a host "
          "library, C headers and manifest.json in OUT_DIR"),
      llvm::cl::cat(emitCategory));
  llvm::cl::list<std::string> chips(
      "chips", llvm::cl::CommaSeparated,
      llvm::cl::desc("Target chips of --emit-kernels (default sm_80,sm_90)"),
      llvm::cl::cat(emitCategory));
  llvm::cl::opt<bool> noDeviceCode(
      "no-device-code", llvm::cl::desc("--emit-kernels without GPU code"),
      llvm::cl::cat(emitCategory));
  llvm::cl::opt<bool> noHostLibrary(
      "no-host-library",
      llvm::cl::desc("--emit-kernels without the host libraries (the "
                     "portable one and the CPU form's)"),
      llvm::cl::cat(emitCategory));
  llvm::cl::opt<std::string> cpu(
      "cpu", llvm::cl::init("host"), llvm::cl::value_desc("ISA"),
      llvm::cl::desc("Instruction set of the CPU form's library <fn>.cpu.so: "
                     "host (default), generic, x86-64, x86-64-v2, x86-64-v3, "
                     "x86-64-v4, x86-64-v4+avx512bf16; none: no CPU library"),
      llvm::cl::cat(emitCategory));
  llvm::cl::opt<int64_t> cpuThreads(
      "cpu-threads", llvm::cl::init(1),
      llvm::cl::desc("Threads of the CPU library's kernels: 1 (default) the "
                     "calling thread, N OpenMP threads, 0 OpenMP's default "
                     "(every core); other than 1 it needs libomp.so.5"),
      llvm::cl::cat(emitCategory));
  llvm::cl::list<int64_t> tiles(
      "kernel-tiles", llvm::cl::CommaSeparated,
      llvm::cl::desc("moe-form-kernels tile sizes (route-tokens, "
                     "expert-rows, gate-up-columns, down-columns, "
                     "combine-tokens)"),
      llvm::cl::cat(emitCategory));
  llvm::cl::opt<int64_t> tokensHint(
      "tokens", llvm::cl::init(1),
      llvm::cl::desc("Token count moe-select-tiles chooses the tiles for "
                     "(without --kernel-tiles)"),
      llvm::cl::cat(emitCategory));
  llvm::cl::opt<std::string> tuningFile(
      "tuning-file", llvm::cl::value_desc("FILE.json"),
      llvm::cl::desc("moe-select-tiles overrides per shape"),
      llvm::cl::cat(emitCategory));
  llvm::cl::opt<int64_t> maxTokens("max-tokens", llvm::cl::init(65536),
                                   llvm::cl::desc("The manifest's max_tokens"),
                                   llvm::cl::cat(emitCategory));
  llvm::cl::opt<bool> emulator(
      "emulator",
      llvm::cl::desc("--emit-kernels also builds <fn>.<chip>.emu.so per chip: "
                     "the device code for moert's SIMT emulator"),
      llvm::cl::cat(emitCategory));
  llvm::cl::opt<std::string> emulatorLibrary(
      "emulator-library", llvm::cl::value_desc("OUT.so"),
      llvm::cl::desc("Build the emulator library of an NVVM module (the "
                     "output of moe-opt --moe-kernels-to-nvvm) into OUT.so"),
      llvm::cl::cat(emitCategory));
  llvm::cl::opt<std::string> emulatorChip(
      "chip", llvm::cl::value_desc("CHIP"),
      llvm::cl::desc("--emulator-library: the gpu.module targeting CHIP "
                     "(default: the module's only gpu.module)"),
      llvm::cl::cat(emitCategory));
  llvm::cl::opt<bool> fp8Activations(
      "fp8-activations",
      llvm::cl::desc("fp8 checkpoints (JSON input): kernels that quantize "
                     "each expert GEMM's input per token in groups of 128, "
                     "as the model is served (w8a8); default weight-only"),
      llvm::cl::cat(emitCategory));
  llvm::cl::opt<std::string> cudaPath(
      "cuda-path",
      llvm::cl::desc("CUDA toolkit whose bin/ptxas assembles the cubins "
                     "(default: $CUDA_HOME, $CUDA_PATH, ptxas on PATH, "
                     "/usr/local/cuda; without ptxas, PTX only)"),
      llvm::cl::cat(emitCategory));
  ::moe::setToolVersionPrinter("moe-translate");
  llvm::cl::HideUnrelatedOptions({&translateCategory, &emitCategory});
  llvm::cl::ParseCommandLineOptions(
      argc, argv,
      "moe-translate: JSON model descriptions to and from the moe dialect\n");
  if (!translation && emitDir.empty() && emulatorLibrary.empty()) {
    llvm::errs() << "moe-translate: give a translation, --emit-kernels or "
                    "--emulator-library\n";
    return 1;
  }
  if (!tiles.empty() &&
      (tiles.size() != 5 ||
       llvm::any_of(tiles, [](int64_t t) { return t < 1 || t > 4096; }))) {
    llvm::errs() << "moe-translate: --kernel-tiles takes five sizes in "
                    "[1, 4096]\n";
    return 1;
  }
  if (tokensHint < 1) {
    llvm::errs() << "moe-translate: --tokens must be positive\n";
    return 1;
  }

  std::string error;
  std::unique_ptr<llvm::MemoryBuffer> input =
      mlir::moe::openRegularInputFile(inputFilename, &error);
  if (!input) {
    llvm::errs() << "moe-translate: error: " << error << "\n";
    return 1;
  }
  auto sourceMgr = std::make_shared<llvm::SourceMgr>();
  sourceMgr->AddNewSourceBuffer(std::move(input), llvm::SMLoc());
  MLIRContext context;
  ::moe::quietDiagnostics(context);
  context.allowUnregisteredDialects(false);
  SourceMgrDiagnosticHandler diagnostics(*sourceMgr, &context);

  if (!emulatorLibrary.empty()) {
    DialectRegistry registry;
    registerAllDialects(registry);
    registry.insert<mlir::moe::MoeDialect>();
    context.appendDialectRegistry(registry);
    OwningOpRef<ModuleOp> module =
        parseSourceFile<ModuleOp>(sourceMgr, ParserConfig(&context));
    if (!module)
      return 1;
    // Built beside OUT.so and renamed over it: no partial library.
    std::string partial = emulatorLibrary + ".partial-" +
                          std::to_string(llvm::sys::Process::getProcessId());
    if (failed(
            mlir::moe::buildEmulatorLibrary(*module, emulatorChip, partial))) {
      llvm::sys::fs::remove(partial);
      return 1;
    }
    if (std::error_code ec = llvm::sys::fs::rename(partial, emulatorLibrary)) {
      llvm::errs() << "moe-translate: cannot write " << emulatorLibrary << ": "
                   << ec.message() << "\n";
      llvm::sys::fs::remove(partial);
      return 1;
    }
    return 0;
  }

  if (!emitDir.empty()) {
    DialectRegistry registry;
    registerAllDialects(registry);
    registry.insert<mlir::moe::MoeDialect>();
    context.appendDialectRegistry(registry);
    // A JSON model description, or a moe dialect module (.mlir, as
    // imported or edited): JSON starts with '{'.
    bool isJson = sourceMgr->getMemoryBuffer(sourceMgr->getMainFileID())
                      ->getBuffer()
                      .ltrim()
                      .starts_with("{");
    OwningOpRef<ModuleOp> module;
    if (isJson) {
      FailureOr<mlir::moe::ModelDesc> model =
          mlir::moe::readModelJson(*sourceMgr, &context);
      if (failed(model))
        return 1;
      if (fp8Activations) {
        if (model->quant.format != mlir::moe::QuantDesc::Format::fp8) {
          llvm::errs() << "moe-translate: --fp8-activations applies to fp8 "
                          "checkpoints (quantization_config quant_method "
                          "fp8)\n";
          return 1;
        }
        model->quant.fp8ActivationGroup = 128;
      }
      module = mlir::moe::buildModule(*model, &context);
    } else {
      module = parseSourceFile<ModuleOp>(sourceMgr, ParserConfig(&context));
    }
    if (!module || failed(verify(*module)))
      return 1;
    if (fp8Activations && !isJson) {
      llvm::errs() << "moe-translate: --fp8-activations applies to a JSON "
                      "model; in a module, set the ffn's "
                      "fp8_activation_group\n";
      return 1;
    }
    mlir::moe::EmitKernelsOptions options;
    if (noDeviceCode)
      options.chips.clear();
    else if (!chips.empty())
      options.chips.assign(chips.begin(), chips.end());
    options.hostLibrary = !noHostLibrary;
    options.cpu = cpu == "none" ? std::string() : cpu.getValue();
    options.cpuThreads = cpuThreads;
    options.emulator = emulator;
    options.tiles.assign(tiles.begin(), tiles.end());
    options.maxTokens = maxTokens;
    options.tokens = tokensHint;
    options.tuningFile = tuningFile;
    options.cudaPath = cudaPath;
    // Progress on a terminal only: pipes and logs get the result alone.
    if (llvm::errs().is_displayed())
      options.progress = [](const std::string &step) {
        llvm::errs() << "moe-translate: " << step << "\n";
      };
    return failed(mlir::moe::emitKernels(*module, emitDir, options)) ? 1 : 0;
  }

  // Translate into memory first: nothing touches the output path unless the
  // translation succeeded.
  std::string result;
  llvm::raw_string_ostream os(result);
  if (failed((*translation)(sourceMgr, os, &context)))
    return 1;
  if (llvm::Error e = llvm::writeToOutput(
          outputFilename, [&](llvm::raw_ostream &out) -> llvm::Error {
            out << result;
            return llvm::Error::success();
          })) {
    llvm::errs() << "moe-translate: " << llvm::toString(std::move(e)) << "\n";
    return 1;
  }
  return 0;
}
