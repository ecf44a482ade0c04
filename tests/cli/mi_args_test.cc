// Managed identities in the CLI without a server: `login --identity` refuses to run where
// 169.254.169.254 is not a local address (and, in a namespace of the test's own where it is,
// talks only to that namespace), the managed-identity account file, and the argument checks of
// `vm create --assign-identity`, `vm identity`, `container create|exec`. The endpoint is a
// closed loopback port, so none of these changes anything anywhere.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sched.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "cli/commands.h"
#include "cli/credentials.h"
#include "cli/imds.h"
#include "cli_runner.h"
#include "support/temp_dir.h"

namespace cove::cli {
namespace {

using cove::testing::CliResult;
using cove::testing::CliRunner;
using cove::testing::TempDir;
using cove::testing::TestEnvironment;

class MiArgsTest : public ::testing::Test {
 protected:
  std::string LoginFile() { return LoginPath(cove_.env().config_path); }
  // A managed-identity account as `login --identity` stores it.
  void StoreIdentityLogin(int64_t expires_on) {
    LoginState login{"userAssignedIdentity", "servicePrincipal", kCoveTenant, "cached.jwt.token",
                     expires_on};
    login.assigned_identity_info = "MSIClient-11111111-2222-3333-4444-555555555555";
    login.subscription = "c0ffee00-0000-4000-8000-000000000001";
    login.acr_suffix = "azurecr.io";
    ASSERT_TRUE(WriteLogin(LoginFile(), login));
  }
  TempDir dir_;
  CliRunner cove_{TestEnvironment(dir_.path())};
};

bool ImdsIsLocalHere() { return IsLocalAddress(kImdsAddress); }

TEST(ImdsTest, LocalAddressesAreThisNamespacesInterfaces) {
  EXPECT_TRUE(IsLocalAddress("127.0.0.1"));
  EXPECT_FALSE(IsLocalAddress("192.0.2.77"));  // TEST-NET-1: on no interface here
  EXPECT_FALSE(IsLocalAddress("not-an-address"));
  EXPECT_FALSE(IsLocalAddress("::1"));  // IPv4 only
}

TEST(ImdsTest, IdentitySelectorsAreAzsAssignedIdentityInfo) {
  using K = IdentitySelector::Kind;
  for (const IdentitySelector& s :
       {IdentitySelector{K::kSystem, ""}, IdentitySelector{K::kClientId, "c-1"},
        IdentitySelector{K::kObjectId, "o-1"},
        IdentitySelector{K::kResourceId,
                         "/subscriptions/s/resourceGroups/g/providers/"
                         "Microsoft.ManagedIdentity/userAssignedIdentities/i"}}) {
    auto back = IdentitySelector::FromInfo(s.AssignedIdentityInfo());
    ASSERT_TRUE(back) << s.AssignedIdentityInfo();
    EXPECT_EQ(back->kind, s.kind);
    EXPECT_EQ(back->value, s.value);
  }
  EXPECT_EQ(IdentitySelector{}.AssignedIdentityInfo(), "MSI");
  EXPECT_EQ(IdentitySelector{}.UserName(), "systemAssignedIdentity");
  EXPECT_EQ((IdentitySelector{K::kClientId, "abc"}).AssignedIdentityInfo(), "MSIClient-abc");
  EXPECT_EQ((IdentitySelector{K::kClientId, "abc"}).UserName(), "userAssignedIdentity");
  EXPECT_EQ((IdentitySelector{K::kObjectId, "abc"}).Query(), "&object_id=abc");
  EXPECT_EQ((IdentitySelector{K::kResourceId, "/a/b"}).Query(), "&msi_res_id=%2Fa%2Fb");
  EXPECT_EQ(IdentitySelector{}.Query(), "");
  EXPECT_FALSE(IdentitySelector::FromInfo("MSIClient-"));
  EXPECT_FALSE(IdentitySelector::FromInfo("user"));
}

TEST_F(MiArgsTest, LoginWithIdentityRefusesWhereImdsIsNotLocalAndWritesNothing) {
  if (ImdsIsLocalHere()) GTEST_SKIP() << "169.254.169.254 is local here";
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"login", "--identity"},
        std::vector<std::string>{"login", "-i", "--username",
                                 "11111111-2222-3333-4444-555555555555"}}) {
    auto r = cove_(args);
    EXPECT_EQ(r.code, 1) << r.err;
    EXPECT_EQ(r.out, "");
    EXPECT_NE(r.err.find("ERROR: 169.254.169.254 is not an address of this network namespace"),
              std::string::npos)
        << r.err;
    EXPECT_NE(r.err.find("cove sends no request to it"), std::string::npos) << r.err;
  }
  EXPECT_FALSE(std::filesystem::exists(LoginFile()));
}

TEST_F(MiArgsTest, LoginWithIdentityUsageErrorsComeFirst) {
  auto r = cove_({"login", "--identity", "-p", "secret"});
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_NE(r.err.find("'--identity' is not applicable with --password"), std::string::npos);
  r = cove_({"login", "--identity", "--service-principal"});
  EXPECT_EQ(r.code, 2);
  r = cove_({"login", "--identity", "-u", "alice@contoso.com"});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("client id, object id or resource id"), std::string::npos) << r.err;
  r = cove_({"login", "--help"});
  EXPECT_NE(r.out.find("--identity -i"), std::string::npos) << r.out;
  EXPECT_FALSE(std::filesystem::exists(LoginFile()));
}

TEST_F(MiArgsTest, ManagedIdentityAccountFileRoundTrips) {
  StoreIdentityLogin(4102444800);
  auto back = ReadLogin(LoginFile());
  ASSERT_TRUE(back && *back);
  EXPECT_TRUE((*back)->IsManagedIdentity());
  EXPECT_EQ((*back)->assigned_identity_info, "MSIClient-11111111-2222-3333-4444-555555555555");
  EXPECT_EQ((*back)->subscription, "c0ffee00-0000-4000-8000-000000000001");
  EXPECT_EQ((*back)->acr_suffix, "azurecr.io");
  std::ifstream in(LoginFile());
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_NE(text.find("\"assignedIdentityInfo\": \"MSIClient-"), std::string::npos) << text;
  // A user login stays as it was (no managed-identity keys).
  ASSERT_TRUE(
      WriteLogin(LoginFile(), LoginState{"alice@contoso.com", "user", kCoveTenant, "t", 1}));
  auto user = ReadLogin(LoginFile());
  EXPECT_FALSE((*user)->IsManagedIdentity());
}

TEST_F(MiArgsTest, GetAccessTokenUsesTheCachedTokenAndAsksImdsForOthers) {
  StoreIdentityLogin(4102444800);  // 2100-01-01
  auto r = cove_(
      {"account", "get-access-token", "--resource", "https://management.azure.com/", "-o", "json"});
  ASSERT_EQ(r.code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["accessToken"], "cached.jwt.token");
  EXPECT_EQ(j["expires_on"], 4102444800);
  EXPECT_EQ(j["subscription"], "c0ffee00-0000-4000-8000-000000000001");
  EXPECT_EQ(j["tenant"], kCoveTenant);
  EXPECT_EQ(j["tokenType"], "Bearer");
  if (ImdsIsLocalHere()) return;
  // Another resource, or an expired cache: IMDS, which is not here.
  r = cove_({"account", "get-access-token", "--resource", "https://containerregistry.azure.net"});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("169.254.169.254 is not an address"), std::string::npos) << r.err;
  StoreIdentityLogin(1000);
  r = cove_({"account", "get-access-token"});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("169.254.169.254 is not an address"), std::string::npos) << r.err;
}

TEST_F(MiArgsTest, AcrLoginWithAnIdentityGoesToImdsFirstAndWritesNothingWhenRefused) {
  if (ImdsIsLocalHere()) GTEST_SKIP() << "169.254.169.254 is local here";
  StoreIdentityLogin(4102444800);
  auto r = cove_({"acr", "login", "-n", "myregistry"});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("169.254.169.254 is not an address"), std::string::npos) << r.err;
  EXPECT_FALSE(std::filesystem::exists(cove_.env().docker_config_path));
}

TEST(MiLoginServerTest, NameGetsTheCloudsSuffixUnlessItHasADot) {
  LoginState login;
  login.acr_suffix = "azurecr.io";
  EXPECT_EQ(ManagedIdentityLoginServer("myregistry", login), "myregistry.azurecr.io");
  EXPECT_EQ(ManagedIdentityLoginServer("MyRegistry", login), "myregistry.azurecr.io");
  EXPECT_EQ(ManagedIdentityLoginServer("reg.cr.example.com", login), "reg.cr.example.com");
  login.acr_suffix = "azurecr.us";
  EXPECT_EQ(ManagedIdentityLoginServer("gov", login), "gov.azurecr.us");
  login.acr_suffix = "";
  EXPECT_EQ(ManagedIdentityLoginServer("plain", login), "plain.azurecr.io");
}

// A network namespace of the test's own (root only) where 169.254.169.254 is on lo, as coved
// makes it in a VM: the check passes, and `login --identity` reaches only that namespace's
// loopback, where nothing listens.
class ImdsNamespaceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root (network namespaces)";
    name_ = "cvmi-" + std::to_string(::getpid());
    if (!Sh("ip netns add " + name_)) GTEST_SKIP() << "cannot create a network namespace";
    made_ = true;
    ASSERT_TRUE(Sh("ip -n " + name_ + " link set lo up"));
  }
  void TearDown() override {
    if (made_) Sh("ip netns del " + name_);
  }
  static bool Sh(const std::string& cmd) {
    return std::system((cmd + " 2>/dev/null").c_str()) == 0;
  }
  // Runs `fn` on a thread that entered the namespace.
  template <typename Fn>
  void InNamespace(Fn fn) {
    std::thread t([&] {
      int fd = ::open(("/run/netns/" + name_).c_str(), O_RDONLY | O_CLOEXEC);
      ASSERT_GE(fd, 0);
      ASSERT_EQ(::setns(fd, CLONE_NEWNET), 0);
      ::close(fd);
      fn();
    });
    t.join();
  }
  std::string name_;
  bool made_ = false;
};

TEST_F(ImdsNamespaceTest, TheCheckFollowsTheNamespacesAddresses) {
  bool before = true, after = false;
  InNamespace([&] { before = IsLocalAddress(kImdsAddress); });
  EXPECT_FALSE(before);
  ASSERT_TRUE(Sh("ip -n " + name_ + " addr add 169.254.169.254/32 dev lo"));
  InNamespace([&] { after = IsLocalAddress(kImdsAddress); });
  EXPECT_TRUE(after);
}

TEST_F(ImdsNamespaceTest, LoginWithIdentityTalksToTheLocalAddressOnly) {
  ASSERT_TRUE(Sh("ip -n " + name_ + " addr add 169.254.169.254/32 dev lo"));
  TempDir dir;
  CliRunner cove(TestEnvironment(dir.path()));
  CliResult r;
  InNamespace([&] { r = cove({"login", "--identity"}); });
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("Failed to connect to MSI"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("Connection refused"), std::string::npos) << r.err;
  EXPECT_FALSE(std::filesystem::exists(LoginPath(cove.env().config_path)));
}

// ---- vm create --assign-identity, vm identity ----

TEST_F(MiArgsTest, VmCreateIdentityArgumentsAreCheckedBeforeAnythingIsSent) {
  std::vector<std::string> base = {"vm", "create", "-g", "rg", "-n", "vm1", "--public"};
  auto with = [&](std::vector<std::string> extra) {
    auto args = base;
    args.insert(args.end(), extra.begin(), extra.end());
    return cove_(args);
  };
  auto r = with({"--role", "AcrPull"});
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(r.err, "ERROR: usage error: --assign-identity [--scope SCOPE] [--role ROLE]\n");
  r = with({"--assign-identity", "--scope", "/subscriptions/x"});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("please specify both --role and --scope"), std::string::npos) << r.err;
  r = with({"--assign-identity", "myid", "--role", "AcrPull", "--scope", "/subscriptions/x"});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("add [system]"), std::string::npos) << r.err;
  r = with({"--assign-identity",
            "/subscriptions/s/resourceGroups/g/providers/Microsoft.Network/"
            "virtualNetworks/v"});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("neither [system] nor a user-assigned identity"), std::string::npos);
  // Good arguments (bare flag, [system] and a name) reach for coved.
  for (const auto& extra : std::vector<std::vector<std::string>>{
           {"--assign-identity"},
           {"--assign-identity", "[system]", "myid", "--role", "AcrPull", "--scope", "/s"}}) {
    r = with(extra);
    EXPECT_EQ(r.code, 1) << r.err;
    EXPECT_NE(r.err.find("cannot reach coved"), std::string::npos) << r.err;
  }
}

TEST_F(MiArgsTest, IdentitiesParseAsAzDoes) {
  const std::string sub = "c0ffee00-0000-4000-8000-000000000001";
  auto none = ParseIdentities({}, sub, "rg");
  ASSERT_TRUE(std::holds_alternative<ManagedIdentityRequest>(none));
  EXPECT_TRUE(std::get<ManagedIdentityRequest>(none).system);
  auto mixed = ParseIdentities({"[System]", "id1", "id1",
                                "/subscriptions/" + sub +
                                    "/resourceGroups/other/providers/"
                                    "Microsoft.ManagedIdentity/userAssignedIdentities/id2"},
                               sub, "rg");
  const auto& m = std::get<ManagedIdentityRequest>(mixed);
  EXPECT_TRUE(m.system);
  ASSERT_EQ(m.user.size(), 2u);
  EXPECT_EQ(m.user[0], "/subscriptions/" + sub +
                           "/resourceGroups/rg/providers/Microsoft.ManagedIdentity/"
                           "userAssignedIdentities/id1");
  nlohmann::json body = IdentityRequestJson(m);
  EXPECT_EQ(body["type"], "SystemAssigned, UserAssigned");
  EXPECT_EQ(body["userAssignedIdentities"].size(), 2u);
  EXPECT_EQ(IdentityRequestJson(ManagedIdentityRequest{true, {}}),
            nlohmann::json({{"type", "SystemAssigned"}}));
  EXPECT_EQ(IdentityRequestJson(ManagedIdentityRequest{false, {"/x"}})["type"], "UserAssigned");
  EXPECT_EQ(IdentityRequestJson(ManagedIdentityRequest{}), nlohmann::json({{"type", "None"}}));
  // And back from an answer.
  auto back = IdentityRequestOf({{"type", "SystemAssigned, UserAssigned"},
                                 {"principalId", "p"},
                                 {"userAssignedIdentities", {{"/x", {{"clientId", "c"}}}}}});
  EXPECT_TRUE(back.system);
  EXPECT_EQ(back.user, std::vector<std::string>{"/x"});
  EXPECT_EQ(AzIdentityView({{"type", "SystemAssigned"}, {"principalId", "p"}}, "AcrPull", "/s"),
            nlohmann::json({{"systemAssignedIdentity", "p"},
                            {"userAssignedIdentities", nlohmann::json::object()},
                            {"role", "AcrPull"},
                            {"scope", "/s"}}));
}

TEST_F(MiArgsTest, VmIdentityCommandsAreAzs) {
  auto r = cove_({"vm", "identity"});
  EXPECT_EQ(r.code, 0);
  for (const char* c : {"assign", "show", "remove"}) {
    EXPECT_NE(r.out.find(std::string("\n    ") + c + " "), std::string::npos) << c << r.out;
  }
  r = cove_({"vm", "identity", "assign", "--help"});
  EXPECT_NE(r.out.find("--identities"), std::string::npos);
  EXPECT_NE(r.out.find("Default: '[system]'"), std::string::npos);
  r = cove_({"vm", "identity", "assign", "-g", "rg", "-n", "vm1", "--role", "Reader"});
  EXPECT_EQ(r.code, 2) << r.err;
  r = cove_({"vm", "identity", "assign", "-g", "rg", "-n", "vm1", "--identities", "a", "b"});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("cannot reach coved"), std::string::npos) << r.err;
  r = cove_({"vm", "identity", "remove", "-g", "rg", "-n", "vm1"});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("cannot reach coved"), std::string::npos) << r.err;
  r = cove_({"vm", "identity", "show", "-n", "vm1"});
  EXPECT_EQ(r.code, 2);
}

// ---- container ----

TEST(SplitCommandLineTest, SplitsAsAShellDoes) {
  using V = std::vector<std::string>;
  EXPECT_EQ(*SplitCommandLine("cove login --identity"), (V{"cove", "login", "--identity"}));
  EXPECT_EQ(*SplitCommandLine("  sh -c 'echo $HOME; ls'  "), (V{"sh", "-c", "echo $HOME; ls"}));
  EXPECT_EQ(*SplitCommandLine(R"(a "b c" d\ e "x\"y" '')"), (V{"a", "b c", "d e", "x\"y", ""}));
  EXPECT_EQ(*SplitCommandLine("a'b'\"c\""), (V{"abc"}));
  EXPECT_TRUE(SplitCommandLine("")->empty());
  EXPECT_FALSE(SplitCommandLine("sh -c 'unclosed"));
  EXPECT_FALSE(SplitCommandLine("say \"unclosed"));
  EXPECT_FALSE(SplitCommandLine("trailing\\"));
}

TEST_F(MiArgsTest, ContainerGroupListsItsCommands) {
  auto r = cove_({"container"});
  EXPECT_EQ(r.code, 0);
  for (const char* c : {"create", "show", "list", "delete", "exec"}) {
    EXPECT_NE(r.out.find(std::string("\n    ") + c + " "), std::string::npos) << c << r.out;
  }
  r = cove_({"container", "create", "--help"});
  for (const char* a :
       {"--image", "--command-line", "--assign-identity", "--acr-identity",
        "--registry-login-server", "--ip-address", "--cpu", "--memory", "--restart-policy",
        "--os-type", "--environment-variables -e", "--secure-environment-variables"}) {
    EXPECT_NE(r.out.find(a), std::string::npos) << a << "\n" << r.out;
  }
}

TEST_F(MiArgsTest, ContainerCreateChecksEverythingBeforeSending) {
  std::vector<std::string> base = {"container", "create", "-g", "rg", "-n", "grp"};
  auto with = [&](std::vector<std::string> extra) {
    auto args = base;
    args.insert(args.end(), extra.begin(), extra.end());
    return cove_(args);
  };
  auto r = with({});
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(r.err, "ERROR: the following arguments are required: --image\n");
  struct Case {
    std::vector<std::string> extra;
    std::string says;
  };
  for (const Case& c : std::vector<Case>{
           {{"--image", "nginx", "--cpu", "lots"}, "--cpu: invalid float value: 'lots'"},
           {{"--image", "nginx", "--memory", "0"}, "--memory: invalid float value: '0'"},
           {{"--image", "nginx", "-e", "NOEQUALS"}, "KEY=VALUE"},
           {{"--image", "nginx", "--ports", "99999"}, "--ports: invalid int value"},
           {{"--image", "nginx", "--command-line", "sh -c 'x"}, "cannot split"},
           {{"--image", "nginx", "--restart-policy", "Sometimes"}, "invalid choice"},
           {{"--image", "nginx", "--ip-address", "Elastic"}, "invalid choice"},
           {{"--image", "nginx", "--acr-identity", "id"}, "Please specify --registry-login-server"},
           {{"--image", "r.azurecr.io/a", "--acr-identity", "id", "--registry-username", "u"},
            "cannot be combined"},
           {{"--image", "r.azurecr.io/a", "--registry-username", "u"}, "needed together"},
           {{"--image", "r.azurecr.io/a", "--registry-login-server", "r.azurecr.io"},
            "needs --acr-identity"},
           {{"--image", "nginx", "--role", "AcrPull"}, "--assign-identity [--scope SCOPE]"},
           {{"--image", "nginx", "--assign-identity", "--scope", "/s"}, "both --role and --scope"},
       }) {
    r = with(c.extra);
    EXPECT_EQ(r.code, 2) << c.says << ": " << r.err;
    EXPECT_NE(r.err.find(c.says), std::string::npos) << c.says << ": " << r.err;
  }
  r = with({"--image", "myregistry.azurecr.io/app:v1", "--assign-identity", "id1", "--acr-identity",
            "id1", "--ip-address", "public", "-e", "A=1", "B=x=y", "--secure-environment-variables",
            "S=s", "--command-line", "sleep 1"});
  EXPECT_EQ(r.code, 1) << r.err;
  EXPECT_NE(r.err.find("cannot reach coved"), std::string::npos) << r.err;
}

TEST_F(MiArgsTest, ContainerExecNeedsACommand) {
  auto r = cove_({"container", "exec", "-g", "rg", "-n", "grp"});
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(r.err, "ERROR: the following arguments are required: --exec-command\n");
  r = cove_({"container", "exec", "-g", "rg", "-n", "grp", "--exec-command", "\"open"});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("cannot split"), std::string::npos) << r.err;
  r = cove_({"container", "exec", "-g", "rg", "-n", "grp", "--exec-command", "true"});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find(::geteuid() == 0 ? "cannot reach coved" : "must run as root"),
            std::string::npos)
      << r.err;
}

}  // namespace
}  // namespace cove::cli
