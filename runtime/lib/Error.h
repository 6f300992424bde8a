//===- Error.h - A status code with a message -------------------*- C++ -*-===//
//
// The runtime is built without exceptions: every fallible internal function
// returns an Error, which is either success or a moert_status with the text
// that moert_last_error() will show.
//
//===----------------------------------------------------------------------===//

#ifndef MOERT_ERROR_H
#define MOERT_ERROR_H

#include "moert/moert.h"

#include "moe-support/Formula.h"

#include <sstream>
#include <string>
#include <utility>

namespace moert {

class [[nodiscard]] Error {
public:
  /// Success.
  Error() = default;
  Error(moert_status code, std::string message)
      : code_(code), message_(std::move(message)) {}

  /// A formula's failure (moe-support/Formula.h) is a manifest error.
  Error(const moe::support::FormulaStatus &status)
      : code_(status ? MOERT_ERROR_MANIFEST : MOERT_SUCCESS),
        message_(status.message()) {}

  static Error success() { return Error(); }

  /// True for a failure, so `if (Error e = f()) return e;` propagates.
  explicit operator bool() const { return code_ != MOERT_SUCCESS; }

  moert_status code() const { return code_; }
  const std::string &message() const { return message_; }

  /// The same failure with "prefix: " in front of the message.
  Error withPrefix(const std::string &prefix) const {
    if (code_ == MOERT_SUCCESS)
      return *this;
    return Error(code_, prefix + ": " + message_);
  }

private:
  moert_status code_ = MOERT_SUCCESS;
  std::string message_;
};

/// Streams the arguments into one string: str("x=", 3) == "x=3".
template <typename... Args> std::string str(const Args &...args) {
  std::ostringstream os;
  (os << ... << args);
  return os.str();
}

/// A failure whose message is the streamed arguments.
template <typename... Args>
Error makeError(moert_status code, const Args &...args) {
  return Error(code, str(args...));
}

} // namespace moert

#endif // MOERT_ERROR_H
