//===- JsonDocument.h - JSON that can locate its values --------*- C++ -*-===//
//
// Parses JSON with nlohmann/json (without exceptions: LLVM is built without
// them) and remembers where each value starts, so diagnostics about a field
// point at its line and column and name its path (`ffn_config.moe_top_k`).
//
//===----------------------------------------------------------------------===//

#ifndef MOE_JSON_JSONDOCUMENT_H
#define MOE_JSON_JSONDOCUMENT_H

#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/Location.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/Support/SourceMgr.h"

#include <nlohmann/json.hpp>

#include <memory>
#include <string>

namespace mlir::moe {

using Json = nlohmann::json;

class JsonDocument {
public:
  /// Parses the main buffer of `sourceMgr`. On malformed JSON, reports the
  /// error at its line and column and returns null.
  static std::unique_ptr<JsonDocument> parse(const llvm::SourceMgr &sourceMgr,
                                             MLIRContext *context);

  const Json &root() const { return rootValue; }

  /// The location of the value at `path` (`a.b[2].c`); for a path that is
  /// not in the document, the location of its nearest enclosing value.
  Location locate(llvm::StringRef path) const;

  /// Reports an error about the value at `path`, prefixed by the path.
  InFlightDiagnostic emitError(llvm::StringRef path) const;
  InFlightDiagnostic emitWarning(llvm::StringRef path) const;

  /// The file name the document came from.
  llvm::StringRef getFileName() const { return fileName; }

  MLIRContext *getContext() const { return context; }

private:
  JsonDocument(MLIRContext *context, std::string fileName)
      : context(context), fileName(std::move(fileName)) {}

  MLIRContext *context;
  std::string fileName;
  Json rootValue;
  /// Path -> (line, column) of the value's first character.
  llvm::StringMap<std::pair<unsigned, unsigned>> positions;
};

/// Joins a JSON path and an object key or an array index.
std::string jsonPathJoin(llvm::StringRef parent, llvm::StringRef key);
std::string jsonPathJoin(llvm::StringRef parent, size_t index);

} // namespace mlir::moe

#endif // MOE_JSON_JSONDOCUMENT_H
