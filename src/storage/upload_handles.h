// What every BlobStore's uploads share: the rule for upload ids (see BlobStore::CreateUpload),
// the claims that keep one live handle per id, and the state of a handle that was committed or
// failed.
//
// Thread-safety: ValidateUploadId is pure; UploadClaims may be called from any thread; a
// ClaimGuard and a HandleState belong to one thread at a time, as the Upload that holds them.
#pragma once

#include <functional>
#include <mutex>
#include <set>
#include <string>
#include <string_view>

#include "common/error.h"

namespace cove::storage {

// Ok if `id` has 1 to 128 characters from [A-Za-z0-9_-] (a safe single path component and URL
// segment); kInvalidArgument naming what is wrong otherwise.
Status ValidateUploadId(std::string_view id);

// The upload ids of one store that have a live handle (or an operation in progress on them).
class UploadClaims {
 public:
  // Claims `id`; false if it is claimed already.
  bool Claim(std::string_view id);
  void Release(const std::string& id);

 private:
  std::mutex mu_;
  std::set<std::string, std::less<>> live_;
};

// Releases a claimed id when it goes out of scope unless Dismiss()ed (a handle then owns it).
class ClaimGuard {
 public:
  ClaimGuard(UploadClaims& claims, std::string id) : claims_(&claims), id_(std::move(id)) {}
  ~ClaimGuard() {
    if (claims_) claims_->Release(id_);
  }
  ClaimGuard(const ClaimGuard&) = delete;
  ClaimGuard& operator=(const ClaimGuard&) = delete;
  void Dismiss() { claims_ = nullptr; }

 private:
  UploadClaims* claims_;
  std::string id_;
};

// Whether an Upload handle may still be used: not after its Commit moved the bytes (spent), nor
// after a failure that left its bytes unknown (broken: the caller resumes the upload at its
// acknowledged length).
class HandleState {
 public:
  // Ok, or kFailedPrecondition saying why upload `id` cannot go on.
  Status Usable(const std::string& id) const;
  void Spend() { spent_ = true; }
  void Break() { broken_ = true; }

 private:
  bool spent_ = false;
  bool broken_ = false;
};

}  // namespace cove::storage
