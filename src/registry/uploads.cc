// Blob uploads: POST (start, monolithic, cross-repository mount), PATCH (chunks), PUT (finish),
// GET (status) and DELETE (cancel) on /v2/<name>/blobs/uploads/.
#include <spdlog/spdlog.h>

#include <charconv>

#include "common/digest.h"
#include "oci/reference.h"
#include "registry/call.h"

namespace cove::registry {
namespace {

using oci::ErrorCode;

std::string UploadLocation(const storage::RepoKey& repo, const std::string& id) {
  return "/v2/" + repo.repository + "/blobs/uploads/" + id;
}

std::string RangeHeader(uint64_t size) {
  return "0-" + std::to_string(size == 0 ? 0 : size - 1);
}

void SetProgressHeaders(http::Response& r, const storage::RepoKey& repo, const std::string& id,
                        uint64_t size) {
  r.headers.Set("Location", UploadLocation(repo, id));
  r.headers.Set("Range", RangeHeader(size));
  r.headers.Set("Docker-Upload-UUID", id);
}

// "<start>-<end>" (OCI), also tolerating "bytes=", "bytes " and a "/<total>" suffix.
struct ContentRange {
  uint64_t start = 0;
  uint64_t end = 0;  // inclusive
};
Result<ContentRange> ParseContentRange(std::string_view h) {
  if (h.starts_with("bytes=") || h.starts_with("bytes ")) h.remove_prefix(6);
  if (auto slash = h.find('/'); slash != std::string_view::npos) h = h.substr(0, slash);
  auto dash = h.find('-');
  if (dash == std::string_view::npos) return Fail(Code::kOutOfRange, "malformed Content-Range");
  auto number = [](std::string_view s, uint64_t* out) {
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
    return !s.empty() && ec == std::errc() && end == s.data() + s.size();
  };
  ContentRange r;
  if (!number(h.substr(0, dash), &r.start) || !number(h.substr(dash + 1), &r.end) ||
      r.end < r.start) {
    return Fail(Code::kOutOfRange, "malformed Content-Range");
  }
  return r;
}

http::Response Created(const storage::RepoKey& repo, const Digest& digest) {
  http::Response r;
  r.status = 201;
  r.headers.Set("Location", "/v2/" + repo.repository + "/blobs/" + digest.str());
  r.headers.Set("Docker-Content-Digest", digest.str());
  return r;
}

}  // namespace

// Streams a request body into an upload; on Finish either acknowledges the new length (PATCH)
// or commits the blob (PUT, monolithic POST).
class Registry::UploadExchange final : public http::Exchange {
 public:
  enum class Mode { kChunk, kCommit, kMonolithic };

  UploadExchange(Registry& registry, storage::UploadRecord record, storage::UploadPtr upload,
                 Mode mode, std::optional<Digest> expected, std::optional<uint64_t> length)
      : registry_(registry),
        record_(std::move(record)),
        upload_(std::move(upload)),
        mode_(mode),
        expected_(std::move(expected)),
        length_(length) {}

  // A monolithic upload that did not become a blob leaves nothing behind.
  ~UploadExchange() override {
    if (mode_ == Mode::kMonolithic && !committed_) Discard();
  }

  std::optional<http::Response> OnBody(std::string_view piece) override {
    received_ += piece.size();
    if (length_ && received_ > *length_) {
      return Fail(ErrorCode::kSizeInvalid, "body is longer than its Content-Range");
    }
    if (auto appended = upload_->Append(piece); !appended) {
      spdlog::error("upload {}: {}", record_.id, appended.error().ToString());
      upload_.reset();  // unusable; the next request resumes at the acknowledged length
      return Fail(ErrorCode::kUnavailable, "storage failure while receiving the upload");
    }
    return std::nullopt;
  }

  http::Response Finish() override {
    if (length_ && received_ != *length_) {
      return *Fail(ErrorCode::kSizeInvalid, "body length does not match its Content-Range");
    }
    if (mode_ == Mode::kChunk) return Acknowledge(202);
    uint64_t size = upload_->size();
    auto committed = registry_.repositories_.CommitUpload(record_, upload_, *expected_);
    if (!committed) {
      if (committed.error().code == Code::kInvalidArgument && upload_) {
        auto r = mode_ == Mode::kMonolithic ? http::Response() : Acknowledge(400);
        auto e = oci::ErrorResponse(ErrorCode::kDigestInvalid,
                                    "uploaded content (" + std::to_string(size) +
                                        " bytes) does not match digest " + expected_->str());
        for (const auto& [k, v] : r.headers.fields()) e.headers.Set(k, v);
        return e;
      }
      spdlog::error("upload {}: commit: {}", record_.id, committed.error().ToString());
      upload_.reset();
      return *Fail(ErrorCode::kUnavailable, "storage failure while committing the blob");
    }
    committed_ = true;
    registry_.counters_.blobs_committed.fetch_add(1, std::memory_order_relaxed);
    return Created(record_.repo, *expected_);
  }

  void Abort() override { upload_.reset(); }

 private:
  std::optional<http::Response> Fail(ErrorCode code, std::string message) {
    auto r = oci::ErrorResponse(code, message);
    r.close = true;
    upload_.reset();
    return r;
  }

  // Records the new length and hands the upload back for the next chunk.
  http::Response Acknowledge(int status) {
    uint64_t size = upload_->size();
    if (auto set = registry_.repositories_.AcknowledgeUpload(std::move(upload_)); !set) {
      spdlog::error("upload {}: {}", record_.id, set.error().ToString());
      return oci::ErrorResponse(ErrorCode::kUnavailable, "storage failure while recording upload");
    }
    http::Response r;
    r.status = status;
    SetProgressHeaders(r, record_.repo, record_.id, size);
    return r;
  }

  void Discard() {
    upload_.reset();
    registry_.repositories_.DiscardUpload(record_.id);
  }

  Registry& registry_;
  storage::UploadRecord record_;
  storage::UploadPtr upload_;
  Mode mode_;
  std::optional<Digest> expected_;
  std::optional<uint64_t> length_;
  uint64_t received_ = 0;
  bool committed_ = false;
};

http::ExchangePtr Registry::UploadStart(Call& call) {
  if (!call.is("POST")) return MethodNotAllowed("POST");
  auto mount = call.request.QueryParam("mount");
  auto digest_param = call.request.QueryParam("digest");

  if (mount) {
    auto digest = Digest::Parse(*mount);
    if (!digest) return Error(ErrorCode::kDigestInvalid, digest.error().message);
    auto from = call.request.QueryParam("from");
    if (from && oci::IsValidRepositoryName(*from) && call.mount_allowed) {
      auto mounted = repositories_.MountBlob(call.repo, std::string(*from), *digest);
      if (!mounted) return StorageError(mounted.error(), ErrorCode::kBlobUnknown);
      if (*mounted) return http::Respond(Created(call.repo, *digest));
    }
    // Not mountable: fall back to an ordinary upload session (202), as the spec requires.
  }

  std::optional<Digest> expected;
  if (digest_param && !mount) {
    auto digest = Digest::Parse(*digest_param);
    if (!digest) return Error(ErrorCode::kDigestInvalid, digest.error().message);
    expected = *digest;
  }

  auto session = repositories_.StartUpload(call.repo);
  if (!session) return StorageError(session.error(), ErrorCode::kBlobUploadInvalid);
  if (expected) {
    return std::make_unique<UploadExchange>(*this, std::move(session->record),
                                            std::move(session->upload),
                                            UploadExchange::Mode::kMonolithic, expected,
                                            std::nullopt);
  }
  http::Response r;
  r.status = 202;
  SetProgressHeaders(r, call.repo, session->record.id, 0);
  repositories_.KeepUpload(std::move(session->upload));
  return http::Respond(std::move(r));
}

http::ExchangePtr Registry::Upload(Call& call) {
  auto record = repositories_.FindUpload(call.repo, call.route.reference);
  if (!record) return StorageError(record.error(), ErrorCode::kBlobUploadUnknown);

  if (call.is("GET")) {
    http::Response r;
    r.status = 204;
    SetProgressHeaders(r, call.repo, record->id, record->acknowledged);
    return http::Respond(std::move(r));
  }
  if (call.is("DELETE")) {
    if (auto cancelled = repositories_.CancelUpload(*record); !cancelled) {
      if (cancelled.error().code == Code::kFailedPrecondition) {
        return Error(ErrorCode::kBlobUploadInvalid, "the upload is busy with another request");
      }
      return StorageError(cancelled.error(), ErrorCode::kBlobUploadUnknown);
    }
    http::Response r;
    r.status = 204;
    return http::Respond(std::move(r));
  }
  if (!call.is("PATCH") && !call.is("PUT")) return MethodNotAllowed("GET, PATCH, PUT, DELETE");

  std::optional<uint64_t> length;
  if (auto header = call.request.headers.Get("Content-Range")) {
    auto range = ParseContentRange(*header);
    if (!range || range->start != record->acknowledged) {
      auto e = oci::ErrorResponse(
          ErrorCode::kRangeInvalid,
          range ? "chunk starts at " + std::to_string(range->start) + " but the upload has " +
                      std::to_string(record->acknowledged) + " bytes"
                : range.error().message);
      SetProgressHeaders(e, call.repo, record->id, record->acknowledged);
      return http::Respond(std::move(e));
    }
    length = range->end - range->start + 1;
    if (call.request.content_length && *call.request.content_length != *length) {
      auto e = oci::ErrorResponse(ErrorCode::kRangeInvalid,
                                  "Content-Length does not match Content-Range");
      SetProgressHeaders(e, call.repo, record->id, record->acknowledged);
      return http::Respond(std::move(e));
    }
  }

  std::optional<Digest> expected;
  if (call.is("PUT")) {
    auto param = call.request.QueryParam("digest");
    if (!param) return Error(ErrorCode::kDigestInvalid, "the digest query parameter is required");
    auto digest = Digest::Parse(*param);
    if (!digest) return Error(ErrorCode::kDigestInvalid, digest.error().message);
    expected = *digest;
  }

  auto upload = repositories_.TakeUpload(*record);
  if (!upload) {
    if (upload.error().code == Code::kFailedPrecondition) {
      return Error(ErrorCode::kBlobUploadInvalid, "the upload is busy with another request");
    }
    return StorageError(upload.error(), ErrorCode::kBlobUploadUnknown);
  }
  auto mode = call.is("PUT") ? UploadExchange::Mode::kCommit : UploadExchange::Mode::kChunk;
  return std::make_unique<UploadExchange>(*this, std::move(*record), std::move(*upload), mode,
                                          expected, length);
}

}  // namespace cove::registry
