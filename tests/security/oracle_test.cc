// Issue 17 item 7, oracles: (1) refused credentials get one answer, whatever part of them was
// wrong — the server used to say "token password has expired" or "token is disabled" only once
// the password had matched, telling a guesser that it had; (2) a PROXY v2 header says who the
// client is and which private endpoint it came through, so it is believed only from the
// listener's configured forwarders — from anyone else the connection is refused unread.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http/proxy_protocol.h"
#include "security/auth_fixture.h"

namespace cove::security {
namespace {

class OracleTest : public AuthPlanesTest {
 protected:
  // Everything an answer tells: status, headers that matter and body.
  static std::string Answer(const Reply& r) {
    return std::to_string(r.status) + "\n" + r.Header("WWW-Authenticate") + "\n" +
           r.Header("X-Cove-Auth-Error") + "\n" + r.Header("Content-Type") + "\n" + r.body;
  }
};

TEST_F(OracleTest, EveryWrongCredentialGetsTheSameAnswer) {
  SeedImage();
  auto sp = MakeServicePrincipal("oracle-sp");
  AssignAcrPull(sp.id, kRegistryId, "00000000-0000-4000-8000-00000000b001");
  auto [expiring_secret, expiring_key] = AddSecret(sp, std::chrono::hours(1));
  (void)expiring_key;
  std::string enabled_pw = MakeToken("live-token");
  std::string expiring_pw = MakeToken("expiring-token", std::chrono::hours(1));
  std::string disabled_pw = MakeToken("disabled-token");
  Arm("PUT", kRegistryId + "/tokens/disabled-token",
      {{"properties",
        {{"scopeMapId", kRegistryId + "/scopeMaps/_repositories_pull"}, {"status", "disabled"}}}});
  auto disabled_sp = MakeServicePrincipal("disabled-sp");
  AssignAcrPull(disabled_sp.id, kRegistryId, "00000000-0000-4000-8000-00000000b002");
  Graph("PATCH", "/v1.0/servicePrincipals/" + disabled_sp.id, {{"accountEnabled", false}});
  clock_.Advance(std::chrono::minutes(61));  // the expiring secret and token password expire

  struct Variant {
    const char* what;
    std::string user, password;
  };
  const std::vector<Variant> variants = {
      {"unknown user", "mallory", "guess"},
      {"token, wrong password", "live-token", "guess"},
      {"token, expired password (right value)", "expiring-token", expiring_pw},
      {"token, disabled (right password)", "disabled-token", disabled_pw},
      {"service principal, wrong secret", sp.app_id, "guess"},
      {"service principal, expired secret (right value)", sp.app_id, expiring_secret},
      {"service principal, disabled (right secret)", disabled_sp.app_id, disabled_sp.secret},
      {"admin, wrong password", "myregistry", "guess"},
      {"null GUID, not a token", auth::kNullGuid, "guess"},
  };
  // Sanity: the right credentials do work.
  ASSERT_EQ(TokenRequest("live-token", enabled_pw).status, 200);
  ASSERT_EQ(TokenRequest(sp.app_id, sp.secret).status, 200);

  std::map<std::string, std::string> first;  // route → the first variant's answer
  for (const auto& v : variants) {
    SCOPED_TRACE(v.what);
    std::map<std::string, Reply> routes = {
        {"GET /oauth2/token", TokenRequest(v.user, v.password)},
        {"POST /oauth2/token password grant", PasswordGrant(v.user, v.password)},
        {"Basic on /v2",
         Do("GET", "/v2/app/manifests/v1", "", {{"Authorization", Basic(v.user, v.password)}})},
    };
    for (const auto& [route, reply] : routes) {
      EXPECT_EQ(reply.status, 401) << route << ": " << reply.body;
      EXPECT_EQ(reply.Header("X-Cove-Auth-Error"), auth::kInvalidCredentials) << route;
      auto [it, inserted] = first.emplace(route, Answer(reply));
      if (!inserted) {
        EXPECT_EQ(Answer(reply), it->second) << route;
      }
    }
  }

  // Tokens too: a forged one, another kind, one whose credential was revoked and one that
  // expired all read the same.
  auto minted = PasswordGrant(sp.app_id, sp.secret);
  ASSERT_EQ(minted.status, 200);
  std::string refresh = minted.Get("refresh_token");
  std::string access = minted.Get("access_token");
  std::string forged = refresh.substr(0, refresh.rfind('.') + 1) + "AAAA";
  Graph("POST", "/v1.0/applications/" + sp.app_object_id + "/removePassword",
        {{"keyId", sp.key_id}});
  std::vector<Reply> token_answers = {RefreshGrant(refresh), RefreshGrant(forged),
                                      RefreshGrant(access)};
  clock_.Advance(std::chrono::hours(4));
  token_answers.push_back(RefreshGrant(refresh));
  for (const auto& r : token_answers) {
    EXPECT_EQ(Answer(r), Answer(token_answers.front()));
    EXPECT_EQ(r.Header("X-Cove-Auth-Error"), auth::kInvalidCredentials);
  }
}

// A connection to 127.0.0.1:`port` from `source` (any 127/8 address is local on lo), which
// sends `bytes` and reads until the server closes.
std::string ConnectFrom(const char* source, uint16_t port, const std::string& bytes) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  timeval tv{10, 0};  // a failure guard, never reached by a passing test
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  sockaddr_in local{};
  local.sin_family = AF_INET;
  ::inet_pton(AF_INET, source, &local.sin_addr);
  EXPECT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&local), sizeof(local)), 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
  std::string out;
  char buf[4096];
  for (;;) {
    ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
    if (n <= 0) break;
    out.append(buf, n);
  }
  ::close(fd);
  return out;
}

TEST_F(OracleTest, ProxyHeaderIsBelievedOnlyFromConfiguredForwarders) {
  // Public network access disabled: only callers through a private endpoint (a LinkID) are
  // challenged; anyone else is told DENIED. A forged header would make an outsider an insider.
  Arm("PATCH", kRegistryId, {{"properties", {{"publicNetworkAccess", "Disabled"}}}});
  // A private endpoint to the registry (approved at once), whose link id the forwarder sends.
  const std::string net = kRg + "/providers/Microsoft.Network";
  Arm("PUT", net + "/virtualNetworks/vnet",
      json::parse(R"({"location": "westus", "properties": {"addressSpace": {"addressPrefixes":
      ["10.0.0.0/16"]}, "subnets": [{"name": "s", "properties": {"addressPrefix":
      "10.0.0.0/24"}}]}})"));
  Arm("PUT", net + "/privateEndpoints/pe",
      {{"location", "westus"},
       {"properties",
        {{"subnet", {{"id", net + "/virtualNetworks/vnet/subnets/s"}}},
         {"privateLinkServiceConnections",
          {{{"name", "c"},
            {"properties",
             {{"privateLinkServiceId", kRegistryId}, {"groupIds", {"registry"}}}}}}}}}});
  ASSERT_EQ(cp_->snapshot()->private_endpoints.size(), 1u);
  uint32_t link_id = cp_->snapshot()->private_endpoints[0].link_id;
  ASSERT_NE(link_id, 0u);
  http::ListenerOptions behind_forwarder;
  behind_forwarder.address = "127.0.0.1";
  behind_forwarder.proxy_protocol = true;
  behind_forwarder.proxy_sources = {"127.0.0.2/32"};
  auto port = server_->Listen(behind_forwarder);
  ASSERT_TRUE(port) << port.error().message;

  http::ProxyHeader header;
  header.source_address = "10.0.0.4";
  header.destination_address = "10.0.0.5";
  header.source_port = 50000;
  header.destination_port = 443;
  header.tlvs = {http::AzureLinkIdTlv(link_id)};
  auto proxy = http::SerializeProxyV2(header);
  ASSERT_TRUE(proxy);
  std::string request =
      *proxy + "GET /v2/ HTTP/1.1\r\nHost: " + kLogin + "\r\nConnection: close\r\n\r\n";

  // From the forwarder: believed — the caller came through a private endpoint, so it gets the
  // token challenge rather than the firewall's DENIED.
  std::string forwarded = ConnectFrom("127.0.0.2", *port, request);
  EXPECT_EQ(forwarded.substr(0, 12), "HTTP/1.1 401") << forwarded;
  EXPECT_NE(forwarded.find("WWW-Authenticate"), std::string::npos);
  // From anyone else, the same bytes: refused before a byte is read, no answer at all.
  EXPECT_EQ(ConnectFrom("127.0.0.1", *port, request), "");
  EXPECT_EQ(ConnectFrom("127.0.0.3", *port, request), "");
  // Without a header the outsider is what it is: denied by the firewall.
  auto direct = Do("GET", "/v2/");
  EXPECT_EQ(direct.status, 403) << direct.body;
}

}  // namespace
}  // namespace cove::security
