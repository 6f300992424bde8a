//===- ImportModel.cpp - JSON text to a verified moe module ---------------===//

#include "moe/Import/Import.h"
#include "moe/Json/JsonDocument.h"

#include "mlir/IR/Verifier.h"

using namespace mlir;
using namespace mlir::moe;

/// Reads either schema from a parsed document and checks it.
static FailureOr<ModelDesc> readDocument(const JsonDocument &doc) {
  const Json &root = doc.root();
  FailureOr<ModelDesc> model = failure();
  if (root.is_object() && root.contains("format")) {
    model = readOwnSchema(doc);
  } else if (root.is_object() && root.contains("model_type")) {
    model = readHuggingFaceConfig(doc);
  } else {
    doc.emitError("") << "expected a JSON object with either 'format': \""
                      << kOwnSchemaFormat
                      << "\" (moe-opt's schema) or 'model_type' (a Hugging "
                         "Face config.json)";
    return failure();
  }
  if (failed(model) || failed(validateModelDesc(*model, doc)))
    return failure();
  mergeSameShapeLayers(*model);
  return model;
}

FailureOr<ModelDesc> mlir::moe::readModelJson(const llvm::SourceMgr &sourceMgr,
                                              MLIRContext *context) {
  std::unique_ptr<JsonDocument> doc = JsonDocument::parse(sourceMgr, context);
  if (!doc)
    return failure();
  return readDocument(*doc);
}

OwningOpRef<ModuleOp>
mlir::moe::importModelJson(const llvm::SourceMgr &sourceMgr,
                           MLIRContext *context) {
  std::unique_ptr<JsonDocument> doc = JsonDocument::parse(sourceMgr, context);
  if (!doc)
    return nullptr;
  FailureOr<ModelDesc> model = readDocument(*doc);
  if (failed(model))
    return nullptr;
  OwningOpRef<ModuleOp> module = buildModule(
      *model, context, [&](llvm::StringRef path) { return doc->locate(path); });
  // The checks above should make this impossible; verifying keeps a gap
  // between them and the op verifiers from producing invalid IR.
  if (failed(verify(*module)))
    return nullptr;
  return module;
}
