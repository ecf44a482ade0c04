// Fuzzes what the token endpoints and the /v2 check parse from the network: form bodies,
// query strings, the Authorization header (Basic, Bearer) and JWTs. Bytes become a request
// (method, target, headers, body) handed to Authenticator::HandleTokenRequest and, for a /v2
// path, Authenticator::Check, on a real identity snapshot and real signing keys in a temp
// directory. Any crash, sanitizer report, or a status outside 200/400/401/403/404/405/413 is a
// finding. The body is also fed to the pure parsers directly.
//
// Input layout: "METHOD\nTARGET\nHeader: value\n...\n\nBODY".
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "auth/authenticator.h"
#include "auth/jwt.h"
#include "auth/password.h"
#include "auth/wire.h"
#include "fuzz/request_input.h"
#include "registry/authorizer.h"
#include "registry/route.h"

namespace {

using namespace cove::auth;

struct World {
  cove::ManualClock clock;
  std::unique_ptr<KeyRing> registry_keys, identity_keys;
  std::unique_ptr<TokenService> tokens;
  IdentityStore store;
  std::unique_ptr<Authenticator> authenticator;
  cove::registry::RegistryInfo info{"myregistry", "westus", {"westus"}, false};

  World() {
    std::string dir = "/tmp/cove-auth-fuzz-" + std::to_string(::getpid());
    std::filesystem::remove_all(dir);
    registry_keys = std::move(*KeyRing::Open(dir + "/token", clock));
    identity_keys = std::move(*KeyRing::Open(dir + "/identity", clock));
    tokens = std::make_unique<TokenService>(*registry_keys, *identity_keys, clock);
    IdentityData d;
    std::string hash = *HashPassword("pw", HashCost::kMinimal);
    d.principals.push_back({"sp", PrincipalKind::kServicePrincipal, "sp", hash});
    d.principals.push_back({"mi", PrincipalKind::kManagedIdentity, "mi", ""});
    d.assignments.push_back({"sp", Role::kAcrPush, "myregistry"});
    d.assignments.push_back({"mi", Role::kAcrPull, "myregistry"});
    RegistryAuth r;
    r.registry = "myregistry";
    r.admin.enabled = true;
    r.admin.password_hashes[0] = hash;
    r.anonymous_pull = true;
    r.scope_maps.push_back({"m", {"repositories/a/*/content/read"}});
    RepositoryToken t;
    t.name = "tok";
    t.scope_map = "m";
    t.passwords[0] = TokenPassword{hash, std::nullopt};
    r.tokens.push_back(t);
    d.registries.push_back(r);
    store.Set(*IdentitySnapshot::Build(d));
    // The clock never moves here: failure limits would soon answer every password with 429
    // and hide the paths behind it.
    AuthenticatorOptions options;
    options.passwords.source_burst = 1'000'000'000;
    options.passwords.principal_burst = 1'000'000'000;
    authenticator = std::make_unique<Authenticator>(store, *tokens, clock, options);
    std::filesystem::remove_all(dir);  // keys are loaded; nothing else touches the disk
  }
};

bool Expected(int status) {
  for (int s : {200, 400, 401, 403, 404, 405, 413, 429}) {
    if (status == s) return true;
  }
  return false;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static World world;
  std::string_view in(reinterpret_cast<const char*>(data), size);
  cove::http::Request req;
  cove::fuzz::ReadRequestHead(in, req);
  req.peer.remote_ip = "192.0.2.1";
  std::string body(in);

  (void)ParseForm(body);
  (void)ParseAuthorization(body);
  (void)ParseScopes(body);
  (void)DecodeJwtUnverified(body);
  VerifyOptions v{world.clock.Now(), std::chrono::seconds(60), "myregistry.azurecr.io", ""};
  (void)VerifyJwt(body, *world.registry_keys->Keys(), v);

  const std::string login = "myregistry.azurecr.io";
  if (req.path().starts_with("/oauth2/")) {
    auto r = world.authenticator->HandleTokenRequest(req, body, "myregistry", login);
    if (!Expected(r.status)) std::abort();
  } else {
    auto route = cove::registry::ParseRoute(req.path());
    auto needed = cove::registry::RequiredAccess(route, req.method);
    auto r = world.authenticator->Check(req, world.info, login, needed);
    if (r && !Expected(r->status)) std::abort();
  }
  return 0;
}
