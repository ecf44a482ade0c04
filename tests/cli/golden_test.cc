// Golden tests: `cove` command lines against a real coved, their stdout/stderr/exit code
// compared with tests/cli/golden/<case>.txt. Set COVE_UPDATE_GOLDEN=1 to rewrite the files
// (then review the diff). Cases run in order in one coved, each building on the last.
#include <gtest/gtest.h>

#include <cctype>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "cli_runner.h"
#include "coved_process.h"
#include "support/temp_dir.h"

namespace cove::cli {
namespace {

using cove::testing::CliResult;
using cove::testing::CliRunner;
using cove::testing::CovedProcess;
using cove::testing::TempDir;
using cove::testing::TestEnvironment;

struct GoldenCase {
  std::string name;
  std::vector<std::string> args;
};

std::string Render(const std::vector<std::string>& args, const CliResult& r) {
  std::string text = "$ cove";
  for (const auto& a : args) {
    bool quote = a.find_first_of(" []{}?*|'\"") != std::string::npos || a.empty();
    text += " " + (quote ? "\"" + a + "\"" : a);
  }
  text += "\n" + r.out;
  if (!r.err.empty()) text += "--- stderr\n" + r.err;
  if (r.code != 0) text += "--- exit " + std::to_string(r.code) + "\n";
  return text;
}

bool IsHex(char c) { return std::isxdigit(static_cast<unsigned char>(c)) != 0; }

// Replaces what coved makes up per run — GUIDs (etags, resourceGuid, NIC names) other than
// cove's fixed subscription ids, and ISO-8601 times — by fixed text, so goldens are stable.
std::string Normalize(const std::string& text) {
  std::string out;
  for (size_t i = 0; i < text.size();) {
    static const int kGroups[] = {8, 4, 4, 4, 12};
    size_t j = i;
    bool guid = true;
    for (int g = 0; g < 5 && guid; ++g) {
      for (int k = 0; k < kGroups[g]; ++k, ++j) {
        if (j >= text.size() || !IsHex(text[j])) {
          guid = false;
          break;
        }
      }
      if (guid && g < 4) {
        if (j >= text.size() || text[j] != '-') guid = false;
        ++j;
      }
    }
    if (guid && (i == 0 || !IsHex(text[i - 1])) && text.compare(i, 8, "c0ffee00") != 0) {
      out += "<guid>";
      i = j;
      continue;
    }
    // 2026-11-28T22:18:38.123456+00:00 / ...Z
    if (i + 19 <= text.size() && std::isdigit(static_cast<unsigned char>(text[i])) &&
        text[i + 4] == '-' && text[i + 7] == '-' && text[i + 10] == 'T' && text[i + 13] == ':') {
      j = i + 19;
      while (j < text.size() &&
             (std::isdigit(static_cast<unsigned char>(text[j])) || text[j] == '.' ||
              text[j] == '+' || text[j] == ':' || text[j] == 'Z' || text[j] == '-')) {
        ++j;
      }
      out += "<time>";
      i = j;
      continue;
    }
    out += text[i++];
  }
  return out;
}

class GoldenTest : public ::testing::Test {
 protected:
  void SetUp() override {
    coved_ = std::make_unique<CovedProcess>(COVED_BINARY, data_.path());
    endpoint_ = coved_->WaitForEndpoint();
    ASSERT_FALSE(endpoint_.empty()) << "coved did not start its ARM API:\n" << coved_->log();
  }

  void Check(const std::vector<GoldenCase>& cases) {
    CliRunner cove(TestEnvironment(config_.path(), endpoint_));
    bool update = std::getenv("COVE_UPDATE_GOLDEN") != nullptr;
    for (const auto& c : cases) {
      std::string actual = Normalize(Render(c.args, cove(c.args)));
      std::string path = std::string(COVE_GOLDEN_DIR) + "/" + c.name + ".txt";
      if (update) {
        std::ofstream(path) << actual;
        continue;
      }
      std::ifstream in(path);
      std::stringstream expected;
      expected << in.rdbuf();
      EXPECT_EQ(actual, expected.str()) << "golden " << path;
    }
  }

  TempDir data_, config_;
  std::unique_ptr<CovedProcess> coved_;
  std::string endpoint_;
};

TEST_F(GoldenTest, OutputFormatsQueriesAndErrors) {
  Check({
      {"group_create", {"group", "create", "-n", "rg1", "-l", "westus"}},
      {"group_show_table", {"group", "show", "-n", "rg1", "-o", "table"}},
      {"group_show_tsv", {"group", "show", "-n", "rg1", "-o", "tsv"}},
      {"group_show_yaml", {"group", "show", "-n", "rg1", "-o", "yaml"}},
      {"group_show_none", {"group", "show", "-n", "rg1", "-o", "none"}},
      {"group_exists", {"group", "exists", "-n", "rg1"}},
      {"group_show_missing", {"group", "show", "-n", "nope"}},
      {"vnet_create_query",
       {"network", "vnet", "create", "-g", "rg1", "-n", "v1", "--address-prefixes", "10.1.0.0/16",
        "--subnet-name", "s1", "--subnet-prefixes", "10.1.0.0/24", "--query",
        "newVNet.{name:name, prefixes:addressSpace.addressPrefixes, subnets:subnets[].name}"}},
      {"vnet_list_table",
       {"network", "vnet", "list", "-g", "rg1", "--query",
        "[].{Name:name, Location:location, Prefix:addressSpace.addressPrefixes[0]}", "-o",
        "table"}},
      {"subnet_show_json",
       {"network", "vnet", "subnet", "show", "-g", "rg1", "--vnet-name", "v1", "-n", "s1"}},
      {"subnet_update_deprecated_flag",
       {"network", "vnet", "subnet", "update", "-g", "rg1", "--vnet-name", "v1", "-n", "s1",
        "--disable-private-endpoint-network-policies", "--query", "privateEndpointNetworkPolicies",
        "-o", "tsv"}},
      {"vnet_show_missing", {"network", "vnet", "show", "-g", "rg1", "-n", "nope"}},
      {"acr_create_yaml",
       {"acr", "create", "-n", "goldenreg", "-g", "rg1", "--sku", "Premium", "--query",
        "{name:name, sku:sku.name, loginServer:loginServer, "
        "public:publicNetworkAccess}",
        "-o", "yaml"}},
      {"acr_show_id_tsv", {"acr", "show", "-n", "goldenreg", "--query", "id", "-o", "tsv"}},
      {"acr_show_endpoints", {"acr", "show-endpoints", "-n", "goldenreg"}},
      {"acr_update_tsv",
       {"acr", "update", "-n", "goldenreg", "--public-network-enabled", "false",
        "--data-endpoint-enabled", "--query", "[publicNetworkAccess, dataEndpointEnabled]", "-o",
        "tsv"}},
      {"acr_show_missing", {"acr", "show", "-n", "nosuchregistry"}},
      {"pe_create_policies_enabled",
       {"network", "vnet", "subnet", "create", "-g", "rg1", "--vnet-name", "v1", "-n", "s2",
        "--address-prefixes", "10.1.1.0/24", "--private-endpoint-network-policies", "Enabled", "-o",
        "none"}},
      {"pe_create_refused",
       {"network", "private-endpoint", "create", "-g", "rg1", "-n", "pe1", "--vnet-name", "v1",
        "--subnet", "s2", "--private-connection-resource-id",
        "/subscriptions/c0ffee00-0000-4000-8000-000000000001/resourceGroups/rg1/providers/"
        "Microsoft.ContainerRegistry/registries/goldenreg",
        "--group-id", "registry", "--connection-name", "c1"}},
      {"pe_create_members_table",
       {"network",
        "private-endpoint",
        "create",
        "-g",
        "rg1",
        "-n",
        "pe1",
        "--vnet-name",
        "v1",
        "--subnet",
        "s1",
        "--private-connection-resource-id",
        "/subscriptions/c0ffee00-0000-4000-8000-000000000001/resourceGroups/rg1/providers/"
        "Microsoft.ContainerRegistry/registries/goldenreg",
        "--group-id",
        "registry",
        "--connection-name",
        "c1",
        "--query",
        "customDnsConfigs[].{Fqdn:fqdn, Ip:ipAddresses[0]}",
        "-o",
        "table"}},
      {"pe_list_tsv",
       {"network", "private-endpoint", "list", "-g", "rg1", "--query", "[].name", "-o", "tsv"}},
  });
}

}  // namespace
}  // namespace cove::cli
