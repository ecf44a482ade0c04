// Network rules (access::Decide) for every case ACR distinguishes, the one Verdict they make
// (and the Gate attaches to the request), and the Gate in front of a handler: 403 bodies,
// pass-through, and per-endpoint counters.
#include "access/access.h"

#include <gtest/gtest.h>

namespace cove::access {
namespace {

Policy MakePolicy() {
  Policy p;
  p.registries["myregistry"] = {"myregistry", true, true, "Allow", {}};
  p.registries["other"] = {"other", true, true, "Allow", {}};
  p.links[7] = {"myregistry", "pe1", "pe1.conn", "Approved"};
  p.links[8] = {"myregistry", "pe2", "pe2.conn", "Pending"};
  p.links[9] = {"other", "pe3", "pe3.conn", "Approved"};
  return p;
}

const std::string kGroup =
    "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ContainerInstance/containerGroups/job";

const std::string kAzure =
    "client with IP '198.51.100.9' is not allowed access. Refer https://aka.ms/acr/firewall to "
    "grant access.";

TEST(Decide, PublicAllowedByDefault) {
  EXPECT_TRUE(Decide(MakePolicy(), "myregistry", {std::nullopt, "198.51.100.9"}).allowed());
}

TEST(Decide, PublicAccessDisabledDeniesWithAzureMessage) {
  Policy p = MakePolicy();
  p.registries["myregistry"].public_network_access = false;
  p.registries["myregistry"].ip_rules = {{"198.51.100.9", "Allow"}};  // never overrides Disabled
  auto d = Decide(p, "myregistry", {std::nullopt, "198.51.100.9"});
  EXPECT_FALSE(d.allowed());
  EXPECT_EQ(d.message, kAzure);
}

// A trusted service's address (a container group's) goes on to authentication while bypass is
// AzureServices; with None, or from any other address, it is DENIED as everyone is.
TEST(Decide, PublicAccessDisabledLetsTrustedServicesOnToAuthentication) {
  Policy p = MakePolicy();
  p.registries["myregistry"].public_network_access = false;
  p.trusted_service_sources = {{"198.51.100.7", kGroup}};
  EXPECT_TRUE(Decide(p, "myregistry", {std::nullopt, "198.51.100.7"}).allowed());
  EXPECT_FALSE(Decide(p, "myregistry", {std::nullopt, "198.51.100.8"}).allowed());
  p.registries["myregistry"].bypass_azure_services = false;
  auto d = Decide(p, "myregistry", {std::nullopt, "198.51.100.7"});
  EXPECT_FALSE(d.allowed());
  EXPECT_EQ(d.message, PublicDeniedMessage("198.51.100.7"));
}

TEST(Decide, DefaultDenyWithoutMatchingRule) {
  Policy p = MakePolicy();
  p.registries["myregistry"].default_action = "Deny";
  p.registries["myregistry"].ip_rules = {{"203.0.113.0/24", "Allow"}};
  auto d = Decide(p, "myregistry", {std::nullopt, "198.51.100.9"});
  EXPECT_FALSE(d.allowed());
  EXPECT_EQ(d.message, kAzure);
}

TEST(Decide, DefaultDenyWithMatchingAddressOrCidr) {
  Policy p = MakePolicy();
  p.registries["myregistry"].default_action = "Deny";
  p.registries["myregistry"].ip_rules = {{"198.51.100.9", "Allow"}};
  EXPECT_TRUE(Decide(p, "myregistry", {std::nullopt, "198.51.100.9"}).allowed());
  p.registries["myregistry"].ip_rules = {{"198.51.100.0/24", "Allow"}};
  EXPECT_TRUE(Decide(p, "myregistry", {std::nullopt, "198.51.100.200"}).allowed());
  EXPECT_FALSE(Decide(p, "myregistry", {std::nullopt, "198.51.101.1"}).allowed());
}

TEST(Decide, IpRulesNeverApplyToPrivateEndpoints) {
  Policy p = MakePolicy();
  p.registries["myregistry"].public_network_access = false;
  p.registries["myregistry"].default_action = "Deny";
  EXPECT_TRUE(Decide(p, "myregistry", {7, "10.0.0.4"}).allowed());
}

TEST(Decide, PendingConnectionNamesConnectionAndState) {
  auto d = Decide(MakePolicy(), "myregistry", {8, "10.0.0.4"});
  EXPECT_FALSE(d.allowed());
  EXPECT_NE(d.message.find("'pe2.conn'"), std::string::npos) << d.message;
  EXPECT_NE(d.message.find("is Pending"), std::string::npos) << d.message;
}

TEST(Decide, RejectedAndDisconnectedAreDenied) {
  for (const char* state : {"Rejected", "Disconnected"}) {
    Policy p = MakePolicy();
    p.links[7].status = state;
    auto d = Decide(p, "myregistry", {7, "10.0.0.4"});
    EXPECT_FALSE(d.allowed());
    EXPECT_NE(d.message.find(std::string("is ") + state), std::string::npos) << d.message;
  }
}

TEST(Decide, LinkOfAnotherRegistryIsRefused) {
  auto d = Decide(MakePolicy(), "myregistry", {9, "10.0.0.4"});
  EXPECT_FALSE(d.allowed());
  EXPECT_NE(d.message.find("'other'"), std::string::npos) << d.message;
}

TEST(Decide, UnknownLinkIsRefused) {
  EXPECT_FALSE(Decide(MakePolicy(), "myregistry", {1234, "10.0.0.4"}).allowed());
}

TEST(Decide, UnknownRegistryHasNoRules) {
  EXPECT_TRUE(Decide(MakePolicy(), "configured", {std::nullopt, "1.2.3.4"}).allowed());
}

// The one verdict, case by case: what it says, which registry it names, and for the trusted
// service case which machine.
using Kind = Verdict::Kind;

TEST(Verdict, PublicAllowed) {
  auto v = Decide(MakePolicy(), "myregistry", {std::nullopt, "198.51.100.9"});
  EXPECT_EQ(v.kind, Kind::kAllow);
  EXPECT_EQ(v.registry, "myregistry");
  EXPECT_FALSE(v.via_private_endpoint);
  EXPECT_TRUE(v.message.empty());
}

TEST(Verdict, IpRuleAllowsAndDenies) {
  Policy p = MakePolicy();
  p.registries["myregistry"].default_action = "Deny";
  p.registries["myregistry"].ip_rules = {{"198.51.100.0/24", "Allow"}};
  EXPECT_EQ(Decide(p, "myregistry", {std::nullopt, "198.51.100.9"}).kind, Kind::kAllow);
  auto denied = Decide(p, "myregistry", {std::nullopt, "192.0.2.1"});
  EXPECT_EQ(denied.kind, Kind::kDeny);
  EXPECT_EQ(denied.registry, "myregistry");
  EXPECT_EQ(denied.message, PublicDeniedMessage("192.0.2.1"));
}

TEST(Verdict, PrivateEndpoints) {
  Policy p = MakePolicy();
  p.registries["myregistry"].public_network_access = false;
  auto approved = Decide(p, "myregistry", {7, "10.0.0.4"});
  EXPECT_EQ(approved.kind, Kind::kAllow);
  EXPECT_TRUE(approved.via_private_endpoint);
  EXPECT_EQ(approved.registry, "myregistry");
  auto pending = Decide(p, "myregistry", {8, "10.0.0.4"});
  EXPECT_EQ(pending.kind, Kind::kDeny);
  EXPECT_NE(pending.message.find("is Pending"), std::string::npos) << pending.message;
  auto other = Decide(p, "myregistry", {9, "10.0.0.4"});
  EXPECT_EQ(other.kind, Kind::kDeny);
  EXPECT_NE(other.message.find("is connected to registry 'other'"), std::string::npos)
      << other.message;
}

TEST(Verdict, PublicAccessOffFromTrustedMachineAllowsOnlyItsOwnIdentity) {
  Policy p = MakePolicy();
  p.registries["myregistry"].public_network_access = false;
  p.trusted_service_sources = {{"198.51.100.7", kGroup}};
  auto v = Decide(p, "myregistry", {std::nullopt, "198.51.100.7"});
  EXPECT_EQ(v.kind, Kind::kAllowOwnIdentityOnly);
  EXPECT_TRUE(v.allowed());
  EXPECT_EQ(v.machine, kGroup);
  EXPECT_EQ(v.registry, "myregistry");
  EXPECT_EQ(v.message, PublicDeniedMessage("198.51.100.7"));  // for anyone else
  // Public access on: the machine is a client like any other.
  p.registries["myregistry"].public_network_access = true;
  EXPECT_EQ(Decide(p, "myregistry", {std::nullopt, "198.51.100.7"}).kind, Kind::kAllow);
}

TEST(Verdict, BypassNoneDeniesTheTrustedMachine) {
  Policy p = MakePolicy();
  p.registries["myregistry"].public_network_access = false;
  p.registries["myregistry"].bypass_azure_services = false;
  p.trusted_service_sources = {{"198.51.100.7", kGroup}};
  auto v = Decide(p, "myregistry", {std::nullopt, "198.51.100.7"});
  EXPECT_EQ(v.kind, Kind::kDeny);
  EXPECT_TRUE(v.machine.empty());
  EXPECT_EQ(v.message, PublicDeniedMessage("198.51.100.7"));
}

TEST(Verdict, UnknownRegistryAndNoRegistry) {
  auto unknown = Decide(MakePolicy(), "configured", {std::nullopt, "1.2.3.4"});
  EXPECT_EQ(unknown.kind, Kind::kAllow);
  EXPECT_EQ(unknown.registry, "configured");
  auto none = Decide(MakePolicy(), "", {1234, "1.2.3.4"});  // a host that is no registry's
  EXPECT_EQ(none.kind, Kind::kAllow);
  EXPECT_EQ(none.registry, "");
}

TEST(MatchesIpRule, Forms) {
  EXPECT_TRUE(MatchesIpRule("10.1.2.3", "10.0.0.0/8"));
  EXPECT_TRUE(MatchesIpRule("10.1.2.3", "0.0.0.0/0"));
  EXPECT_FALSE(MatchesIpRule("10.1.2.3", "10.1.2.4"));
  EXPECT_FALSE(MatchesIpRule("::1", "0.0.0.0/0"));
  EXPECT_FALSE(MatchesIpRule("10.1.2.3", "10.0.0.0/33"));
  EXPECT_FALSE(MatchesIpRule("10.1.2.3", "garbage"));
}

TEST(DeniedBody, ExactShape) {
  EXPECT_EQ(DeniedBody(PublicDeniedMessage("198.51.100.9")),
            "{\"errors\":[{\"code\":\"DENIED\",\"message\":\"" + kAzure + "\"}]}");
}

class Echo final : public http::Handler {
 public:
  http::ExchangePtr Start(http::Request) override {
    return http::Respond(http::Response::Text(200, "text/plain", "hello"));
  }
};

http::Request Req(std::string host, std::optional<uint32_t> link, std::string local) {
  http::Request r;
  r.method = "GET";
  r.target = "/v2/";
  r.headers.Set("Host", host);
  r.peer.remote_ip = "198.51.100.9";
  r.peer.local_ip = std::move(local);
  r.peer.link_id = link;
  return r;
}

// Keeps the verdict the Gate attached to the request it was handed.
class Recorder final : public http::Handler {
 public:
  http::ExchangePtr Start(http::Request request) override {
    verdict = request.verdict;
    return http::Respond(http::Response::Text(200, "text/plain", "hello"));
  }
  VerdictPtr verdict;
};

TEST(Gate, AttachesTheVerdictWithTheRegistryItMatched) {
  Recorder inner;
  Gate gate(inner, [](const std::string& host) {
    return host == "myregistry.azurecr.io" ? std::string("myregistry") : std::string();
  });
  Policy p = MakePolicy();
  p.registries["myregistry"].public_network_access = false;
  p.trusted_service_sources = {{"198.51.100.9", kGroup}};
  gate.SetPolicy(std::make_shared<Policy>(p));

  EXPECT_EQ(gate.Start(Req("myregistry.azurecr.io", std::nullopt, "203.0.113.10"))->Finish().status,
            200);
  ASSERT_NE(inner.verdict, nullptr);
  EXPECT_EQ(inner.verdict->kind, Kind::kAllowOwnIdentityOnly);
  EXPECT_EQ(inner.verdict->registry, "myregistry");
  EXPECT_EQ(inner.verdict->machine, kGroup);

  inner.verdict = nullptr;
  EXPECT_EQ(gate.Start(Req("myregistry.azurecr.io", 7, "10.0.0.6"))->Finish().status, 200);
  ASSERT_NE(inner.verdict, nullptr);
  EXPECT_EQ(inner.verdict->kind, Kind::kAllow);
  EXPECT_TRUE(inner.verdict->via_private_endpoint);

  inner.verdict = nullptr;
  EXPECT_EQ(gate.Start(Req("elsewhere", std::nullopt, "203.0.113.10"))->Finish().status, 200);
  ASSERT_NE(inner.verdict, nullptr);
  EXPECT_EQ(inner.verdict->kind, Kind::kAllow);
  EXPECT_EQ(inner.verdict->registry, "");

  // A denial never reaches the handler.
  inner.verdict = nullptr;
  auto denied = gate.Start(Req("myregistry.azurecr.io", 8, "10.0.0.5"))->Finish();
  EXPECT_EQ(denied.status, 403);
  EXPECT_EQ(inner.verdict, nullptr);
}

TEST(Gate, DeniesAnswersAndCounts) {
  Echo echo;
  Gate gate(echo, [](const std::string& host) {
    if (host == "myregistry.azurecr.io" || host == "myregistry.westus.data.azurecr.io") {
      return std::string("myregistry");
    }
    return std::string();
  });
  Policy p = MakePolicy();
  p.registries["myregistry"].public_network_access = false;
  gate.SetPolicy(std::make_shared<Policy>(p));

  auto denied = gate.Start(Req("myregistry.westus.data.azurecr.io", std::nullopt, "203.0.113.10"))
                    ->Finish();
  EXPECT_EQ(denied.status, 403);
  EXPECT_EQ(std::get<std::string>(denied.body), DeniedBody(kAzure));

  auto ok = gate.Start(Req("myregistry.westus.data.azurecr.io", 7, "10.0.0.6"))->Finish();
  EXPECT_EQ(ok.status, 200);
  auto pending = gate.Start(Req("myregistry.azurecr.io", 8, "10.0.0.5"))->Finish();
  EXPECT_EQ(pending.status, 403);

  auto c = gate.Counters();
  EXPECT_EQ(c["listener:203.0.113.10"].denied, 1u);
  EXPECT_EQ(c["link:7/member:10.0.0.6"].requests, 1u);
  EXPECT_EQ(c["link:7/member:10.0.0.6"].bytes_out, 5u);
  EXPECT_EQ(c["link:7"].bytes_out, 5u);
  EXPECT_EQ(c["link:8"].denied, 1u);
  EXPECT_EQ(gate.CountersJson()["link:7/member:10.0.0.6"]["bytesOut"], 5);
}

// Two VNets whose endpoints hold the same address (10.0.0.5: one VNet's registry member, the
// other's data member of another registry) never share an entry.
TEST(Gate, OverlappingVnetsCountApart) {
  Echo echo;
  Gate gate(echo, [](const std::string& host) {
    if (host == "myregistry.azurecr.io") return std::string("myregistry");
    if (host == "other.westus.data.azurecr.io") return std::string("other");
    return std::string();
  });
  gate.SetPolicy(std::make_shared<Policy>(MakePolicy()));
  EXPECT_EQ(gate.Start(Req("myregistry.azurecr.io", 7, "10.0.0.5"))->Finish().status, 200);
  EXPECT_EQ(gate.Start(Req("other.westus.data.azurecr.io", 9, "10.0.0.5"))->Finish().status, 200);
  EXPECT_EQ(gate.Start(Req("other.westus.data.azurecr.io", 9, "10.0.0.5"))->Finish().status, 200);
  auto c = gate.Counters();
  EXPECT_EQ(c["link:7/member:10.0.0.5"].requests, 1u);
  EXPECT_EQ(c["link:9/member:10.0.0.5"].requests, 2u);
  EXPECT_EQ(c["link:9/member:10.0.0.5"].bytes_out, 10u);
  EXPECT_EQ(c.count("member:10.0.0.5"), 0u);
}

// A 403 the handler behind the Gate decides (a data host's bad signature) is a denial too.
class Forbids final : public http::Handler {
 public:
  http::ExchangePtr Start(http::Request) override {
    return http::Respond(DeniedResponse("the URL's signature does not match"));
  }
};

TEST(Gate, CountsTheRegistrysDenials) {
  Forbids inner;
  Gate gate(inner, [](const std::string&) { return std::string("myregistry"); });
  gate.SetPolicy(std::make_shared<Policy>(MakePolicy()));
  EXPECT_EQ(gate.Start(Req("myregistry.westus.data.azurecr.io", 7, "10.0.0.6"))->Finish().status,
            403);
  EXPECT_EQ(gate.Start(Req("myregistry.westus.data.azurecr.io", std::nullopt, "203.0.113.10"))
                ->Finish()
                .status,
            403);
  auto c = gate.Counters();
  EXPECT_EQ(c["link:7"].denied, 1u);
  EXPECT_EQ(c["link:7/member:10.0.0.6"].denied, 1u);
  EXPECT_EQ(c["listener:203.0.113.10"].denied, 1u);
  EXPECT_EQ(c["listener:203.0.113.10"].requests, 1u);
}

}  // namespace
}  // namespace cove::access
