#include "arm/control_plane.h"

#include <random>

#include "arm/engine.h"
#include "arm/state_store.h"

namespace cove::arm {

Json ErrorBody(const std::string& code, const std::string& message) {
  return Json{{"error", {{"code", code}, {"message", message}}}};
}

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
  Engine engine(txn, cp->options_);
  engine.Bootstrap();
  COVE_RETURN_IF_ERROR(cp->store_->Apply(txn.Changes()));
  cp->snapshot_ = BuildSnapshot(1, cp->options_.dns_suffix, txn.documents());
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

void ControlPlane::Publish(Documents documents) {
  SnapshotPtr next;
  {
    std::lock_guard lock(snapshot_mu_);
    next = BuildSnapshot(snapshot_->version + 1, options_.dns_suffix, std::move(documents));
    snapshot_ = next;
  }
  std::lock_guard lock(subscribers_mu_);
  for (const auto& [id, callback] : subscribers_) callback(next);
}

ArmResponse ControlPlane::Handle(const ArmRequest& request) {
  auto dispatch = [](Engine& engine, const ArmRequest& r) -> ArmResult<ArmResponse> {
    try {
      return engine.Dispatch(r);
    } catch (const std::exception& e) {  // nlohmann::json type errors: a bug, never a crash
      return ArmFail(500, "InternalServerError", std::string("internal error: ") + e.what());
    }
  };
  auto answer = [](ArmResult<ArmResponse> result) {
    if (result) return std::move(*result);
    return ArmResponse{result.error().status, ErrorBody(result.error().code, result.error().message)};
  };
  if (request.method == "GET" || request.method == "HEAD") {
    SnapshotPtr snap = snapshot();
    Txn txn(snap->documents);
    Engine engine(txn, options_);
    return answer(dispatch(engine, request));
  }
  std::lock_guard lock(write_mu_);
  Txn txn(snapshot()->documents);
  Engine engine(txn, options_);
  ArmResult<ArmResponse> result = dispatch(engine, request);
  if (!result || !txn.changed()) return answer(std::move(result));
  auto stored = store_->Apply(txn.Changes());
  if (!stored) {
    return ArmResponse{500, ErrorBody("InternalServerError",
                                      "the change could not be persisted: " + stored.error().message)};
  }
  Publish(txn.documents());
  return answer(std::move(result));
}

}  // namespace cove::arm
