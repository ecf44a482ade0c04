#include "arm/snapshot.h"

#include "arm/projection.h"
#include "arm/provider.h"
#include "arm/resource_path.h"

namespace cove::arm {

std::string Str(const Json& j, const char* key) {
  return j.is_object() && j.contains(key) && j[key].is_string() ? j[key].get<std::string>() : "";
}

std::vector<std::string> Strings(const Json& j) {
  std::vector<std::string> out;
  if (!j.is_array()) return out;
  for (const auto& s : j) {
    if (s.is_string()) out.push_back(s.get<std::string>());
  }
  return out;
}

namespace {

std::optional<Clock::TimePoint> Expiry(const Json& stored) {
  if (!stored.is_object() || !stored.contains("expiry") || !stored["expiry"].is_number_integer()) {
    return std::nullopt;
  }
  return Clock::TimePoint(std::chrono::seconds(stored["expiry"].get<int64_t>()));
}

}  // namespace

std::vector<SecretView> Secrets(const Json& stored) {
  std::vector<SecretView> out;
  if (!stored.is_object()) return out;
  for (const auto& [name, s] : stored.items()) {
    out.push_back({name, Str(s, "hash"), Expiry(s)});
  }
  return out;
}

const Json& Cove(const Json& doc, const char* field) {
  static const Json* empty = new Json(Json::object());
  if (!doc.contains("_cove") || !doc["_cove"].is_object() || !doc["_cove"].contains(field)) {
    return *empty;
  }
  return doc["_cove"][field];
}

std::vector<const Json*> ChildDocuments(const Documents& docs, const std::string& parent,
                                        const std::string& type) {
  std::vector<const Json*> out;
  std::string prefix = parent + "/" + type + "/";
  for (auto it = docs.lower_bound(prefix); it != docs.end(); ++it) {
    if (it->first.compare(0, prefix.size(), prefix) != 0) break;
    if (it->first.find('/', prefix.size()) == std::string::npos) out.push_back(it->second.get());
  }
  return out;
}

const RegistryView* Snapshot::FindRegistry(std::string_view name) const {
  for (const auto& r : registries) {
    if (EqualsIgnoreCase(r.name, name)) return &r;
  }
  return nullptr;
}

const Json* Snapshot::Find(std::string_view id) const {
  auto it = documents.find(Lower(id));
  return it == documents.end() ? nullptr : it->second.get();
}

SnapshotPtr BuildSnapshot(uint64_t version, std::string dns_suffix, Documents documents) {
  auto s = std::make_shared<Snapshot>();
  s->version = version;
  s->dns_suffix = std::move(dns_suffix);
  s->documents = std::move(documents);
  // Each document adds to the views its type's provider projects (provider.h), in key order.
  const ProviderRegistry& providers = ResourceProviders();
  for (const auto& [key, ptr] : s->documents) {
    if (key.starts_with("#directory/")) {
      ProjectDirectoryObject(key, *ptr, *s);
      continue;
    }
    const ResourceProvider* provider = providers.Find(Str(*ptr, "type"));
    if (provider != nullptr && provider->project != nullptr) provider->project(key, *ptr, *s);
  }
  return s;
}

}  // namespace cove::arm
