//===- MlirFuzzer.cpp - libFuzzer target: moe-opt's MLIR path -------------===//
//
// The input is MLIR text, as `moe-opt fuzz.mlir` would read it, with the moe
// dialect and the upstream dialects its IR uses (func, arith, tensor)
// registered. The text is parsed and verified; a module that verifies is
//  1. printed and parsed again, in the custom and the generic form (the
//     round trip test/Dialect/Moe/ops.mlir checks on its examples), when it
//     holds moe ops;
//  2. exported when it carries the moe.model attributes (as
//     `moe-translate --export-moe-json` does; refusals are fine);
//  3. run through moe-decompose-layer, which must succeed and leave IR that
//     verifies, since the moe.layer verifier promises everything the
//     decomposition needs;
//  4. then through convert-moe-to-linalg (as moe-opt's pipelines do), which
//     may refuse the IR but must not crash or produce IR that fails to
//     verify.
// A broken invariant aborts with "==moe-fuzz== invariant broken".
//
//===----------------------------------------------------------------------===//

#include "MlirFuzzSupport.h"
#include "Mutators.h"

#include "moe/Dialect/MoeDialect.h"
#include "moe/Dialect/MoeOps.h"
#include "moe/Import/Import.h"
#include "moe/Transforms/Passes.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OperationSupport.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"

#include <cstddef>
#include <cstdint>
#include <string>

using namespace mlir;

static std::string print(Operation *op, bool generic) {
  std::string text;
  llvm::raw_string_ostream os(text);
  OpPrintingFlags flags;
  if (generic)
    flags.printGenericOpForm();
  op->print(os, flags);
  return text;
}

static bool hasMoeOps(ModuleOp module) {
  bool found = false;
  module.walk([&](Operation *op) {
    if (isa<mlir::moe::MoeDialect>(op->getDialect())) {
      found = true;
      return WalkResult::interrupt();
    }
    return WalkResult::advance();
  });
  return found;
}

/// The module printed in one form parses, verifies and prints identically.
static void checkRoundTrip(ModuleOp module, MLIRContext *context,
                           bool generic) {
  std::string text = print(module, generic);
  ParserConfig config(context);
  OwningOpRef<ModuleOp> again =
      parseSourceString<ModuleOp>(text, config, "fuzz.printed.mlir");
  if (!again)
    moefuzz::fail(generic ? "the generic form does not parse back"
                          : "the custom form does not parse back",
                  text);
  std::string second = print(*again, generic);
  if (second != text)
    moefuzz::fail("printing is not stable across a round trip",
                  text + "\n---- versus ----\n" + second);
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  // MLIR's lexer relies on the NUL after the buffer that every file read
  // through MemoryBuffer (as moe-opt reads its input) has; std::string has
  // one too, libFuzzer's exactly sized `data` does not.
  std::string text(reinterpret_cast<const char *>(data), size);
  moefuzz::FuzzContext fuzzContext(moefuzz::moeDialects());
  MLIRContext *context = fuzzContext.get();

  ParserConfig config(context); // verifies after parsing
  OwningOpRef<ModuleOp> module =
      parseSourceString<ModuleOp>(text, config, "fuzz.mlir");
  if (!module || failed(verify(*module)))
    return 0;

  // 1. Printer and parser agree on moe ops and attributes.
  if (hasMoeOps(*module)) {
    checkRoundTrip(*module, context, /*generic=*/false);
    checkRoundTrip(*module, context, /*generic=*/true);
  }

  // 2. The exporter either refuses the module or writes a description.
  if ((*module)->hasAttr(mlir::moe::MoeDialect::kModelAttrName) ||
      (*module)->hasAttr(mlir::moe::MoeDialect::kLayerMapAttrName)) {
    FailureOr<mlir::moe::ModelDesc> model = mlir::moe::readModule(*module);
    if (succeeded(model))
      mlir::moe::writeOwnSchema(*model, llvm::nulls());
  }

  // 3. moe-decompose-layer succeeds and leaves valid IR.
  std::string before = print(*module, /*generic=*/false);
  {
    PassManager pm(context);
    pm.enableVerifier(false); // checked below, to tell the two apart
    pm.addPass(mlir::moe::createMoeDecomposeLayer());
    if (failed(pm.run(*module)))
      moefuzz::fail("moe-decompose-layer fails on verified IR", before);
    if (failed(verify(*module)))
      moefuzz::fail("moe-decompose-layer produces IR that does not verify",
                    before);
  }

  // 4. convert-moe-to-linalg (the first step of moe-opt's CPU pipeline) may
  // refuse the IR, but what it produces when it succeeds must verify.
  {
    PassManager pm(context);
    pm.enableVerifier(false);
    pm.addPass(mlir::moe::createConvertMoeToLinalg());
    if (succeeded(pm.run(*module)) && failed(verify(*module)))
      moefuzz::fail("convert-moe-to-linalg produces IR that does not verify",
                    before);
  }
  return 0;
}

extern "C" size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size,
                                          size_t maxSize, unsigned seed) {
  return moefuzz::mutateText(data, size, maxSize, seed);
}
