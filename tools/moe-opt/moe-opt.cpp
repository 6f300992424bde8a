//===- moe-opt.cpp - the moe optimizer driver -----------------------------===//
//
// MlirOptMain with the moe dialect, passes and pipelines registered. An
// input ending in `.json` is a model description: it is imported first (as
// `moe-translate --import-moe-json` would) and the passes run on the result;
// so is JSON text on stdin.
//
//===----------------------------------------------------------------------===//

#include "ToolVersion.h"
#include "moe/Dialect/MoeDialect.h"
#include "moe/Import/Import.h"
#include "moe/Pipelines/Pipelines.h"

#include "mlir/IR/MLIRContext.h"
#include "mlir/InitAllDialects.h"
#include "mlir/InitAllExtensions.h"
#include "mlir/InitAllPasses.h"
#include "mlir/Support/FileUtilities.h"
#include "mlir/Target/LLVMIR/Dialect/All.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"
#include "llvm/Support/Error.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/raw_ostream.h"

using namespace mlir;

/// True for a JSON model description: a `.json` file, or (for stdin) text
/// whose first character opens an object. MLIR text never starts with `{`
/// except for a `{-#` resource block.
static bool isJsonInput(llvm::StringRef filename, llvm::StringRef text) {
  if (filename.ends_with(".json"))
    return true;
  llvm::StringRef start = text.ltrim();
  return start.starts_with("{") && !start.starts_with("{-#");
}

/// Imports a JSON model description and returns its IR as text (with
/// locations, so later diagnostics still point into the JSON file).
static std::unique_ptr<llvm::MemoryBuffer>
importJsonInput(std::unique_ptr<llvm::MemoryBuffer> file,
                DialectRegistry &registry) {
  std::string name = file->getBufferIdentifier().str();
  llvm::SourceMgr sourceMgr;
  sourceMgr.AddNewSourceBuffer(std::move(file), llvm::SMLoc());
  MLIRContext context(registry);
  SourceMgrDiagnosticHandler diagnostics(sourceMgr, &context);
  OwningOpRef<ModuleOp> module =
      mlir::moe::importModelJson(sourceMgr, &context);
  if (!module)
    return nullptr;
  std::string text;
  llvm::raw_string_ostream os(text);
  module->print(os, OpPrintingFlags().enableDebugInfo(/*enable=*/true,
                                                      /*prettyForm=*/false));
  return llvm::MemoryBuffer::getMemBufferCopy(text, name);
}

int main(int argc, char **argv) {
  DialectRegistry registry;
  registerAllDialects(registry);
  registerAllExtensions(registry);
  // gpu-module-to-binary translates the device code to LLVM IR.
  registerAllToLLVMIRTranslations(registry);
  registry.insert<mlir::moe::MoeDialect>();
  registerAllPasses();
  mlir::moe::registerMoePassesAndPipelines();

  ::moe::setToolVersionPrinter("moe-opt");
  auto [inputFilename, outputFilename] = registerAndParseCLIOptions(
      argc, argv,
      "moe-opt: the Mixture-of-Experts optimizer (takes .mlir or a .json "
      "model description)\n",
      registry);
  MlirOptMainConfig config = MlirOptMainConfig::createFromCLOptions();

  std::string error;
  std::unique_ptr<llvm::MemoryBuffer> input =
      openInputFile(inputFilename, &error);
  if (!input) {
    llvm::errs() << error << "\n";
    return 1;
  }
  if (isJsonInput(inputFilename, input->getBuffer())) {
    input = importJsonInput(std::move(input), registry);
    if (!input)
      return 1;
  }

  // Run into memory, then write atomically (temporary file and rename): a
  // failed run leaves no partial file and does not clobber an existing one.
  std::string result;
  llvm::raw_string_ostream os(result);
  if (failed(MlirOptMain(os, std::move(input), registry, config)))
    return 1;
  if (llvm::Error e = llvm::writeToOutput(
          outputFilename, [&](llvm::raw_ostream &out) -> llvm::Error {
            out << result;
            return llvm::Error::success();
          })) {
    llvm::errs() << "moe-opt: " << llvm::toString(std::move(e)) << "\n";
    return 1;
  }
  return 0;
}
