//===- Json.h - nlohmann JSON parsing without exceptions --------*- C++ -*-===//
//
// Parses JSON text into an nlohmann DOM through nlohmann's own SAX DOM
// builder, but keeps the parse error (its byte position and message) instead
// of throwing it, since LLVM code is built without exceptions. It also
// refuses nesting deeper than a limit (hostile input must not blow up memory
// or the stack) and, optionally, duplicate keys in an object (nlohmann would
// silently keep the last one). Header-only, part of the support library:
// used by the model importer, the safetensors reader and the runtime's
// manifest reader, all built without exceptions.
//
//===----------------------------------------------------------------------===//

#ifndef MOE_SUPPORT_JSON_H
#define MOE_SUPPORT_JSON_H

#include <nlohmann/json.hpp>

#include <cstring>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace moe::support {

struct JsonParseResult {
  nlohmann::json value;
  /// Set on a syntax error: the byte offset nlohmann reports (just past the
  /// offending token) and its message.
  std::optional<size_t> errorPosition;
  std::string errorMessage;
  /// Set when objects and arrays nest deeper than the limit.
  bool tooDeep = false;
  /// Set to the first repeated key when duplicates are refused.
  std::optional<std::string> duplicateKey;
  /// Set to the offset of a NUL byte: JSON allows none, and nlohmann's lexer
  /// would take it for the end of the input and accept what precedes it.
  std::optional<size_t> nulByte;

  bool ok() const {
    return !errorPosition && !tooDeep && !duplicateKey && !nulByte;
  }

  /// nlohmann's description of the syntax error (with its line and column)
  /// without the "[json.exception.parse_error.101] " tag.
  std::string syntaxError() const {
    if (!errorMessage.empty() && errorMessage[0] == '[') {
      size_t end = errorMessage.find("] ");
      if (end != std::string::npos)
        return errorMessage.substr(end + 2);
    }
    return errorMessage.empty() ? "invalid JSON" : errorMessage;
  }
};

namespace detail {
/// A SAX handler forwarding to nlohmann's DOM builder with the checks above.
class CheckedDomBuilder {
public:
  using Json = nlohmann::json;

  CheckedDomBuilder(JsonParseResult &result, unsigned maxDepth,
                    bool rejectDuplicateKeys)
      : result(result), maxDepth(maxDepth),
        rejectDuplicateKeys(rejectDuplicateKeys),
        dom(result.value, /*allow_exceptions=*/false) {}

  bool null() { return dom.null(); }
  bool boolean(bool v) { return dom.boolean(v); }
  bool number_integer(Json::number_integer_t v) {
    return dom.number_integer(v);
  }
  bool number_unsigned(Json::number_unsigned_t v) {
    return dom.number_unsigned(v);
  }
  bool number_float(Json::number_float_t v, const std::string &s) {
    return dom.number_float(v, s);
  }
  bool string(std::string &v) { return dom.string(v); }
  bool binary(Json::binary_t &v) { return dom.binary(v); }
  bool start_object(std::size_t n) {
    if (!enter())
      return false;
    keysSeen.emplace_back();
    return dom.start_object(n);
  }
  bool key(std::string &k) {
    if (rejectDuplicateKeys && !keysSeen.back().insert(k).second) {
      result.duplicateKey = k;
      return false;
    }
    return dom.key(k);
  }
  bool end_object() {
    keysSeen.pop_back();
    --depth;
    return dom.end_object();
  }
  bool start_array(std::size_t n) { return enter() && dom.start_array(n); }
  bool end_array() {
    --depth;
    return dom.end_array();
  }
  bool parse_error(std::size_t position, const std::string &lastToken,
                   const nlohmann::detail::exception &ex) {
    result.errorPosition = position;
    result.errorMessage = ex.what();
    return dom.parse_error(position, lastToken, ex);
  }

private:
  bool enter() {
    if (++depth <= maxDepth)
      return true;
    result.tooDeep = true;
    return false;
  }

  JsonParseResult &result;
  unsigned maxDepth;
  bool rejectDuplicateKeys;
  unsigned depth = 0;
  std::vector<std::set<std::string>> keysSeen;
  nlohmann::detail::json_sax_dom_parser<Json> dom;
};
} // namespace detail

/// Parses `[begin, end)` as strict JSON.
inline JsonParseResult parseJson(const char *begin, const char *end,
                                 unsigned maxDepth, bool rejectDuplicateKeys) {
  JsonParseResult result;
  if (const void *nul = std::memchr(begin, 0, end - begin)) {
    result.nulByte = static_cast<const char *>(nul) - begin;
    return result;
  }
  detail::CheckedDomBuilder builder(result, maxDepth, rejectDuplicateKeys);
  bool ok = nlohmann::json::sax_parse(begin, end, &builder,
                                      nlohmann::json::input_format_t::json,
                                      /*strict=*/true);
  // A handler that stops the parse without an error of its own (depth,
  // duplicate key) leaves ok false with no position: that is reported by
  // those flags. Anything else that failed is a syntax error at the end.
  if (!ok && result.ok())
    result.errorPosition = static_cast<size_t>(end - begin);
  return result;
}

/// "string", "number", ... with integers and floats told apart.
inline std::string jsonTypeName(const nlohmann::json &value) {
  if (value.is_number_integer())
    return "integer";
  if (value.is_number_float())
    return "float";
  return value.type_name();
}

} // namespace moe::support

#endif // MOE_SUPPORT_JSON_H
