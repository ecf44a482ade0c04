#include "cli/output.h"

#include "query/query.h"

namespace cove::cli {

std::optional<std::string> ValidateOutput(const std::string& format, const std::string* query) {
  if (auto parsed = query::ParseOutputFormat(format); !parsed) {
    return "argument --output/-o: " + parsed.error().message;
  }
  if (query) {
    auto compiled = query::Compile(*query);
    if (!compiled && query::IsSyntaxError(compiled.error())) {
      return "argument --query: invalid jmespath_type value: '" + *query + "'";
    }
    if (!compiled) return "Invalid jmespath query supplied for `--query`: " +
                          compiled.error().message;
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
