// Fuzzes what the instance metadata service (src/imds) reads from a machine: the request's
// method, target (path and query: api-version, resource, client_id, object_id, msi_res_id) and
// headers (Metadata, X-Forwarded-For), from one of several machines (first input line picks the
// listener tag). Real identity snapshot and signing keys; any crash, sanitizer report, a status
// outside 200/400/404/405, or a body that is not JSON is a finding.
//
// Input layout: "TAG\n" then fuzz/request_input.h's "METHOD\nTARGET\nHeader: value\n...".
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <variant>

#include <nlohmann/json.hpp>

#include "auth/keys.h"
#include "fuzz/request_input.h"
#include "imds/imds.h"

namespace {

using namespace cove;

const std::string kVm = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm";
const std::string kUai = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/";

struct World {
  ManualClock clock;
  std::unique_ptr<auth::KeyRing> registry_keys, identity_keys;
  std::unique_ptr<auth::TokenService> tokens;
  auth::IdentityStore store;
  std::unique_ptr<imds::Service> service;

  World() {
    std::string dir = "/tmp/cove-imds-fuzz-" + std::to_string(::getpid());
    std::filesystem::remove_all(dir);
    registry_keys = std::move(*auth::KeyRing::Open(dir + "/token", clock));
    identity_keys = std::move(*auth::KeyRing::Open(dir + "/identity", clock));
    tokens = std::make_unique<auth::TokenService>(*registry_keys, *identity_keys, clock);
    auth::IdentityData d;
    for (const char* id : {"p-sys", "p-a", "p-b"}) {
      d.principals.push_back({id, auth::PrincipalKind::kManagedIdentity, id, ""});
    }
    store.Set(*auth::IdentitySnapshot::Build(d));
    service = std::make_unique<imds::Service>(store, *tokens, "tenant");
    imds::Machines m;
    imds::Machine vm{.id = kVm, .name = "vm", .type = "Microsoft.Compute/virtualMachines"};
    vm.system_assigned = imds::MachineIdentity{kVm, "p-sys", "c-sys"};
    vm.user_assigned = {{kUai + "a", "p-a", "c-a"}, {kUai + "b", "p-b", "c-b"}};
    m["a"] = vm;
    vm.system_assigned.reset();
    m["b"] = vm;
    vm.user_assigned.resize(1);
    m["c"] = vm;
    service->SetMachines(std::make_shared<const imds::Machines>(std::move(m)));
    std::filesystem::remove_all(dir);  // keys are loaded; nothing else touches the disk
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static World world;
  std::string_view in(reinterpret_cast<const char*>(data), size);
  http::Request req;
  req.peer.listener_tag = fuzz::NextLine(in);
  req.peer.remote_ip = imds::kAddress;  // the machine itself (others get 403: imds_test)
  fuzz::ReadRequestHead(in, req);
  auto r = world.service->Handle(req);
  if (r.status != 200 && r.status != 400 && r.status != 404 && r.status != 405) std::abort();
  const auto* body = std::get_if<std::string>(&r.body);
  if (!body || !nlohmann::json::accept(*body)) std::abort();
  return 0;
}
