#include "daemon/url_keys.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <optional>

#include "common/digest.h"
#include "registry/url_signer.h"

namespace cove::daemon {
namespace {

int64_t SteadyNanos() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

std::optional<std::string> HexDecode(std::string_view hex) {
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  while (!hex.empty() && (hex.back() == '\n' || hex.back() == ' ')) hex.remove_suffix(1);
  if (hex.size() % 2 != 0) return std::nullopt;
  std::string out;
  for (size_t i = 0; i < hex.size(); i += 2) {
    int hi = nibble(hex[i]), lo = nibble(hex[i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out.push_back(static_cast<char>(hi << 4 | lo));
  }
  return out;
}

}  // namespace

Result<std::unique_ptr<UrlKeys>> UrlKeys::Open(std::unique_ptr<auth::KeyStorage> storage,
                                               const Clock& clock, const std::string& legacy,
                                               UrlKeyOptions options) {
  std::unique_ptr<UrlKeys> keys(new UrlKeys(std::move(storage), clock, options));
  COVE_RETURN_IF_ERROR(keys->Reload());
  if (keys->keys_.empty()) {
    COVE_RETURN_IF_ERROR(keys->Add(legacy.empty() ? registry::UrlSigner::NewKey() : legacy));
  }
  return keys;
}

std::vector<std::string> UrlKeys::Keys() const {
  std::lock_guard lock(mu_);
  std::vector<std::string> out;
  for (const auto& k : keys_) out.push_back(k.secret);
  return out;
}

Status UrlKeys::Reload() {
  last_reload_ns_ = SteadyNanos();
  COVE_ASSIGN_OR_RETURN(auto stored, storage_->List());
  std::vector<Key> loaded;
  for (const auto& [kid, hex] : stored) {
    auto created = auth::KidCreated(kid);
    auto secret = HexDecode(hex);
    if (!created || !secret || secret->size() != 32) {
      spdlog::warn("data-endpoint URL keys: skipping {}/{} (not a key)", storage_->Describe(),
                   kid);
      continue;
    }
    loaded.push_back({kid, std::move(*secret), *created});
  }
  std::sort(loaded.begin(), loaded.end(), [](const Key& a, const Key& b) {
    return a.created != b.created ? a.created < b.created : a.kid < b.kid;
  });
  std::lock_guard lock(mu_);
  if (!loaded.empty() || keys_.empty()) keys_ = std::move(loaded);  // never left without a key
  return Ok();
}

Status UrlKeys::Add(const std::string& secret) {
  auto now = clock_.Now();
  COVE_RETURN_IF_ERROR(storage_->Put(auth::NewKid(now), HexEncode(secret)));
  return Reload();
}

Status UrlKeys::Maintain(bool rotate) {
  COVE_RETURN_IF_ERROR(Reload());
  if (!rotate) return Ok();
  auto now = clock_.Now();
  Clock::TimePoint newest;
  {
    std::lock_guard lock(mu_);
    newest = keys_.back().created;
  }
  if (now - newest >= options_.rotate_after) {
    COVE_RETURN_IF_ERROR(Add(registry::UrlSigner::NewKey()));
  }
  std::vector<std::string> retire;
  {
    std::lock_guard lock(mu_);
    for (size_t i = 0; i + 1 < keys_.size(); ++i) {
      if (now > keys_[i + 1].created + options_.retain) retire.push_back(keys_[i].kid);
    }
  }
  for (const auto& kid : retire) {
    if (auto removed = storage_->Remove(kid); !removed) {
      spdlog::warn("data-endpoint URL keys: {}", removed.error().ToString());
    }
  }
  return retire.empty() ? Ok() : Reload();
}

bool UrlKeys::ReloadSoon() {
  if (SteadyNanos() - last_reload_ns_.load() < 1'000'000'000) return false;
  std::vector<std::string> before = Keys();
  if (auto reloaded = Reload(); !reloaded) {
    spdlog::warn("data-endpoint URL keys: {}", reloaded.error().ToString());
    return false;
  }
  return Keys() != before;
}

}  // namespace cove::daemon
