// Fuzzes the JMESPath lexer and parser with arbitrary expressions, and evaluates the short ones
// against a small az-shaped document, printing each result in every output format. Checks that
// nothing crashes, that every error is a kInvalidArgument Result, and that the json format
// reads back as the value it printed (when the expression is valid UTF-8).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "query/query.h"
#include "query/text.h"

namespace {

void Check(bool ok) {
  if (!ok) std::abort();
}

const nlohmann::ordered_json& Document() {
  static const nlohmann::ordered_json kDocument = nlohmann::ordered_json::parse(R"([
    {"name": "vnet-hub", "location": "westus", "id": "/subscriptions/0/vnet-hub",
     "addressSpace": {"addressPrefixes": ["10.0.0.0/16"]}, "enableDdosProtection": false,
     "subnets": [{"name": "snet-pe", "addressPrefix": "10.0.0.0/24", "n": 1.5},
                 {"name": "snet-vm", "addressPrefix": "10.0.1.0/24", "n": -2}],
     "tags": {"env": "dev", "note": "caf\u00e9 \u2713 a: b"}, "count": 3, "none": null},
    {"name": "vnet-aks", "location": "eastus", "subnets": [], "tags": {}, "count": 10,
     "enableDdosProtection": true, "numbers": [3, 1, 2], "words": ["b", "a"]}
  ])");
  return kDocument;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view expression(reinterpret_cast<const char*>(data), size);
  auto compiled = cove::query::Compile(expression);
  if (!compiled) {
    Check(compiled.error().code == cove::Code::kInvalidArgument);
    Check(!compiled.error().message.empty());
    return 0;
  }
  // Short expressions only: multiselects can double the value at each step.
  if (size > 64) return 0;
  auto result = compiled->Evaluate(Document());
  if (!result) {
    Check(result.error().code == cove::Code::kInvalidArgument);
    return 0;
  }
  // Invalid UTF-8 in string literals prints as U+FFFD, so only valid text must read back.
  std::string reencoded;
  for (char32_t c : cove::query::DecodeUtf8(expression)) cove::query::AppendUtf8(c, reencoded);
  bool valid_utf8 = reencoded == expression;
  using cove::query::OutputFormat;
  for (OutputFormat format : {OutputFormat::kJson, OutputFormat::kJsonc, OutputFormat::kTable,
                              OutputFormat::kTsv, OutputFormat::kYaml, OutputFormat::kYamlc}) {
    for (bool query_active : {false, true}) {
      std::string text =
          cove::query::Format(*result, format, {.color = true, .query_active = query_active});
      if (format == OutputFormat::kJson && !result->is_null() && valid_utf8) {
        auto back = nlohmann::ordered_json::parse(text, nullptr, /*allow_exceptions=*/false);
        Check(!back.is_discarded());
        Check(cove::query::JsonEqual(back, *result));
      }
    }
  }
  return 0;
}
