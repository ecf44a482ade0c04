// FaultyBlobStore: a BlobStore decorator that fails every call with kIOError while its switch is
// on (a disk or zone that went away), and passes calls through otherwise. Upload handles it
// returns check the switch on each Append and Commit, so a zone can fail in the middle of an
// upload. Test-only.
//
// Thread-safety: as the wrapped store; the switch is atomic and may be flipped from any thread.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <utility>

#include "storage/blob_store.h"

namespace cove::storage::testing {

class FaultSwitch {
 public:
  void Fail(bool on) { on_.store(on); }
  bool on() const { return on_.load(); }
  Status Check(const std::string& what) const {
    if (on()) return ::cove::Fail(Code::kIOError, what + ": injected disk failure");
    return Ok();
  }

 private:
  std::atomic<bool> on_{false};
};

class FaultyBlobStore final : public BlobStore {
 public:
  FaultyBlobStore(BlobStorePtr inner, std::shared_ptr<FaultSwitch> fault)
      : inner_(std::move(inner)), fault_(std::move(fault)) {}

  Result<uint64_t> Stat(const Digest& d) override {
    COVE_RETURN_IF_ERROR(fault_->Check("stat"));
    return inner_->Stat(d);
  }
  Result<BlobFile> Open(const Digest& d, uint64_t offset = 0,
                        std::optional<uint64_t> length = {}) override {
    COVE_RETURN_IF_ERROR(fault_->Check("open"));
    return inner_->Open(d, offset, length);
  }
  Result<std::string> Read(const Digest& d, uint64_t max_size) override {
    COVE_RETURN_IF_ERROR(fault_->Check("read"));
    return inner_->Read(d, max_size);
  }
  Status Put(const Digest& d, std::string_view bytes) override {
    COVE_RETURN_IF_ERROR(fault_->Check("put"));
    return inner_->Put(d, bytes);
  }
  Status Delete(const Digest& d) override {
    COVE_RETURN_IF_ERROR(fault_->Check("delete"));
    return inner_->Delete(d);
  }
  Result<UploadPtr> CreateUpload(std::string_view id) override {
    COVE_RETURN_IF_ERROR(fault_->Check("create upload"));
    return Wrap(inner_->CreateUpload(id));
  }
  Result<UploadPtr> ResumeUpload(std::string_view id, uint64_t acknowledged) override {
    COVE_RETURN_IF_ERROR(fault_->Check("resume upload"));
    return Wrap(inner_->ResumeUpload(id, acknowledged));
  }
  Status DeleteUpload(std::string_view id) override {
    COVE_RETURN_IF_ERROR(fault_->Check("delete upload"));
    return inner_->DeleteUpload(id);
  }
  Result<std::vector<UploadInfo>> ListUploads() override {
    COVE_RETURN_IF_ERROR(fault_->Check("list uploads"));
    return inner_->ListUploads();
  }

  BlobStore& inner() { return *inner_; }

 private:
  class FaultyUpload final : public Upload {
   public:
    FaultyUpload(UploadPtr inner, std::shared_ptr<FaultSwitch> fault)
        : inner_(std::move(inner)), fault_(std::move(fault)) {}
    const std::string& id() const override { return inner_->id(); }
    uint64_t size() const override { return inner_->size(); }
    Status Append(std::string_view data) override {
      COVE_RETURN_IF_ERROR(fault_->Check("append"));
      return inner_->Append(data);
    }
    Status Flush() override {
      COVE_RETURN_IF_ERROR(fault_->Check("flush"));
      return inner_->Flush();
    }
    Result<uint64_t> Commit(const Digest& expected) override {
      COVE_RETURN_IF_ERROR(fault_->Check("commit"));
      return inner_->Commit(expected);
    }

   private:
    UploadPtr inner_;
    std::shared_ptr<FaultSwitch> fault_;
  };

  Result<UploadPtr> Wrap(Result<UploadPtr> upload) {
    if (!upload) return upload;
    return UploadPtr(new FaultyUpload(std::move(*upload), fault_));
  }

  BlobStorePtr inner_;
  std::shared_ptr<FaultSwitch> fault_;
};

}  // namespace cove::storage::testing
