#include "cli/output.h"

#include "cli/context.h"
#include "query/query.h"

namespace cove::cli {

nlohmann::json AzView(const nlohmann::json& value, bool flatten) {
  if (value.is_array()) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& v : value) out.push_back(AzView(v, flatten));
    return out;
  }
  if (!value.is_object()) return value;
  nlohmann::json out = nlohmann::json::object();
  bool resource_like = value.contains("id") || value.contains("name") || value.contains("type");
  for (const auto& [k, v] : value.items()) {
    if (flatten && resource_like && k == "properties" && v.is_object()) continue;
    out[k] = AzView(v, flatten);
  }
  if (flatten && resource_like && value.contains("properties") && value["properties"].is_object()) {
    for (const auto& [k, v] : value["properties"].items()) {
      if (!out.contains(k)) out[k] = AzView(v, flatten);
    }
  }
  if (value.contains("id") && value["id"].is_string() && !out.contains("resourceGroup")) {
    auto id = ParseResourceId(value["id"].get<std::string>());
    if (id && !id->resource_group.empty() && !id->provider.empty()) {
      out["resourceGroup"] = id->resource_group;
    }
  }
  return out;
}

std::optional<std::string> ValidateOutput(const std::string& format, const std::string* query) {
  if (auto parsed = query::ParseOutputFormat(format); !parsed) {
    return "argument --output/-o: " + parsed.error().message;
  }
  if (query) {
    auto compiled = query::Compile(*query);
    if (!compiled && query::IsSyntaxError(compiled.error())) {
      return "argument --query: invalid jmespath_type value: '" + *query + "'";
    }
    if (!compiled)
      return "Invalid jmespath query supplied for `--query`: " + compiled.error().message;
  }
  return std::nullopt;
}

std::optional<std::string> Render(const nlohmann::json& value, const std::string& format,
                                  const std::string* query, bool color, std::string* error) {
  auto parsed = query::ParseOutputFormat(format);
  query::FormatOptions options{.color = color, .query_active = query != nullptr};
  nlohmann::ordered_json result = nlohmann::ordered_json::parse(value.dump());
  if (query) {
    auto searched = query::Search(*query, result);
    if (!searched) {
      *error = "Invalid jmespath query supplied for `--query`: " + searched.error().message;
      return std::nullopt;
    }
    result = std::move(*searched);
  }
  return query::Format(result, parsed ? *parsed : query::OutputFormat::kJson, options);
}

}  // namespace cove::cli
