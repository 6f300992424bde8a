//===- ManifestFormulaTest.cpp - AffineMap sizes printed as formulas ------===//
//
// The kernel ABI holds sizes as AffineMaps from T; the manifest writes them
// in moert's formula grammar. Every expression the attributes' verifier
// accepts must print to text that moert's one parser reads back to the same
// value at every T.
//
//===----------------------------------------------------------------------===//

#include "moe-support/Formula.h"
#include "moe/Dialect/KernelAttrs.h"

#include "mlir/IR/AffineExpr.h"
#include "mlir/IR/MLIRContext.h"

#include <gtest/gtest.h>

using namespace mlir;
using namespace mlir::moe;

namespace {

TEST(ManifestFormulaTest, PrintsTheManifestGrammar) {
  MLIRContext ctx;
  AffineExpr t = getAffineDimExpr(0, &ctx);
  EXPECT_EQ(printManifestFormula(t), "T");
  EXPECT_EQ(printManifestFormula(t * 2), "T*2");
  EXPECT_EQ(printManifestFormula((t * 2).ceilDiv(16) + 8), "ceildiv(T*2,16)+8");
  EXPECT_EQ(printManifestFormula(t - 3), "T-3");
  EXPECT_EQ(printManifestFormula(getAffineConstantExpr(64, &ctx)), "64");
}

TEST(ManifestFormulaTest, RoundTripsThroughTheRuntimeParser) {
  MLIRContext ctx;
  AffineExpr t = getAffineDimExpr(0, &ctx);
  AffineExpr exprs[] = {t,
                        t * 4,
                        (t * 2).ceilDiv(16) + 8,
                        (t + 7).ceilDiv(8) * 3,
                        t * 5 - t.ceilDiv(3),
                        t * -2 + 100,
                        (t * 3 + 1).ceilDiv(4) - 2,
                        getAffineConstantExpr(-5, &ctx),
                        (t - 10).ceilDiv(4)};
  for (AffineExpr expr : exprs) {
    AffineMap map = AffineMap::get(1, 0, expr);
    ASSERT_FALSE(whyNotManifestFormulas(map));
    std::string text = printManifestFormula(expr);
    ::moe::support::Formula formula;
    ASSERT_FALSE(::moe::support::Formula::parse(text, formula))
        << "'" << text << "' does not parse";
    for (int64_t tokens : {0, 1, 2, 7, 8, 9, 100, 4096}) {
      int64_t value = 0;
      ASSERT_FALSE(formula.evaluate(tokens, value));
      int64_t expected = map.compose(ArrayRef<int64_t>{tokens})[0];
      EXPECT_EQ(value, expected) << text << " at T=" << tokens;
    }
  }
}

TEST(ManifestFormulaTest, RefusesWhatTheGrammarLacks) {
  MLIRContext ctx;
  AffineExpr t = getAffineDimExpr(0, &ctx);
  EXPECT_TRUE(whyNotManifestFormulas(AffineMap::get(1, 0, t.floorDiv(4))));
  EXPECT_TRUE(whyNotManifestFormulas(AffineMap::get(1, 0, t % 4)));
  EXPECT_TRUE(whyNotManifestFormulas(
      AffineMap::get(1, 1, getAffineSymbolExpr(0, &ctx))));
  EXPECT_TRUE(
      whyNotManifestFormulas(AffineMap::get(2, 0, getAffineDimExpr(1, &ctx))));
  EXPECT_TRUE(whyNotManifestFormulas(AffineMap::get(1, 0, t * t)));
}

} // namespace
