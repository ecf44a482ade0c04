#include "storage/upload_id.h"

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

}  // namespace cove::storage
