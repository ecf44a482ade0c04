#include "daemon/config.h"

#include <gtest/gtest.h>

namespace cove::daemon {
namespace {

TEST(ConfigTest, EmptyMeansDefaults) {
  auto c = ParseConfig("");
  ASSERT_TRUE(c) << c.error().ToString();
  EXPECT_EQ(c->dns_suffix, "azurecr.io");
  ASSERT_EQ(c->registries.size(), 1u);
  EXPECT_EQ(c->registries[0].name, "myregistry");
  EXPECT_TRUE(c->registries[0].data_endpoint_enabled);
  ASSERT_EQ(c->listen.size(), 1u);
  EXPECT_TRUE(c->listen[0].tls);
}

TEST(ConfigTest, FullFile) {
  auto c = ParseConfig(R"(
data_dir: /tmp/cove-x
dns_suffix: cr.example.com
threads: 4
upload_ttl_hours: 2
listen:
  - {address: 127.0.0.1, port: 5000, tls: false}
  - {address: 0.0.0.0, port: 443}
registries:
  - {name: bench01, region: eastus, replicas: [westus], data_endpoint_enabled: true}
  - {name: other01}
default_registry: bench01
)");
  ASSERT_TRUE(c) << c.error().ToString();
  EXPECT_EQ(c->data_dir, "/tmp/cove-x");
  EXPECT_EQ(c->threads, 4);
  EXPECT_EQ(c->listen[0].port, 5000);
  EXPECT_FALSE(c->listen[0].tls);
  EXPECT_TRUE(c->listen[1].tls);
  EXPECT_EQ(c->registries[0].regions, (std::vector<std::string>{"eastus", "westus"}));
  EXPECT_FALSE(c->registries[1].data_endpoint_enabled);
  EXPECT_EQ(c->default_registry, "bench01");
}

TEST(ConfigTest, SharedEnginesAndSecretsDirectory) {
  auto c = ParseConfig(R"(
metadata: "host=/run/pg dbname=cove"
blobs: "UseDevelopmentStorage=true"
secrets_dir: /srv/cove/secrets
)");
  ASSERT_TRUE(c) << c.error().ToString();
  EXPECT_EQ(c->metadata, "host=/run/pg dbname=cove");
  EXPECT_EQ(c->blobs, "UseDevelopmentStorage=true");
  EXPECT_EQ(c->secrets_dir, "/srv/cove/secrets");
  EXPECT_TRUE(DefaultConfig().metadata.empty());
  EXPECT_TRUE(DefaultConfig().blobs.empty());
}

TEST(ConfigTest, ErrorsNameTheProblem) {
  struct Case {
    const char* yaml;
    const char* says;
  } cases[] = {
      {"dat_dir: /x", "unknown key 'dat_dir'"},
      {"listen: [{address: 10.0.0.1, port: 80, tls: false}]", "loopback"},
      {"listen: [{port: 70000}]", "out of range"},
      {"threads: zero", "configuration"},
      {"registries: [{name: ab}]", "5 to 50"},
      {"registries: [{region: westus}]", "needs a name"},
      {"default_registry: nosuch", "not declared"},
      {"[unclosed", "configuration"},
      {"listen: [{address: 127.0.0.1, tls: false, color: red}]", "unknown key 'color'"},
      {"listen: [{address: 10.1.0.5, proxy_protocol: true}]", "names no proxy_sources"},
      {"listen: [{address: 10.1.0.5, proxy_sources: [10.1.0.4]}]", "without proxy_protocol"},
      {"listen: [{address: 10.1.0.5, proxy_protocol: true, proxy_sources: [10.1.0.0/40]}]",
       "bad prefix length"},
      {"listen: [{address: 10.1.0.5, proxy_protocol: true, proxy_sources: [forwarder]}]",
       "not an address"},
  };
  for (const auto& c : cases) {
    auto r = ParseConfig(c.yaml);
    ASSERT_FALSE(r) << c.yaml;
    EXPECT_EQ(r.error().code, Code::kInvalidArgument);
    EXPECT_NE(r.error().message.find(c.says), std::string::npos)
        << c.yaml << " -> " << r.error().message;
  }
}

TEST(ConfigTest, FullModeServesOnlyTheControlPlanesRegistries) {
  auto defaults = ParseConfig("listen: [{address: 127.0.0.1, port: 0}]");
  ASSERT_TRUE(defaults);
  ASSERT_TRUE(UseControlPlaneRegistries(*defaults));
  EXPECT_TRUE(defaults->registries.empty()) << "the embedded default registry is dropped";
  EXPECT_TRUE(defaults->default_registry.empty());
  auto none = ParseConfig("registries: []");
  ASSERT_TRUE(none);
  EXPECT_TRUE(UseControlPlaneRegistries(*none));
  for (const char* yaml : {"registries: [{name: myregistry}]",
                           "registries: [{name: myregistry}]\nauth: {registries: [{name: "
                           "myregistry, admin_user: {enabled: false}}]}",
                           "default_registry: myregistry"}) {
    auto c = ParseConfig(yaml);
    ASSERT_TRUE(c) << yaml << ": " << c.error().ToString();
    auto refused = UseControlPlaneRegistries(*c);
    ASSERT_FALSE(refused) << yaml;
    EXPECT_NE(refused.error().message.find("coved registry"), std::string::npos);
  }
}

TEST(ConfigTest, AnOpenRegistryIsServedOnLoopbackOnly) {
  auto loopback = ParseConfig("listen: [{address: 127.0.0.1, port: 0}, {address: '::1'}]");
  ASSERT_TRUE(loopback);
  EXPECT_EQ(OpenRegistries(*loopback), std::vector<std::string>{"myregistry"});
  EXPECT_TRUE(CheckOpenRegistries(*loopback));
  for (const char* address : {"0.0.0.0", "10.0.0.5", "::", "localhost"}) {
    auto c = ParseConfig(std::string("listen: [{address: 127.0.0.1}, {address: '") + address +
                         "', port: 5443}]");
    ASSERT_TRUE(c) << address;
    auto refused = CheckOpenRegistries(*c);
    ASSERT_FALSE(refused) << address;
    EXPECT_EQ(refused.error().code, Code::kInvalidArgument);
    EXPECT_NE(refused.error().message.find("myregistry is open"), std::string::npos)
        << refused.error().message;
    EXPECT_NE(refused.error().message.find(address), std::string::npos);
  }
  // With an `auth:` entry it is not open, and may listen anywhere.
  auto closed = ParseConfig(
      "listen: [{address: 0.0.0.0}]\nregistries: [{name: myregistry}]\n"
      "auth: {registries: [{name: myregistry, admin_user: {enabled: false}}]}");
  ASSERT_TRUE(closed) << closed.error().ToString();
  EXPECT_TRUE(OpenRegistries(*closed).empty());
  EXPECT_TRUE(CheckOpenRegistries(*closed));
  // Full mode has no configured registries at all.
  auto full = ParseConfig("listen: [{address: 0.0.0.0}]");
  ASSERT_TRUE(full);
  ASSERT_TRUE(UseControlPlaneRegistries(*full));
  EXPECT_TRUE(CheckOpenRegistries(*full));
}

TEST(ConfigTest, ProxyListenerNamesItsForwarders) {
  auto c = ParseConfig(
      "listen: [{address: 10.1.0.5, port: 443, proxy_protocol: true,"
      " proxy_sources: [10.1.0.4, 10.2.0.0/24, 'fd00::/64']}]");
  ASSERT_TRUE(c) << c.error().message;
  ASSERT_EQ(c->listen.size(), 1u);
  EXPECT_TRUE(c->listen[0].proxy_protocol);
  EXPECT_EQ(c->listen[0].proxy_sources,
            (std::vector<std::string>{"10.1.0.4", "10.2.0.0/24", "fd00::/64"}));
}

TEST(ConfigTest, Limits) {
  auto defaults = ParseConfig("");
  ASSERT_TRUE(defaults);
  EXPECT_EQ(defaults->limits.connections, 10'000u);
  EXPECT_EQ(defaults->limits.connections_per_source, 256u);
  EXPECT_EQ(defaults->limits.dns_tcp_connections_per_view, 256u);
  auto c = ParseConfig(R"(
limits:
  connections: 500
  connections_per_source: 0
  body_min_rate: 1000
  password_workers: 3
  password_failures_per_source: 20
  password_refusal_delay_ms: 0
  dns_tcp_connections_per_source: 8
)");
  ASSERT_TRUE(c) << c.error().ToString();
  http::ServerOptions http;
  c->limits.ApplyTo(http);
  EXPECT_EQ(http.max_connections, 500u);
  EXPECT_EQ(http.max_connections_per_source, 0u);  // no limit
  EXPECT_EQ(http.min_body_rate, 1000u);
  auto passwords = c->limits.PasswordOptions();
  EXPECT_EQ(passwords.workers, 3);
  EXPECT_EQ(passwords.source_burst, 20);
  EXPECT_EQ(passwords.refusal_delay.count(), 0);
  EXPECT_EQ(c->limits.DnsOptions().max_tcp_connections_per_source, 8u);
  for (const char* bad : {"limits: {connection: 5}", "limits: {connections: -1}",
                          "limits: {password_workers: 0}", "limits: {password_queue: 0}"}) {
    EXPECT_FALSE(ParseConfig(bad)) << bad;
  }
}

TEST(ConfigTest, Loopback) {
  EXPECT_TRUE(IsLoopback("127.0.0.1"));
  EXPECT_TRUE(IsLoopback("127.1.2.3"));
  EXPECT_TRUE(IsLoopback("::1"));
  EXPECT_FALSE(IsLoopback("0.0.0.0"));
  EXPECT_FALSE(IsLoopback("10.0.0.5"));
  EXPECT_FALSE(IsLoopback("localhost"));
}

}  // namespace
}  // namespace cove::daemon
