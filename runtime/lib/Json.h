//===- Json.h - nlohmann/json without exceptions ----------------*- C++ -*-===//
//
// The runtime is built with -fno-exceptions, so nlohmann/json is only used
// through its non-throwing entry points: parse with allow_exceptions=false,
// then find()/is_*() before any get<>().
//
//===----------------------------------------------------------------------===//

#ifndef MOERT_JSON_H
#define MOERT_JSON_H

#ifndef JSON_NOEXCEPTION
#define JSON_NOEXCEPTION
#endif
#include <nlohmann/json.hpp>

#include <string>

namespace moert {

using json = nlohmann::json;

/// Parses `text`. On a syntax error returns false and sets `message` to
/// nlohmann's description with the line and column.
bool parseJson(const std::string &text, json &out, std::string &message);

/// "string", "number", ... with integers and floats told apart.
std::string jsonTypeName(const json &value);

} // namespace moert

#endif // MOERT_JSON_H
