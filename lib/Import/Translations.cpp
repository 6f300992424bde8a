//===- Translations.cpp - moe-translate's import and export ---------------===//

#include "moe/Dialect/MoeDialect.h"
#include "moe/Import/Import.h"

#include "mlir/Tools/mlir-translate/Translation.h"

using namespace mlir;
using namespace mlir::moe;

static void registerDialects(DialectRegistry &registry) {
  registry.insert<MoeDialect, func::FuncDialect, arith::ArithDialect,
                  tensor::TensorDialect>();
}

void mlir::moe::registerMoeTranslations() {
  TranslateToMLIRRegistration importJson(
      "import-moe-json",
      "import a JSON model description (moe-opt's schema or a Hugging Face "
      "config.json) into the moe dialect",
      [](llvm::SourceMgr &sourceMgr,
         MLIRContext *context) -> OwningOpRef<Operation *> {
        return importModelJson(sourceMgr, context);
      },
      registerDialects);

  TranslateFromMLIRRegistration exportJson(
      "export-moe-json",
      "export a moe dialect module (composite moe.layer form) as moe-opt's "
      "JSON schema",
      [](Operation *op, llvm::raw_ostream &os) -> LogicalResult {
        auto module = dyn_cast<ModuleOp>(op);
        if (!module)
          return op->emitError() << "expected a builtin.module";
        FailureOr<ModelDesc> model = readModule(module);
        if (failed(model))
          return failure();
        writeOwnSchema(*model, os);
        return success();
      },
      registerDialects);
}
