//===- ExprTest.cpp - The formula grammar ---------------------------------===//

#include "Expr.h"

#include <gtest/gtest.h>

using moert::Error;
using moert::Expr;

namespace {

int64_t eval(const std::string &text, int64_t tokens) {
  Expr expr;
  Error parsed = Expr::parse(text, expr);
  EXPECT_FALSE(parsed) << text << ": " << parsed.message();
  int64_t value = -12345;
  Error evaluated = expr.evaluate(tokens, value);
  EXPECT_FALSE(evaluated) << text << ": " << evaluated.message();
  return value;
}

std::string parseError(const std::string &text) {
  Expr expr;
  Error e = Expr::parse(text, expr);
  EXPECT_TRUE(e) << "'" << text << "' parsed";
  EXPECT_EQ(e.code(), MOERT_ERROR_MANIFEST);
  return e.message();
}

std::string evalError(const std::string &text, int64_t tokens) {
  Expr expr;
  Error parsed = Expr::parse(text, expr);
  EXPECT_FALSE(parsed) << parsed.message();
  int64_t value;
  Error e = expr.evaluate(tokens, value);
  EXPECT_TRUE(e) << "'" << text << "' evaluated to " << value;
  return e.message();
}

TEST(Expr, AtomsAndPrecedence) {
  EXPECT_EQ(eval("42", 7), 42);
  EXPECT_EQ(eval("T", 7), 7);
  EXPECT_EQ(eval("2+3*4", 0), 14);
  EXPECT_EQ(eval("(2+3)*4", 0), 20);
  EXPECT_EQ(eval("10-3-2", 0), 5); // left-associative
  EXPECT_EQ(eval("2*3*T-1", 5), 29);
  EXPECT_EQ(eval(" T * 2 + 1 ", 3), 7);
  EXPECT_EQ(eval("1-T", 5), -4);
  EXPECT_EQ(eval("((((T))))", 9), 9);
}

TEST(Expr, Functions) {
  EXPECT_EQ(eval("ceildiv(T,16)", 1), 1);
  EXPECT_EQ(eval("ceildiv(T,16)", 16), 1);
  EXPECT_EQ(eval("ceildiv(T,16)", 17), 2);
  EXPECT_EQ(eval("ceildiv(T*2,16)+8", 100), 21);
  EXPECT_EQ(eval("ceildiv(0,5)", 1), 0);
  EXPECT_EQ(eval("ceildiv(1-T,4)", 10), -2); // ceil(-9/4) = -2
  EXPECT_EQ(eval("min(T,64)*8", 100), 512);
  EXPECT_EQ(eval("max(T,64)", 100), 100);
  EXPECT_EQ(eval("max(min(T,10),3)", 1), 3);
  EXPECT_EQ(eval("min(ceildiv(T, 3), max(2, T - 4))", 9), 3);
  EXPECT_EQ(eval("9223372036854775807", 1), INT64_MAX);
}

TEST(Expr, Classification) {
  Expr e;
  ASSERT_FALSE(Expr::parse("T", e));
  EXPECT_TRUE(e.isTokens());
  EXPECT_FALSE(e.isConstant());
  ASSERT_FALSE(Expr::parse("(T)", e));
  EXPECT_TRUE(e.isTokens()); // parentheses add no node
  ASSERT_FALSE(Expr::parse("T*1", e));
  EXPECT_FALSE(e.isTokens());
  ASSERT_FALSE(Expr::parse("max(3,4)*2", e));
  EXPECT_TRUE(e.isConstant());
  EXPECT_EQ(e.text(), "max(3,4)*2");
  EXPECT_EQ(Expr::constant(4096).text(), "4096");
}

TEST(Expr, ParseErrors) {
  EXPECT_EQ(parseError("ceildiv(N,16)"),
            "unknown name 'N' in \"ceildiv(N,16)\"");
  EXPECT_NE(parseError("T 5").find("unexpected '5' at offset 2"),
            std::string::npos);
  EXPECT_NE(parseError("T)").find("unexpected ')'"), std::string::npos);
  EXPECT_NE(parseError("(T").find("expected ')' at the end"),
            std::string::npos);
  EXPECT_NE(parseError("").find("expected a number"), std::string::npos);
  EXPECT_NE(parseError("T+").find("expected a number"), std::string::npos);
  EXPECT_NE(parseError("-T").find("unexpected '-'"), std::string::npos);
  EXPECT_NE(parseError("min(T)").find("'min' takes two arguments"),
            std::string::npos);
  EXPECT_NE(parseError("max T").find("expected '(' after 'max'"),
            std::string::npos);
  EXPECT_NE(parseError("T/2").find("unexpected '/'"), std::string::npos);
  EXPECT_NE(parseError("1.5").find("unexpected '.'"), std::string::npos);
  EXPECT_NE(parseError("99999999999999999999").find("overflows 64 bits"),
            std::string::npos);
  EXPECT_NE(parseError("t").find("unknown name 't'"), std::string::npos);
  std::string deep(100, '(');
  EXPECT_NE(parseError(deep + "T" + std::string(100, ')')).find("nesting"),
            std::string::npos);
  EXPECT_NE(parseError(std::string(5000, '1')).find("longer than"),
            std::string::npos);
}

TEST(Expr, EvaluationErrors) {
  EXPECT_NE(evalError("9223372036854775807+T", 1).find("overflow"),
            std::string::npos);
  EXPECT_NE(evalError("0-9223372036854775807-T", 2).find("overflow"),
            std::string::npos);
  EXPECT_NE(evalError("T*4611686018427387904", 2).find("overflow"),
            std::string::npos);
  EXPECT_NE(evalError("ceildiv(T,0)", 3).find("ceildiv by 0"),
            std::string::npos);
  EXPECT_NE(evalError("ceildiv(T,4-T)", 5).find("ceildiv by -1"),
            std::string::npos);
  EXPECT_NE(evalError("ceildiv(T,4-T)", 5).find("at T=5"), std::string::npos);
}

TEST(Expr, Bounds) {
  Expr e;
  int64_t lo, hi;
  ASSERT_FALSE(Expr::parse("ceildiv(T*2,16)+8", e));
  ASSERT_FALSE(e.bounds(1, 1000, lo, hi));
  EXPECT_EQ(lo, 9);
  EXPECT_EQ(hi, 133);
  ASSERT_FALSE(Expr::parse("min(T,64)*8", e));
  ASSERT_FALSE(e.bounds(1, 1000, lo, hi));
  EXPECT_EQ(lo, 8);
  EXPECT_EQ(hi, 512);
  ASSERT_FALSE(Expr::parse("100-T", e));
  ASSERT_FALSE(e.bounds(1, 30, lo, hi));
  EXPECT_EQ(lo, 70);
  EXPECT_EQ(hi, 99);
  ASSERT_FALSE(Expr::parse("(T-5)*(T-5)", e)); // conservative, never too low
  ASSERT_FALSE(e.bounds(1, 10, lo, hi));
  EXPECT_LE(lo, 0);
  EXPECT_GE(hi, 25);
  ASSERT_FALSE(Expr::parse("ceildiv(T,T-10)", e));
  EXPECT_NE(e.bounds(1, 20, lo, hi).message().find("may be non-positive"),
            std::string::npos);
  ASSERT_FALSE(Expr::parse("T*T*T*T*T", e));
  Error overflow = e.bounds(1, 1 << 24, lo, hi);
  EXPECT_NE(overflow.message().find("may overflow"), std::string::npos);
  // The bounds really bound every value in the range.
  ASSERT_FALSE(Expr::parse("max(ceildiv(T*3,7)-2, min(T,5))*2", e));
  ASSERT_FALSE(e.bounds(1, 50, lo, hi));
  for (int64_t t = 1; t <= 50; ++t) {
    int64_t v;
    ASSERT_FALSE(e.evaluate(t, v));
    EXPECT_GE(v, lo);
    EXPECT_LE(v, hi);
  }
}

} // namespace
