#include "arm/control_plane.h"

#include <filesystem>
#include <random>

#include "arm/directory.h"
#include "arm/engine.h"
#include "arm/identity_support.h"
#include "arm/operations.h"
#include "arm/state_store.h"

namespace cove::arm {

Json ErrorBody(const std::string& code, const std::string& message) {
  return Json{{"error", {{"code", code}, {"message", message}}}};
}

Json GraphErrorBody(const std::string& code, const std::string& message, const std::string& date,
                    const std::string& request_id) {
  return Json{{"error",
               {{"code", code},
                {"message", message},
                {"innerError",
                 {{"date", date},
                  {"request-id", request_id},
                  {"client-request-id", request_id}}}}}};
}

namespace {

// What readers may see: every document but the sealed secrets.
Documents Public(const Documents& all) {
  Documents out;
  constexpr std::string_view kSecrets = "/#secrets";
  for (const auto& [key, doc] : all) {
    if (key.size() >= kSecrets.size() &&
        key.compare(key.size() - kSecrets.size(), kSecrets.size(), kSecrets) == 0) {
      continue;
    }
    out.emplace_hint(out.end(), key, doc);
  }
  return out;
}

// The region of the stored resource `key` (lowercase) or of the nearest parent resource that has
// one; "global" when none does.
std::string RegionOf(const Documents& docs, std::string key) {
  while (key.find("/providers/") != std::string::npos) {
    auto it = docs.find(key);
    if (it != docs.end() && it->second->is_object()) {
      auto loc = it->second->find("location");
      if (loc != it->second->end() && loc->is_string() && !loc->get<std::string>().empty()) {
        return loc->get<std::string>();
      }
    }
    key = ParentOfKey(key);
  }
  return "global";
}

// The resource a write of a long-running type names; nullopt for any other request.
std::optional<ArmPath> LongRunningWrite(const ArmRequest& request) {
  if (request.method != "PUT" && request.method != "PATCH" && request.method != "DELETE") {
    return std::nullopt;
  }
  auto p = ParseArmPath(request.path);
  if (!p || p->kind != PathKind::kResource || !IsLongRunningType(p->TypeKey())) {
    return std::nullopt;
  }
  return *p;
}

}  // namespace

Result<std::unique_ptr<ControlPlane>> ControlPlane::Open(const std::string& db_path,
                                                         ControlPlaneOptions options) {
  std::unique_ptr<ControlPlane> cp(new ControlPlane());
  if (!options.random) {
    auto engine = std::make_shared<std::mt19937_64>(std::random_device{}());
    auto mu = std::make_shared<std::mutex>();
    options.random = [engine, mu] {
      std::lock_guard lock(*mu);
      return (*engine)();
    };
  }
  cp->options_ = std::move(options);
  cp->operations_ = std::make_unique<OperationLog>();
  std::string key_path;
  if (db_path != ":memory:" && !db_path.empty()) {
    auto dir = std::filesystem::path(db_path).parent_path();
    if (dir.empty()) dir = ".";
    key_path = (dir / "keys" / "credentials.key").string();
  }
  cp->secrets_ = std::make_unique<SecretBox>(key_path);
  COVE_ASSIGN_OR_RETURN(cp->store_, StateStore::Open(db_path));
  COVE_ASSIGN_OR_RETURN(auto rows, cp->store_->LoadAll());
  Documents docs;
  for (auto& [key, text] : rows) {
    Json doc = Json::parse(text, nullptr, false);
    if (doc.is_discarded()) {
      return Fail(Code::kCorruption, db_path + ": document " + key + " is not valid JSON");
    }
    docs.emplace(key, std::make_shared<const Json>(std::move(doc)));
  }
  Txn txn(std::move(docs));
  Engine engine(txn, cp->options_, cp->secrets_.get());
  auto booted = engine.Bootstrap();
  if (!booted) return Fail(Code::kIOError, db_path + ": " + booted.error().message);
  COVE_RETURN_IF_ERROR(cp->store_->Apply(txn.Changes()));
  cp->committed_ = txn.documents();
  cp->snapshot_ = BuildSnapshot(1, cp->options_.dns_suffix, Public(cp->committed_));
  cp->KeepSealed(cp->committed_);
  // The key is loaded now, so that ContainerGroupSecrets (any thread) only reads it.
  if (auto loaded = cp->secrets_->Seal(""); !loaded) {
    return Fail(Code::kIOError, db_path + ": " + loaded.error().message);
  }
  return cp;
}

ControlPlane::~ControlPlane() = default;

SnapshotPtr ControlPlane::snapshot() const {
  std::lock_guard lock(snapshot_mu_);
  return snapshot_;
}

int ControlPlane::Subscribe(std::function<void(const SnapshotPtr&)> callback) {
  std::lock_guard lock(subscribers_mu_);
  int id = next_subscriber_++;
  subscribers_[id] = std::move(callback);
  return id;
}

void ControlPlane::Unsubscribe(int id) {
  std::lock_guard lock(subscribers_mu_);
  subscribers_.erase(id);
}

void ControlPlane::SetReplicationStatusProvider(ReplicationStatusProvider provider) {
  auto next =
      provider ? std::make_shared<const ReplicationStatusProvider>(std::move(provider)) : nullptr;
  std::lock_guard lock(status_mu_);
  replication_status_ = std::move(next);
}

void ControlPlane::KeepSealed(const Documents& documents) {
  Documents sealed;
  for (const auto& [key, doc] : documents) {
    if (key.ends_with("/#secrets")) sealed.emplace(key, doc);
  }
  std::lock_guard lock(sealed_mu_);
  sealed_ = std::move(sealed);
}

void ControlPlane::Publish(Documents documents) {
  KeepSealed(documents);
  SnapshotPtr next;
  {
    std::lock_guard lock(snapshot_mu_);
    next = BuildSnapshot(snapshot_->version + 1, options_.dns_suffix, Public(documents));
    snapshot_ = next;
  }
  std::lock_guard lock(subscribers_mu_);
  for (const auto& [id, callback] : subscribers_) callback(next);
}

void ControlPlane::SetRegistryUsageProvider(RegistryUsageProvider provider) {
  auto next = provider ? std::make_shared<const RegistryUsageProvider>(std::move(provider)) : nullptr;
  std::lock_guard lock(status_mu_);
  registry_usage_ = std::move(next);
}

void ControlPlane::SetConnectionStatusProvider(ConnectionStatusProvider provider) {
  auto next =
      provider ? std::make_shared<const ConnectionStatusProvider>(std::move(provider)) : nullptr;
  std::lock_guard lock(status_mu_);
  connection_status_ = std::move(next);
}

void ControlPlane::SetContainerGroupRuntime(ContainerGroupRuntime runtime) {
  auto next = std::make_shared<const ContainerGroupRuntime>(std::move(runtime));
  std::lock_guard lock(status_mu_);
  container_runtime_ = std::move(next);
}

Result<Json> ControlPlane::ContainerGroupSecrets(const std::string& group_id) {
  auto path = ParseResourceId(group_id);
  if (!path || path->kind != PathKind::kResource ||
      path->TypeKey() != "microsoft.containerinstance/containergroups") {
    return Fail(Code::kInvalidArgument, "not a container group id: " + group_id);
  }
  // Not under write_mu_: the planes ask from inside a commit's subscriber.
  SnapshotPtr snap = snapshot();
  if (snap->documents.find(path->Key()) == snap->documents.end()) {
    return Fail(Code::kNotFound, "no container group " + group_id);
  }
  Json out = {{"env", Json::object()}, {"registries", Json::object()}};
  std::lock_guard lock(sealed_mu_);
  auto sealed = sealed_.find(path->Key() + "/#secrets");
  if (sealed == sealed_.end()) return out;
  for (const char* part : {"env", "registries"}) {
    if (!sealed->second->contains(part) || !(*sealed->second)[part].is_object()) continue;
    for (const auto& [name, box] : (*sealed->second)[part].items()) {
      if (!box.is_string()) continue;
      COVE_ASSIGN_OR_RETURN(std::string value, secrets_->Open(box.get<std::string>()));
      out[part][name] = value;
    }
  }
  return out;
}

void ControlPlane::SetWorkloadStatusProvider(WorkloadStatusProvider provider) {
  auto next =
      provider ? std::make_shared<const WorkloadStatusProvider>(std::move(provider)) : nullptr;
  std::lock_guard lock(status_mu_);
  workload_status_ = std::move(next);
}

ArmResponse ControlPlane::Handle(const ArmRequest& request) {
  // Microsoft Graph paths (/v1.0/...) go to the directory: no api-version, Graph's errors.
  const bool graph = IsGraphPath(request.path);
  std::shared_ptr<const ReplicationStatusProvider> status;
  std::shared_ptr<const RegistryUsageProvider> usage;
  std::shared_ptr<const ConnectionStatusProvider> connections;
  std::shared_ptr<const ContainerGroupRuntime> containers;
  std::shared_ptr<const WorkloadStatusProvider> workloads;
  {
    std::lock_guard lock(status_mu_);
    status = replication_status_;
    usage = registry_usage_;
    connections = connection_status_;
    containers = container_runtime_;
    workloads = workload_status_;
  }
  auto dispatch = [&](Txn& txn, SecretBox* secrets) -> Result<ArmResponse> {
    try {
      if (graph) return Directory(txn, options_).Dispatch(request);
      Engine engine(txn, options_, secrets);
      engine.set_replication_status(status.get());
      engine.set_registry_usage(usage.get());
      engine.set_connection_status(connections.get());
      engine.set_container_runtime(containers.get());
      engine.set_workload_status(workloads.get());
      return engine.Dispatch(request);
    } catch (const std::exception& e) {  // nlohmann::json type errors: a bug, never a crash
      return ArmFail(500, "InternalServerError",
                     std::string("internal error: ") + e.what());
    }
  };
  auto answer = [&](Result<ArmResponse> result) {
    if (result) return std::move(*result);
    const Error& e = result.error();
    if (graph) {
      SystemClock system;
      const Clock& clock = options_.clock ? *options_.clock : static_cast<const Clock&>(system);
      return ArmResponse{ArmStatusOf(e),
                         GraphErrorBody(ArmCodeOf(e), e.message, FormatGraphTime(clock.Now()),
                                        RandomGuid(options_))};
    }
    return ArmResponse{ArmStatusOf(e), ErrorBody(ArmCodeOf(e), e.message)};
  };
  if (!graph) {
    if (auto op = ParseOperationPath(request.path)) return operations_->Answer(request, *op);
  }
  if (request.method == "GET" || request.method == "HEAD") {
    SnapshotPtr snap = snapshot();
    Txn txn(snap->documents);
    return answer(dispatch(txn, nullptr));
  }
  std::lock_guard lock(write_mu_);
  const std::optional<ArmPath> long_running = graph ? std::nullopt : LongRunningWrite(request);
  const Clock::TimePoint start = NowFrom(options_);
  // A delete's region is the one the resource had.
  const std::string region_before =
      long_running && request.method == "DELETE" ? RegionOf(committed_, long_running->Key()) : "";
  Txn txn(committed_);
  Result<ArmResponse> result = dispatch(txn, secrets_.get());
  if (!result || !txn.changed()) return answer(std::move(result));
  auto stored = store_->Apply(txn.Changes());
  if (!stored) {
    return answer(ArmFail(500, "InternalServerError",
                          "the change could not be persisted: " + stored.error().message));
  }
  committed_ = txn.documents();
  Publish(committed_);
  if (long_running && (result->status == 200 || result->status == 201)) {
    std::string region = request.method == "DELETE" ? region_before
                                                    : RegionOf(committed_, long_running->Key());
    operations_->Complete(request, long_running->provider, region, RandomGuid(options_), start,
                          NowFrom(options_), *result);
  }
  return answer(std::move(result));
}

}  // namespace cove::arm
