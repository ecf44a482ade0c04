#include "registry/directory.h"

#include <algorithm>
#include <set>

#include "common/ascii.h"

namespace cove::registry {
namespace {

bool IsAlnum(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); }
bool IsLowerAlnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }


}  // namespace

bool IsValidRegistryName(std::string_view name) {
  return name.size() >= 5 && name.size() <= 50 && std::all_of(name.begin(), name.end(), IsAlnum);
}

bool IsValidRegionName(std::string_view region) {
  return region.size() >= 2 && region.size() <= 40 &&
         std::all_of(region.begin(), region.end(), IsLowerAlnum);
}

Result<std::shared_ptr<const Directory>> Directory::Create(std::string dns_suffix,
                                                           std::vector<RegistryInfo> registries,
                                                           std::string default_registry) {
  dns_suffix = AsciiLower(dns_suffix);
  if (dns_suffix.empty() || dns_suffix.front() == '.' || dns_suffix.back() == '.') {
    return Fail(Code::kInvalidArgument, "DNS suffix '" + dns_suffix + "' is not a domain name");
  }
  std::shared_ptr<Directory> d(new Directory());
  d->suffix_ = std::move(dns_suffix);
  std::set<std::string> names;
  for (auto& r : registries) {
    if (!IsValidRegistryName(r.name)) {
      return Fail(Code::kInvalidArgument,
                  "registry name '" + r.name +
                      "' is invalid: it must be 5 to 50 alphanumeric characters");
    }
    r.name = AsciiLower(r.name);
    if (!names.insert(r.name).second) {
      return Fail(Code::kInvalidArgument, "registry '" + r.name + "' is declared twice");
    }
    if (!IsValidRegionName(r.home_region)) {
      return Fail(Code::kInvalidArgument, "region '" + r.home_region + "' is invalid");
    }
    if (std::find(r.regions.begin(), r.regions.end(), r.home_region) == r.regions.end()) {
      r.regions.insert(r.regions.begin(), r.home_region);
    }
    for (const auto& region : r.regions) {
      if (!IsValidRegionName(region)) {
        return Fail(Code::kInvalidArgument, "region '" + region + "' is invalid");
      }
    }
  }
  d->registries_ = std::move(registries);
  if (!default_registry.empty()) {
    d->default_ = d->Find(AsciiLower(default_registry));
    if (d->default_ == nullptr) {
      return Fail(Code::kInvalidArgument,
                  "default registry '" + default_registry + "' is not declared");
    }
  }
  return std::shared_ptr<const Directory>(std::move(d));
}

const RegistryInfo* Directory::Find(std::string_view name) const {
  for (const auto& r : registries_) {
    if (r.name == name) return &r;
  }
  return nullptr;
}

std::optional<HostMatch> Directory::Match(std::string_view host) const {
  // "<name>.<suffix>" or "<name>.<region>.data.<suffix>"
  if (host.size() > suffix_.size() + 1 && host.ends_with(suffix_) &&
      host[host.size() - suffix_.size() - 1] == '.') {
    std::string_view head = host.substr(0, host.size() - suffix_.size() - 1);
    auto dot = head.find('.');
    if (dot == std::string_view::npos) {
      if (const RegistryInfo* r = Find(head)) return HostMatch{r, false, {}};
    } else if (head.ends_with(".data")) {
      std::string_view name = head.substr(0, dot);
      std::string_view region = head.substr(dot + 1, head.size() - dot - 1 - 5);
      if (const RegistryInfo* r = Find(name)) {
        if (r->data_endpoint_enabled &&
            std::find(r->regions.begin(), r->regions.end(), region) != r->regions.end()) {
          return HostMatch{r, true, std::string(region)};
        }
        return std::nullopt;  // our name, but no such data host: never the default
      }
    }
  }
  if (default_ != nullptr) return HostMatch{default_, false, {}};
  return std::nullopt;
}

bool Directory::Serves(std::string_view host) const {
  for (const auto& h : HostNames()) {
    if (h == host) return true;
  }
  return false;
}

std::vector<std::string> Directory::HostNames() const {
  std::vector<std::string> out;
  for (const auto& r : registries_) {
    out.push_back(r.LoginServer(suffix_));
    if (r.data_endpoint_enabled) {
      for (const auto& region : r.regions) out.push_back(r.DataHost(region, suffix_));
    }
  }
  return out;
}

}  // namespace cove::registry
