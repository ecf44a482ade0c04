// The CLI's credential files (cli/credentials.h) and the identity commands' argument checks,
// in-process: the endpoint is a closed port, so nothing here reaches a server.
#include "cli/credentials.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "cli/commands.h"
#include "cli_runner.h"
#include "support/temp_dir.h"

namespace cove::cli {
namespace {

using cove::testing::CliRunner;
using cove::testing::TempDir;
using cove::testing::TestEnvironment;
using nlohmann::json;

std::string Slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

unsigned Mode(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
  return st.st_mode & 0777;
}

TEST(Base64Test, EncodesAndDecodesRfc4648Vectors) {
  const std::pair<const char*, const char*> kVectors[] = {{"", ""},
                                                          {"f", "Zg=="},
                                                          {"fo", "Zm8="},
                                                          {"foo", "Zm9v"},
                                                          {"foob", "Zm9vYg=="},
                                                          {"fooba", "Zm9vYmE="},
                                                          {"foobar", "Zm9vYmFy"}};
  for (const auto& [plain, encoded] : kVectors) {
    EXPECT_EQ(Base64Encode(plain), encoded);
    EXPECT_EQ(Base64Decode(encoded), std::optional<std::string>(plain));
  }
  EXPECT_EQ(Base64Decode("_-8"), std::optional<std::string>("\xff\xef"));  // URL-safe, no pad
  EXPECT_EQ(Base64Decode("a b"), std::nullopt);
  EXPECT_EQ(Base64Decode("Z"), std::nullopt);
}

TEST(JwtClaimsTest, ReadsThePayloadOnly) {
  std::string payload = Base64Encode(R"({"exp":1700000000,"oid":"x"})");
  while (!payload.empty() && payload.back() == '=') payload.pop_back();
  auto claims = JwtClaims("eyJhbGciOiJFUzI1NiJ9." + payload + ".sig");
  ASSERT_TRUE(claims);
  EXPECT_EQ((*claims)["exp"], 1700000000);
  EXPECT_FALSE(JwtClaims("no-dots"));
  EXPECT_FALSE(JwtClaims("a.b.c.d"));
  EXPECT_FALSE(JwtClaims("a." + Base64Encode("[1]") + ".c"));
}

TEST(FormEncodeTest, EncodesReservedCharacters) {
  EXPECT_EQ(FormEncode({{"grant_type", "password"}, {"password", "p@ss w&rd=+"}}),
            "grant_type=password&password=p%40ss%20w%26rd%3D%2B");
  EXPECT_EQ(PercentEncode("roleName eq 'AcrPush'"), "roleName%20eq%20%27AcrPush%27");
}

TEST(WriteFileAtomicTest, CreatesTheDirectoryAndWrites0600WhateverTheUmask) {
  TempDir dir;
  std::string path = dir.Join("a/b/secret.json");
  mode_t old = ::umask(0);
  auto written = WriteFileAtomic(path, "one");
  ::umask(old);
  ASSERT_TRUE(written) << written.error().message;
  EXPECT_EQ(Slurp(path), "one");
  EXPECT_EQ(Mode(path), 0600u);
  EXPECT_EQ(Mode(dir.Join("a/b")), 0700u);
  // An existing, wider file is replaced by a 0600 one; no temporary file stays behind.
  ::chmod(path.c_str(), 0644);
  ASSERT_TRUE(WriteFileAtomic(path, "two"));
  EXPECT_EQ(Slurp(path), "two");
  EXPECT_EQ(Mode(path), 0600u);
  size_t files = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir.Join("a/b"))) {
    (void)e;
    ++files;
  }
  EXPECT_EQ(files, 1u);
}

TEST(LoginFileTest, RoundTripsAndRemoves) {
  TempDir dir;
  std::string path = LoginPath(dir.Join("cove/config"));
  EXPECT_EQ(path, dir.Join("cove/login.json"));
  auto none = ReadLogin(path);
  ASSERT_TRUE(none);
  EXPECT_FALSE(*none);
  LoginState login{"alice@contoso.com", "user", "t", "a.b.c", 1700000000};
  ASSERT_TRUE(WriteLogin(path, login));
  EXPECT_EQ(Mode(path), 0600u);
  auto back = ReadLogin(path);
  ASSERT_TRUE(back && *back);
  EXPECT_EQ((*back)->user_name, "alice@contoso.com");
  EXPECT_EQ((*back)->user_type, "user");
  EXPECT_EQ((*back)->access_token, "a.b.c");
  EXPECT_EQ((*back)->expires_on, 1700000000);
  auto removed = RemoveLogin(path);
  EXPECT_TRUE(removed && *removed);
  removed = RemoveLogin(path);
  EXPECT_TRUE(removed && !*removed);
  std::ofstream(path) << "[]";
  EXPECT_FALSE(ReadLogin(path));
}

TEST(DockerConfigTest, PathFollowsDockerConfigThenHome) {
  EXPECT_EQ(DockerConfigPath("/etc/d", "/home/u"), "/etc/d/config.json");
  EXPECT_EQ(DockerConfigPath("", "/home/u"), "/home/u/.docker/config.json");
  EXPECT_EQ(DockerConfigPath(nullptr, "/home/u"), "/home/u/.docker/config.json");
}

TEST(DockerConfigTest, WritesAnAuthEntryContainersToolsRead) {
  TempDir dir;
  std::string path = dir.Join("docker/config.json");
  ASSERT_TRUE(StoreDockerAuth(path, "reg.azurecr.io", kNullGuid, "refresh.token.value"));
  EXPECT_EQ(Mode(path), 0600u);
  // The shape containers-auth.json(5) and docker's config.json document.
  json config = json::parse(Slurp(path));
  ASSERT_TRUE(config["auths"]["reg.azurecr.io"]["auth"].is_string());
  auto decoded = Base64Decode(config["auths"]["reg.azurecr.io"]["auth"].get<std::string>());
  EXPECT_EQ(decoded, std::optional<std::string>(std::string(kNullGuid) + ":refresh.token.value"));
  auto read = ReadDockerAuth(path, "reg.azurecr.io");
  ASSERT_TRUE(read && *read);
  EXPECT_EQ((*read)->first, kNullGuid);
  EXPECT_EQ((*read)->second, "refresh.token.value");
}

// skopeo itself (containers/image) reads the entry back (scripts/install-deps installs it).
TEST(DockerConfigTest, SkopeoReadsTheEntry) {
  ASSERT_EQ(::access("/usr/bin/skopeo", X_OK), 0) << "no /usr/bin/skopeo: run scripts/install-deps";
  TempDir dir;
  std::string path = dir.Join("config.json");
  ASSERT_TRUE(StoreDockerAuth(path, "reg.azurecr.io", kNullGuid, "refresh.token.value"));
  std::string command =
      "/usr/bin/skopeo login --get-login --authfile '" + path + "' reg.azurecr.io 2>&1";
  FILE* pipe = ::popen(command.c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  std::string output;
  char buf[256];
  while (size_t n = std::fread(buf, 1, sizeof(buf), pipe)) output.append(buf, n);
  EXPECT_EQ(::pclose(pipe), 0) << output;
  EXPECT_EQ(output, std::string(kNullGuid) + "\n");
}

TEST(DockerConfigTest, KeepsEveryOtherEntryAndKey) {
  TempDir dir;
  std::string path = dir.Join("config.json");
  json before = {
      {"auths",
       {{"docker.io", {{"auth", Base64Encode("bob:hunter2")}}},
        {"reg.azurecr.io",
         {{"auth", Base64Encode("old:old")}, {"identitytoken", "stale"}, {"email", "x@y"}}}}},
      {"credHelpers", {{"gcr.io", "gcloud"}}},
      {"psFormat", "table {{.ID}}"}};
  std::ofstream(path) << before.dump(2);
  ASSERT_TRUE(StoreDockerAuth(path, "reg.azurecr.io", "admin", "pw:with:colons"));
  json after = json::parse(Slurp(path));
  EXPECT_EQ(after["auths"]["docker.io"], before["auths"]["docker.io"]);
  EXPECT_EQ(after["credHelpers"], before["credHelpers"]);
  EXPECT_EQ(after["psFormat"], before["psFormat"]);
  EXPECT_EQ(after["auths"]["reg.azurecr.io"]["email"], "x@y");
  EXPECT_FALSE(after["auths"]["reg.azurecr.io"].contains("identitytoken"));
  auto read = ReadDockerAuth(path, "reg.azurecr.io");
  ASSERT_TRUE(read && *read);
  EXPECT_EQ((*read)->first, "admin");
  EXPECT_EQ((*read)->second, "pw:with:colons");
  // A second server is added beside the first.
  ASSERT_TRUE(StoreDockerAuth(path, "two.azurecr.io", kNullGuid, "t"));
  after = json::parse(Slurp(path));
  EXPECT_EQ(after["auths"].size(), 3u);
}

TEST(DockerConfigTest, NamesTheHelperDockerWouldAskInstead) {
  TempDir dir;
  std::string path = dir.Join("config.json");
  EXPECT_EQ(DockerCredentialHelper(path, "reg.azurecr.io"), std::nullopt);
  std::ofstream(path) << R"({"credHelpers":{"reg.azurecr.io":"acr-env"},"credsStore":"pass"})";
  EXPECT_EQ(DockerCredentialHelper(path, "reg.azurecr.io"), std::optional<std::string>("acr-env"));
  EXPECT_EQ(DockerCredentialHelper(path, "other.io"), std::optional<std::string>("pass"));
}

TEST(DockerConfigTest, RefusesToOverwriteAFileItCannotParse) {
  TempDir dir;
  std::string path = dir.Join("config.json");
  std::ofstream(path) << "{not json";
  auto stored = StoreDockerAuth(path, "reg.azurecr.io", "u", "p");
  ASSERT_FALSE(stored);
  EXPECT_NE(stored.error().message.find("left unchanged"), std::string::npos);
  EXPECT_EQ(Slurp(path), "{not json");
}

// ---- argument checks of the identity commands (no server) ----

class IdentityArgsTest : public ::testing::Test {
 protected:
  TempDir dir_;
  CliRunner cove_{TestEnvironment(dir_.path())};
};

TEST_F(IdentityArgsTest, EveryNewCommandHasHelp) {
  const std::vector<std::vector<std::string>> kCommands = {
      {"ad", "user", "create"},
      {"ad", "user", "list"},
      {"ad", "user", "show"},
      {"ad", "user", "delete"},
      {"ad", "sp", "create-for-rbac"},
      {"ad", "sp", "list"},
      {"ad", "sp", "show"},
      {"ad", "sp", "delete"},
      {"login"},
      {"logout"},
      {"account", "get-access-token"},
      {"acr", "login"},
      {"acr", "credential", "show"},
      {"acr", "credential", "renew"},
      {"acr", "scope-map", "create"},
      {"acr", "scope-map", "update"},
      {"acr", "scope-map", "show"},
      {"acr", "scope-map", "list"},
      {"acr", "scope-map", "delete"},
      {"acr", "token", "create"},
      {"acr", "token", "update"},
      {"acr", "token", "show"},
      {"acr", "token", "list"},
      {"acr", "token", "delete"},
      {"acr", "token", "credential", "generate"},
      {"role", "assignment", "create"},
      {"role", "assignment", "list"},
      {"role", "assignment", "delete"},
      {"role", "definition", "list"},
      {"identity", "create"},
      {"identity", "show"},
      {"identity", "list"},
      {"identity", "delete"}};
  for (auto c : kCommands) {
    std::string joined;
    for (const auto& w : c) joined += " " + w;
    c.push_back("--help");
    auto r = cove_(c);
    EXPECT_EQ(r.code, 0) << joined << r.err;
    EXPECT_NE(r.out.find("\nCommand\n    cove" + joined + " : "), std::string::npos)
        << joined << "\n"
        << r.out;
  }
  for (const std::vector<std::string>& g : {std::vector<std::string>{"ad"},
                                            {"ad", "user"},
                                            {"ad", "sp"},
                                            {"role"},
                                            {"identity"},
                                            {"acr", "token"},
                                            {"acr", "scope-map"}}) {
    EXPECT_EQ(cove_(g).code, 0);
  }
}

TEST_F(IdentityArgsTest, AcrLoginWithoutLoginSaysSoAndWritesNothing) {
  auto r = cove_({"acr", "login", "-n", "reg"});
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.err, "ERROR: Please run 'cove login' to setup account.\n");
  EXPECT_FALSE(std::filesystem::exists(cove_.env().docker_config_path));
  // An expired login is no login.
  ASSERT_TRUE(WriteLogin(LoginPath(cove_.env().config_path),
                         LoginState{"alice@contoso.com", "user", "t", "a.b.c", 1}));
  r = cove_({"acr", "login", "-n", "reg", "--expose-token"});
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.err, "ERROR: Please run 'cove login' to setup account.\n");
}

TEST_F(IdentityArgsTest, AcrLoginCredentialCombinations) {
  auto r = cove_({"acr", "login", "-n", "reg", "-u", "admin"});
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.err, "ERROR: Please specify both username and password in non-interactive mode.\n");
  r = cove_({"acr", "login", "-n", "reg", "-u", "admin", "-p", "x", "--expose-token"});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("`--expose-token` cannot be combined"), std::string::npos);
}

TEST_F(IdentityArgsTest, ScopeMapActionsAreCheckedBeforeAnyRequest) {
  auto r = cove_({"acr", "scope-map", "create", "-n", "sm", "-r", "reg", "--repository", "hello",
                  "content/read", "pull"});
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(r.err,
            "ERROR: Invalid action \"pull\" provided. \nValid actions are {'content/delete', "
            "'content/read', 'content/write', 'metadata/read', 'metadata/write'}.\n");
  r = cove_({"acr", "scope-map", "create", "-n", "sm", "-r", "reg", "--repository", "Hello"});
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(r.err, "ERROR: At least one action must be specified with \"hello\".\n");
  r = cove_({"acr", "scope-map", "create", "-n", "sm", "-r", "reg"});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("required: --repository"), std::string::npos) << r.err;
}

TEST_F(IdentityArgsTest, TokenCreateNeedsExactlyOneOfScopeMapAndRepository) {
  auto r = cove_({"acr", "token", "create", "-n", "t", "-r", "reg"});
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(r.err, "ERROR: usage error: can't use --scope-map and --repository | --gateway\n");
  r = cove_({"acr", "token", "create", "-n", "t", "-r", "reg", "--scope-map", "s", "--repository",
             "a", "content/read"});
  EXPECT_EQ(r.code, 2);
  r = cove_({"acr", "token", "create", "-n", "t", "-r", "reg", "--scope-map", "s", "--no-passwords",
             "--expiration-in-days", "3"});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("mutually exclusive"), std::string::npos);
  r = cove_({"acr", "token", "create", "-n", "t", "-r", "reg", "--scope-map", "s",
             "--expiration-in-days", "soon"});
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(r.err, "ERROR: argument --expiration-in-days: invalid int value: 'soon'\n");
  r = cove_(
      {"acr", "token", "create", "-n", "t", "-r", "reg", "--scope-map", "s", "--status", "paused"});
  EXPECT_EQ(r.code, 2);
}

TEST_F(IdentityArgsTest, LoginArgumentsAsAz) {
  auto r = cove_({"login"});
  EXPECT_EQ(r.code, 2);
  r = cove_({"login", "--service-principal", "-u", "app", "-p", "secret"});
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(r.err,
            "ERROR: usage error: --service-principal --username NAME --password SECRET --tenant "
            "TENANT\n");
  r = cove_({"logout"});
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.err, "ERROR: There are no active accounts.\n");
  r = cove_({"account", "get-access-token"});
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.err, "ERROR: Please run 'cove login' to setup account.\n");
}

TEST_F(IdentityArgsTest, GetAccessTokenAnswersTheStoredTokenInAzsShape) {
  ASSERT_TRUE(WriteLogin(
      LoginPath(cove_.env().config_path),
      LoginState{"app-id", "servicePrincipal", "tenant-id", "a.b.c", 4102444800}));  // 2100-01-01
  auto r = cove_({"account", "get-access-token"});
  ASSERT_EQ(r.code, 0) << r.err;
  json out = json::parse(r.out);
  EXPECT_EQ(out["accessToken"], "a.b.c");
  EXPECT_EQ(out["expires_on"], 4102444800);
  EXPECT_EQ(out["tenant"], "tenant-id");
  EXPECT_EQ(out["tokenType"], "Bearer");
  EXPECT_EQ(out["subscription"], kDefaultSubscription);
  EXPECT_EQ(out["expiresOn"].get<std::string>().size(), 26u);  // "2100-01-01 00:00:00.000000"
  r = cove_({"account", "get-access-token", "--resource", "https://vault.azure.net"});
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(cove_({"logout"}).code, 0);
  EXPECT_EQ(cove_({"account", "get-access-token"}).code, 1);
}

TEST_F(IdentityArgsTest, RoleAndServicePrincipalUsageErrors) {
  auto r = cove_({"ad", "sp", "create-for-rbac", "-n", "x", "--role", "AcrPush"});
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(r.err,
            "ERROR: Usage error: To create role assignments, specify both --role and --scopes.\n");
  r = cove_({"ad", "sp", "create-for-rbac", "-n", "x", "--years", "0"});
  EXPECT_EQ(r.code, 2);
  r = cove_({"role", "assignment", "create", "--role", "AcrPull", "--scope", "/subscriptions/x"});
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(r.err, "ERROR: usage error: --assignee STRING | --assignee-object-id GUID\n");
  r = cove_({"role", "assignment", "create", "--assignee", "a@b"});
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(r.err, "ERROR: the following arguments are required: --role\n");
}

}  // namespace
}  // namespace cove::cli
