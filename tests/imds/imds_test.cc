// The instance metadata service over the real HTTP transport: which machine asks comes from the
// listener's tag, tokens are real identity tokens (verified by the token service), and bad
// requests get IMDS's errors.
#include "imds/imds.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "auth/jwt.h"
#include "auth/keys.h"
#include "common/clock.h"
#include "http/server.h"
#include "support/raw_http.h"
#include "support/temp_dir.h"

namespace cove::imds {
namespace {

using nlohmann::json;
using testing::RawHttp;

const std::string kRg = "/subscriptions/s1/resourceGroups/rg/providers/";
const std::string kVm = kRg + "Microsoft.Compute/virtualMachines/vm1";
const std::string kGroup = kRg + "Microsoft.ContainerInstance/containerGroups/job";
const std::string kBare = kRg + "Microsoft.Compute/virtualMachines/bare";
const std::string kUai = kRg + "Microsoft.ManagedIdentity/userAssignedIdentities/";
constexpr char kTenant[] = "c0ffee00-0000-4000-8000-0000000000ff";

class ImdsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    registry_keys_ = std::move(*auth::KeyRing::Open(dir_.Join("keys/registry"), clock_));
    identity_keys_ = std::move(*auth::KeyRing::Open(dir_.Join("keys/identity"), clock_));
    tokens_ = std::make_unique<auth::TokenService>(*registry_keys_, *identity_keys_, clock_);
    auth::IdentityData d;
    for (const char* id : {"p-system", "p-app", "p-other"}) {
      d.principals.push_back({id, auth::PrincipalKind::kManagedIdentity, id, ""});
    }
    d.principals.push_back({"p-user", auth::PrincipalKind::kUser, "alice", "hash"});
    store_.Set(*auth::IdentitySnapshot::Build(std::move(d)));

    Machines m;
    Machine vm{.id = kVm, .name = "vm1", .type = "Microsoft.Compute/virtualMachines",
               .subscription_id = "s1", .resource_group = "rg", .location = "westus",
               .vm_id = "0b7e0c5a-0000-4000-8000-000000000001", .private_ip = "10.0.0.4"};
    vm.system_assigned = MachineIdentity{kVm, "p-system", "c-system"};
    vm.user_assigned = {{kUai + "app", "p-app", "c-app"}, {kUai + "other", "p-other", "c-other"}};
    m[TagOf(kVm)] = vm;
    Machine group{.id = kGroup, .name = "job", .type = "Microsoft.ContainerInstance/containerGroups",
                  .subscription_id = "s1", .resource_group = "rg", .location = "westus",
                  .public_ip = "198.51.100.7"};
    group.user_assigned = {{kUai + "app", "p-app", "c-app"}};
    m[TagOf(kGroup)] = group;
    Machine two{.id = kBare, .name = "bare", .type = "Microsoft.Compute/virtualMachines"};
    two.user_assigned = vm.user_assigned;
    m[TagOf(kBare)] = two;
    m[TagOf(kRg + "Microsoft.Compute/virtualMachines/none")] =
        Machine{.id = kRg + "Microsoft.Compute/virtualMachines/none", .name = "none"};
    service_ = std::make_unique<Service>(store_, *tokens_, kTenant);
    service_->SetMachines(std::make_shared<const Machines>(std::move(m)));

    server_ = std::make_unique<http::Server>(*service_, nullptr);
    for (const std::string& id : {kVm, kGroup, kBare, std::string("gone")}) {  // "gone": no machine
      ports_[id] = *server_->Listen({.address = "127.0.0.1", .port = 0, .tag = TagOf(id)});
    }
    ports_["none"] = *server_->Listen(
        {.address = "127.0.0.1", .port = 0,
         .tag = TagOf(kRg + "Microsoft.Compute/virtualMachines/none")});
    server_->Start();
  }
  void TearDown() override { server_->Stop(); }

  testing::RawReply Get(const std::string& machine, const std::string& target,
                        std::map<std::string, std::string> headers = {{"Metadata", "true"}}) {
    RawHttp c(ports_.at(machine));
    return c.Request("GET", target, "", headers, "169.254.169.254");
  }
  static std::string TokenPath(const std::string& extra = "") {
    return "/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https%3A%2F%2F"
           "management.azure.com%2F" + extra;
  }
  json Claims(const testing::RawReply& r) {
    auto token = json::parse(r.body)["access_token"].get<std::string>();
    EXPECT_TRUE(tokens_->VerifyIdentityToken(token));
    return auth::DecodeJwtUnverified(token)->second;
  }

  testing::TempDir dir_;
  ManualClock clock_;
  std::unique_ptr<auth::KeyRing> registry_keys_, identity_keys_;
  std::unique_ptr<auth::TokenService> tokens_;
  auth::IdentityStore store_;
  std::unique_ptr<Service> service_;
  std::unique_ptr<http::Server> server_;
  std::map<std::string, uint16_t> ports_;
};

TEST_F(ImdsTest, SystemAssignedTokenByDefault) {
  auto r = Get(kVm, TokenPath());
  ASSERT_EQ(r.status, 200) << r.body;
  json body = json::parse(r.body);
  EXPECT_EQ(body["token_type"], "Bearer");
  EXPECT_EQ(body["client_id"], "c-system");
  EXPECT_EQ(body["resource"], "https://management.azure.com/");
  EXPECT_EQ(body["expires_in"], "3600");  // strings, as Azure sends them
  int64_t now = UnixSeconds(clock_.Now());
  EXPECT_EQ(body["not_before"], std::to_string(now));
  EXPECT_EQ(body["expires_on"], std::to_string(now + 3600));
  json claims = Claims(r);
  EXPECT_EQ(claims["oid"], "p-system");
  EXPECT_EQ(claims["appid"], "c-system");
  EXPECT_EQ(claims["tid"], kTenant);
  EXPECT_EQ(claims["aud"], "https://management.azure.com/");
  EXPECT_EQ(claims["xms_mirid"], kVm);
  EXPECT_EQ(claims["xms_az_rid"], kVm);
  auto verified = tokens_->VerifyIdentityToken(body["access_token"].get<std::string>());
  EXPECT_EQ(verified->principal_id, "p-system");
  EXPECT_EQ(verified->caller_resource, kVm);
}

TEST_F(ImdsTest, UserAssignedByClientIdObjectIdOrResourceId) {
  for (const std::string& pick : {std::string("&client_id=c-app"), std::string("&object_id=p-app"),
                                  "&msi_res_id=" + kUai + "app", "&mi_res_id=" + kUai + "APP"}) {
    auto r = Get(kVm, TokenPath(pick));
    ASSERT_EQ(r.status, 200) << pick << " " << r.body;
    json claims = Claims(r);
    EXPECT_EQ(claims["oid"], "p-app") << pick;
    EXPECT_EQ(claims["xms_mirid"], kUai + "app");
    EXPECT_EQ(claims["xms_az_rid"], kVm);  // the machine, not the identity
  }
  // The only user-assigned identity of a container group needs no name; the token names the
  // group, which is what makes the registry treat it as a trusted service.
  auto r = Get(kGroup, TokenPath());
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Claims(r)["oid"], "p-app");
  EXPECT_EQ(Claims(r)["xms_az_rid"], kGroup);
}

TEST_F(ImdsTest, ResourcesAndAudiences) {
  for (const char* resource : {"https%3A%2F%2Fmanagement.azure.com",
                               "https://management.core.windows.net/",
                               "https://containerregistry.azure.net"}) {
    auto r = Get(kVm, std::string("/metadata/identity/oauth2/token?api-version=2018-02-01&resource=") +
                          resource);
    ASSERT_EQ(r.status, 200) << resource << " " << r.body;
  }
  auto vault = Get(kVm, "/metadata/identity/oauth2/token?api-version=2018-02-01&resource="
                        "https://vault.azure.net");
  EXPECT_EQ(vault.status, 400);
  EXPECT_EQ(json::parse(vault.body)["error"], "invalid_resource");
  EXPECT_NE(json::parse(vault.body)["error_description"].get<std::string>().find("AADSTS500011"),
            std::string::npos);
  // A resource that is not UTF-8 is echoed with replacement characters, not a crash (found by
  // imds_fuzz).
  auto bytes = Get(kVm, "/metadata/identity/oauth2/token?api-version=2018-02-01&resource=htt%90%8C");
  EXPECT_EQ(bytes.status, 400);
  EXPECT_EQ(json::parse(bytes.body)["error"], "invalid_resource");
}

TEST_F(ImdsTest, IdentityErrors) {
  auto error = [&](const std::string& machine, const std::string& target,
                   std::map<std::string, std::string> headers = {{"Metadata", "true"}}) {
    auto r = Get(machine, target, headers);
    EXPECT_EQ(r.status, 400) << target;
    json b = json::parse(r.body);
    EXPECT_EQ(b["error"], "invalid_request") << r.body;
    return b.value("error_description", "");
  };
  EXPECT_EQ(error(kVm, TokenPath(), {}), "Required metadata header not specified");
  EXPECT_EQ(error(kVm, TokenPath(), {{"Metadata", "false"}}),
            "Required metadata header not specified");
  EXPECT_NE(error(kVm, TokenPath(), {{"Metadata", "true"}, {"X-Forwarded-For", "10.0.0.9"}})
                .find("X-Forwarded-For"),
            std::string::npos);
  EXPECT_EQ(error(kVm, "/metadata/identity/oauth2/token?resource=https://management.azure.com/"),
            "Required query variable 'api-version' is missing");
  EXPECT_EQ(error(kVm, "/metadata/identity/oauth2/token?api-version=2018-02-01"),
            "Required query variable 'resource' is missing");
  EXPECT_EQ(error(kVm, TokenPath("&client_id=c-elsewhere")), "Identity not found");
  EXPECT_NE(error(kVm, TokenPath("&client_id=c-app&object_id=p-app")).find("Only one"),
            std::string::npos);
  EXPECT_NE(error(kBare, TokenPath()).find("Multiple user assigned identities"), std::string::npos);
  EXPECT_EQ(error("none", TokenPath()), "Identity not found");  // a machine without identities
  EXPECT_EQ(error("gone", TokenPath()), "Identity not found");  // no such machine (any more)
  // An identity the directory no longer has: no token.
  auth::IdentityData d;
  store_.Set(*auth::IdentitySnapshot::Build(std::move(d)));
  EXPECT_EQ(error(kVm, TokenPath()), "Identity not found");
}

TEST_F(ImdsTest, InstanceMetadata) {
  auto r = Get(kVm, "/metadata/instance?api-version=2021-02-01");
  ASSERT_EQ(r.status, 200) << r.body;
  json b = json::parse(r.body);
  EXPECT_EQ(b["compute"]["subscriptionId"], "s1");
  EXPECT_EQ(b["compute"]["resourceGroupName"], "rg");
  EXPECT_EQ(b["compute"]["name"], "vm1");
  EXPECT_EQ(b["compute"]["resourceId"], kVm);
  EXPECT_EQ(b["compute"]["location"], "westus");
  EXPECT_EQ(b["compute"]["vmId"], "0b7e0c5a-0000-4000-8000-000000000001");
  EXPECT_EQ(b["compute"]["provider"], "Microsoft.Compute");
  EXPECT_EQ(b["network"]["interface"][0]["ipv4"]["ipAddress"][0]["privateIpAddress"], "10.0.0.4");
  auto compute = Get(kGroup, "/metadata/instance/compute?api-version=2021-02-01");
  ASSERT_EQ(compute.status, 200);
  EXPECT_EQ(json::parse(compute.body)["provider"], "Microsoft.ContainerInstance");

  auto no_version = Get(kVm, "/metadata/instance");
  EXPECT_EQ(no_version.status, 400);
  EXPECT_NE(json::parse(no_version.body)["error"].get<std::string>().find("api-version"),
            std::string::npos);
  EXPECT_EQ(Get(kVm, "/metadata/instance?api-version=2021-02-01", {}).status, 400);
  EXPECT_EQ(Get(kVm, "/metadata/other?api-version=2021-02-01").status, 404);
  RawHttp c(ports_.at(kVm));
  auto post = c.Request("POST", TokenPath(), "x", {{"Metadata", "true"}});
  EXPECT_EQ(post.status, 405);
  EXPECT_EQ(json::parse(post.body)["error"], "Method not allowed");
}

// A machine that routes 169.254.169.254 to its neighbour reaches the neighbour's listener, but
// from its own address: refused, with nothing about the neighbour in the answer.
TEST_F(ImdsTest, AnswersOnlyTheMachineItself) {
  auto request = [&](const std::string& machine, const std::string& from, bool proxied = false) {
    http::Request r;
    r.method = "GET";
    r.target = TokenPath();
    r.headers.Set("Metadata", "true");
    r.peer.remote_ip = from;
    r.peer.local_ip = kAddress;
    r.peer.listener_tag = TagOf(machine);
    r.peer.proxied = proxied;
    return service_->Handle(r);
  };
  for (const char* own : {"169.254.169.254", "127.0.0.1", "127.0.0.53", "10.0.0.4"}) {
    EXPECT_EQ(request(kVm, own).status, 200) << own;
  }
  EXPECT_EQ(request(kGroup, "198.51.100.7").status, 200);
  for (const char* other : {"10.0.0.5", "198.51.100.7", "10.0.0.40", "", "::1"}) {
    auto r = request(kVm, other);
    EXPECT_EQ(r.status, 403) << other;
    const auto& body = std::get<std::string>(r.body);
    EXPECT_EQ(body.find("access_token"), std::string::npos);
    EXPECT_EQ(json::parse(body)["error"], "invalid_request");
  }
  EXPECT_EQ(request(kGroup, "10.0.0.4").status, 403);
  EXPECT_EQ(request(kVm, "10.0.0.4", /*proxied=*/true).status, 403);
  // The instance endpoint likewise.
  http::Request instance;
  instance.method = "GET";
  instance.target = "/metadata/instance?api-version=2021-02-01";
  instance.headers.Set("Metadata", "true");
  instance.peer.remote_ip = "10.0.0.5";
  instance.peer.listener_tag = TagOf(kVm);
  auto r = service_->Handle(instance);
  EXPECT_EQ(r.status, 403);
  EXPECT_EQ(std::get<std::string>(r.body).find("vm1"), std::string::npos);
}

}  // namespace
}  // namespace cove::imds
