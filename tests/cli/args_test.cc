// Argument parsing, help and usage errors: exit codes and az's messages. None of these reach a
// server (the endpoint is a closed port), which also shows that bad input sends nothing.
#include "cli/args.h"

#include <gtest/gtest.h>

#include "cli/commands.h"
#include "cli/context.h"
#include "cli_runner.h"
#include "support/temp_dir.h"

namespace cove::cli {
namespace {

using cove::testing::CliRunner;
using cove::testing::TempDir;
using cove::testing::TestEnvironment;

class CliArgsTest : public ::testing::Test {
 protected:
  TempDir dir_;
  CliRunner cove_{TestEnvironment(dir_.path())};
};

TEST_F(CliArgsTest, UnknownFlagIsReportedWithItsValuesAndExit2) {
  auto r = cove_({"group", "show", "-n", "rg", "--foo", "bar", "baz"});
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(r.err, "ERROR: unrecognized arguments: --foo bar baz\n");
  EXPECT_EQ(r.out, "");
}

TEST_F(CliArgsTest, StrayPositionalIsUnrecognized) {
  auto r = cove_({"network", "vnet", "list", "-g", "rg", "extra"});
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(r.err, "ERROR: unrecognized arguments: extra\n");
}

TEST_F(CliArgsTest, MissingRequiredArgumentsAreListedInOrder) {
  auto r = cove_({"network", "vnet", "create"});
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(r.err, "ERROR: the following arguments are required: --resource-group/-g, --name/-n\n");
  r = cove_({"acr", "create", "-n", "myregistry", "-g", "rg"});
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(r.err, "ERROR: the following arguments are required: --sku\n");
}

TEST_F(CliArgsTest, RequiredComesBeforeUnrecognizedAsInArgparse) {
  auto r = cove_({"group", "create", "-n", "rg", "--foo"});
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(r.err, "ERROR: the following arguments are required: --location/-l\n");
}

TEST_F(CliArgsTest, BadChoiceIsRefusedCaseInsensitiveMatchAccepted) {
  auto r = cove_({"acr", "create", "-n", "r", "-g", "g", "--sku", "Gold"});
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(r.err,
            "ERROR: argument --sku: invalid choice: 'Gold' (choose from 'Basic', 'Standard', "
            "'Premium')\n");
  auto parsed = Parse(*Commands().Find({"acr", "create"}).command,
                      {"-n", "r", "-g", "g", "--sku", "premium"});
  ASSERT_TRUE(std::holds_alternative<ParseResult>(parsed));
  EXPECT_EQ(std::get<ParseResult>(parsed).args.Get("--sku"), "Premium");
}

TEST_F(CliArgsTest, PolicyChoicesAreAzs) {
  auto r = cove_({"network", "vnet", "subnet", "update", "-g", "g", "--vnet-name", "v", "-n", "s",
                  "--private-endpoint-network-policies", "Off"});
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(r.err,
            "ERROR: argument --private-endpoint-network-policies: invalid choice: 'Off' (choose "
            "from 'Disabled', 'Enabled', 'NetworkSecurityGroupEnabled', 'RouteTableEnabled')\n");
}

TEST_F(CliArgsTest, ThreeStateFlagTakesOptionalBoolean) {
  const CommandSpec& update = *Commands().Find({"acr", "update"}).command;
  auto bare = std::get<ParseResult>(Parse(update, {"-n", "r", "--admin-enabled"}));
  EXPECT_EQ(bare.args.GetBool("--admin-enabled"), true);
  auto off = std::get<ParseResult>(Parse(update, {"-n", "r", "--public-network-enabled", "false"}));
  EXPECT_EQ(off.args.GetBool("--public-network-enabled"), false);
  auto eq = std::get<ParseResult>(Parse(update, {"-n", "r", "--data-endpoint-enabled=true"}));
  EXPECT_EQ(eq.args.GetBool("--data-endpoint-enabled"), true);
  auto r = cove_({"acr", "update", "-n", "r", "--admin-enabled", "maybe"});
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(r.err,
            "ERROR: argument --admin-enabled: invalid choice: 'maybe' (choose from 'false', "
            "'true')\n");
}

TEST_F(CliArgsTest, ListsRepeatsAndInlineValues) {
  const CommandSpec& create = *Commands().Find({"network", "private-endpoint", "create"}).command;
  auto p = std::get<ParseResult>(Parse(
      create, {"-g", "g", "--name=pe", "--subnet", "s", "--vnet-name", "v",
               "--private-connection-resource-id", "/subscriptions/x", "--connection-name", "c",
               "--group-ids", "registry", "--ip-config", "name=a", "member-name=registry",
               "--ip-config", "name=b", "private-ip-address=10.0.0.6"}));
  EXPECT_EQ(p.args.Get("--name"), "pe");
  EXPECT_EQ(p.args.GetList("--group-id"), std::vector<std::string>{"registry"});
  auto repeats = p.args.GetRepeats("--ip-config");
  ASSERT_EQ(repeats.size(), 2u);
  EXPECT_EQ(repeats[0], (std::vector<std::string>{"name=a", "member-name=registry"}));
  EXPECT_EQ(repeats[1], (std::vector<std::string>{"name=b", "private-ip-address=10.0.0.6"}));
}

TEST_F(CliArgsTest, MissingValueIsAUsageError) {
  auto r = cove_({"group", "show", "-n"});
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(r.err, "ERROR: argument --name/-n/--resource-group/-g: expected one argument\n");
  r = cove_({"network", "vnet", "create", "-g", "g", "-n", "v", "--address-prefixes"});
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(r.err, "ERROR: argument --address-prefixes: expected at least one argument\n");
}

TEST_F(CliArgsTest, OutputAndQueryAreCheckedBeforeAnythingRuns) {
  auto r = cove_({"group", "list", "-o", "xml"});
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(r.err,
            "ERROR: argument --output/-o: invalid choice: 'xml' (choose from 'json', 'jsonc', "
            "'none', 'table', 'tsv', 'yaml', 'yamlc')\n");
  r = cove_({"group", "list", "--query", "[?"});
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(r.err, "ERROR: argument --query: invalid jmespath_type value: '[?'\n");
}

TEST_F(CliArgsTest, UnknownCommandNamesItsGroup) {
  auto r = cove_({"network", "vnett", "list"});
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(r.err,
            "ERROR: 'vnett' is not in the 'cove network' command group. See 'cove network "
            "--help'.\n");
}

TEST_F(CliArgsTest, GlobalArgumentsMayPrecedeTheCommand) {
  auto r = cove_({"-o", "table", "group", "show", "--bogus"});
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(r.err, "ERROR: the following arguments are required: --name/-n/--resource-group/-g\n");
}

TEST_F(CliArgsTest, EveryCommandAndGroupHasHelp) {
  int commands = 0;
  for (const CommandSpec& c : Commands().commands()) {
    std::vector<std::string> args = c.path;
    args.push_back("--help");
    auto r = cove_(args);
    std::string title;
    for (const auto& w : c.path) title += " " + w;
    EXPECT_EQ(r.code, 0) << title;
    EXPECT_NE(r.out.find("Command\n    cove" + title + " : "), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("Global Arguments"), std::string::npos) << title;
    EXPECT_EQ(r.err, "");
    // -h anywhere, even after other arguments, wins.
    args.back() = "-h";
    args.insert(args.end() - 1, "--no-such-flag");
    EXPECT_EQ(cove_(args).code, 0) << title;
    ++commands;
    // Each group on the way has help listing this command or its subgroup.
    for (size_t depth = 0; depth < c.path.size(); ++depth) {
      std::vector<std::string> group(c.path.begin(), c.path.begin() + static_cast<long>(depth));
      auto g = cove_(group);
      EXPECT_EQ(g.code, 0);
      EXPECT_NE(g.out.find("\n    " + c.path[depth] + " "), std::string::npos) << title;
    }
  }
  EXPECT_GT(commands, 80);
}

TEST_F(CliArgsTest, HelpListsRequiredFirstThenByName) {
  auto r = cove_({"network", "private-endpoint", "create", "-h"});
  ASSERT_EQ(r.code, 0);
  size_t conn = r.out.find("--connection-name");
  size_t id = r.out.find("--private-connection-resource-id");
  size_t group_id = r.out.find("--group-id");
  ASSERT_NE(conn, std::string::npos);
  EXPECT_LT(conn, id);
  EXPECT_LT(id, group_id);  // required ones first
  EXPECT_NE(r.out.find("[Required]"), std::string::npos);
}

TEST_F(CliArgsTest, MalformedIdsAreRefused) {
  auto r = cove_({"network", "vnet", "show", "--ids", "/subscriptions"});
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(r.err, "ERROR: invalid resource ID: /subscriptions\n");
  // With --ids, the name arguments are not required.
  r = cove_({"network", "vnet", "show", "--ids",
             "/subscriptions/s/resourceGroups/g/providers/Microsoft.Network/virtualNetworks/v"});
  EXPECT_EQ(r.code, 1);  // parsed; fails only for want of a server
  EXPECT_NE(r.err.find("cannot reach coved"), std::string::npos);
}

TEST_F(CliArgsTest, BadIpConfigIsAUsageError) {
  auto r = cove_({"network", "private-endpoint", "create", "-g", "g", "-n", "pe", "--subnet", "s",
                  "--vnet-name", "v", "--private-connection-resource-id", "/subscriptions/x",
                  "--connection-name", "c", "--ip-config", "name=a", "colour=blue"});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("ERROR: argument --ip-config: unsupported key 'colour'"), std::string::npos);
  r = cove_({"network", "private-endpoint", "create", "-g", "g", "-n", "pe", "--subnet", "s",
             "--private-connection-resource-id", "/subscriptions/x", "--connection-name", "c"});
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(r.err, "ERROR: usage error: --subnet ID | --subnet NAME --vnet-name NAME\n");
}

TEST_F(CliArgsTest, DeprecatedFlagWarnsUnlessOnlyShowErrors) {
  // The warning is printed before the (failing) request; --only-show-errors silences it.
  auto r = cove_({"network", "vnet", "subnet", "update", "-g", "g", "--vnet-name", "v", "-n", "s",
                  "--disable-private-endpoint-network-policies"});
  EXPECT_EQ(r.err.rfind("WARNING: Argument '--disable-private-endpoint-network-policies' has been "
                        "deprecated and will be removed in a future release. Use "
                        "'--private-endpoint-network-policies' instead.\n",
                        0),
            0u)
      << r.err;
  r = cove_({"network", "vnet", "subnet", "update", "-g", "g", "--vnet-name", "v", "-n", "s",
             "--disable-private-endpoint-network-policies", "--only-show-errors"});
  EXPECT_EQ(r.err.find("WARNING"), std::string::npos);
}

TEST_F(CliArgsTest, UnreachableServerIsExit1WithAHint) {
  auto r = cove_({"group", "list"});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("ERROR: cannot reach coved at http://127.0.0.1:1"), std::string::npos);
}

TEST_F(CliArgsTest, DeleteWithoutTtyNeedsYes) {
  auto r = cove_({"group", "delete", "-n", "rg"});
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.err, "ERROR: Unable to prompt for confirmation as no tty available. Use --yes.\n");
}

TEST_F(CliArgsTest, BadEndpointIsReported) {
  // Plain HTTP only on loopback (coved --arm-insecure-http); anything else is HTTPS.
  for (std::string endpoint : {"http://example:7780", "ftp://127.0.0.1:7780", "example"}) {
    cove_.env().endpoint = endpoint;
    auto r = cove_({"group", "list"});
    EXPECT_EQ(r.code, 1);
    EXPECT_EQ(r.err, "ERROR: COVE_ENDPOINT must be https://HOST:PORT (or http://HOST:PORT on a "
                     "loopback host, for coved --arm-insecure-http), got '" + endpoint + "'\n");
  }
}

TEST_F(CliArgsTest, CaShowReadsTheDataDir) {
  auto r = cove_({"ca", "show", "--data-dir", dir_.Join("nowhere")});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("cannot read " + dir_.Join("nowhere") + "/tls/ca.crt"), std::string::npos);
}

TEST(ResourceIdTest, ParsesArmIds) {
  auto id = ParseResourceId(
      "/subscriptions/s/resourceGroups/g/providers/Microsoft.Network/virtualNetworks/v/subnets/x");
  ASSERT_TRUE(id);
  EXPECT_EQ(id->subscription, "s");
  EXPECT_EQ(id->resource_group, "g");
  EXPECT_EQ(id->Type(), "Microsoft.Network/virtualNetworks/subnets");
  EXPECT_EQ(id->Name(), "x");
  EXPECT_TRUE(ParseResourceId("/subscriptions/s/resourcegroups/g"));
  EXPECT_FALSE(ParseResourceId("/subscriptions/s/resourceGroups/g/providers/NS/type"));
  EXPECT_FALSE(ParseResourceId("subscriptions/s"));
  EXPECT_FALSE(ParseResourceId("/subscriptions//resourceGroups/g"));
}

TEST(ConfigTest, AccountSelectionIsStoredInTheConfigFile) {
  TempDir dir;
  std::ostringstream out, err;
  Context ctx(out, err, TestEnvironment(dir.path()));
  EXPECT_EQ(ctx.ConfigGet("subscription"), std::nullopt);
  ASSERT_TRUE(ctx.ConfigSet("subscription", "abc"));
  ASSERT_TRUE(ctx.ConfigSet("subscription", "def"));
  EXPECT_EQ(ctx.ConfigGet("subscription"), "def");
  auto sub = ctx.Subscription();
  ASSERT_TRUE(sub);
  EXPECT_EQ(*sub, "def");
}

}  // namespace
}  // namespace cove::cli
