//===- moe-opt.cpp - the moe optimizer driver
//------------------------------===//
//
// MlirOptMain with the moe dialect, passes and pipelines registered. An
// input ending in `.json` is a model description: it is imported first (as
// `moe-translate --import-moe-json` would) and the passes run on the result.
//
//===----------------------------------------------------------------------===//

#include "moe/Dialect/MoeDialect.h"
#include "moe/Import/Import.h"
#include "moe/Transforms/Passes.h"

#include "mlir/IR/MLIRContext.h"
#include "mlir/InitAllDialects.h"
#include "mlir/InitAllExtensions.h"
#include "mlir/InitAllPasses.h"
#include "mlir/Support/FileUtilities.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/ToolOutputFile.h"

using namespace mlir;

/// Imports the JSON model at `filename` and returns its IR as text (with
/// locations, so later diagnostics still point into the JSON file).
static std::unique_ptr<llvm::MemoryBuffer>
importJsonInput(llvm::StringRef filename, DialectRegistry &registry) {
  std::string error;
  std::unique_ptr<llvm::MemoryBuffer> file = openInputFile(filename, &error);
  if (!file) {
    llvm::errs() << error << "\n";
    return nullptr;
  }
  llvm::SourceMgr sourceMgr;
  sourceMgr.AddNewSourceBuffer(std::move(file), llvm::SMLoc());
  MLIRContext context(registry);
  SourceMgrDiagnosticHandler diagnostics(sourceMgr, &context);
  OwningOpRef<ModuleOp> module = moe::importModelJson(sourceMgr, &context);
  if (!module)
    return nullptr;
  std::string text;
  llvm::raw_string_ostream os(text);
  module->print(os, OpPrintingFlags().enableDebugInfo(/*enable=*/true,
                                                      /*prettyForm=*/false));
  return llvm::MemoryBuffer::getMemBufferCopy(text, filename);
}

int main(int argc, char **argv) {
  DialectRegistry registry;
  registerAllDialects(registry);
  registerAllExtensions(registry);
  registry.insert<moe::MoeDialect>();
  registerAllPasses();
  moe::registerMoePassesAndPipelines();

  auto [inputFilename, outputFilename] = registerAndParseCLIOptions(
      argc, argv,
      "moe-opt: the Mixture-of-Experts optimizer (takes .mlir or a .json "
      "model description)\n",
      registry);
  MlirOptMainConfig config = MlirOptMainConfig::createFromCLOptions();

  std::unique_ptr<llvm::MemoryBuffer> input;
  if (llvm::StringRef(inputFilename).ends_with(".json")) {
    input = importJsonInput(inputFilename, registry);
  } else {
    std::string error;
    input = openInputFile(inputFilename, &error);
    if (!input)
      llvm::errs() << error << "\n";
  }
  if (!input)
    return 1;

  // The output is kept only on success: a failed run leaves no file.
  std::string error;
  std::unique_ptr<llvm::ToolOutputFile> output =
      openOutputFile(outputFilename, &error);
  if (!output) {
    llvm::errs() << error << "\n";
    return 1;
  }
  if (failed(MlirOptMain(output->os(), std::move(input), registry, config)))
    return 1;
  output->keep();
  return 0;
}
