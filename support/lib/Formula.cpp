//===- Formula.cpp - Size formulas over the token count T -----------------===//

#include "moe-support/Formula.h"

#include <algorithm>
#include <cctype>
#include <sstream>

namespace moe::support {

namespace {

/// Streams the arguments into one string: str("x=", 3) == "x=3".
template <typename... Args> std::string str(const Args &...args) {
  std::ostringstream os;
  (os << ... << args);
  return os.str();
}

bool checkedAdd(int64_t a, int64_t b, int64_t &out) {
  return !__builtin_add_overflow(a, b, &out);
}
bool checkedSub(int64_t a, int64_t b, int64_t &out) {
  return !__builtin_sub_overflow(a, b, &out);
}
bool checkedMul(int64_t a, int64_t b, int64_t &out) {
  return !__builtin_mul_overflow(a, b, &out);
}
/// ceil(a / b) for b > 0; cannot overflow.
int64_t ceilDiv(int64_t a, int64_t b) { return a / b + (a % b > 0 ? 1 : 0); }

std::string quoted(const std::string &text) { return "\"" + text + "\""; }

} // namespace

class Formula::Parser {
public:
  Parser(const std::string &text, Formula &expr) : text(text), expr(expr) {}

  FormulaStatus parseAll() {
    int root;
    if (FormulaStatus e = parseExpr(root, 0))
      return e;
    skipSpace();
    if (pos != text.size())
      return fail(str("unexpected '", text[pos], "' at offset ", pos));
    return FormulaStatus::success();
  }

private:
  const std::string &text;
  Formula &expr;
  size_t pos = 0;

  FormulaStatus fail(const std::string &what) const {
    return FormulaStatus(what + " in " + quoted(text));
  }

  void skipSpace() {
    while (pos < text.size() && (text[pos] == ' ' || text[pos] == '\t'))
      ++pos;
  }

  bool consume(char c) {
    skipSpace();
    if (pos < text.size() && text[pos] == c) {
      ++pos;
      return true;
    }
    return false;
  }

  FormulaStatus expect(char c) {
    if (consume(c))
      return FormulaStatus::success();
    if (pos >= text.size())
      return fail(str("expected '", c, "' at the end"));
    return fail(
        str("expected '", c, "' at offset ", pos, ", found '", text[pos], "'"));
  }

  int add(Op op, int64_t value, int lhs, int rhs) {
    expr.nodes_.push_back(Node{op, value, lhs, rhs});
    return int(expr.nodes_.size()) - 1;
  }

  FormulaStatus parseExpr(int &out, int depth) {
    if (depth > kMaxDepth)
      return fail(str("nesting deeper than ", kMaxDepth));
    if (FormulaStatus e = parseTerm(out, depth))
      return e;
    for (;;) {
      Op op;
      if (consume('+'))
        op = Op::Add;
      else if (consume('-'))
        op = Op::Sub;
      else
        return FormulaStatus::success();
      int rhs;
      if (FormulaStatus e = parseTerm(rhs, depth))
        return e;
      out = add(op, 0, out, rhs);
    }
  }

  FormulaStatus parseTerm(int &out, int depth) {
    if (FormulaStatus e = parseAtom(out, depth))
      return e;
    while (consume('*')) {
      int rhs;
      if (FormulaStatus e = parseAtom(rhs, depth))
        return e;
      out = add(Op::Mul, 0, out, rhs);
    }
    return FormulaStatus::success();
  }

  FormulaStatus parseAtom(int &out, int depth) {
    skipSpace();
    if (pos >= text.size())
      return fail("expected a number, 'T', '(' or a function at the end");
    char c = text[pos];
    if (std::isdigit(static_cast<unsigned char>(c))) {
      int64_t value = 0;
      while (pos < text.size() &&
             std::isdigit(static_cast<unsigned char>(text[pos]))) {
        if (!checkedMul(value, 10, value) ||
            !checkedAdd(value, text[pos] - '0', value))
          return fail("integer literal overflows 64 bits");
        ++pos;
      }
      out = add(Op::Const, value, -1, -1);
      return FormulaStatus::success();
    }
    if (c == '(') {
      ++pos;
      if (FormulaStatus e = parseExpr(out, depth + 1))
        return e;
      return expect(')');
    }
    if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
      size_t start = pos;
      while (pos < text.size() &&
             (std::isalnum(static_cast<unsigned char>(text[pos])) ||
              text[pos] == '_'))
        ++pos;
      std::string name = text.substr(start, pos - start);
      if (name == "T") {
        out = add(Op::Tokens, 0, -1, -1);
        return FormulaStatus::success();
      }
      Op op;
      if (name == "ceildiv")
        op = Op::CeilDiv;
      else if (name == "min")
        op = Op::Min;
      else if (name == "max")
        op = Op::Max;
      else
        return fail("unknown name '" + name + "'");
      if (!consume('('))
        return fail("expected '(' after '" + name + "'");
      int lhs, rhs;
      if (FormulaStatus e = parseExpr(lhs, depth + 1))
        return e;
      if (!consume(','))
        return fail("'" + name + "' takes two arguments");
      if (FormulaStatus e = parseExpr(rhs, depth + 1))
        return e;
      if (FormulaStatus e = expect(')'))
        return e;
      out = add(op, 0, lhs, rhs);
      return FormulaStatus::success();
    }
    return fail(str("unexpected '", c, "' at offset ", pos));
  }
};

Formula Formula::constant(int64_t value) {
  Formula expr;
  expr.nodes_[0].value = value;
  expr.text_ = std::to_string(value);
  return expr;
}

FormulaStatus Formula::parse(const std::string &text, Formula &out) {
  if (text.size() > kMaxLength)
    return FormulaStatus(
        str("formula longer than ", kMaxLength, " characters"));
  Formula expr;
  expr.nodes_.clear();
  expr.text_ = text;
  Parser parser(expr.text_, expr);
  if (FormulaStatus e = parser.parseAll())
    return e;
  out = std::move(expr);
  return FormulaStatus::success();
}

bool Formula::isConstant() const {
  return std::none_of(nodes_.begin(), nodes_.end(),
                      [](const Node &n) { return n.op == Op::Tokens; });
}

bool Formula::isTokens() const {
  return nodes_.size() == 1 && nodes_[0].op == Op::Tokens;
}

FormulaStatus Formula::evaluate(int64_t tokens, int64_t &out) const {
  // Runs for every launch: small formulas evaluate without allocating.
  int64_t local[32];
  std::vector<int64_t> heap;
  int64_t *values = local;
  if (nodes_.size() > 32) {
    heap.resize(nodes_.size());
    values = heap.data();
  }
  for (size_t i = 0; i < nodes_.size(); ++i) {
    const Node &n = nodes_[i];
    int64_t a = n.lhs >= 0 ? values[n.lhs] : 0;
    int64_t b = n.rhs >= 0 ? values[n.rhs] : 0;
    bool ok = true;
    switch (n.op) {
    case Op::Const:
      values[i] = n.value;
      break;
    case Op::Tokens:
      values[i] = tokens;
      break;
    case Op::Add:
      ok = checkedAdd(a, b, values[i]);
      break;
    case Op::Sub:
      ok = checkedSub(a, b, values[i]);
      break;
    case Op::Mul:
      ok = checkedMul(a, b, values[i]);
      break;
    case Op::CeilDiv:
      if (b <= 0)
        return FormulaStatus(
            str("ceildiv by ", b, " in ", quoted(text_), " at T=", tokens));
      values[i] = ceilDiv(a, b);
      break;
    case Op::Min:
      values[i] = std::min(a, b);
      break;
    case Op::Max:
      values[i] = std::max(a, b);
      break;
    }
    if (!ok)
      return FormulaStatus(
          str("64-bit overflow in ", quoted(text_), " at T=", tokens));
  }
  out = values[nodes_.size() - 1];
  return FormulaStatus::success();
}

FormulaStatus Formula::bounds(int64_t lo, int64_t hi, int64_t &min,
                              int64_t &max) const {
  struct Range {
    int64_t lo, hi;
  };
  std::vector<Range> ranges(nodes_.size());
  auto overflow = [&] {
    return FormulaStatus(str("may overflow 64 bits: ", quoted(text_),
                             " for T in [", lo, ", ", hi, "]"));
  };
  for (size_t i = 0; i < nodes_.size(); ++i) {
    const Node &n = nodes_[i];
    Range a = n.lhs >= 0 ? ranges[n.lhs] : Range{0, 0};
    Range b = n.rhs >= 0 ? ranges[n.rhs] : Range{0, 0};
    Range &r = ranges[i];
    switch (n.op) {
    case Op::Const:
      r = {n.value, n.value};
      break;
    case Op::Tokens:
      r = {lo, hi};
      break;
    case Op::Add:
      if (!checkedAdd(a.lo, b.lo, r.lo) || !checkedAdd(a.hi, b.hi, r.hi))
        return overflow();
      break;
    case Op::Sub:
      if (!checkedSub(a.lo, b.hi, r.lo) || !checkedSub(a.hi, b.lo, r.hi))
        return overflow();
      break;
    case Op::Mul:
    case Op::CeilDiv: {
      // Both are monotone in each operand separately, so the extremes over
      // the box are at its corners.
      if (n.op == Op::CeilDiv && b.lo <= 0)
        return FormulaStatus(str("ceildiv divisor may be non-positive in ",
                                 quoted(text_), " for T in [", lo, ", ", hi,
                                 "]"));
      int64_t corners[4];
      const int64_t xs[2] = {a.lo, a.hi}, ys[2] = {b.lo, b.hi};
      for (int k = 0; k < 4; ++k) {
        int64_t x = xs[k / 2], y = ys[k % 2];
        if (n.op == Op::CeilDiv)
          corners[k] = ceilDiv(x, y);
        else if (!checkedMul(x, y, corners[k]))
          return overflow();
      }
      r = {*std::min_element(corners, corners + 4),
           *std::max_element(corners, corners + 4)};
      break;
    }
    case Op::Min:
      r = {std::min(a.lo, b.lo), std::min(a.hi, b.hi)};
      break;
    case Op::Max:
      r = {std::max(a.lo, b.lo), std::max(a.hi, b.hi)};
      break;
    }
  }
  min = ranges.back().lo;
  max = ranges.back().hi;
  return FormulaStatus::success();
}

} // namespace moe::support
