//===- moe-translate.cpp - JSON model descriptions <-> moe IR -------------===//
//
// mlir-translate's driver, but the output is written atomically (a
// temporary file renamed over the target on success): a failed run leaves no
// partial file and does not clobber an existing one.
//
//===----------------------------------------------------------------------===//

#include "moe/Import/Import.h"

#include "mlir/IR/AsmState.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Support/FileUtilities.h"
#include "mlir/Tools/mlir-translate/Translation.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/Error.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/raw_ostream.h"

using namespace mlir;

int main(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  moe::registerMoeTranslations();
  registerAsmPrinterCLOptions();
  registerMLIRContextCLOptions();
  registerTranslationCLOptions();

  llvm::cl::opt<std::string> inputFilename(
      llvm::cl::Positional, llvm::cl::desc("<input file>"), llvm::cl::init("-"));
  llvm::cl::opt<std::string> outputFilename(
      "o", llvm::cl::desc("Output filename"), llvm::cl::value_desc("filename"),
      llvm::cl::init("-"));
  llvm::cl::opt<const Translation *, false, TranslationParser> translation(
      llvm::cl::desc("Translation to perform"), llvm::cl::Required);
  llvm::cl::ParseCommandLineOptions(
      argc, argv,
      "moe-translate: JSON model descriptions to and from the moe dialect\n");

  std::string error;
  std::unique_ptr<llvm::MemoryBuffer> input =
      openInputFile(inputFilename, &error);
  if (!input) {
    llvm::errs() << error << "\n";
    return 1;
  }
  auto sourceMgr = std::make_shared<llvm::SourceMgr>();
  sourceMgr->AddNewSourceBuffer(std::move(input), llvm::SMLoc());
  MLIRContext context;
  context.allowUnregisteredDialects(false);
  SourceMgrDiagnosticHandler diagnostics(*sourceMgr, &context);

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
