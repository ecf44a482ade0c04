// The edge between command results and the terminal: --query (JMESPath) and --output formats,
// both from src/query (cove::query), which prints exactly as az does.
//
// Thread-safety: pure functions.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>

namespace cove::cli {

// The shape az prints a service answer in: for the Microsoft.Network, Microsoft.ContainerRegistry,
// private DNS and DNS resolver commands (and cove's onprem ones) (`flatten`), every `properties` object of a resource or sub-resource
// is merged into it (the SDKs' x-ms-client-flatten: `az acr show --query loginServer`,
// `networkInterfaces[0].id`), recursively; and every object whose id names a resource in a
// resource group gets a `resourceGroup` field (azure-cli's _add_resource_group). Property names
// stay the REST API's (`privateIPAddress`), as az's newer (aaz) commands print them.
nlohmann::json AzView(const nlohmann::json& value, bool flatten);

// Checks the --output name and --query expression before a command runs (az validates both at
// parse time). Returns az's usage message on error.
std::optional<std::string> ValidateOutput(const std::string& format, const std::string* query);

// Applies the query (if any) and formats (colour for jsonc/yamlc when `color`). On a query
// evaluation error returns nullopt and sets *error to az's message.
std::optional<std::string> Render(const nlohmann::json& value, const std::string& format,
                                  const std::string* query, bool color, std::string* error);

}  // namespace cove::cli
