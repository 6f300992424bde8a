//===- Formula.h - Size formulas over the token count T ---------*- C++ -*-===//
//
// The manifest's formula grammar (docs/kernel-manifest.md):
//
//   expr := term (('+' | '-') term)*
//   term := atom ('*' atom)*
//   atom := INTEGER | 'T' | '(' expr ')' | FUNC '(' expr ',' expr ')'
//   FUNC := 'ceildiv' | 'min' | 'max'
//
// evaluated in signed 64-bit arithmetic where overflow and ceildiv by a
// non-positive value are errors. Besides evaluation at one T, an Expr gives
// bounds over a range of T by interval arithmetic (exact for the monotone
// formulas compilers write, conservative otherwise), which is how the
// runtime validates sizes for every T up to max_tokens and sizes workspaces
// up front without trying each T.
//
// The grammar's one definition: moert parses the manifest's formulas with it
// and the moe dialect's verifier checks the formulas moe-outline-kernels
// writes with it.
//
//===----------------------------------------------------------------------===//

#ifndef MOE_SUPPORT_FORMULA_H
#define MOE_SUPPORT_FORMULA_H

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace moe::support {

/// Success, or why a formula did not parse or evaluate.
class [[nodiscard]] FormulaStatus {
public:
  FormulaStatus() = default;
  explicit FormulaStatus(std::string message)
      : failed_(true), message_(std::move(message)) {}
  static FormulaStatus success() { return FormulaStatus(); }

  /// True for a failure, so `if (auto s = f()) return s;` propagates.
  explicit operator bool() const { return failed_; }
  const std::string &message() const { return message_; }

private:
  bool failed_ = false;
  std::string message_;
};

class Formula {
public:
  /// The longest formula text accepted, and the deepest nesting.
  static constexpr size_t kMaxLength = 4096;
  static constexpr int kMaxDepth = 64;

  /// The constant 0.
  Formula() : nodes_{Node{Op::Const, 0, -1, -1}}, text_("0") {}
  static Formula constant(int64_t value);

  /// Parses `text`; the error message quotes it but names no location (the
  /// caller prefixes that).
  static FormulaStatus parse(const std::string &text, Formula &out);

  /// The value at T = tokens.
  FormulaStatus evaluate(int64_t tokens, int64_t &out) const;

  /// Lower and upper bounds of the value for every T in [lo, hi]. Fails if
  /// some intermediate bound overflows or a ceildiv divisor may be < 1.
  FormulaStatus bounds(int64_t lo, int64_t hi, int64_t &min,
                       int64_t &max) const;

  /// True if the formula does not mention T.
  bool isConstant() const;
  /// True if the formula is exactly `T`.
  bool isTokens() const;
  /// The source text ("4096" for a JSON integer).
  const std::string &text() const { return text_; }

private:
  enum class Op { Const, Tokens, Add, Sub, Mul, CeilDiv, Min, Max };
  struct Node {
    Op op;
    int64_t value; // Const only.
    int lhs, rhs;  // Operand node indices, always below this node's index.
  };
  class Parser;

  // Children precede parents, so one forward pass evaluates the formula and
  // the root is the last node.
  std::vector<Node> nodes_;
  std::string text_;
};

} // namespace moe::support

#endif // MOE_SUPPORT_FORMULA_H
