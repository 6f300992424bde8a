//===- JsonDocumentTest.cpp - JSON parsing and value locations ------------===//

#include "moe/Json/JsonDocument.h"
#include "TestHelpers.h"

#include "mlir/IR/BuiltinAttributes.h"

#include <gtest/gtest.h>

using namespace mlir;
using namespace mlir::moe;
using moe_test::JsonFixture;

namespace {

std::pair<unsigned, unsigned> lineCol(Location loc) {
  auto fileLoc = cast<FileLineColLoc>(loc);
  return {fileLoc.getLine(), fileLoc.getColumn()};
}

TEST(JsonDocument, LocatesNestedValues) {
  JsonFixture f("{\n"
                "  \"a\": 1,\n"
                "  \"ffn_config\": {\n"
                "    \"moe_top_k\": 4,\n"
                "    \"list\": [10, {\"deep\": \"x\"}]\n"
                "  }\n"
                "}\n");
  auto doc = JsonDocument::parse(f.sourceMgr, &f.context);
  ASSERT_TRUE(doc);
  EXPECT_EQ(lineCol(doc->locate("a")), std::make_pair(2u, 8u));
  EXPECT_EQ(lineCol(doc->locate("ffn_config")), std::make_pair(3u, 17u));
  EXPECT_EQ(lineCol(doc->locate("ffn_config.moe_top_k")),
            std::make_pair(4u, 18u));
  EXPECT_EQ(lineCol(doc->locate("ffn_config.list[0]")),
            std::make_pair(5u, 14u));
  EXPECT_EQ(lineCol(doc->locate("ffn_config.list[1].deep")),
            std::make_pair(5u, 27u));
}

TEST(JsonDocument, MissingPathFallsBackToEnclosingValue) {
  JsonFixture f("{\"outer\": {\"x\": 1}}");
  auto doc = JsonDocument::parse(f.sourceMgr, &f.context);
  ASSERT_TRUE(doc);
  EXPECT_EQ(lineCol(doc->locate("outer.missing")),
            lineCol(doc->locate("outer")));
  EXPECT_EQ(lineCol(doc->locate("nothing.at.all")), std::make_pair(1u, 1u));
}

TEST(JsonDocument, StringsWithBracketsAndEscapesDoNotConfuseTheScanner) {
  JsonFixture f("{\"s\": \"a]},\\\"[{\", \"n\": 5}");
  auto doc = JsonDocument::parse(f.sourceMgr, &f.context);
  ASSERT_TRUE(doc);
  EXPECT_EQ(lineCol(doc->locate("n")), std::make_pair(1u, 24u));
}

TEST(JsonDocument, MalformedJsonReportsLineAndColumn) {
  JsonFixture f("{\n  \"a\": 1,\n  \"b\": ]\n}");
  EXPECT_FALSE(JsonDocument::parse(f.sourceMgr, &f.context));
  ASSERT_EQ(f.messages.size(), 1u);
  EXPECT_EQ(f.messages[0].rfind("3:8: malformed JSON: parse error at line 3, "
                                "column 8",
                                0),
            0u)
      << f.messages[0];
}

TEST(JsonDocument, DeepNestingIsRefused) {
  // 100k nested arrays: refused with a message, without recursing per level
  // or building a path table quadratic in the depth.
  std::string text(100000, '[');
  text += std::string(100000, ']');
  JsonFixture f(text);
  EXPECT_FALSE(JsonDocument::parse(f.sourceMgr, &f.context));
  ASSERT_EQ(f.messages.size(), 1u);
  EXPECT_EQ(f.messages[0], "1:1: malformed JSON: objects and arrays nested "
                           "deeper than 64 levels");
}

TEST(JsonDocument, NestingUpToTheLimitIsAccepted) {
  std::string text = std::string(64, '[') + std::string(64, ']');
  JsonFixture f(text);
  auto doc = JsonDocument::parse(f.sourceMgr, &f.context);
  ASSERT_TRUE(doc);
  EXPECT_TRUE(doc->root().is_array());
}

TEST(JsonDocument, DuplicateKeysAreRefused) {
  // nlohmann would keep the second silently; a config that says
  // num_experts twice is ambiguous.
  JsonFixture f("{\"a\": 1, \"b\": {\"c\": 1, \"c\": 2}}");
  EXPECT_FALSE(JsonDocument::parse(f.sourceMgr, &f.context));
  ASSERT_EQ(f.messages.size(), 1u);
  EXPECT_EQ(f.messages[0],
            "1:1: malformed JSON: key 'c' appears twice in one object");
}

TEST(JsonDocument, NulBytesAreRefused) {
  // nlohmann's lexer would stop at the NUL and accept "{}".
  std::string text = "{}\n";
  text += '\0';
  text += "garbage";
  JsonFixture f(text);
  EXPECT_FALSE(JsonDocument::parse(f.sourceMgr, &f.context));
  ASSERT_EQ(f.messages.size(), 1u);
  EXPECT_EQ(f.messages[0], "2:1: malformed JSON: NUL byte");
}

TEST(JsonDocument, ErrorsArePrefixedWithThePath) {
  JsonFixture f("{\"a\": {\"b\": 2}}");
  auto doc = JsonDocument::parse(f.sourceMgr, &f.context);
  ASSERT_TRUE(doc);
  doc->emitError("a.b") << "bad value";
  ASSERT_EQ(f.messages.size(), 1u);
  EXPECT_EQ(f.messages[0], "1:13: a.b: bad value");
}

TEST(JsonPath, Join) {
  EXPECT_EQ(jsonPathJoin("", "a"), "a");
  EXPECT_EQ(jsonPathJoin("a", "b"), "a.b");
  EXPECT_EQ(jsonPathJoin("a", size_t(3)), "a[3]");
}

} // namespace
