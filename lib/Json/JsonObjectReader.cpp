//===- JsonObjectReader.cpp - typed, located access to JSON fields --------===//

#include "moe/Json/JsonObjectReader.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringExtras.h"

#include <cmath>

using namespace mlir;
using namespace mlir::moe;

/// A short name of a JSON value's type for messages.
static llvm::StringRef describe(const Json &value) {
  switch (value.type()) {
  case Json::value_t::null:
    return "null";
  case Json::value_t::object:
    return "an object";
  case Json::value_t::array:
    return "an array";
  case Json::value_t::string:
    return "a string";
  case Json::value_t::boolean:
    return "a boolean";
  case Json::value_t::number_integer:
  case Json::value_t::number_unsigned:
    return "an integer";
  case Json::value_t::number_float:
    return "a number with a fraction";
  default:
    return "a value of an unsupported kind";
  }
}

FailureOr<JsonObjectReader> JsonObjectReader::open(const JsonDocument &doc,
                                                   const Json &value,
                                                   llvm::StringRef path) {
  if (!value.is_object()) {
    doc.emitError(path) << "expected an object, got " << describe(value);
    return failure();
  }
  return JsonObjectReader(doc, value, path.str());
}

const Json *JsonObjectReader::lookup(llvm::StringRef key) const {
  auto it = value.find(key.str());
  if (it == value.end() || it->is_null())
    return nullptr;
  return &*it;
}

bool JsonObjectReader::has(llvm::StringRef key) const {
  return lookup(key) != nullptr;
}

const Json *JsonObjectReader::require(llvm::StringRef key) const {
  const Json *field = lookup(key);
  if (!field)
    doc.emitError(path) << "missing required field '" << key << "'";
  return field;
}

/// Reads an integer-valued JSON number into [min, max].
static FailureOr<int64_t> readInt(const JsonObjectReader &reader,
                                  llvm::StringRef key, const Json &field,
                                  int64_t min, int64_t max) {
  int64_t result;
  if (field.is_number_unsigned()) {
    uint64_t u = field.get<uint64_t>();
    if (u > static_cast<uint64_t>(INT64_MAX)) {
      reader.emitError(key) << "value " << u << " does not fit in 64 bits";
      return failure();
    }
    result = static_cast<int64_t>(u);
  } else if (field.is_number_integer()) {
    result = field.get<int64_t>();
  } else {
    reader.emitError(key) << "expected an integer, got " << describe(field);
    return failure();
  }
  if (result < min || result > max) {
    InFlightDiagnostic diag = reader.emitError(key);
    diag << "value " << result << " is out of range: expected ";
    if (max != INT64_MAX)
      diag << "an integer in [" << min << ", " << max << "]";
    else if (min == 1)
      diag << "a positive integer";
    else
      diag << "an integer >= " << min;
    return failure();
  }
  return result;
}

FailureOr<int64_t> JsonObjectReader::getInt(llvm::StringRef key, int64_t min,
                                            int64_t max) const {
  const Json *field = require(key);
  if (!field)
    return failure();
  return readInt(*this, key, *field, min, max);
}

FailureOr<int64_t> JsonObjectReader::getInt(llvm::StringRef key,
                                            int64_t defaultValue, int64_t min,
                                            int64_t max) const {
  const Json *field = lookup(key);
  if (!field)
    return defaultValue;
  return readInt(*this, key, *field, min, max);
}

static FailureOr<double> readNumber(const JsonObjectReader &reader,
                                    llvm::StringRef key, const Json &field) {
  if (!field.is_number()) {
    reader.emitError(key) << "expected a number, got " << describe(field);
    return failure();
  }
  double result = field.get<double>();
  if (!std::isfinite(result)) {
    reader.emitError(key) << "expected a finite number";
    return failure();
  }
  return result;
}

FailureOr<double> JsonObjectReader::getNumber(llvm::StringRef key) const {
  const Json *field = require(key);
  if (!field)
    return failure();
  return readNumber(*this, key, *field);
}

FailureOr<double> JsonObjectReader::getNumber(llvm::StringRef key,
                                              double defaultValue) const {
  const Json *field = lookup(key);
  if (!field)
    return defaultValue;
  return readNumber(*this, key, *field);
}

FailureOr<bool> JsonObjectReader::getBool(llvm::StringRef key,
                                          bool defaultValue) const {
  const Json *field = lookup(key);
  if (!field)
    return defaultValue;
  if (!field->is_boolean()) {
    emitError(key) << "expected true or false, got " << describe(*field);
    return failure();
  }
  return field->get<bool>();
}

static FailureOr<std::string> readString(const JsonObjectReader &reader,
                                         llvm::StringRef key,
                                         const Json &field) {
  if (!field.is_string()) {
    reader.emitError(key) << "expected a string, got " << describe(field);
    return failure();
  }
  return field.get<std::string>();
}

FailureOr<std::string> JsonObjectReader::getString(llvm::StringRef key) const {
  const Json *field = require(key);
  if (!field)
    return failure();
  return readString(*this, key, *field);
}

FailureOr<std::string>
JsonObjectReader::getString(llvm::StringRef key,
                            llvm::StringRef defaultValue) const {
  const Json *field = lookup(key);
  if (!field)
    return defaultValue.str();
  return readString(*this, key, *field);
}

FailureOr<std::string>
JsonObjectReader::getChoice(llvm::StringRef key,
                            llvm::ArrayRef<llvm::StringRef> choices,
                            std::optional<llvm::StringRef> defaultValue) const {
  FailureOr<std::string> result =
      defaultValue ? getString(key, *defaultValue) : getString(key);
  if (failed(result))
    return failure();
  if (llvm::is_contained(choices, *result))
    return result;
  emitError(key) << "unsupported value '" << *result
                 << "'; expected one of: " << llvm::join(choices, ", ");
  return failure();
}

FailureOr<std::vector<int64_t>>
JsonObjectReader::getIntList(llvm::StringRef key, int64_t min,
                             int64_t max) const {
  const Json *field = lookup(key);
  std::vector<int64_t> result;
  if (!field)
    return result;
  if (!field->is_array()) {
    emitError(key) << "expected an array of integers, got " << describe(*field);
    return failure();
  }
  for (auto [index, element] : llvm::enumerate(*field)) {
    // Elements are reported by their own path (`mlp_only_layers[2]`).
    if (!element.is_number_integer()) {
      doc.emitError(jsonPathJoin(pathOf(key), index))
          << "expected an integer, got " << describe(element);
      return failure();
    }
    int64_t v = element.get<int64_t>();
    if (element.is_number_unsigned() &&
        element.get<uint64_t>() > static_cast<uint64_t>(INT64_MAX))
      v = INT64_MAX;
    if (v < min || v > max) {
      doc.emitError(jsonPathJoin(pathOf(key), index))
          << "value " << v << " is out of range [" << min << ", " << max << "]";
      return failure();
    }
    result.push_back(v);
  }
  return result;
}

FailureOr<JsonObjectReader>
JsonObjectReader::getObject(llvm::StringRef key) const {
  const Json *field = require(key);
  if (!field)
    return failure();
  return open(doc, *field, pathOf(key));
}

LogicalResult JsonObjectReader::rejectUnknownFields(
    llvm::ArrayRef<llvm::StringRef> known) const {
  for (auto it = value.begin(); it != value.end(); ++it) {
    if (llvm::is_contained(known, llvm::StringRef(it.key())))
      continue;
    emitError(it.key()) << "unknown field; expected one of: "
                        << llvm::join(known, ", ");
    return failure();
  }
  return success();
}
