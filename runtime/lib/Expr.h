//===- Expr.h - Size formulas over the token count T ------------*- C++ -*-===//
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
//===----------------------------------------------------------------------===//

#ifndef MOERT_EXPR_H
#define MOERT_EXPR_H

#include "Error.h"

#include <cstdint>
#include <string>
#include <vector>

namespace moert {

class Expr {
public:
  /// The longest formula text accepted, and the deepest nesting.
  static constexpr size_t kMaxLength = 4096;
  static constexpr int kMaxDepth = 64;

  /// The constant 0.
  Expr() : nodes_{Node{Op::Const, 0, -1, -1}}, text_("0") {}
  static Expr constant(int64_t value);

  /// Parses `text`; the error message quotes it but names no location in
  /// the manifest (the caller prefixes that). Status MOERT_ERROR_MANIFEST.
  static Error parse(const std::string &text, Expr &out);

  /// The value at T = tokens.
  Error evaluate(int64_t tokens, int64_t &out) const;

  /// Lower and upper bounds of the value for every T in [lo, hi]. Fails if
  /// some intermediate bound overflows or a ceildiv divisor may be < 1.
  Error bounds(int64_t lo, int64_t hi, int64_t &min, int64_t &max) const;

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

} // namespace moert

#endif // MOERT_EXPR_H
