#include "storage/upload_handles.h"

namespace cove::storage {
namespace {

constexpr size_t kMaxIdLength = 128;

}  // namespace

Status ValidateUploadId(std::string_view id) {
  if (id.empty() || id.size() > kMaxIdLength) {
    return Fail(Code::kInvalidArgument, "upload id must be 1 to 128 characters");
  }
  for (char c : id) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-';
    if (!ok) return Fail(Code::kInvalidArgument, "upload id has characters outside [A-Za-z0-9_-]");
  }
  return Ok();
}

bool UploadClaims::Claim(std::string_view id) {
  std::lock_guard lock(mu_);
  return live_.emplace(id).second;
}

void UploadClaims::Release(const std::string& id) {
  std::lock_guard lock(mu_);
  live_.erase(id);
}

Status HandleState::Usable(const std::string& id) const {
  if (spent_) return Fail(Code::kFailedPrecondition, "upload " + id + " was committed");
  if (broken_) {
    return Fail(Code::kFailedPrecondition,
                "upload " + id + " failed earlier; resume it at its acknowledged length");
  }
  return Ok();
}

}  // namespace cove::storage
