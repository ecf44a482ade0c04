#include "storage/quorum_blob_store.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <functional>
#include <limits>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <system_error>
#include <thread>
#include <unordered_set>
#include <utility>

#include "storage/filesystem_blob_store.h"
#include "storage/upload_handles.h"

namespace cove::storage {
namespace {

constexpr uint64_t kChunk = 1 << 20;
constexpr size_t kStripes = 64;
constexpr uint64_t kNoLimit = std::numeric_limits<uint64_t>::max();

// Runs fn(i) for every i in `which` at once: one thread per index but the first, which runs on
// the caller's. If a thread cannot be started its index runs on the caller's thread in turn.
template <typename F>
void RunOnEach(const std::vector<size_t>& which, F&& fn) {
  std::vector<std::thread> threads;
  for (size_t k = 1; k < which.size(); ++k) {
    try {
      threads.emplace_back([&fn, i = which[k]] { fn(i); });
    } catch (const std::system_error&) {
      fn(which[k]);
    }
  }
  if (!which.empty()) fn(which[0]);
  for (auto& thread : threads) thread.join();
}

// Feeds the first `size` bytes of `fd` to `sink` (which returns a Status) in chunks, with pread
// so the descriptor's offset stays where it was. kCorruption if the file ends first.
template <typename F>
Status ForEachChunk(int fd, uint64_t size, F&& sink) {
  std::string buffer(static_cast<size_t>(std::min(size, kChunk)), '\0');
  for (uint64_t offset = 0; offset < size;) {
    size_t want = static_cast<size_t>(std::min(size - offset, kChunk));
    ssize_t n = ::pread(fd, buffer.data(), want, static_cast<off_t>(offset));
    if (n < 0) {
      if (errno == EINTR) continue;
      return Fail(Code::kIOError, std::string("read: ") + std::strerror(errno));
    }
    if (n == 0) return Fail(Code::kCorruption, "file ended early");
    COVE_RETURN_IF_ERROR(sink(std::string_view(buffer.data(), static_cast<size_t>(n))));
    offset += static_cast<uint64_t>(n);
  }
  return Ok();
}

// Whether the bytes of `file` hash to `digest`; an error only if they cannot be read.
Result<bool> CopyMatches(const BlobFile& file, const Digest& digest) {
  Hasher hasher(digest.algorithm());
  auto read = ForEachChunk(file.fd.get(), file.size, [&](std::string_view bytes) {
    hasher.Update(bytes);
    return Ok();
  });
  if (!read) {
    if (read.error().code == Code::kCorruption) return false;
    return Fail(std::move(read).error());
  }
  return hasher.Finish() == digest;
}

// `n` results that say the operation was not tried (Result<UploadPtr> cannot be copied).
template <typename T>
std::vector<Result<T>> NotTried(size_t n) {
  std::vector<Result<T>> results;
  for (size_t i = 0; i < n; ++i) results.emplace_back(Fail(Code::kInternal, "not tried"));
  return results;
}

Status AsStatus(const Result<uint64_t>& result) {
  if (result) return Ok();
  return Fail(result.error());
}

// A child whose root could not be opened: every operation fails with the same error.
class OfflineBlobStore final : public BlobStore {
 public:
  explicit OfflineBlobStore(Error error) : error_(std::move(error)) {}
  Result<uint64_t> Stat(const Digest&) override { return Fail(error_); }
  Result<BlobFile> Open(const Digest&, uint64_t, std::optional<uint64_t>) override {
    return Fail(error_);
  }
  Result<std::string> Read(const Digest&, uint64_t) override { return Fail(error_); }
  Status Put(const Digest&, std::string_view) override { return Fail(error_); }
  Status Delete(const Digest&) override { return Fail(error_); }
  Result<UploadPtr> CreateUpload(std::string_view) override { return Fail(error_); }
  Result<UploadPtr> ResumeUpload(std::string_view, uint64_t) override { return Fail(error_); }
  Status DeleteUpload(std::string_view) override { return Fail(error_); }
  Result<std::vector<UploadInfo>> ListUploads() override { return Fail(error_); }

 private:
  Error error_;
};

// What the children said about a blob that none of them served, and the error that follows.
class Misses {
 public:
  void Absent() { ++absent_; }
  void Fault(const std::string& child, const Error& error) {
    ++faults_;
    Note(child + ": " + error.ToString());
  }
  void Corrupt(const std::string& child) {
    ++corrupt_;
    Note(child + ": copy does not match its digest");
  }
  void TooLarge(uint64_t size) { too_large_ = size; }

  Error Finish(const Digest& digest, uint64_t max_size, size_t read_quorum) const {
    std::string blob = "blob " + digest.str();
    if (too_large_) {
      return Error{Code::kResourceExhausted, blob + " has " + std::to_string(too_large_) +
                                                 " bytes, more than " + std::to_string(max_size)};
    }
    if (corrupt_ > 0 && faults_ == 0) {
      return Error{Code::kCorruption, blob + ": no zone holds a good copy (" + notes_ + ")"};
    }
    if (corrupt_ == 0 && absent_ >= read_quorum) {
      return Error{Code::kNotFound, blob + " not found"};
    }
    return Error{Code::kUnavailable,
                 blob + ": no zone could serve it and too few said it is absent (" + notes_ + ")"};
  }

 private:
  void Note(const std::string& note) {
    if (!notes_.empty()) notes_ += "; ";
    notes_ += note;
  }

  size_t absent_ = 0;
  size_t faults_ = 0;
  size_t corrupt_ = 0;
  uint64_t too_large_ = 0;
  std::string notes_;
};

}  // namespace

struct QuorumBlobStore::Shared {
  Shared(std::vector<QuorumChild> from, QuorumOptions opts)
      : children(std::move(from)),
        options(opts),
        quorum(children.size() / 2 + 1),
        failing(children.size(), 0),
        verified(children.size()) {
    for (const auto& child : children) health.push_back(QuorumChildHealth{child.name});
  }

  size_t N() const { return children.size(); }
  // Children that must all say "absent" before a blob is absent: then no write acknowledged by
  // W children can be hiding on the rest.
  size_t ReadQuorum() const { return N() - quorum + 1; }
  BlobStore& Store(size_t i) { return *children[i].store; }
  std::string Describe(size_t i, const Error& error) const {
    return children[i].name + ": " + error.ToString();
  }

  std::vector<size_t> All() const {
    std::vector<size_t> all(N());
    for (size_t i = 0; i < N(); ++i) all[i] = i;
    return all;
  }
  // Children that did not fail last time first, in the order given.
  std::vector<size_t> ReadOrder() const {
    std::vector<size_t> order = All();
    std::lock_guard lock(mu);
    std::stable_partition(order.begin(), order.end(), [&](size_t i) { return !failing[i]; });
    return order;
  }

  void Succeeded(size_t i) {
    std::lock_guard lock(mu);
    failing[i] = 0;
  }
  void Failed(size_t i, const Error& error) {
    std::lock_guard lock(mu);
    failing[i] = 1;
    ++health[i].failures;
    health[i].last_error = error.ToString();
  }
  void Missed(size_t i) {
    std::lock_guard lock(mu);
    ++health[i].missed_writes;
  }
  void Corrupt(size_t i, const Digest& digest) {
    std::lock_guard lock(mu);
    ++health[i].corrupt_copies;
    health[i].last_error = "copy of " + digest.str() + " does not match its digest";
    verified[i].erase(VerifiedKey(digest));
  }
  void CaughtUp(size_t i) {
    std::lock_guard lock(mu);
    health[i].missed_writes = 0;
    health[i].corrupt_copies = 0;
  }

  bool IsVerified(size_t i, const Digest& digest) const {
    std::lock_guard lock(mu);
    return verified[i].count(VerifiedKey(digest)) > 0;
  }
  void MarkVerified(size_t i, const Digest& digest) {
    std::lock_guard lock(mu);
    if (verified[i].size() >= options.verified_cache_entries) verified[i].clear();
    verified[i].insert(VerifiedKey(digest));
  }
  void ForgetVerified(const Digest& digest) {
    std::lock_guard lock(mu);
    for (auto& set : verified) set.erase(VerifiedKey(digest));
  }

  void AddPendingDelete(const Digest& digest, size_t i) {
    std::lock_guard lock(mu);
    pending_deletes[digest].insert(i);
  }
  void ClearPendingDeletes(const Digest& digest) {
    std::lock_guard lock(mu);
    pending_deletes.erase(digest);
  }

  // 8 bytes per remembered copy instead of a 71-character string; a collision only means that
  // one copy is served without being hashed first.
  static uint64_t VerifiedKey(const Digest& digest) {
    return std::hash<std::string>{}(digest.str());
  }

  std::mutex& Stripe(const Digest& digest) {
    return stripes[std::hash<std::string>{}(digest.hex()) % kStripes];
  }

  // What the children answered to one call each (Delete, DeleteUpload).
  struct Answers {
    size_t ok = 0;
    size_t absent = 0;           // kNotFound
    size_t busy = 0;             // kFailedPrecondition
    std::vector<size_t> failed;  // any other error: the child's own failure
    std::string errors;
  };
  // Calls `call(i)` (a Status) on every child in turn and sorts the answers.
  template <typename F>
  Answers AskEach(F&& call) {
    Answers answers;
    for (size_t i = 0; i < N(); ++i) {
      Status result = call(i);
      if (!result) answers.errors += "; " + Describe(i, result.error());
      Code code = result ? Code::kInternal : result.error().code;
      if (result || code == Code::kNotFound || code == Code::kFailedPrecondition) {
        Succeeded(i);
        answers.ok += result ? 1 : 0;
        answers.absent += code == Code::kNotFound ? 1 : 0;
        answers.busy += code == Code::kFailedPrecondition ? 1 : 0;
      } else {
        Failed(i, result.error());
        answers.failed.push_back(i);
      }
    }
    return answers;
  }
  // OK if some child did it; kFailedPrecondition if one was busy; kNotFound if a read quorum
  // said absent; kUnavailable otherwise (too many children could not tell).
  Status Verdict(const Answers& answers, const std::string& what) const {
    if (answers.ok > 0) return Ok();
    std::string message = what + answers.errors;
    if (answers.busy > 0) return Fail(Code::kFailedPrecondition, message);
    if (answers.absent >= ReadQuorum()) return Fail(Code::kNotFound, message);
    return Fail(Code::kUnavailable, message);
  }

  // The first child, healthy ones first, that has the blob, at most `max_size` bytes, and whose
  // copy verifies (see the header): the blob opened from it. Otherwise the error Misses chooses.
  Result<BlobFile> Locate(const Digest& digest, uint64_t max_size) {
    Misses misses;
    for (size_t i : ReadOrder()) {
      auto file = Store(i).Open(digest);
      if (!file) {
        if (file.error().code == Code::kNotFound) {
          misses.Absent();
        } else {
          Failed(i, file.error());
          misses.Fault(children[i].name, file.error());
        }
        continue;
      }
      Succeeded(i);
      bool trusted =
          !options.verify_reads || file->size > options.verify_max_size || IsVerified(i, digest);
      if (file->size > max_size) {
        if (trusted) return Fail(TooLarge(digest, file->size, max_size));
        misses.TooLarge(file->size);  // perhaps a corrupt copy: another child may hold the blob
        continue;
      }
      if (!trusted) {
        auto good = CopyMatches(*file, digest);
        if (!good) {
          Failed(i, good.error());
          misses.Fault(children[i].name, good.error());
          continue;
        }
        if (!*good) {
          Corrupt(i, digest);
          misses.Corrupt(children[i].name);
          continue;
        }
        MarkVerified(i, digest);
      }
      return std::move(*file);
    }
    return Fail(misses.Finish(digest, max_size, ReadQuorum()));
  }

  static Error TooLarge(const Digest& digest, uint64_t size, uint64_t max_size) {
    Misses misses;
    misses.TooLarge(size);
    return misses.Finish(digest, max_size, 0);
  }

  // Ends a write of blob `digest` on the children (Put or Commit). `attempted[i]`: the write
  // was tried on child i; `results[i]`: its outcome; `had[i]`: the child held the blob before
  // (or could not tell), so its copy is never rolled back. OK with at least W successes;
  // otherwise the copies this write made are deleted and the error is kUnavailable.
  // REQUIRES: the caller holds Stripe(digest).
  Status FinishWrite(const Digest& digest, const std::vector<uint8_t>& attempted,
                     const std::vector<Status>& results, const std::vector<uint8_t>& had,
                     const std::string& what) {
    std::vector<size_t> ok;
    std::string errors;
    for (size_t i = 0; i < N(); ++i) {
      if (results[i]) {
        ok.push_back(i);
        Succeeded(i);
        continue;
      }
      if (attempted[i]) Failed(i, results[i].error());
      if (!errors.empty()) errors += "; ";
      errors += Describe(i, results[i].error());
    }
    if (ok.size() >= quorum) {
      for (size_t i = 0; i < N(); ++i) {
        if (!results[i]) Missed(i);
      }
      ClearPendingDeletes(digest);
      return Ok();
    }
    std::string rollback;
    for (size_t i : ok) {
      if (had[i]) continue;
      if (auto deleted = Store(i).Delete(digest);
          !deleted && deleted.error().code != Code::kNotFound) {
        rollback += "; roll-back failed on " + Describe(i, deleted.error());
      }
    }
    ForgetVerified(digest);
    return Fail(Code::kUnavailable, what + " " + digest.str() + ": stored in " +
                                        std::to_string(ok.size()) + " of " + std::to_string(N()) +
                                        " zones, quorum is " + std::to_string(quorum) +
                                        ", so it was refused (" + errors + ")" + rollback);
  }

  // Streams `source` into child i through an upload whose commit verifies `digest` again.
  Status CopyTo(size_t i, const Digest& digest, const BlobFile& source) {
    BlobStore& child = Store(i);
    std::string id = "repair-" + digest.hex().substr(0, 16) + "-" +
                     std::to_string(repair_serial.fetch_add(1, std::memory_order_relaxed));
    auto upload = child.CreateUpload(id);
    if (!upload && upload.error().code == Code::kAlreadyExists) {
      (void)child.DeleteUpload(id);  // a leftover of an interrupted repair of an earlier process
      upload = child.CreateUpload(id);
    }
    if (!upload) return Fail(std::move(upload).error());
    Status status = ForEachChunk(source.fd.get(), source.size,
                                 [&](std::string_view bytes) { return (*upload)->Append(bytes); });
    if (status) status = AsStatus((*upload)->Commit(digest));
    if (!status) {
      upload->reset();
      (void)child.DeleteUpload(id);
    }
    return status;
  }

  // Repairs blob `digest` on every child (see Repair() in the header). `clean[i]` is cleared
  // when something on child i could not be done.
  void RepairOne(const Digest& digest, const RepairOptions& opts, RepairReport& report,
                 std::vector<uint8_t>& clean) {
    enum class Copy { kUnknown, kAbsent, kPresent, kGood, kBad };
    std::lock_guard stripe(Stripe(digest));
    ++report.blobs;
    std::vector<Copy> copies(N(), Copy::kUnknown);
    std::optional<BlobFile> source;
    for (size_t i : ReadOrder()) {
      auto file = Store(i).Open(digest);
      if (!file) {
        if (file.error().code == Code::kNotFound) {
          copies[i] = Copy::kAbsent;
        } else {
          Failed(i, file.error());
          clean[i] = 0;
        }
        continue;
      }
      Succeeded(i);
      if (!opts.verify_copies && source) {
        copies[i] = Copy::kPresent;
        continue;
      }
      auto good = CopyMatches(*file, digest);
      if (!good) {
        Failed(i, good.error());
        clean[i] = 0;
        continue;
      }
      if (!*good) {
        Corrupt(i, digest);
        copies[i] = Copy::kBad;
        continue;
      }
      MarkVerified(i, digest);
      copies[i] = Copy::kGood;
      if (!source) source = std::move(*file);
    }
    if (!source) {
      if (std::count(copies.begin(), copies.end(), Copy::kBad) > 0) ++report.unrecoverable;
      return;
    }
    for (size_t i = 0; i < N(); ++i) {
      if (copies[i] == Copy::kUnknown) ++report.failed;  // unreachable: try again later
      if (copies[i] != Copy::kAbsent && copies[i] != Copy::kBad) continue;
      Status status = Ok();
      if (copies[i] == Copy::kBad) {
        auto deleted = Store(i).Delete(digest);
        if (!deleted && deleted.error().code != Code::kNotFound) status = deleted;
      }
      if (status) status = CopyTo(i, digest, *source);
      if (!status) {
        Failed(i, status.error());
        clean[i] = 0;
        ++report.failed;
        continue;
      }
      Succeeded(i);
      MarkVerified(i, digest);
      ++(copies[i] == Copy::kBad ? report.replaced : report.copied);
    }
  }

  const std::vector<QuorumChild> children;
  const QuorumOptions options;
  const size_t quorum;  // W
  std::atomic<uint64_t> repair_serial{0};
  std::array<std::mutex, kStripes> stripes;  // serialise writes and deletes of one digest
  UploadClaims claims;                       // upload ids with a live handle

  mutable std::mutex mu;         // guards everything below
  std::vector<uint8_t> failing;  // the child's last operation failed
  std::vector<QuorumChildHealth> health;
  std::vector<std::unordered_set<uint64_t>> verified;  // per child: VerifiedKey of checked copies
  std::map<Digest, std::set<size_t>> pending_deletes;  // deletes a child missed
};

namespace {

using Shared = QuorumBlobStore::Shared;

size_t CountLive(const std::vector<UploadPtr>& parts) {
  return static_cast<size_t>(
      std::count_if(parts.begin(), parts.end(), [](const UploadPtr& p) { return p != nullptr; }));
}

// One upload on several children: parts[i] is child i's handle, null once it left the upload.
class QuorumUpload final : public Upload {
 public:
  QuorumUpload(std::shared_ptr<Shared> shared, std::string id, std::vector<UploadPtr> parts,
               uint64_t size)
      : shared_(std::move(shared)), id_(std::move(id)), parts_(std::move(parts)), size_(size) {}

  ~QuorumUpload() override {
    parts_.clear();  // the children's handles first, then the id
    shared_->claims.Release(id_);
  }

  const std::string& id() const override { return id_; }
  uint64_t size() const override { return size_; }

  Status Append(std::string_view data) override {
    COVE_RETURN_IF_ERROR(state_.Usable(id_));
    if (data.empty()) return Ok();
    COVE_RETURN_IF_ERROR(OnEachPart("took the bytes", [&](Upload& part) { return part.Append(data); }));
    size_ += data.size();
    return Ok();
  }

  Status Flush() override {
    COVE_RETURN_IF_ERROR(state_.Usable(id_));
    return OnEachPart("flushed the bytes", [](Upload& part) { return part.Flush(); });
  }

  Result<uint64_t> Commit(const Digest& expected) override {
    COVE_RETURN_IF_ERROR(state_.Usable(id_));
    Shared& s = *shared_;
    std::lock_guard stripe(s.Stripe(expected));
    std::vector<size_t> live;
    std::vector<uint8_t> attempted(s.N(), 0);
    for (size_t i = 0; i < parts_.size(); ++i) {
      if (parts_[i]) live.push_back(i), attempted[i] = 1;
    }
    std::vector<uint8_t> had(s.N(), 1);
    std::vector<Result<uint64_t>> results(
        s.N(), Fail(Code::kUnavailable, "left upload " + id_ + " before its commit"));
    RunOnEach(live, [&](size_t i) {
      auto stat = s.Store(i).Stat(expected);
      had[i] = stat || stat.error().code != Code::kNotFound;
      results[i] = parts_[i]->Commit(expected);
    });

    // A digest mismatch: no child moved anything (each checks before it commits), and the
    // upload goes on with the children that answered so.
    size_t committed = 0;
    const Error* mismatch = nullptr;
    for (size_t i : live) {
      if (results[i])
        ++committed;
      else if (results[i].error().code == Code::kInvalidArgument)
        mismatch = &results[i].error();
    }
    if (committed == 0 && mismatch != nullptr) {
      Error error = *mismatch;
      for (size_t i : live) {
        if (results[i].error().code == Code::kInvalidArgument) continue;
        s.Failed(i, results[i].error());
        parts_[i].reset();
      }
      if (CountLive(parts_) >= s.quorum) return Fail(std::move(error));
      state_.Break();
      parts_.clear();
      return Fail(Code::kIOError,
                  "upload " + id_ + ": too few zones left to go on: " + error.message);
    }

    state_.Spend();  // from here on the handle is spent, whatever happens
    parts_.clear();
    std::vector<Status> statuses;
    for (const auto& result : results) statuses.push_back(AsStatus(result));
    COVE_RETURN_IF_ERROR(
        s.FinishWrite(expected, attempted, statuses, had, "commit of upload " + id_ + " as"));
    // Staged bytes on children that did not commit are of no use any more.
    for (size_t i = 0; i < s.N(); ++i) {
      if (!results[i]) (void)s.Store(i).DeleteUpload(id_);
    }
    return size_;
  }

 private:
  // Runs `op` on each live child; a child that fails sits the rest of this handle out. Fails
  // (and breaks the handle) when fewer than a quorum of children succeeded.
  template <typename F>
  Status OnEachPart(const char* what, F&& op) {
    std::string errors;
    for (size_t i = 0; i < parts_.size(); ++i) {
      if (!parts_[i]) continue;
      if (auto done = op(*parts_[i]); !done) {
        shared_->Failed(i, done.error());
        errors += "; " + shared_->Describe(i, done.error());
        parts_[i].reset();
      }
    }
    if (size_t live = CountLive(parts_); live < shared_->quorum) {
      state_.Break();
      parts_.clear();
      return Fail(Code::kIOError, "upload " + id_ + ": only " + std::to_string(live) + " of " +
                                      std::to_string(shared_->N()) + " zones " + what +
                                      ", quorum is " + std::to_string(shared_->quorum) + errors);
    }
    return Ok();
  }
  std::shared_ptr<Shared> shared_;
  std::string id_;
  std::vector<UploadPtr> parts_;
  uint64_t size_;
  HandleState state_;
};

}  // namespace

std::string_view ChildStateName(QuorumChildHealth::State state) {
  switch (state) {
    case QuorumChildHealth::State::kHealthy:
      return "healthy";
    case QuorumChildHealth::State::kLagging:
      return "lagging";
    case QuorumChildHealth::State::kUnavailable:
      return "unavailable";
  }
  return "unknown";
}

QuorumBlobStore::QuorumBlobStore(std::shared_ptr<Shared> shared) : shared_(std::move(shared)) {}

QuorumBlobStore::~QuorumBlobStore() = default;

Result<std::unique_ptr<QuorumBlobStore>> QuorumBlobStore::Create(std::vector<QuorumChild> children,
                                                                 QuorumOptions options) {
  if (children.empty()) return Fail(Code::kInvalidArgument, "a quorum needs at least one child");
  for (const auto& child : children) {
    if (!child.store) return Fail(Code::kInvalidArgument, "child " + child.name + " has no store");
  }
  auto shared = std::make_shared<Shared>(std::move(children), options);
  return std::unique_ptr<QuorumBlobStore>(new QuorumBlobStore(std::move(shared)));
}

size_t QuorumBlobStore::write_quorum() const { return shared_->quorum; }

std::vector<QuorumChildHealth> QuorumBlobStore::ChildHealth() const {
  Shared& s = *shared_;
  std::lock_guard lock(s.mu);
  std::vector<QuorumChildHealth> out = s.health;
  for (size_t i = 0; i < out.size(); ++i) {
    if (s.failing[i]) {
      out[i].state = QuorumChildHealth::State::kUnavailable;
    } else if (out[i].missed_writes > 0 || out[i].corrupt_copies > 0) {
      out[i].state = QuorumChildHealth::State::kLagging;
    } else {
      out[i].state = QuorumChildHealth::State::kHealthy;
    }
  }
  return out;
}

Result<uint64_t> QuorumBlobStore::Stat(const Digest& digest) {
  COVE_ASSIGN_OR_RETURN(BlobFile file, shared_->Locate(digest, kNoLimit));
  return file.size;
}

Result<BlobFile> QuorumBlobStore::Open(const Digest& digest, uint64_t offset,
                                       std::optional<uint64_t> length) {
  COVE_ASSIGN_OR_RETURN(BlobFile file, shared_->Locate(digest, kNoLimit));
  COVE_RETURN_IF_ERROR(BlobRangeLength(digest, file.size, offset, length));
  return file;
}

Result<std::string> QuorumBlobStore::Read(const Digest& digest, uint64_t max_size) {
  COVE_ASSIGN_OR_RETURN(BlobFile file, shared_->Locate(digest, max_size));
  std::string out;
  out.reserve(static_cast<size_t>(file.size));
  COVE_RETURN_IF_ERROR(ForEachChunk(file.fd.get(), file.size, [&](std::string_view bytes) {
    out.append(bytes);
    return Ok();
  }));
  return out;
}

Status QuorumBlobStore::Put(const Digest& digest, std::string_view bytes) {
  COVE_RETURN_IF_ERROR(CheckBytes(digest, bytes));
  Shared& s = *shared_;
  std::lock_guard stripe(s.Stripe(digest));
  std::vector<uint8_t> had(s.N(), 1);
  std::vector<Status> results(s.N());
  RunOnEach(s.All(), [&](size_t i) {
    auto stat = s.Store(i).Stat(digest);
    had[i] = stat || stat.error().code != Code::kNotFound;
    results[i] = stat ? Ok() : s.Store(i).Put(digest, bytes);
  });
  return s.FinishWrite(digest, std::vector<uint8_t>(s.N(), 1), results, had, "put of");
}

Status QuorumBlobStore::Delete(const Digest& digest) {
  Shared& s = *shared_;
  std::lock_guard stripe(s.Stripe(digest));
  auto answers = s.AskEach([&](size_t i) { return s.Store(i).Delete(digest); });
  // Repair() deletes it where a child could not be reached, once the child is back.
  for (size_t i : answers.failed) s.AddPendingDelete(digest, i);
  s.ForgetVerified(digest);
  return s.Verdict(answers, "delete of blob " + digest.str());
}

Result<UploadPtr> QuorumBlobStore::CreateUpload(std::string_view id) {
  COVE_RETURN_IF_ERROR(ValidateUploadId(id));
  Shared& s = *shared_;
  if (!s.claims.Claim(id))
    return Fail(Code::kAlreadyExists, "upload " + std::string(id) + " exists");
  ClaimGuard claim(s.claims, std::string(id));
  auto results = NotTried<UploadPtr>(s.N());
  RunOnEach(s.All(), [&](size_t i) { results[i] = s.Store(i).CreateUpload(id); });
  std::vector<UploadPtr> parts(s.N());
  bool exists = false;
  std::string errors;
  for (size_t i = 0; i < s.N(); ++i) {
    if (results[i]) {
      parts[i] = std::move(*results[i]);
      s.Succeeded(i);
    } else if (results[i].error().code == Code::kAlreadyExists) {
      exists = true;
    } else {
      s.Failed(i, results[i].error());
      errors += "; " + s.Describe(i, results[i].error());
    }
  }
  size_t live = CountLive(parts);
  if (!exists && live >= s.quorum) {
    claim.Dismiss();  // the handle releases the id from here on
    return UploadPtr(new QuorumUpload(shared_, std::string(id), std::move(parts), 0));
  }
  // Undo what this call created; an upload that existed before is not ours to delete.
  for (size_t i = 0; i < s.N(); ++i) {
    if (!parts[i]) continue;
    parts[i].reset();
    (void)s.Store(i).DeleteUpload(id);
  }
  if (exists) return Fail(Code::kAlreadyExists, "upload " + std::string(id) + " exists");
  return Fail(Code::kUnavailable, "create upload " + std::string(id) + ": only " +
                                      std::to_string(live) + " of " + std::to_string(s.N()) +
                                      " zones, quorum is " + std::to_string(s.quorum) + errors);
}

Result<UploadPtr> QuorumBlobStore::ResumeUpload(std::string_view id, uint64_t acknowledged) {
  COVE_RETURN_IF_ERROR(ValidateUploadId(id));
  Shared& s = *shared_;
  if (!s.claims.Claim(id)) {
    return Fail(Code::kFailedPrecondition, "upload " + std::string(id) + " is in use");
  }
  ClaimGuard claim(s.claims, std::string(id));
  auto results = NotTried<UploadPtr>(s.N());
  RunOnEach(s.All(), [&](size_t i) { results[i] = s.Store(i).ResumeUpload(id, acknowledged); });
  std::vector<UploadPtr> parts(s.N());
  size_t absent = 0;
  size_t behind = 0;
  size_t busy = 0;
  std::string errors;
  for (size_t i = 0; i < s.N(); ++i) {
    if (results[i]) {
      parts[i] = std::move(*results[i]);
      s.Succeeded(i);
      continue;
    }
    const Error& error = results[i].error();
    errors += "; " + s.Describe(i, error);
    switch (error.code) {
      case Code::kNotFound:
        ++absent;
        break;
      case Code::kCorruption:  // a child that left the upload earlier holds fewer bytes
        ++behind;
        break;
      case Code::kFailedPrecondition:
        ++busy;
        break;
      default:
        s.Failed(i, error);
    }
  }
  size_t live = CountLive(parts);
  if (live >= s.quorum) {
    claim.Dismiss();
    return UploadPtr(new QuorumUpload(shared_, std::string(id), std::move(parts), acknowledged));
  }
  parts.clear();
  std::string what = "resume upload " + std::string(id) + " at " + std::to_string(acknowledged) +
                     ": " + std::to_string(live) + " of " + std::to_string(s.N()) +
                     " zones, quorum is " + std::to_string(s.quorum) + errors;
  if (busy > 0) return Fail(Code::kFailedPrecondition, what);
  if (absent >= s.ReadQuorum()) return Fail(Code::kNotFound, what);
  // Enough zones hold too few bytes (or nothing) that no quorum can hold `acknowledged`.
  if (behind > 0 && absent + behind >= s.ReadQuorum()) return Fail(Code::kCorruption, what);
  return Fail(Code::kUnavailable, what);
}

Status QuorumBlobStore::DeleteUpload(std::string_view id) {
  COVE_RETURN_IF_ERROR(ValidateUploadId(id));
  Shared& s = *shared_;
  if (!s.claims.Claim(id)) {
    return Fail(Code::kFailedPrecondition, "upload " + std::string(id) + " is in use");
  }
  ClaimGuard claim(s.claims, std::string(id));
  auto answers = s.AskEach([&](size_t i) { return s.Store(i).DeleteUpload(id); });
  return s.Verdict(answers, "delete of upload " + std::string(id));
}

Result<std::vector<UploadInfo>> QuorumBlobStore::ListUploads() {
  Shared& s = *shared_;
  std::map<std::string, std::vector<UploadInfo>> by_id;
  size_t answered = 0;
  std::string errors;
  for (size_t i = 0; i < s.N(); ++i) {
    auto listed = s.Store(i).ListUploads();
    if (!listed) {
      s.Failed(i, listed.error());
      errors += "; " + s.Describe(i, listed.error());
      continue;
    }
    s.Succeeded(i);
    ++answered;
    for (auto& info : *listed) by_id[info.id].push_back(std::move(info));
  }
  if (answered == 0) return Fail(Code::kUnavailable, "no zone could list its uploads" + errors);
  std::vector<UploadInfo> out;
  for (auto& [id, copies] : by_id) {
    std::sort(copies.begin(), copies.end(),
              [](const UploadInfo& a, const UploadInfo& b) { return a.size > b.size; });
    UploadInfo info = copies[std::min(s.quorum, copies.size()) - 1];
    for (const auto& copy : copies) info.modified = std::max(info.modified, copy.modified);
    out.push_back(std::move(info));
  }
  return out;
}

Result<RepairReport> QuorumBlobStore::Repair(const RepairOptions& options) {
  Shared& s = *shared_;
  RepairReport report;
  std::vector<uint8_t> clean(s.N(), 1);

  // Deletes that missed a child.
  std::map<Digest, std::set<size_t>> pending;
  {
    std::lock_guard lock(s.mu);
    pending = s.pending_deletes;
  }
  for (const auto& [digest, missed] : pending) {
    std::lock_guard stripe(s.Stripe(digest));
    std::set<size_t> left;
    for (size_t i : missed) {
      auto result = s.Store(i).Delete(digest);
      if (result || result.error().code == Code::kNotFound) {
        if (result) ++report.deleted;
        s.Succeeded(i);
      } else {
        s.Failed(i, result.error());
        clean[i] = 0;
        ++report.failed;
        left.insert(i);
      }
    }
    std::lock_guard lock(s.mu);
    auto it = s.pending_deletes.find(digest);
    if (it == s.pending_deletes.end()) continue;  // written again meanwhile
    if (left.empty()) {
      s.pending_deletes.erase(it);
    } else {
      it->second = left;
    }
  }

  // What the children hold.
  std::set<Digest> digests;
  size_t listed = 0;
  bool complete = true;
  std::string errors;
  for (size_t i = 0; i < s.N(); ++i) {
    if (!s.children[i].list_blobs) continue;
    auto blobs = s.children[i].list_blobs(s.Store(i));
    if (!blobs) {
      s.Failed(i, blobs.error());
      clean[i] = 0;
      complete = false;
      errors += "; " + s.Describe(i, blobs.error());
      continue;
    }
    ++listed;
    digests.insert(blobs->begin(), blobs->end());
  }
  if (listed == 0) return Fail(Code::kUnavailable, "no zone could list its blobs" + errors);
  {
    std::lock_guard lock(s.mu);
    for (const auto& [digest, missed] : s.pending_deletes) digests.erase(digest);
  }
  for (const Digest& digest : digests) s.RepairOne(digest, options, report, clean);
  for (size_t i = 0; i < s.N(); ++i) {
    if (complete && clean[i]) s.CaughtUp(i);
  }
  return report;
}

RepairReport QuorumBlobStore::RepairBlobs(const std::vector<Digest>& digests,
                                          const RepairOptions& options) {
  RepairReport report;
  std::vector<uint8_t> clean(shared_->N(), 1);
  for (const Digest& digest : digests) shared_->RepairOne(digest, options, report, clean);
  return report;
}

Result<std::unique_ptr<QuorumBlobStore>> OpenZoneRedundantBlobStore(
    const std::vector<std::string>& roots, const Clock& clock, QuorumOptions options) {
  if (roots.empty()) return Fail(Code::kInvalidArgument, "zone redundancy needs storage roots");
  std::vector<QuorumChild> children;
  std::vector<std::pair<size_t, Error>> offline;
  std::vector<std::pair<dev_t, ino_t>> seen;
  size_t opened = 0;
  std::string errors;
  for (const std::string& root : roots) {
    QuorumChild child;
    child.name = root;
    auto store = FilesystemBlobStore::Open(root, clock);
    if (!store) {
      errors += "; " + root + ": " + store.error().ToString();
      Error error{Code::kUnavailable, "zone root " + root + " could not be opened at start: " +
                                          store.error().ToString()};
      offline.emplace_back(children.size(), error);
      child.store = std::make_unique<OfflineBlobStore>(std::move(error));
      children.push_back(std::move(child));
      continue;
    }
    struct stat st;
    if (::stat(root.c_str(), &st) == 0) {
      std::pair<dev_t, ino_t> key{st.st_dev, st.st_ino};
      if (std::find(seen.begin(), seen.end(), key) != seen.end()) {
        return Fail(Code::kInvalidArgument,
                    "zone root " + root + " is the same directory as another root");
      }
      seen.push_back(key);
    }
    ++opened;
    child.store = std::move(*store);
    child.list_blobs = [](BlobStore& s) -> Result<std::vector<Digest>> {
      return static_cast<FilesystemBlobStore&>(s).ListBlobs();
    };
    children.push_back(std::move(child));
  }
  size_t quorum = roots.size() / 2 + 1;
  if (opened < quorum) {
    return Fail(Code::kIOError,
                "only " + std::to_string(opened) + " of " + std::to_string(roots.size()) +
                    " zone roots could be opened, quorum is " + std::to_string(quorum) + errors);
  }
  COVE_ASSIGN_OR_RETURN(auto quorum_store, QuorumBlobStore::Create(std::move(children), options));
  for (const auto& [i, error] : offline) quorum_store->shared_->Failed(i, error);
  return quorum_store;
}

}  // namespace cove::storage
