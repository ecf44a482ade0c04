// Golden tests: realistic az outputs (a resource group, a list of VNets, a private endpoint with
// nested arrays) printed in every format, with and without --query, compared byte for byte with
// what az prints (testdata/golden/expected, produced with Python's json and PyYAML and knack's
// tsv/table rules).
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>

#include "query/query.h"

namespace cove::query {
namespace {

using Json = nlohmann::ordered_json;

std::string Golden() { return std::string(COVE_QUERY_TESTDATA) + "/golden/"; }

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in.good()) << path;
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

Json ReadJson(const std::string& name) { return Json::parse(ReadFile(Golden() + name)); }

void ExpectAllFormats(const std::string& name, const Json& value, bool query_active) {
  const std::pair<const char*, OutputFormat> kCases[] = {
      {"json", OutputFormat::kJson},
      {"yaml", OutputFormat::kYaml},
      {"tsv", OutputFormat::kTsv},
      {"table", OutputFormat::kTable},
  };
  for (const auto& [ext, format] : kCases) {
    SCOPED_TRACE(name + "." + ext);
    std::string want = ReadFile(Golden() + "expected/" + name + "." + ext);
    EXPECT_EQ(Format(value, format, FormatOptions{.color = false, .query_active = query_active}),
              want);
  }
}

TEST(OutputGoldenTest, ResourceGroup) {
  ExpectAllFormats("resource_group", ReadJson("resource_group.json"), false);
}

TEST(OutputGoldenTest, VirtualNetworks) {
  ExpectAllFormats("vnets", ReadJson("vnets.json"), false);
}

TEST(OutputGoldenTest, PrivateEndpoint) {
  ExpectAllFormats("private_endpoint", ReadJson("private_endpoint.json"), false);
}

TEST(OutputGoldenTest, Queries) {
  Json queries = ReadJson("queries.json");
  ASSERT_GT(queries.size(), 5u);
  for (size_t i = 0; i < queries.size(); ++i) {
    std::string query = queries[i]["query"].get<std::string>();
    SCOPED_TRACE(query);
    auto result = Search(query, ReadJson(queries[i]["input"].get<std::string>()));
    ASSERT_TRUE(result) << result.error().message;
    ExpectAllFormats("query" + std::to_string(i), *result, true);
  }
}

// 250 random values (keys and strings built from YAML's indicator characters, quotes, line
// breaks, tabs, non-ASCII, implicit-type look-alikes, long words) with the text PyYAML's
// safe_dump and Python's json.dumps print for them.
TEST(OutputGoldenTest, MatchesPyYamlAndPythonJson) {
  Json cases = ReadJson("pyyaml_cases.json");
  ASSERT_EQ(cases.size(), 250u);
  int mismatches = 0;
  for (const Json& c : cases) {
    std::string yaml = Format(c["value"], OutputFormat::kYaml, {});
    std::string json = Format(c["value"], OutputFormat::kJson, {});
    if (yaml != c["yaml"].get<std::string>() || json != c["json"].get<std::string>()) {
      ++mismatches;
      ADD_FAILURE() << c["value"].dump() << "\nyaml: " << yaml << "\nwant: " << c["yaml"].dump();
    }
  }
  EXPECT_EQ(mismatches, 0);
}

TEST(OutputTest, JsoncWithoutColourIsJson) {
  Json v = ReadJson("resource_group.json");
  EXPECT_EQ(Format(v, OutputFormat::kJsonc), Format(v, OutputFormat::kJson));
  EXPECT_EQ(Format(v, OutputFormat::kYamlc), Format(v, OutputFormat::kYaml));
}

TEST(OutputTest, JsoncColours) {
  Json v = Json::parse(R"({"name": "rg", "n": 1, "ok": true})");
  std::string out = Format(v, OutputFormat::kJsonc, {.color = true});
  EXPECT_EQ(out,
            "{\n"
            "  \x1b[94m\"n\"\x1b[39;49;00m: \x1b[34m1\x1b[39;49;00m,\n"
            "  \x1b[94m\"name\"\x1b[39;49;00m: \x1b[33m\"rg\"\x1b[39;49;00m,\n"
            "  \x1b[94m\"ok\"\x1b[39;49;00m: \x1b[34mtrue\x1b[39;49;00m\n"
            "}\n");
  std::string yaml = Format(v, OutputFormat::kYamlc, {.color = true});
  EXPECT_NE(yaml.find("\x1b[94mname\x1b[39;49;00m: rg"), std::string::npos) << yaml;
}

TEST(OutputTest, NullAndNonePrintNothing) {
  for (OutputFormat f :
       {OutputFormat::kJson, OutputFormat::kJsonc, OutputFormat::kTable, OutputFormat::kTsv,
        OutputFormat::kYaml, OutputFormat::kYamlc, OutputFormat::kNone}) {
    EXPECT_EQ(Format(nlohmann::json(), f), "");
  }
  EXPECT_EQ(Format(nlohmann::json::parse(R"({"a": 1})"), OutputFormat::kNone), "");
}

TEST(OutputTest, Scalars) {
  EXPECT_EQ(Format(Json("abc"), OutputFormat::kJson), "\"abc\"\n");
  EXPECT_EQ(Format(Json("abc"), OutputFormat::kTsv), "abc\n");
  EXPECT_EQ(Format(Json(true), OutputFormat::kTsv), "true\n");
  EXPECT_EQ(Format(Json(2.5), OutputFormat::kJson), "2.5\n");
  EXPECT_EQ(Format(Json(1e20), OutputFormat::kJson), "1e+20\n");
  EXPECT_EQ(Format(Json(3.0), OutputFormat::kJson), "3.0\n");
  // PyYAML ends a document whose root is a plain scalar with "...".
  EXPECT_EQ(Format(Json("abc"), OutputFormat::kYaml), "abc\n...\n");
  EXPECT_EQ(Format(Json(5), OutputFormat::kYaml), "5\n...\n");
  EXPECT_EQ(Format(Json(1e17), OutputFormat::kYaml), "1.0e+17\n...\n");
  EXPECT_EQ(Format(Json("123"), OutputFormat::kYaml), "'123'\n");
  EXPECT_EQ(Format(Json::array(), OutputFormat::kYaml), "[]\n");
  EXPECT_EQ(Format(Json::object(), OutputFormat::kJson), "{}\n");
  EXPECT_EQ(Format(Json("westus"), OutputFormat::kTable), "Result\n--------\nwestus\n");
  EXPECT_EQ(Format(Json::array(), OutputFormat::kTable), "\n");
  EXPECT_EQ(Format(Json::array(), OutputFormat::kTsv), "");
  EXPECT_EQ(Format(Json("caf\xc3\xa9"), OutputFormat::kJson), "\"caf\xc3\xa9\"\n");
  // Not UTF-8 (a stray byte, an encoded surrogate, an overlong slash): U+FFFD each.
  EXPECT_EQ(Format(Json("a\xff\xed\xa1\x8d\xc0\xaf"), OutputFormat::kJson),
            "\"a\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"\n");
}

TEST(OutputTest, TableSkipsIdTypeEtagAndNestedValues) {
  Json v = Json::parse(R"([{"id": "x", "type": "t", "etag": "e", "name": "a", "tags": {},
                           "list": [1], "none": null, "size": 3}])");
  EXPECT_EQ(Format(v, OutputFormat::kTable, {}),
            "Name    Size\n"
            "------  ------\n"
            "a       3\n");
}

TEST(OutputTest, TableRowsWithDifferentKeys) {
  Json v = Json::parse(R"([{"b": "x"}, {"a": "y", "b": "z"}])");
  EXPECT_EQ(Format(v, OutputFormat::kTable, {.query_active = true}),
            "B    A\n"
            "---  ---\n"
            "x\n"
            "z    y\n");
}

TEST(OutputTest, TsvKeyOrder) {
  Json v = Json::parse(R"({"b": 1, "a": 2})");
  EXPECT_EQ(Format(v, OutputFormat::kTsv, {}), "2\t1\n");
  EXPECT_EQ(Format(v, OutputFormat::kTsv, {.query_active = true}), "1\t2\n");
}

TEST(OutputTest, YamlFoldsLongPlainScalars) {
  std::string words;
  for (int i = 0; i < 30; ++i) words += (i ? " " : "") + std::string("word") + std::to_string(i);
  Json v = {{"k", words}};
  std::string out = Format(v, OutputFormat::kYaml, {});
  EXPECT_EQ(
      out,
      "k: word0 word1 word2 word3 word4 word5 word6 word7 word8 word9 word10 word11 word12\n"
      "  word13 word14 word15 word16 word17 word18 word19 word20 word21 word22 word23 word24\n"
      "  word25 word26 word27 word28 word29\n");
}

TEST(OutputFormatTest, ParsesEveryName) {
  EXPECT_EQ(*ParseOutputFormat("json"), OutputFormat::kJson);
  EXPECT_EQ(*ParseOutputFormat("jsonc"), OutputFormat::kJsonc);
  EXPECT_EQ(*ParseOutputFormat("TABLE"), OutputFormat::kTable);
  EXPECT_EQ(*ParseOutputFormat("tsv"), OutputFormat::kTsv);
  EXPECT_EQ(*ParseOutputFormat("yaml"), OutputFormat::kYaml);
  EXPECT_EQ(*ParseOutputFormat("yamlc"), OutputFormat::kYamlc);
  EXPECT_EQ(*ParseOutputFormat("none"), OutputFormat::kNone);
  EXPECT_EQ(OutputFormatName(OutputFormat::kYamlc), "yamlc");
}

TEST(OutputFormatTest, UnknownNameListsChoices) {
  auto r = ParseOutputFormat("xml");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Code::kInvalidArgument);
  EXPECT_EQ(r.error().message,
            "invalid choice: 'xml' (choose from 'json', 'jsonc', 'yaml', 'yamlc', 'table', 'tsv', "
            "'none')");
}

}  // namespace
}  // namespace cove::query
