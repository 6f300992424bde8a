//===- Import.h - JSON descriptions to and from the moe dialect -*- C++ -*-===//
//-*-===//

#ifndef MOE_IMPORT_IMPORT_H
#define MOE_IMPORT_IMPORT_H

#include "moe/Import/ModelDesc.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/raw_ostream.h"

namespace mlir::moe {

/// The `format` value of our own schema (docs/model-schema.md).
inline constexpr llvm::StringLiteral kOwnSchemaFormat = "moe-opt/v1";

/// Reads our own schema.
FailureOr<ModelDesc> readOwnSchema(const JsonDocument &doc);

/// Reads a Hugging Face `config.json`, dispatching on `model_type`.
FailureOr<ModelDesc> readHuggingFaceConfig(const JsonDocument &doc);

/// The Hugging Face `model_type` values readHuggingFaceConfig accepts.
llvm::ArrayRef<llvm::StringRef> supportedModelTypes();

/// Parses, reads (either schema), validates and merges a JSON description.
FailureOr<ModelDesc> readModelJson(const llvm::SourceMgr &sourceMgr,
                                   MLIRContext *context);

/// Builds the module: one func per distinct MoE layer shape, each holding a
/// `moe.layer`, with `moe.model` and `moe.layer_map` on the module.
/// `locate` gives the location of a JSON path (null: unknown locations).
OwningOpRef<ModuleOp>
buildModule(const ModelDesc &model, MLIRContext *context,
            llvm::function_ref<Location(llvm::StringRef)> locate = nullptr);

/// Imports a JSON description into a verified module (diagnostics are
/// emitted through the context).
OwningOpRef<ModuleOp> importModelJson(const llvm::SourceMgr &sourceMgr,
                                      MLIRContext *context);

/// Recovers the description from a module in composite (`moe.layer`) form.
FailureOr<ModelDesc> readModule(ModuleOp module);

/// Writes a description in our own schema.
void writeOwnSchema(const ModelDesc &model, llvm::raw_ostream &os);

/// Registers `--import-moe-json` and `--export-moe-json` with mlir-translate.
void registerMoeTranslations();

} // namespace mlir::moe

#endif // MOE_IMPORT_IMPORT_H
