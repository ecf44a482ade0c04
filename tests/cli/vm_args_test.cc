// `cove vm ...`, `cove down` and `cove up`'s new flags: parsing, help and usage errors, in-process
// (the endpoint is a closed port, so none of these changes anything anywhere).
#include <gtest/gtest.h>
#include <unistd.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli_runner.h"
#include "support/temp_dir.h"

namespace cove::cli {
namespace {

using cove::testing::CliRunner;
using cove::testing::TempDir;
using cove::testing::TestEnvironment;

class VmArgsTest : public ::testing::Test {
 protected:
  TempDir dir_;
  CliRunner cove_{TestEnvironment(dir_.path())};
};

TEST_F(VmArgsTest, VmGroupListsItsCommands) {
  auto r = cove_({"vm"});
  EXPECT_EQ(r.code, 0);
  for (const char* c : {"create", "show", "list", "delete", "list-ip-addresses", "exec"}) {
    EXPECT_NE(r.out.find(std::string("\n    ") + c + " "), std::string::npos) << c;
  }
}

TEST_F(VmArgsTest, CreateHelpHasAzsArgumentsAndCovesPublic) {
  auto r = cove_({"vm", "create", "--help"});
  EXPECT_EQ(r.code, 0);
  for (const char* a :
       {"--resource-group -g  [Required]", "--name -n            [Required]", "--vnet-name",
        "--subnet", "--private-ip-address", "--public", "--location -l"}) {
    EXPECT_NE(r.out.find(a), std::string::npos) << a << "\n" << r.out;
  }
  EXPECT_NE(r.out.find("cove vm create -g MyResourceGroup -n vm1 --vnet-name myVNet"),
            std::string::npos);
}

TEST_F(VmArgsTest, CreateRefusesContradictionsBeforeSendingAnything) {
  auto r = cove_({"vm", "create", "-g", "rg", "-n", "vm1"});
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_NE(r.err.find("--subnet (or --public)"), std::string::npos) << r.err;
  r = cove_({"vm", "create", "-g", "rg", "-n", "vm1", "--public", "--subnet", "s"});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("--public cannot be combined"), std::string::npos) << r.err;
  r = cove_({"vm", "create", "-g", "rg", "-n", "vm1", "--subnet", "mySubnet"});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("needs --vnet-name"), std::string::npos) << r.err;
  r = cove_({"vm", "create", "-n", "vm1", "--public"});
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(r.err, "ERROR: the following arguments are required: --resource-group/-g\n");
}

TEST_F(VmArgsTest, CreateWithGoodArgumentsReachesForCoved) {
  auto r = cove_({"vm", "create", "-g", "rg", "-n", "vm1", "--vnet-name", "v", "--subnet", "s",
                  "-l", "westus"});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("cannot reach coved"), std::string::npos) << r.err;
}

TEST_F(VmArgsTest, ExecTakesAVmAndACommandLineVerbatim) {
  const CommandSpec& exec = *Commands().Find({"vm", "exec"}).command;
  auto parsed = Parse(exec, {"vm1", "--fabric-prefix", "t1", "--", "dig", "-x", "--foo", "--"});
  ASSERT_TRUE(std::holds_alternative<ParseResult>(parsed));
  const ParsedArgs& a = std::get<ParseResult>(parsed).args;
  EXPECT_EQ(a.positional, std::vector<std::string>{"vm1"});
  EXPECT_EQ(a.rest, (std::vector<std::string>{"dig", "-x", "--foo", "--"}));
  EXPECT_EQ(a.GetOr("--fabric-prefix", ""), "t1");
  // Other commands still refuse stray words and `--`.
  auto other = Parse(*Commands().Find({"vm", "show"}).command, {"-g", "g", "-n", "v", "--", "x"});
  ASSERT_TRUE(std::holds_alternative<UsageError>(other));
  EXPECT_EQ(std::get<UsageError>(other).message, "unrecognized arguments: x");
}

TEST_F(VmArgsTest, ExecUsageErrors) {
  auto r = cove_({"vm", "exec", "vm1"});
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(r.err, "ERROR: no command given: cove vm exec VM -- CMD [ARG ...]\n");
  r = cove_({"vm", "exec", "--", "true"});
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(r.err, "ERROR: usage: cove vm exec [-g GROUP] VM -- CMD [ARG ...]\n");
  r = cove_({"vm", "exec", "a", "b", "--", "true"});
  EXPECT_EQ(r.code, 2);
  r = cove_({"vm", "exec", "vm1", "--", "true"});
  EXPECT_EQ(r.code, 1);
  if (::geteuid() == 0) {
    EXPECT_NE(r.err.find("cannot reach coved"), std::string::npos) << r.err;
  } else {
    EXPECT_EQ(r.err,
              "ERROR: cove vm exec must run as root: it enters the VM's network namespace\n");
  }
}

TEST_F(VmArgsTest, DeleteWithoutTtyNeedsYes) {
  auto r = cove_({"vm", "delete", "-g", "rg", "-n", "vm1"});
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.err, "ERROR: Unable to prompt for confirmation as no tty available. Use --yes.\n");
}

TEST_F(VmArgsTest, DownWithoutCovedRemovesNamespacesWithItsPrefixOnly) {
  // A prefix no namespace has: nothing to remove, and it says so (as root); without root it
  // refuses rather than pretending.
  auto r = cove_({"down", "--fabric-prefix", "zq9x"});
  EXPECT_NE(r.out.find("coved is not reachable at http://127.0.0.1:1: removing the namespaces "
                       "with prefix 'zq9x-' directly\n"),
            std::string::npos)
      << r.out;
  if (::geteuid() == 0) {
    EXPECT_EQ(r.code, 0) << r.err;
    EXPECT_NE(r.out.find("no namespaces with prefix 'zq9x-'"), std::string::npos) << r.out;
  } else {
    EXPECT_EQ(r.code, 1);
    EXPECT_EQ(r.err, "ERROR: removing namespaces needs root\n");
  }
}

TEST_F(VmArgsTest, UpHasStepFlags) {
  auto r = cove_({"up", "--help"});
  EXPECT_EQ(r.code, 0);
  for (const char* a : {"--no-vm", "--no-push", "--fabric-prefix", "--show-file"}) {
    EXPECT_NE(r.out.find(a), std::string::npos) << a;
  }
  r = cove_({"up", "--show-file"});
  EXPECT_EQ(r.code, 0);
  EXPECT_NE(r.out.find("type: Microsoft.Compute/virtualMachines\n  name: vm1"), std::string::npos);
}

}  // namespace
}  // namespace cove::cli
