// The JMESPath compliance suite (jmespath/jmespath.test, as vendored by jmespath.py under
// tests/compliance), run case by case: every file in testdata/compliance is a list of
// {"given": document, "cases": [{"expression", "result" | "error"}]}.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "query/query.h"
#include "query/text.h"

namespace cove::query {
namespace {

using Json = nlohmann::ordered_json;

struct Case {
  std::string file;
  Json given;
  std::string expression;
  Json expected;
  std::string error;  // "" when a result is expected
};

std::vector<Case> LoadCases() {
  std::vector<Case> cases;
  std::vector<std::filesystem::path> files;
  for (const auto& entry :
       std::filesystem::directory_iterator(std::string(COVE_QUERY_TESTDATA) + "/compliance")) {
    files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  for (const auto& path : files) {
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    Json suites = Json::parse(text.str());
    for (const Json& suite : suites) {
      for (const Json& c : suite["cases"]) {
        Case one;
        one.file = path.filename().string();
        one.given = suite["given"];
        one.expression = c["expression"].get<std::string>();
        if (c.contains("error")) {
          one.error = c["error"].get<std::string>();
        } else {
          one.expected = c["result"];
        }
        cases.push_back(std::move(one));
      }
    }
  }
  return cases;
}

TEST(ComplianceTest, EveryCase) {
  std::vector<Case> cases = LoadCases();
  ASSERT_GT(cases.size(), 100u);
  int failures = 0;
  for (const Case& c : cases) {
    SCOPED_TRACE(c.file + ": " + c.expression);
    auto result = Search(c.expression, c.given);
    if (c.error.empty()) {
      if (!result) {
        ADD_FAILURE() << "unexpected error: " << result.error().message;
        ++failures;
        continue;
      }
      if (!JsonEqual(*result, c.expected)) {
        ADD_FAILURE() << "got " << result->dump() << ", want " << c.expected.dump();
        ++failures;
      }
    } else {
      if (result) {
        ADD_FAILURE() << "want error " << c.error << ", got " << result->dump();
        ++failures;
        continue;
      }
      EXPECT_EQ(c.error == "syntax", IsSyntaxError(result.error())) << result.error().message;
    }
  }
  EXPECT_EQ(failures, 0) << "of " << cases.size() << " cases";
  std::cout << cases.size() << " compliance cases\n";
}

}  // namespace
}  // namespace cove::query
