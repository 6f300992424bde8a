//===- ImportJsonFuzzer.cpp - libFuzzer target: the JSON model importer ---===//
//
// The input is the text of a model description, as `moe-translate
// --import-moe-json fuzz.json` or `moe-opt fuzz.json` would read it: either
// schema (moe-opt's own, "format": "moe-opt/v1", or a Hugging Face
// config.json, "model_type": ...) is picked by the importer from the text.
//
// When the import succeeds the target also checks what the tools rely on:
//  1. the exporter (readModule + writeOwnSchema) accepts the module;
//  2. its JSON imports again and exports to the same text (a fixpoint);
//  3. the module printed with locations, as moe-opt hands it to
//     MlirOptMain, parses and verifies again.
// A broken invariant aborts with "==moe-fuzz== invariant broken".
//
//===----------------------------------------------------------------------===//

#include "MlirFuzzSupport.h"
#include "Mutators.h"

#include "moe/Dialect/MoeDialect.h"
#include "moe/Import/Import.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OperationSupport.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Parser/Parser.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/SourceMgr.h"

#include <cstddef>
#include <cstdint>
#include <string>

using namespace mlir;

static OwningOpRef<ModuleOp>
importText(llvm::StringRef text, llvm::StringRef name, MLIRContext *context) {
  llvm::SourceMgr sourceMgr;
  sourceMgr.AddNewSourceBuffer(llvm::MemoryBuffer::getMemBufferCopy(text, name),
                               llvm::SMLoc());
  return mlir::moe::importModelJson(sourceMgr, context);
}

static std::string exportModule(ModuleOp module, llvm::StringRef stage) {
  FailureOr<mlir::moe::ModelDesc> model = mlir::moe::readModule(module);
  if (failed(model)) {
    std::string ir;
    llvm::raw_string_ostream os(ir);
    module.print(os);
    moefuzz::fail(
        ("the exporter refuses a module the importer built (" + stage + ")")
            .str(),
        ir);
  }
  std::string json;
  llvm::raw_string_ostream os(json);
  mlir::moe::writeOwnSchema(*model, os);
  return json;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  llvm::StringRef text(reinterpret_cast<const char *>(data), size);
  moefuzz::FuzzContext fuzzContext(moefuzz::moeDialects());
  MLIRContext *context = fuzzContext.get();

  OwningOpRef<ModuleOp> module = importText(text, "fuzz.json", context);
  if (!module)
    return 0;

  // 1. Export (moe-translate --export-moe-json).
  std::string exported = exportModule(*module, "first export");

  // 2. The exported description imports again and exports identically.
  OwningOpRef<ModuleOp> again =
      importText(exported, "fuzz.export.json", context);
  if (!again)
    moefuzz::fail("the exported JSON does not import again", exported);
  std::string reexported = exportModule(*again, "second export");
  if (reexported != exported)
    moefuzz::fail("export(import(export)) differs from export",
                  exported + "\n---- versus ----\n" + reexported);

  // 3. moe-opt prints the imported module with its locations and parses it
  // back before running passes; that must work for every imported module.
  std::string ir;
  {
    llvm::raw_string_ostream os(ir);
    module->print(os, OpPrintingFlags().enableDebugInfo(/*enable=*/true,
                                                        /*prettyForm=*/false));
  }
  ParserConfig config(context);
  OwningOpRef<ModuleOp> parsed =
      parseSourceString<ModuleOp>(ir, config, "fuzz.imported.mlir");
  if (!parsed || failed(verify(*parsed)))
    moefuzz::fail("the imported module does not parse back", ir);
  return 0;
}

extern "C" size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size,
                                          size_t maxSize, unsigned seed) {
  return moefuzz::mutateText(data, size, maxSize, seed);
}
