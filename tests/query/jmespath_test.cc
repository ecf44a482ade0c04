// JMESPath behaviour beyond the compliance data: error messages the CLI prints, key order of
// multiselect hashes, compiled expressions reused, limits.
#include <gtest/gtest.h>

#include <string>

#include "query/query.h"

namespace cove::query {
namespace {

using nlohmann::json;
using nlohmann::ordered_json;

TEST(SearchTest, FieldsIndexesProjectionsFilters) {
  json doc = json::parse(R"({"a": {"b": [{"c": 1, "d": "x"}, {"c": 2, "d": "y"}]}})");
  EXPECT_EQ(*Search("a.b[0].c", doc), json(1));
  EXPECT_EQ(*Search("a.b[*].d", doc), json::parse(R"(["x", "y"])"));
  EXPECT_EQ(*Search("a.b[?c > `1`].d | [0]", doc), json("y"));
  EXPECT_EQ(*Search("a.*[].c", doc), json::parse("[[1, 2]]")[0]);
  EXPECT_EQ(*Search("missing", doc), json());
}

TEST(SearchTest, MultiselectHashKeepsTheWrittenOrder) {
  ordered_json doc = ordered_json::parse(R"({"name": "n", "ip": "10.0.0.5", "zone": "z"})");
  auto r = Search("{Zone: zone, Name: name, Ip: ip}", doc);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->dump(), R"({"Zone":"z","Name":"n","Ip":"10.0.0.5"})");
  // Passing objects through keeps the document's order too.
  EXPECT_EQ(Search("@", doc)->dump(), doc.dump());
}

TEST(SearchTest, CompiledExpressionIsReusable) {
  auto compiled = Compile("[?location=='westus'].name");
  ASSERT_TRUE(compiled);
  EXPECT_EQ(compiled->text(), "[?location=='westus'].name");
  json a = json::parse(R"([{"name": "a", "location": "westus"}])");
  json b =
      json::parse(R"([{"name": "b", "location": "eastus"}, {"name": "c", "location": "westus"}])");
  EXPECT_EQ(*compiled->Evaluate(a), json::parse(R"(["a"])"));
  EXPECT_EQ(*compiled->Evaluate(b), json::parse(R"(["c"])"));
  Expression copy = *compiled;
  EXPECT_EQ(*copy.Evaluate(a), json::parse(R"(["a"])"));
}

TEST(SearchTest, ExpressionReferenceOutsideAFunctionIsNull) {
  EXPECT_EQ(*Search("&a", json::parse(R"({"a": 1})")), json());
}

TEST(SearchErrorTest, SyntaxErrorNamesColumnAndToken) {
  auto r = Search("[?name == 'x'", json::array());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Code::kInvalidArgument);
  EXPECT_TRUE(IsSyntaxError(r.error()));
  EXPECT_EQ(r.error().message,
            "Invalid jmespath expression: Incomplete expression:\n\"[?name == 'x'\"\n"
            "              ^");

  r = Search("foo.1", json::object());
  ASSERT_FALSE(r);
  EXPECT_TRUE(IsSyntaxError(r.error()));
  EXPECT_EQ(r.error().message,
            "Expecting: ['quoted_identifier', 'unquoted_identifier', 'lbracket', 'lbrace'], got: "
            "number: Parse error at column 4, token \"1\" (NUMBER), for expression:\n"
            "\"foo.1\"\n"
            "     ^");
}

TEST(SearchErrorTest, LexerErrors) {
  auto r = Search("a = b", json::object());
  ASSERT_FALSE(r);
  EXPECT_TRUE(IsSyntaxError(r.error()));
  EXPECT_EQ(r.error().message, "Bad jmespath expression: Unknown token '=':\na = b\n  ^");
  r = Search("'open", json::object());
  ASSERT_FALSE(r);
  EXPECT_TRUE(IsSyntaxError(r.error()));
  EXPECT_NE(r.error().message.find("Unclosed ' delimiter"), std::string::npos);
  r = Search("", json::object());
  ASSERT_FALSE(r);
  EXPECT_TRUE(IsSyntaxError(r.error()));
  EXPECT_EQ(r.error().message, "Invalid JMESPath expression: cannot be empty.");
}

TEST(SearchErrorTest, UnknownFunctionAndArity) {
  auto r = Compile("frobnicate(@)");
  ASSERT_FALSE(r);
  EXPECT_FALSE(IsSyntaxError(r.error()));
  EXPECT_EQ(r.error().message, "Unknown function: frobnicate()");
  r = Compile("length(a, b)");
  ASSERT_FALSE(r);
  EXPECT_FALSE(IsSyntaxError(r.error()));
  EXPECT_EQ(r.error().message, "Expected 1 argument for function length(), received 2");
  r = Compile("merge()");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, "Expected at least 1 argument for function merge(), received 0");
}

TEST(SearchErrorTest, SyntaxErrorsWinOverFunctionErrors) {
  // az parses the whole expression before it looks functions up.
  auto r = Compile("nosuch(@) ]");
  ASSERT_FALSE(r);
  EXPECT_TRUE(IsSyntaxError(r.error())) << r.error().message;
  r = Compile("length(a, b).[");
  ASSERT_FALSE(r);
  EXPECT_TRUE(IsSyntaxError(r.error())) << r.error().message;
  r = Compile("nosuch(@) | length(a, b)");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, "Unknown function: nosuch()");
}

TEST(SearchErrorTest, InvalidTypeNamesFunctionValueAndTypes) {
  auto r = Search("length(a)", json::parse(R"({"a": 1})"));
  ASSERT_FALSE(r);
  EXPECT_FALSE(IsSyntaxError(r.error()));
  EXPECT_EQ(r.error().message,
            "In function length(), invalid type for value: 1, expected one of: ['string', "
            "'array', 'object'], received: \"number\"");
  r = Search("sum(a)", json::parse(R"({"a": [1, "2"]})"));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message,
            "In function sum(), invalid type for value: \"2\", expected one of: "
            "['array-number'], received: \"string\"");
  r = Search("sort_by(@, &a)", json::parse(R"([{"a": 1}, {"a": "x"}])"));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message,
            "In function sort_by(), invalid type for value: \"x\", expected one of: "
            "['number'], received: \"string\"");
}

TEST(SearchErrorTest, DeepNestingIsASyntaxErrorNotACrash) {
  std::string deep(5000, '(');
  deep += "a";
  deep += std::string(5000, ')');
  auto r = Compile(deep);
  ASSERT_FALSE(r);
  EXPECT_TRUE(IsSyntaxError(r.error()));
  std::string chain = "a";
  for (int i = 0; i < 5000; ++i) chain += ".a";
  r = Compile(chain);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("nested too deeply"), std::string::npos);
  std::string filters;
  for (int i = 0; i < 3000; ++i) filters += "[?a]";
  EXPECT_FALSE(Compile(filters));
  // A long but shallow expression is fine.
  std::string wide = "[a";
  for (int i = 0; i < 2000; ++i) wide += ", a";
  wide += "]";
  EXPECT_TRUE(Compile(wide));
}

TEST(SearchTest, ComparisonsFollowAz) {
  json doc = json::parse(R"({"s": "b", "n": 2, "t": true})");
  EXPECT_EQ(*Search("s > 'a'", doc), json(true));    // strings order (az's jmespath)
  EXPECT_EQ(*Search("n > 's'", doc), json());        // mixed: null
  EXPECT_EQ(*Search("t == `1`", doc), json(false));  // booleans are not numbers
  EXPECT_EQ(*Search("n == `2.0`", doc), json(true));
}

}  // namespace
}  // namespace cove::query
