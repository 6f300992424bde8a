//===- Json.cpp - nlohmann/json without exceptions ------------------------===//

#include "Json.h"

namespace moert {

namespace {

/// A SAX consumer that accepts everything and keeps the first syntax error:
/// nlohmann hands parse_error() the exception object without throwing it.
struct ErrorCollector {
  std::string message;

  bool null() { return true; }
  bool boolean(bool) { return true; }
  bool number_integer(json::number_integer_t) { return true; }
  bool number_unsigned(json::number_unsigned_t) { return true; }
  bool number_float(json::number_float_t, const json::string_t &) {
    return true;
  }
  bool string(json::string_t &) { return true; }
  bool binary(json::binary_t &) { return true; }
  bool start_object(std::size_t) { return true; }
  bool key(json::string_t &) { return true; }
  bool end_object() { return true; }
  bool start_array(std::size_t) { return true; }
  bool end_array() { return true; }
  bool parse_error(std::size_t, const std::string &,
                   const nlohmann::detail::exception &ex) {
    message = ex.what();
    // Drop the "[json.exception.parse_error.101] " tag.
    if (!message.empty() && message[0] == '[') {
      size_t end = message.find("] ");
      if (end != std::string::npos)
        message = message.substr(end + 2);
    }
    return false;
  }
};

} // namespace

bool parseJson(const std::string &text, json &out, std::string &message) {
  out = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!out.is_discarded())
    return true;
  ErrorCollector collector;
  json::sax_parse(text, &collector);
  message = collector.message.empty() ? "invalid JSON" : collector.message;
  return false;
}

std::string jsonTypeName(const json &value) {
  if (value.is_number_integer())
    return "integer";
  if (value.is_number_float())
    return "float";
  return value.type_name();
}

} // namespace moert
