//===- JsonObjectReader.h - typed, located JSON field access ----*- C++ -*-===//
//-*-===//
//
// Reads the fields of one JSON object with type and range checks. Each
// failure is reported once, at the field's location, naming its path; the
// caller only propagates `failure()`.
//
//===----------------------------------------------------------------------===//

#ifndef MOE_JSON_JSONOBJECTREADER_H
#define MOE_JSON_JSONOBJECTREADER_H

#include "moe/Json/JsonDocument.h"

#include "llvm/ADT/ArrayRef.h"

#include <optional>
#include <vector>

namespace mlir::moe {

class JsonObjectReader {
public:
  /// Reads the object at `path`; `value` must be a JSON object (checked by
  /// `JsonObjectReader::open`).
  JsonObjectReader(const JsonDocument &doc, const Json &value, std::string path)
      : doc(doc), value(value), path(std::move(path)) {}

  /// Checks that `value` is an object before reading it.
  static FailureOr<JsonObjectReader>
  open(const JsonDocument &doc, const Json &value, llvm::StringRef path);

  /// The path of a field of this object.
  std::string pathOf(llvm::StringRef key) const {
    return jsonPathJoin(path, key);
  }
  const std::string &getPath() const { return path; }

  /// True when the field is present and not null (HF configs write null for
  /// "not set").
  bool has(llvm::StringRef key) const;

  /// An integer field in [min, max]. Required fields report a missing key.
  FailureOr<int64_t> getInt(llvm::StringRef key, int64_t min = 1,
                            int64_t max = INT64_MAX) const;
  FailureOr<int64_t> getInt(llvm::StringRef key, int64_t defaultValue,
                            int64_t min, int64_t max) const;
  /// A finite number.
  FailureOr<double> getNumber(llvm::StringRef key) const;
  FailureOr<double> getNumber(llvm::StringRef key, double defaultValue) const;
  FailureOr<bool> getBool(llvm::StringRef key, bool defaultValue) const;
  FailureOr<std::string> getString(llvm::StringRef key) const;
  FailureOr<std::string> getString(llvm::StringRef key,
                                   llvm::StringRef defaultValue) const;
  /// A string that must be one of `choices`.
  FailureOr<std::string>
  getChoice(llvm::StringRef key, llvm::ArrayRef<llvm::StringRef> choices,
            std::optional<llvm::StringRef> defaultValue = std::nullopt) const;
  /// An array of integers in [min, max]; absent gives an empty list.
  FailureOr<std::vector<int64_t>> getIntList(llvm::StringRef key, int64_t min,
                                             int64_t max) const;
  /// A nested object.
  FailureOr<JsonObjectReader> getObject(llvm::StringRef key) const;

  /// Reports fields not in `known` as errors (for our own schema, where a
  /// misspelt optional field must not be silently ignored).
  LogicalResult
  rejectUnknownFields(llvm::ArrayRef<llvm::StringRef> known) const;

  InFlightDiagnostic emitError(llvm::StringRef key) const {
    return doc.emitError(pathOf(key));
  }
  InFlightDiagnostic emitObjectError() const { return doc.emitError(path); }

  const Json &json() const { return value; }
  const JsonDocument &document() const { return doc; }

private:
  /// The field, or null (after reporting it missing) for a required field.
  const Json *require(llvm::StringRef key) const;
  const Json *lookup(llvm::StringRef key) const;

  const JsonDocument &doc;
  const Json &value;
  std::string path;
};

} // namespace mlir::moe

#endif // MOE_JSON_JSONOBJECTREADER_H
