// Golden tests: `cove` command lines against a real coved, their stdout/stderr/exit code
// compared with tests/cli/golden/<case>.txt. Set COVE_UPDATE_GOLDEN=1 to rewrite the files
// (then review the diff). Cases run in order in one coved, each building on the last.
#include <gtest/gtest.h>

#include <cctype>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <sys/stat.h>

#include "cli/commands.h"
#include "cli/credentials.h"
#include "http/client.h"
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
  // Run by the administrator (another CLI configuration, nobody signed in: coved's bootstrap
  // credential), not by whoever the test's own configuration signed in.
  bool admin = false;
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
    // With a TLS registry listener too, for the exchange a managed identity makes directly.
    coved_ = std::make_unique<CovedProcess>(COVED_BINARY, data_.path(),
                                            std::vector<std::string>{"--listen", "127.0.0.1:0"});
    endpoint_ = coved_->WaitForEndpoint();
    ASSERT_FALSE(endpoint_.empty()) << "coved did not start its ARM API:\n" << coved_->log();
  }

  // The CLI's environment for this coved: its HTTPS endpoint, and its data dir, where the CLI
  // finds coved's CA and (nobody signed in) the bootstrap credential.
  cove::cli::Environment Env() const {
    auto env = TestEnvironment(config_.path(), endpoint_);
    env.data_dir = data_.path();
    return env;
  }

  // Runs `args`, expecting exit 0 (a failure shows the command and what it printed).
  static CliResult RunOk(const CliRunner& cove, const std::vector<std::string>& args) {
    auto r = cove(args);
    EXPECT_EQ(r.code, 0) << Render(args, r);
    return r;
  }
  // Group rg1 with the Premium registry authreg, which the identity tests work on.
  static void MakeAuthRegistry(const CliRunner& cove) {
    RunOk(cove, {"group", "create", "-n", "rg1", "-l", "westus", "-o", "none"});
    RunOk(cove, {"acr", "create", "-n", "authreg", "-g", "rg1", "--sku", "Premium", "-o", "none"});
  }

  // The administrator's: nobody signed in, so the CLI uses coved's bootstrap credential (Owner
  // at the root scope) whoever the test's own configuration signed in.
  cove::cli::Environment AdminEnv() const {
    auto env = Env();
    env.config_path = admin_config_.path() + "/cove/config";
    env.docker_config_path = admin_config_.path() + "/docker/config.json";
    return env;
  }

  void Check(const std::vector<GoldenCase>& cases) {
    CliRunner cove(Env());
    CliRunner admin(AdminEnv());
    bool update = std::getenv("COVE_UPDATE_GOLDEN") != nullptr;
    for (const auto& c : cases) {
      std::string actual = Normalize(Render(c.args, c.admin ? admin(c.args) : cove(c.args)));
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

  TempDir data_, config_, admin_config_;
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
      // Issue 12: the connected endpoint turned the data endpoints on; replication bad input.
      {"acr_show_data_endpoints_after_pe",
       {"acr", "show", "-n", "goldenreg", "--query",
        "{enabled:dataEndpointEnabled, hosts:dataEndpointHostNames}"}},
      {"acr_replication_create_spaced_location",
       {"acr", "replication", "create", "-r", "goldenreg", "-l", "East US", "--query",
        "{name:name, location:location}"}},
      {"acr_replication_create_same_location",
       {"acr", "replication", "create", "-r", "goldenreg", "-l", "eastus", "-n", "eastus2nd"}},
      {"acr_replication_create_unknown_region",
       {"acr", "replication", "create", "-r", "goldenreg", "-l", "atlantis"}},
      {"acr_replication_delete_home",
       {"acr", "replication", "delete", "-r", "goldenreg", "-n", "westus", "--yes"}},
      // Issue 12: az's ip-config commands; ARM validates the change as at creation.
      {"pe_ip_config_list_empty",
       {"network", "private-endpoint", "ip-config", "list", "-g", "rg1", "--endpoint-name", "pe1"}},
      {"pe_ip_config_add_incomplete",
       {"network", "private-endpoint", "ip-config", "add", "-g", "rg1", "--endpoint-name", "pe1",
        "-n", "cfg1", "--group-id", "registry", "--member-name", "registry", "--private-ip-address",
        "10.1.0.20"}},
      // Issue 12, CLI and ARM: every region's data endpoint; zone redundancy and routing per
      // replica; the home region listed; status "Syncing" until the data plane reports.
      {"acr_show_endpoints_two_regions", {"acr", "show-endpoints", "-n", "goldenreg"}},
      {"acr_replication_create_zone_redundant",
       {"acr", "replication", "create", "-r", "goldenreg", "-l", "northeurope", "--zone-redundancy",
        "Enabled"}},
      {"acr_replication_update_endpoint_disabled",
       {"acr", "replication", "update", "-r", "goldenreg", "-n", "northeurope",
        "--region-endpoint-enabled", "false", "--query",
        "{name:name, regionEndpointEnabled:regionEndpointEnabled, zoneRedundancy:zoneRedundancy}"}},
      {"acr_replication_list_with_home",
       {"acr", "replication", "list", "-r", "goldenreg", "--query",
        "[].{Name:name, Location:location, Routing:regionEndpointEnabled, "
        "Zones:zoneRedundancy}",
        "-o", "table"}},
      // The status itself is live (the regions' replication, tests/daemon/geo_daemon_test.sh);
      // its shape is ACR's.
      {"acr_replication_show_status",
       {"acr", "replication", "show", "-r", "goldenreg", "-n", "eastus", "--query",
        "{name:name, location:location, provisioningState:provisioningState, "
        "hasDisplayStatus:status.displayStatus != null, hasTimestamp:status.timestamp != null}"}},
      {"acr_replication_show_home",
       {"acr", "replication", "show", "-r", "goldenreg", "-n", "westus", "--query",
        "{name:name, location:location, zones:zoneRedundancy}"}},
  });
}


constexpr char kAuthReg[] =
    "/subscriptions/c0ffee00-0000-4000-8000-000000000001/resourceGroups/rg1/providers/"
    "Microsoft.ContainerRegistry/registries/authreg";

// Users, roles, login, acr login/credential/scope-map/token and managed identities, against
// coved's directory and ARM resources (issue 5). Cases build on each other.
TEST_F(GoldenTest, IdentitiesAndRegistryAuth) {
  const std::string reg = kAuthReg;
  Check({
      {"auth_setup_group", {"group", "create", "-n", "rg1", "-l", "westus", "-o", "none"}},
      {"auth_setup_acr",
       {"acr", "create", "-n", "authreg", "-g", "rg1", "--sku", "Premium", "-o", "none"}},
      {"ad_user_create",
       {"ad", "user", "create", "--display-name", "Alice", "--user-principal-name",
        "alice@contoso.com", "--password", "Str0ng!pass"}},
      {"ad_user_create_duplicate",
       {"ad", "user", "create", "--display-name", "Alice", "--user-principal-name",
        "alice@contoso.com", "--password", "Str0ng!pass"}},
      {"ad_user_create_weak",
       {"ad", "user", "create", "--display-name", "Bob", "--user-principal-name",
        "bob@contoso.com", "--password", "weak"}},
      {"ad_user_show_table",
       {"ad", "user", "show", "--id", "alice@contoso.com", "--query",
        "{upn:userPrincipalName, name:displayName, enabled:accountEnabled}", "-o", "table"}},
      {"ad_user_show_missing", {"ad", "user", "show", "--id", "nobody@contoso.com"}},
      {"ad_user_list_tsv", {"ad", "user", "list", "--query", "[].userPrincipalName", "-o", "tsv"}},
      {"role_definition_list_acrpush",
       {"role", "definition", "list", "--name", "AcrPush", "--query",
        "[].{name:name, roleName:roleName, roleType:roleType, scopes:assignableScopes}", "-o",
        "yaml"}},
      {"role_assignment_create",
       {"role", "assignment", "create", "--assignee", "alice@contoso.com", "--role", "AcrPush",
        "--scope", reg}},
      {"role_assignment_create_again_tsv",
       {"role", "assignment", "create", "--assignee", "alice@contoso.com", "--role", "AcrPush",
        "--scope", reg, "--query", "[principalName, roleDefinitionName]", "-o", "tsv"}},
      {"role_assignment_create_bad_role",
       {"role", "assignment", "create", "--assignee", "alice@contoso.com", "--role", "AcrPoke",
        "--scope", reg}},
      {"role_assignment_create_bad_assignee",
       {"role", "assignment", "create", "--assignee", "nobody@contoso.com", "--role", "AcrPull",
        "--scope", reg}},
      {"role_assignment_list_default_empty", {"role", "assignment", "list"}},
      {"role_assignment_list_all_table",
       {"role", "assignment", "list", "--all", "--query",
        "[].{Principal:principalName, Role:roleDefinitionName, Type:principalType}", "-o",
        "table"}},
      {"acr_credential_show_disabled", {"acr", "credential", "show", "-n", "authreg"}},
      {"acr_admin_enable",
       {"acr", "update", "-n", "authreg", "--admin-enabled", "true", "-o", "none"}},
      {"acr_credential_show",
       {"acr", "credential", "show", "-n", "authreg", "--query",
        "{username:username, names:passwords[].name}", "-o", "yaml"}},
      {"acr_credential_renew_tsv",
       {"acr", "credential", "renew", "-n", "authreg", "--password-name", "password2",
        "--query", "[username, length(passwords[1].value)]", "-o", "tsv"}},
      {"scope_map_create",
       {"acr", "scope-map", "create", "-n", "hello-read", "-r", "authreg", "--repository",
        "hello", "content/read", "metadata/read", "--description", "Read hello"}},
      {"scope_map_update",
       {"acr", "scope-map", "update", "-n", "hello-read", "-r", "authreg", "--add-repository",
        "world/*", "content/read", "--remove-repository", "hello", "metadata/read", "--query",
        "{actions:actions, description:description}"}},
      {"scope_map_list_table",
       {"acr", "scope-map", "list", "-r", "authreg", "--query",
        "[].{Name:name, Type:scopeMapType, Actions:length(actions)}", "-o", "table"}},
      {"scope_map_show_missing", {"acr", "scope-map", "show", "-n", "nosuchmap", "-r", "authreg"}},
      {"scope_map_delete_system",
       {"acr", "scope-map", "delete", "-n", "_repositories_pull", "-r", "authreg", "--yes"}},
      {"token_create_scope_map",
       {"acr", "token", "create", "-n", "reader", "-r", "authreg", "--scope-map", "hello-read",
        "--only-show-errors", "--query",
        "{name:name, status:status, user:credentials.username, "
        "passwords:credentials.passwords[].name, lengths:credentials.passwords[].length(value)}",
        "-o", "yaml"}},
      {"token_create_repository",
       {"acr", "token", "create", "-n", "pusher", "-r", "authreg", "--repository", "hello",
        "content/write", "content/read", "--no-passwords", "--query",
        "{map:scopeMapId, passwords:credentials.passwords}", "-o", "json"}},
      {"token_create_default_map_differs",
       {"acr", "token", "create", "-n", "pusher", "-r", "authreg", "--repository", "hello",
        "content/read", "--no-passwords"}},
      {"token_list_table",
       {"acr", "token", "list", "-r", "authreg", "--query",
        "[].{Name:name, Status:status}", "-o", "table"}},
      {"token_update_disable",
       {"acr", "token", "update", "-n", "reader", "-r", "authreg", "--status", "disabled",
        "--query", "status", "-o", "tsv"}},
      {"token_credential_generate",
       {"acr", "token", "credential", "generate", "-n", "pusher", "-r", "authreg",
        "--password2", "--expiration-in-days", "30", "--query",
        "{username:username, names:passwords[].name, expires:passwords[0].expiry != null}"}},
      {"scope_map_delete_in_use",
       {"acr", "scope-map", "delete", "-n", "hello-read", "-r", "authreg", "--yes"}},
      {"token_delete", {"acr", "token", "delete", "-n", "reader", "-r", "authreg", "--yes"}},
      {"token_show_deleted", {"acr", "token", "show", "-n", "reader", "-r", "authreg"}},
      {"identity_create", {"identity", "create", "-g", "rg1", "-n", "aci-identity"}},
      {"identity_list_tsv", {"identity", "list", "--query", "[].name", "-o", "tsv"}},
      {"identity_show_missing", {"identity", "show", "-g", "rg1", "-n", "nope"}},
      {"role_assignment_delete",
       {"role", "assignment", "delete", "--assignee", "alice@contoso.com", "--role", "AcrPush",
        "--scope", reg}},
      {"role_assignment_delete_none",
       {"role", "assignment", "delete", "--assignee", "alice@contoso.com", "--role", "AcrPush",
        "--scope", reg}},
      {"ad_user_delete", {"ad", "user", "delete", "--id", "alice@contoso.com"}},
      {"ad_user_delete_missing", {"ad", "user", "delete", "--id", "alice@contoso.com"}},
  });
}

// `cove login` (user), account show/get-access-token with it, acr login, logout.
// `cloud show`: the parts that do not change per run as goldens (-o tsv, -o table); the
// register command and environment checked against this coved's endpoint and CA file.
TEST_F(GoldenTest, CloudShow) {
  Check({
      {"cloud_show_tsv",
       {"cloud", "show", "--query", "[name, acrLoginServerEndpoint, environment.SSL_CERT_FILE == "
                                    "caFile]", "-o", "tsv"}},
      {"cloud_show_table",
       {"cloud", "show", "--query", "{Name:name, Suffix:acrLoginServerEndpoint}", "-o",
        "table"}},
  });
  CliRunner cove(Env());
  auto shown = nlohmann::json::parse(RunOk(cove, {"cloud", "show"}).out);
  EXPECT_EQ(shown["register"], "az cloud register -n cove --endpoint-resource-manager " +
                                   endpoint_ + "/ --suffix-acr-login-server-endpoint .azurecr.io");
  EXPECT_EQ(shown["graph"], "az cloud update -n cove --cloud-config "
                            "'{\"endpoints\":{\"microsoftGraphResourceId\":\"" +
                                endpoint_ + "/\"}}'");
  EXPECT_EQ(shown["environment"]["REQUESTS_CA_BUNDLE"], data_.path() + "/tls/ca.crt");
  EXPECT_EQ(shown["environment"]["NODE_EXTRA_CA_CERTS"], data_.path() + "/tls/ca.crt");
  EXPECT_EQ(shown["environment"]["ARM_CLOUD_METADATA_URL"],
            endpoint_ + "/metadata/endpoints?api-version=2019-05-01");
  EXPECT_EQ(shown["activeDirectory"], endpoint_ + "/adfs");
}

TEST_F(GoldenTest, LoginAndAcrLogin) {
  Check({
      {"auth_setup_group", {"group", "create", "-n", "rg1", "-l", "westus", "-o", "none"}},
      {"auth_setup_acr",
       {"acr", "create", "-n", "authreg", "-g", "rg1", "--sku", "Premium", "-o", "none"}},
      {"auth_setup_user",
       {"ad", "user", "create", "--display-name", "Alice", "--user-principal-name",
        "alice@contoso.com", "--password", "Str0ng!pass", "-o", "none"}},
      {"login_wrong_password", {"login", "-u", "alice@contoso.com", "-p", "Wr0ng!pass"}},
      {"acr_login_not_logged_in", {"acr", "login", "-n", "authreg"}},
      {"login_user", {"login", "-u", "alice@contoso.com", "-p", "Str0ng!pass"}},
      {"account_show_user", {"account", "show", "--query", "user"}},
      {"get_access_token_tsv",
       {"account", "get-access-token", "--query", "[tokenType, tenant, subscription]", "-o",
        "tsv"}},
      // Without a role on the registry the exchange is refused (cove requires one, so the
      // failure shows at login rather than at the first pull).
      {"acr_login_no_role", {"acr", "login", "-n", "authreg"}},
      {"auth_setup_role",
       {"role", "assignment", "create", "--assignee", "alice@contoso.com", "--role", "AcrPull",
        "--scope",
        "/subscriptions/c0ffee00-0000-4000-8000-000000000001/resourceGroups/rg1/providers/"
        "Microsoft.ContainerRegistry/registries/authreg",
        "-o", "none"},
       /*admin=*/true},
      {"acr_login_expose_token",
       {"acr", "login", "-n", "authreg", "--expose-token", "--query", "loginServer", "-o",
        "tsv"}},
      {"acr_login_user", {"acr", "login", "-n", "authreg"}},
      {"logout", {"logout"}},
      {"logout_again", {"logout"}},
  });
}

// What goldens cannot hold (secrets and ids made per run): a service principal logs in with the
// password create-for-rbac printed; acr login writes credentials skopeo/podman read, keeping the
// Docker config's other entries.
TEST_F(GoldenTest, ServicePrincipalLoginAndDockerConfig) {
  CliRunner cove(Env());
  auto run = [&](const std::vector<std::string>& args) { return RunOk(cove, args); };
  MakeAuthRegistry(cove);
  auto sp = run({"ad", "sp", "create-for-rbac", "-n", "ci-pusher", "--role", "AcrPush",
                 "--scopes", kAuthReg});
  EXPECT_NE(sp.err.find("WARNING: Creating 'AcrPush' role assignment under scope '" +
                        std::string(kAuthReg) + "'"),
            std::string::npos)
      << sp.err;
  EXPECT_NE(sp.err.find("https://aka.ms/azadsp-cli"), std::string::npos);
  auto creds = nlohmann::json::parse(sp.out);
  ASSERT_EQ(creds.size(), 4u) << sp.out;
  EXPECT_EQ(creds["displayName"], "ci-pusher");
  EXPECT_EQ(creds["tenant"], "c0ffee00-0000-4000-8000-0000000000ff");
  std::string app_id = creds["appId"], password = creds["password"];
  EXPECT_EQ(password.size(), 32u);

  auto listed = run({"role", "assignment", "list", "--assignee", app_id, "--scope", kAuthReg,
                     "--query", "[].[principalName, roleDefinitionName, principalType]", "-o",
                     "tsv"});
  EXPECT_EQ(listed.out, app_id + "\tAcrPush\tServicePrincipal\n");

  // Idempotent as az: the same name reuses the application with a new password.
  auto again = run({"ad", "sp", "create-for-rbac", "-n", "ci-pusher"});
  EXPECT_NE(again.err.find("WARNING: Found an existing application instance: (id) "),
            std::string::npos)
      << again.err;
  auto creds2 = nlohmann::json::parse(again.out);
  EXPECT_EQ(creds2["appId"], app_id);
  EXPECT_NE(creds2["password"], password);
  password = creds2["password"];
  // One application and service principal of that name (the directory also holds coved's
  // bootstrap principal).
  EXPECT_EQ(run({"ad", "sp", "list", "--query", "length([?displayName=='ci-pusher'])"}).out,
            "1\n");
  EXPECT_EQ(run({"ad", "sp", "show", "--id", app_id, "--query", "displayName", "-o", "tsv"}).out,
            "ci-pusher\n");

  // A Docker config with another registry's entry and other keys, as users have.
  std::string docker = cove.env().docker_config_path;
  ASSERT_TRUE(WriteFileAtomic(
      docker, R"({"auths":{"docker.io":{"auth":"Ym9iOmh1bnRlcjI="}},"credsStore":"pass"})"));

  auto bad = cove({"login", "--service-principal", "-u", app_id, "-p", "not-the-secret",
                   "--tenant", "c0ffee00-0000-4000-8000-0000000000ff"});
  EXPECT_EQ(bad.code, 1);
  auto in = run({"login", "--service-principal", "-u", app_id, "-p", password, "--tenant",
                 "c0ffee00-0000-4000-8000-0000000000ff", "--query", "[0].user", "-o", "json"});
  EXPECT_EQ(nlohmann::json::parse(in.out),
            (nlohmann::json{{"name", app_id}, {"type", "servicePrincipal"}}));
  struct stat st {};
  ASSERT_EQ(::stat(LoginPath(cove.env().config_path).c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  // From here the CLI acts as the service principal (AcrPush on the registry: no ARM rights);
  // what an administrator does goes through `admin`.
  CliRunner admin(AdminEnv());
  EXPECT_EQ(cove({"acr", "show", "-n", "authreg"}).code, 3);  // AcrPush reads nothing in ARM
  std::string server =
      RunOk(admin, {"acr", "show", "-n", "authreg", "--query", "loginServer", "-o", "tsv"}).out;
  auto login = run({"acr", "login", "-n", "authreg"});
  EXPECT_EQ(login.out, "Login Succeeded\n");
  EXPECT_NE(login.err.find("names the credential helper 'pass'"), std::string::npos) << login.err;
  ASSERT_EQ(::stat(docker.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  server.pop_back();
  auto stored = ReadDockerAuth(docker, server);
  ASSERT_TRUE(stored && *stored);
  EXPECT_EQ((*stored)->first, kNullGuid);
  auto claims = JwtClaims((*stored)->second);
  ASSERT_TRUE(claims) << (*stored)->second;
  EXPECT_EQ((*claims)["aud"], server);
  EXPECT_EQ((*claims)["grant_type"], "refresh_token");
  std::ifstream in_file(docker);
  auto config = nlohmann::json::parse(in_file);
  EXPECT_EQ(config["auths"]["docker.io"]["auth"], "Ym9iOmh1bnRlcjI=");
  EXPECT_EQ(config["credsStore"], "pass");

  // The admin user with -u/-p: written as given.
  RunOk(admin, {"acr", "update", "-n", "authreg", "--admin-enabled", "true", "-o", "none"});
  EXPECT_EQ(cove({"acr", "credential", "show", "-n", "authreg", "-g", "rg1"}).code, 1);  // 403
  auto credentials =
      nlohmann::json::parse(RunOk(admin, {"acr", "credential", "show", "-n", "authreg"}).out);
  std::string admin_password = credentials["passwords"][0]["value"];
  run({"acr", "login", "-n", "authreg", "-u", "authreg", "-p", admin_password});
  stored = ReadDockerAuth(docker, server);
  ASSERT_TRUE(stored && *stored);
  EXPECT_EQ((*stored)->first, "authreg");
  EXPECT_EQ((*stored)->second, admin_password);

  // Deleting the service principal leaves nothing to show.
  EXPECT_EQ(cove({"ad", "sp", "delete", "--id", app_id}).code, 1);  // no directory writes
  RunOk(admin, {"ad", "sp", "delete", "--id", app_id});
  EXPECT_EQ(admin({"ad", "sp", "show", "--id", app_id}).code, 3);
}

// Nobody signed in: the CLI acts as coved's bootstrap principal when it can read
// <data dir>/bootstrap.json; `login --bootstrap` stores that account; without the file nothing
// is authorized.
TEST_F(GoldenTest, BootstrapCredential) {
  std::ifstream in(data_.path() + "/bootstrap.json");
  auto file = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
  ASSERT_TRUE(file.is_object());
  CliRunner cove(Env());
  RunOk(cove, {"group", "create", "-n", "boot", "-l", "westus", "-o", "none"});
  EXPECT_EQ(RunOk(cove, {"account", "get-access-token", "--query", "tokenType", "-o", "tsv"}).out,
            "Bearer\n");
  auto in_as = RunOk(cove, {"login", "--bootstrap", "--query", "[0].user", "-o", "json"});
  EXPECT_EQ(nlohmann::json::parse(in_as.out),
            (nlohmann::json{{"name", file["clientId"]}, {"type", "servicePrincipal"}}));
  EXPECT_EQ(RunOk(cove, {"account", "show", "--query", "user.name", "-o", "tsv"}).out,
            file["clientId"].get<std::string>() + "\n");
  RunOk(cove, {"logout"});

  auto elsewhere = Env();
  elsewhere.data_dir = config_.path() + "/not-coved";
  elsewhere.ca_file = data_.path() + "/tls/ca.crt";
  CliRunner stranger(elsewhere);
  auto refused = stranger({"group", "list"});
  EXPECT_EQ(refused.code, 1);
  EXPECT_EQ(refused.err.rfind("ERROR: Please run 'cove login' to setup account", 0), 0u)
      << refused.err;
  auto no_file = stranger({"login", "--bootstrap"});
  EXPECT_EQ(no_file.code, 1);
  EXPECT_NE(no_file.err.find("cannot read coved's bootstrap credential"), std::string::npos)
      << no_file.err;
}

// A managed identity is a principal: assigned a role by its principalId, listed under its
// client id (az shows a service principal's first servicePrincipalName).
TEST_F(GoldenTest, ManagedIdentityRoleAssignment) {
  CliRunner cove(Env());
  auto run = [&](const std::vector<std::string>& args) { return RunOk(cove, args); };
  MakeAuthRegistry(cove);
  // A managed identity, assigned by its principalId, listed with its client id as name.
  auto mi = nlohmann::json::parse(run({"identity", "create", "-g", "rg1", "-n", "aci"}).out);
  std::string principal = mi["principalId"], client = mi["clientId"];
  auto assigned = nlohmann::json::parse(run({"role", "assignment", "create", "--assignee",
                                             principal, "--role", "AcrPull", "--scope",
                                             kAuthReg})
                                            .out);
  EXPECT_EQ(assigned["principalType"], "ServicePrincipal");
  EXPECT_EQ(assigned["principalId"], principal);
  auto listed = run({"role", "assignment", "list", "--all", "--assignee", client, "--query",
                     "[].roleDefinitionName", "-o", "tsv"});
  EXPECT_EQ(listed.out, "AcrPull\n");
}

// `acr login`'s managed-identity half after IMDS: the identity token exchanged at the registry's
// own https://<loginServer>/oauth2/exchange over verified TLS (coved's registry listener, its CA),
// refused with az's warning and error and the registry's reason, then granted once the
// identity holds AcrPull. (A user's token stands in for an IMDS token here: both are identity
// tokens issued by coved.)
TEST_F(GoldenTest, RegistryExchangeOverHttps) {
  int tls_port = coved_->TlsPort();
  ASSERT_NE(tls_port, 0) << coved_->log();
  CliRunner cove(Env());
  MakeAuthRegistry(cove);
  RunOk(cove, {"ad", "user", "create", "--display-name", "Bob", "--user-principal-name",
               "bob@contoso.com", "--password", "Str0ng!pass", "-o", "none"});
  RunOk(cove, {"login", "-u", "bob@contoso.com", "-p", "Str0ng!pass", "-o", "none"});
  auto login = ReadLogin(LoginPath(cove.env().config_path));
  ASSERT_TRUE(login && *login);
  http::HttpsOptions tls{.ca_file = data_.path() + "/tls/ca.crt",
                   .connect_to = "127.0.0.1:" + std::to_string(tls_port)};
  std::ostringstream out, err;
  Context ctx(out, err, cove.env());
  auto refused = ExchangeAtRegistry(ctx, "authreg.azurecr.io", (*login)->tenant,
                                    (*login)->access_token, tls);
  ASSERT_TRUE(std::holds_alternative<Outcome>(refused));
  EXPECT_EQ(std::get<Outcome>(refused).exit_code, 1);
  EXPECT_EQ(std::get<Outcome>(refused).error,
            "Unable to authenticate using AAD or admin login credentials.");
  EXPECT_NE(err.str().find("WARNING: Unable to get AAD authorization tokens with message: Access "
                           "to registry 'authreg.azurecr.io' was denied. Response code: 40"),
            std::string::npos)
      << err.str();
  // Bob may not give himself a role; the administrator does.
  EXPECT_EQ(cove({"role", "assignment", "create", "--assignee", "bob@contoso.com", "--role",
                  "AcrPull", "--scope", kAuthReg, "-o", "none"})
                .code,
            1);
  RunOk(CliRunner(AdminEnv()), {"role", "assignment", "create", "--assignee", "bob@contoso.com",
                                "--role", "AcrPull", "--scope", kAuthReg, "-o", "none"});
  auto granted = ExchangeAtRegistry(ctx, "authreg.azurecr.io", (*login)->tenant,
                                    (*login)->access_token, tls);
  ASSERT_TRUE(std::holds_alternative<std::string>(granted))
      << std::get<Outcome>(granted).error << "\n" << err.str();
  auto claims = JwtClaims(std::get<std::string>(granted));
  ASSERT_TRUE(claims.has_value());
  // The registry's certificate names authreg.azurecr.io, not another host.
  auto wrong = ExchangeAtRegistry(ctx, "otherhost.example", (*login)->tenant,
                                  (*login)->access_token, tls);
  ASSERT_TRUE(std::holds_alternative<Outcome>(wrong));
  EXPECT_NE(std::get<Outcome>(wrong).error.find("Unable to reach the registry 'otherhost.example'"),
            std::string::npos)
      << std::get<Outcome>(wrong).error;
}

// ACR's retention policy for untagged manifests and `acr show-usage` (issue 13).
TEST_F(GoldenTest, RetentionAndUsage) {
  Check({
      {"retention_setup_group", {"group", "create", "-n", "rg1", "-l", "westus", "-o", "none"}},
      {"retention_setup_acr",
       {"acr", "create", "-n", "retreg", "-g", "rg1", "--sku", "Premium", "-o", "none"}},
      {"acr_config_retention_show_default", {"acr", "config", "retention", "show", "-r", "retreg"}},
      {"acr_config_retention_update",
       {"acr", "config", "retention", "update", "-r", "retreg", "--status", "Enabled", "--days",
        "30", "--type", "UntaggedManifests"}},
      {"acr_config_retention_update_days_range",
       {"acr", "config", "retention", "update", "-r", "retreg", "--status", "enabled", "--days",
        "366", "--type", "UntaggedManifests"}},
      {"acr_config_retention_show_tsv",
       {"acr", "config", "retention", "show", "-r", "retreg", "--query", "[status, days]", "-o",
        "tsv"}},
      {"acr_show_retention_policy",
       {"acr", "show", "-n", "retreg", "--query", "policies.retentionPolicy.{days:days, "
        "status:status}"}},
      {"acr_show_usage", {"acr", "show-usage", "-n", "retreg"}},
      {"retention_setup_basic",
       {"acr", "create", "-n", "basicreg", "-g", "rg1", "--sku", "Basic", "-o", "none"}},
      {"acr_config_retention_update_basic",
       {"acr", "config", "retention", "update", "-r", "basicreg", "--status", "enabled",
        "--type", "UntaggedManifests"}},
      {"acr_show_usage_basic_tsv",
       {"acr", "show-usage", "-n", "basicreg", "--query", "value[].[name, limit]", "-o", "tsv"}},
  });
}

// A managed-identity account (as `login --identity` stores it inside a machine) shows az's user.
// On-premises connectivity (issue 14): gateways, connections, ExpressRoute, the DNS Private
// Resolver and cove's on-premises sites, with Azure's errors for the bad inputs.
TEST_F(GoldenTest, OnPremisesConnectivity) {
  const std::string hub =
      "/subscriptions/c0ffee00-0000-4000-8000-000000000001/resourceGroups/rg1/providers/"
      "Microsoft.Network/virtualNetworks/hub";
  const std::string out_endpoint =
      "/subscriptions/c0ffee00-0000-4000-8000-000000000001/resourceGroups/rg1/providers/"
      "Microsoft.Network/dnsResolvers/resolver/outboundEndpoints/out";
  Check({
      {"onprem_setup_group", {"group", "create", "-n", "rg1", "-l", "westus", "-o", "none"}},
      {"onprem_setup_vnet",
       {"network", "vnet", "create", "-g", "rg1", "-n", "hub", "--address-prefixes", "10.0.0.0/16",
        "--subnet-name", "GatewaySubnet", "--subnet-prefixes", "10.0.255.0/28", "-o", "none"}},
      {"onprem_setup_spoke",
       {"network", "vnet", "create", "-g", "rg1", "-n", "spoke", "--address-prefixes",
        "10.1.0.0/16", "--subnet-name", "default", "--subnet-prefixes", "10.1.0.0/24", "-o",
        "none"}},
      // VPN gateway: its public IP, the GatewaySubnet rule, the /27 warning.
      {"onprem_public_ip_create", {"network", "public-ip", "create", "-g", "rg1", "-n", "gwip"}},
      {"onprem_public_ip_dynamic",
       {"network", "public-ip", "create", "-g", "rg1", "-n", "dyn", "--allocation-method",
        "Dynamic"}},
      {"onprem_vnet_gateway_create",
       {"network", "vnet-gateway", "create", "-g", "rg1", "-n", "vpngw", "--vnet", "hub",
        "--public-ip-address", "gwip", "--gateway-type", "Vpn", "--vpn-type", "RouteBased", "--sku",
        "VpnGw1", "--query",
        "vnetGateway.{type:gatewayType, sku:sku.name, asn:bgpSettings.asn, "
        "peering:bgpSettings.bgpPeeringAddress, tunnel:bgpSettings.bgpPeeringAddresses[0]."
        "tunnelIpAddresses[0]}"}},
      {"onprem_vnet_gateway_show", {"network", "vnet-gateway", "show", "-g", "rg1", "-n", "vpngw"}},
      {"onprem_vnet_gateway_policy_based",
       {"network", "vnet-gateway", "create", "-g", "rg1", "-n", "vpngw2", "--vnet", "hub",
        "--public-ip-address", "gwip", "--vpn-type", "PolicyBased"}},
      {"onprem_vnet_gateway_no_gateway_subnet",
       {"network", "vnet-gateway", "create", "-g", "rg1", "-n", "spokegw", "--vnet", "spoke",
        "--public-ip-address", "gwip"}},
      {"onprem_vnet_gateway_reserved_asn",
       {"network", "vnet-gateway", "create", "-g", "rg1", "-n", "vpngw2", "--vnet", "hub",
        "--public-ip-address", "gwip", "--asn", "65517"}},
      {"onprem_public_ip_delete_in_use",
       {"network", "public-ip", "delete", "-g", "rg1", "-n", "gwip"}},
      // The on-premises end and the IPsec connection.
      {"onprem_local_gateway_create",
       {"network", "local-gateway", "create", "-g", "rg1", "-n", "site1", "--gateway-ip-address",
        "192.0.2.130", "--local-address-prefixes", "192.168.0.0/16"}},
      {"onprem_setup_overlapping_local_gateway",
       {"network", "local-gateway", "create", "-g", "rg1", "-n", "overlap", "--gateway-ip-address",
        "192.0.2.140", "--local-address-prefixes", "10.0.5.0/24", "-o", "none"}},
      {"onprem_vpn_connection_overlap",
       {"network", "vpn-connection", "create", "-g", "rg1", "-n", "bad", "--vnet-gateway1", "vpngw",
        "--local-gateway2", "overlap", "--shared-key", "abc123"}},
      {"onprem_vpn_connection_one_end",
       {"network", "vpn-connection", "create", "-g", "rg1", "-n", "bad", "--vnet-gateway1",
        "vpngw"}},
      {"onprem_vpn_connection_create",
       {"network", "vpn-connection", "create", "-g", "rg1", "-n", "c1", "--vnet-gateway1", "vpngw",
        "--local-gateway2", "site1", "--shared-key", "abc123"}},
      {"onprem_vpn_connection_status",
       {"network", "vpn-connection", "show", "-g", "rg1", "-n", "c1", "--query",
        "{status:connectionStatus, ingress:ingressBytesTransferred, "
        "egress:egressBytesTransferred}"}},
      {"onprem_shared_key_show",
       {"network", "vpn-connection", "shared-key", "show", "-g", "rg1", "--connection-name", "c1"}},
      {"onprem_shared_key_update",
       {"network", "vpn-connection", "shared-key", "update", "-g", "rg1", "--connection-name", "c1",
        "--value", "n3w-k3y"}},
      {"onprem_vnet_gateway_delete_in_use",
       {"network", "vnet-gateway", "delete", "-g", "rg1", "-n", "vpngw"}},
      {"onprem_local_gateway_update",
       {"network", "local-gateway", "update", "-g", "rg1", "-n", "site1", "--local-address-prefixes",
        "192.168.0.0/16", "172.16.0.0/12", "--query", "localNetworkAddressSpace.addressPrefixes",
        "-o", "tsv"}},
      {"onprem_local_gateway_list_table",
       {"network", "local-gateway", "list", "-g", "rg1", "--query",
        "[].{Name:name, Address:gatewayIpAddress}", "-o", "table"}},
      // ExpressRoute: the circuit, its private peering, the gateway and the connection.
      {"onprem_er_create",
       {"network", "express-route", "create", "-g", "rg1", "-n", "er1", "--bandwidth", "50",
        "--provider", "Equinix", "--peering-location", "Silicon Valley", "--sku-tier", "Standard",
        "--sku-family", "MeteredData"}},
      {"onprem_er_bad_bandwidth",
       {"network", "express-route", "create", "-g", "rg1", "-n", "er2", "--bandwidth", "75",
        "--provider", "Equinix", "--peering-location", "Silicon Valley"}},
      {"onprem_er_peering_reserved_asn",
       {"network", "express-route", "peering", "create", "-g", "rg1", "--circuit-name", "er1",
        "--peering-type", "AzurePrivatePeering", "--peer-asn", "65515", "--vlan-id", "100",
        "--primary-peer-subnet", "172.16.0.0/30", "--secondary-peer-subnet", "172.16.0.4/30"}},
      {"onprem_er_peering_not_30",
       {"network", "express-route", "peering", "create", "-g", "rg1", "--circuit-name", "er1",
        "--peering-type", "AzurePrivatePeering", "--peer-asn", "65010", "--vlan-id", "100",
        "--primary-peer-subnet", "172.16.0.0/29", "--secondary-peer-subnet", "172.16.0.8/30"}},
      {"onprem_er_peering_create",
       {"network", "express-route", "peering", "create", "-g", "rg1", "--circuit-name", "er1",
        "--peering-type", "AzurePrivatePeering", "--peer-asn", "65010", "--vlan-id", "100",
        "--primary-peer-subnet", "172.16.0.0/30", "--secondary-peer-subnet", "172.16.0.4/30"}},
      {"onprem_er_gateway_create",
       {"network", "vnet-gateway", "create", "-g", "rg1", "-n", "ergw", "--vnet", "hub",
        "--gateway-type", "ExpressRoute", "--sku", "Standard", "--query",
        "vnetGateway.bgpSettings.bgpPeeringAddress", "-o", "tsv"}},
      {"onprem_er_connection_create",
       {"network", "vpn-connection", "create", "-g", "rg1", "-n", "er", "--vnet-gateway1", "ergw",
        "--express-route-circuit2", "er1", "--query",
        "resource.{type:connectionType, status:connectionStatus, circuit:peer.id}"}},
      {"onprem_er_peering_disable",
       {"network", "express-route", "peering", "update", "-g", "rg1", "--circuit-name", "er1", "-n",
        "AzurePrivatePeering", "--state", "Disabled", "--query", "state", "-o", "tsv"}},
      {"onprem_er_delete_in_use", {"network", "express-route", "delete", "-g", "rg1", "-n", "er1"}},
      // The DNS Private Resolver: delegated subnets, endpoints, a ruleset with a rule and a link.
      {"onprem_subnet_inbound",
       {"network", "vnet", "subnet", "create", "-g", "rg1", "--vnet-name", "hub", "-n", "inbound",
        "--address-prefixes", "10.0.10.0/28", "--delegations", "Microsoft.Network/dnsResolvers",
        "--query", "delegations[0].{name:name, service:serviceName, actions:actions}"}},
      {"onprem_setup_subnets",
       {"network", "vnet", "subnet", "create", "-g", "rg1", "--vnet-name", "hub", "-n", "outbound",
        "--address-prefixes", "10.0.11.0/28", "--delegations", "Microsoft.Network/dnsResolvers",
        "-o", "none"}},
      {"onprem_dns_resolver_create",
       {"dns-resolver", "create", "-g", "rg1", "-n", "resolver", "--id", hub}},
      {"onprem_inbound_not_delegated",
       {"dns-resolver", "inbound-endpoint", "create", "-g", "rg1", "--dns-resolver-name",
        "resolver", "-n", "in0", "--ip-configurations",
        "[{private-ip-allocation-method:Dynamic,id:" + hub + "/subnets/GatewaySubnet}]"}},
      {"onprem_inbound_create",
       {"dns-resolver", "inbound-endpoint", "create", "-g", "rg1", "--dns-resolver-name",
        "resolver", "-n", "in", "--ip-configurations",
        "[{private-ip-address:'',private-ip-allocation-method:Dynamic,id:" + hub +
            "/subnets/inbound}]"}},
      {"onprem_outbound_same_subnet",
       {"dns-resolver", "outbound-endpoint", "create", "-g", "rg1", "--dns-resolver-name",
        "resolver", "-n", "out", "--id", hub + "/subnets/inbound"}},
      {"onprem_outbound_create",
       {"dns-resolver", "outbound-endpoint", "create", "-g", "rg1", "--dns-resolver-name",
        "resolver", "-n", "out", "--id", hub + "/subnets/outbound", "--query", "subnet.id", "-o",
        "tsv"}},
      {"onprem_ruleset_create",
       {"dns-resolver", "forwarding-ruleset", "create", "-g", "rg1", "-n", "rs",
        "--outbound-endpoints", "[{id:" + out_endpoint + "}]"}},
      {"onprem_rule_no_trailing_dot",
       {"dns-resolver", "forwarding-rule", "create", "-g", "rg1", "--ruleset-name", "rs", "-n",
        "corp", "--domain-name", "corp.example", "--target-dns-servers",
        "[{ip-address:192.168.0.53,port:53}]"}},
      {"onprem_rule_create",
       {"dns-resolver", "forwarding-rule", "create", "-g", "rg1", "--ruleset-name", "rs", "-n",
        "corp", "--domain-name", "corp.example.", "--forwarding-rule-state", "Enabled",
        "--target-dns-servers", "[{ip-address:192.168.0.53,port:53}]"}},
      {"onprem_vnet_link_create",
       {"dns-resolver", "vnet-link", "create", "-g", "rg1", "--ruleset-name", "rs", "-n", "hub",
        "--id", hub, "--query", "virtualNetwork.id", "-o", "tsv"}},
      {"onprem_rule_list_table",
       {"dns-resolver", "forwarding-rule", "list", "-g", "rg1", "--ruleset-name", "rs", "--query",
        "[].{Name:name, Domain:domainName, Target:targetDnsServers[0].ipAddress, "
        "State:forwardingRuleState}",
        "-o", "table"}},
      {"onprem_outbound_delete_in_use",
       {"dns-resolver", "outbound-endpoint", "delete", "-g", "rg1", "--dns-resolver-name",
        "resolver", "-n", "out", "--yes"}},
      // An on-premises site of cove's own, with BIND forwarding azurecr.io to the inbound endpoint.
      {"onprem_site_create",
       {"onprem", "site", "create", "-g", "rg1", "-n", "site1", "--address-prefixes",
        "192.168.0.0/16", "--dns-server", "bind", "--forwarder", "azurecr.io=10.0.10.4", "--asn",
        "65010"}},
      {"onprem_site_public_ip_out_of_range",
       {"onprem", "site", "create", "-g", "rg1", "-n", "site2", "--address-prefixes",
        "172.20.0.0/16", "--public-ip-address", "198.51.100.7"}},
      {"onprem_site_bad_forwarder",
       {"onprem", "site", "create", "-g", "rg1", "-n", "site2", "--address-prefixes",
        "172.20.0.0/16", "--dns-server", "unbound", "--forwarder", "azurecr.io"}},
      {"onprem_machine_create",
       {"onprem", "machine", "create", "-g", "rg1", "--site", "site1", "-n", "host1"}},
      {"onprem_machine_address_taken",
       {"onprem", "machine", "create", "-g", "rg1", "--site", "site1", "-n", "host2", "--address",
        "192.168.0.10"}},
      {"onprem_machine_list_table",
       {"onprem", "machine", "list", "-g", "rg1", "--site", "site1", "--query",
        "[].{Name:name, Address:address}", "-o", "table"}},
      {"onprem_site_update_unbound",
       {"onprem", "site", "update", "-g", "rg1", "-n", "site1", "--dns-server", "unbound",
        "--query", "dnsServer"}},
  });
}

TEST_F(GoldenTest, ManagedIdentityAccountShow) {
  CliRunner cove(Env());
  LoginState login{"systemAssignedIdentity", "servicePrincipal", kCoveTenant, "t", 4102444800};
  login.assigned_identity_info = "MSI";
  login.subscription = "c0ffee00-0000-4000-8000-000000000001";
  login.acr_suffix = "azurecr.io";
  ASSERT_TRUE(WriteLogin(LoginPath(cove.env().config_path), login));
  auto r = RunOk(cove, {"account", "show", "--query", "user", "-o", "json"});
  EXPECT_EQ(nlohmann::json::parse(r.out),
            nlohmann::json({{"assignedIdentityInfo", "MSI"},
                            {"name", "systemAssignedIdentity"},
                            {"type", "servicePrincipal"}}));
}

// Managed identities on container groups (wip/arm-mi, merged). Asserts the contract
// (prompts/mi-contract.md).
TEST_F(GoldenTest, MachinesWithManagedIdentities) {
  CliRunner cove(Env());
  auto run = [&](const std::vector<std::string>& args) { return RunOk(cove, args); };
  auto json_of = [&](const std::vector<std::string>& args) {
    auto r = run(args);
    return nlohmann::json::parse(r.out.empty() ? "null" : r.out);
  };
  MakeAuthRegistry(cove);
  auto mi = json_of({"identity", "create", "-g", "rg1", "-n", "aci", "-o", "json"});
  std::string mi_id = mi["id"];
  auto r = cove({"container", "create", "-g", "rg1", "-n", "grp1", "--image",
                 "authreg.azurecr.io/hello:v1", "--assign-identity", "aci", "--acr-identity",
                 "aci", "--ip-address", "Public", "-e", "A=1", "--secure-environment-variables",
                 "S=hidden-value", "--command-line", "sleep infinity", "-o", "json"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out.find("hidden-value"), std::string::npos) << "a secureValue came back";
  auto g = nlohmann::json::parse(r.out);
  EXPECT_EQ(g["provisioningState"], "Succeeded");
  EXPECT_EQ(g["osType"], "Linux");
  EXPECT_EQ(g["restartPolicy"], "Always");
  EXPECT_EQ(g["resourceGroup"], "rg1");
  EXPECT_EQ(g["instanceView"]["state"], "Pending");  // no containers plane in this test
  EXPECT_EQ(g["containers"][0]["image"], "authreg.azurecr.io/hello:v1");
  EXPECT_EQ(g["containers"][0]["command"], nlohmann::json({"sleep", "infinity"}));
  EXPECT_EQ(g["containers"][0]["resources"]["requests"]["memoryInGB"], 1.5);
  EXPECT_EQ(g["ipAddress"]["type"], "Public");
  std::string group_ip = g["ipAddress"].value("ip", "");
  EXPECT_EQ(group_ip.rfind("198.51.100.", 0), 0u) << g.dump();
  EXPECT_EQ(g["identity"]["type"], "UserAssigned");
  ASSERT_EQ(g["identity"]["userAssignedIdentities"].size(), 1u);
  for (const auto& [id, v] : g["identity"]["userAssignedIdentities"].items()) {
    EXPECT_EQ(AsciiLower(id), AsciiLower(mi_id));
    EXPECT_EQ(v["clientId"], mi["clientId"]);
    EXPECT_EQ(v["principalId"], mi["principalId"]);
  }
  EXPECT_EQ(g["imageRegistryCredentials"][0]["server"], "authreg.azurecr.io");
  EXPECT_EQ(AsciiLower(g["imageRegistryCredentials"][0].value("identity", "")), AsciiLower(mi_id));
  EXPECT_EQ(run({"container", "list", "-g", "rg1", "--query", "[].name", "-o", "tsv"}).out,
            "grp1\n");
  EXPECT_EQ(json_of({"container", "show", "-g", "rg1", "-n", "grp1", "-o", "json"})["id"], g["id"]);
  // Private groups are refused: cove runs container groups on the public network only.
  r = cove({"container", "create", "-g", "rg1", "-n", "grp2", "--image", "nginx",
            "--ip-address", "Private"});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(AsciiLower(r.err).find("public"), std::string::npos) << r.err;

  // A public VM with a system-assigned identity that may pull.
  auto vm = json_of({"vm", "create", "-g", "rg1", "-n", "vm1", "--public", "--assign-identity",
                     "--role", "AcrPull", "--scope", kAuthReg, "-o", "json"});
  std::string principal = vm["identity"]["systemAssignedIdentity"];
  EXPECT_FALSE(principal.empty()) << vm.dump();
  EXPECT_EQ(vm["identity"]["role"], "AcrPull");
  EXPECT_EQ(vm["identity"]["scope"], kAuthReg);
  EXPECT_NE(vm["publicIpAddress"], group_ip) << "a VM and a group share a public address";
  // (--assignee does not resolve a system-assigned principal in the CLI yet: filter by id.)
  EXPECT_EQ(run({"role", "assignment", "list", "--all", "--query",
                 "[?principalId=='" + principal + "'].roleDefinitionName", "-o", "tsv"})
                .out,
            "AcrPull\n");
  auto shown = json_of({"vm", "identity", "show", "-g", "rg1", "-n", "vm1", "-o", "json"});
  EXPECT_EQ(shown["type"], "SystemAssigned");
  EXPECT_EQ(shown["principalId"], principal);
  EXPECT_EQ(shown["tenantId"], kCoveTenant);
  // Adding a user-assigned identity keeps the system-assigned principal.
  auto assigned = json_of({"vm", "identity", "assign", "-g", "rg1", "-n", "vm1", "--identities",
                           "aci", "-o", "json"});
  EXPECT_EQ(assigned["systemAssignedIdentity"], principal);
  EXPECT_EQ(assigned["userAssignedIdentities"].size(), 1u);
  // Removing [system] (the default) leaves the user-assigned one.
  auto left = json_of({"vm", "identity", "remove", "-g", "rg1", "-n", "vm1", "-o", "json"});
  EXPECT_EQ(left["type"], "UserAssigned");
  EXPECT_FALSE(left.contains("principalId"));
  run({"vm", "identity", "remove", "-g", "rg1", "-n", "vm1", "--identities", "aci"});
  r = cove({"vm", "identity", "remove", "-g", "rg1", "-n", "vm1", "--identities", "aci"});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("are not associated with 'vm1'"), std::string::npos) << r.err;
  EXPECT_EQ(run({"vm", "identity", "show", "-g", "rg1", "-n", "vm1"}).out, "");

  auto deleted = json_of({"container", "delete", "-g", "rg1", "-n", "grp1", "--yes", "-o", "json"});
  EXPECT_EQ(deleted["name"], "grp1");
  EXPECT_EQ(cove({"container", "show", "-g", "rg1", "-n", "grp1"}).code, 3);
}

// AKS (issue 16): create with --attach-acr (the AcrPull assignment the CLI makes), scale,
// nodepools, cove's deployments, get-credentials' error, detach.
TEST_F(GoldenTest, AksClusters) {
  const std::string rg = "/subscriptions/c0ffee00-0000-4000-8000-000000000001/resourceGroups/rg1";
  const std::string subnet = rg + "/providers/Microsoft.Network/virtualNetworks/v1/subnets/s1";
  const std::string reg = rg + "/providers/Microsoft.ContainerRegistry/registries/aksreg";
  CliRunner cove(Env());
  RunOk(cove, {"group", "create", "-n", "rg1", "-l", "westus", "-o", "none"});
  RunOk(cove, {"network", "vnet", "create", "-g", "rg1", "-n", "v1", "--address-prefixes",
               "10.1.0.0/16", "--subnet-name", "s1", "--subnet-prefixes", "10.1.0.0/24", "-o",
               "none"});
  RunOk(cove, {"acr", "create", "-n", "aksreg", "-g", "rg1", "--sku", "Premium", "-o", "none"});
  Check({
      {"aks_create_no_subnet", {"aks", "create", "-g", "rg1", "-n", "aks1", "--node-count", "2"}},
      {"aks_create_attach_acr",
       {"aks", "create", "-g", "rg1", "-n", "aks1", "--node-count", "2", "--vnet-subnet-id",
        subnet, "--attach-acr", "aksreg", "--generate-ssh-keys", "--query",
        "{name:name, state:provisioningState, power:powerState.code, "
        "nodeResourceGroup:nodeResourceGroup, dnsPrefix:dnsPrefix, "
        "pools:agentPoolProfiles[].{name:name, count:count, mode:mode}}"}},
      {"aks_attach_acr_role",
       {"role", "assignment", "list", "--scope", reg, "--query",
        "[].{Role:roleDefinitionName}", "-o", "table"}},
      {"aks_list_table",
       {"aks", "list", "-g", "rg1", "--query",
        "[].{Name:name, Location:location, Nodes:agentPoolProfiles[0].count}", "-o", "table"}},
      {"aks_scale",
       {"aks", "scale", "-g", "rg1", "-n", "aks1", "--node-count", "3", "--query",
        "agentPoolProfiles[].{name:name, count:count}"}},
      {"aks_nodepool_add",
       {"aks", "nodepool", "add", "-g", "rg1", "--cluster-name", "aks1", "-n", "userpool",
        "--node-count", "1", "--query", "{name:name, count:count, mode:mode, nodes:length(cove.nodes)}"}},
      {"aks_nodepool_show_nodes",
       {"aks", "nodepool", "show", "-g", "rg1", "--cluster-name", "aks1", "-n", "userpool",
        "--query", "cove.nodes[].privateIpAddress", "-o", "tsv"}},
      {"aks_nodepool_scale_zero",
       {"aks", "nodepool", "scale", "-g", "rg1", "--cluster-name", "aks1", "-n", "userpool",
        "--node-count", "0", "--query", "count"}},
      {"aks_nodepool_delete_system",
       {"aks", "nodepool", "delete", "-g", "rg1", "--cluster-name", "aks1", "-n", "nodepool1"}},
      {"aks_nodepool_delete",
       {"aks", "nodepool", "delete", "-g", "rg1", "--cluster-name", "aks1", "-n", "userpool"}},
      {"aks_nodepool_list_tsv",
       {"aks", "nodepool", "list", "-g", "rg1", "--cluster-name", "aks1", "--query",
        "[].name", "-o", "tsv"}},
      {"aks_deploy",
       {"aks", "deploy", "-g", "rg1", "-n", "aks1", "--name", "web", "--image",
        "aksreg.azurecr.io/hello:v1", "--replicas", "2", "--command", "sh -c 'echo hello'",
        "--env", "GREETING=hi", "--query",
        "{name:name, replicas:replicas, containers:containers, status:status}"}},
      {"aks_deployment_list_tsv",
       {"aks", "deployment", "list", "-g", "rg1", "--query", "[].name", "-o", "tsv"}},
      {"aks_get_credentials", {"aks", "get-credentials", "-g", "rg1", "-n", "aks1"}},
      {"aks_detach_acr",
       {"aks", "update", "-g", "rg1", "-n", "aks1", "--detach-acr", "aksreg", "--query", "name"}},
      {"aks_detach_acr_role", {"role", "assignment", "list", "--scope", reg}},
      {"aks_deployment_delete", {"aks", "deployment", "delete", "-g", "rg1", "-n", "web", "--yes"}},
      {"aks_delete", {"aks", "delete", "-g", "rg1", "-n", "aks1", "--yes"}},
      {"aks_show_deleted", {"aks", "show", "-g", "rg1", "-n", "aks1"}},
  });
}

}  // namespace
}  // namespace cove::cli
