// The resumable hash state is OpenSSL's SHA256_CTX (the low-level API is deprecated in OpenSSL
// 3 but present; EVP contexts cannot be exported). Only this file uses it.
#define OPENSSL_SUPPRESS_DEPRECATED

#include "storage/azure_blob_store.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <map>
#include <optional>
#include <thread>
#include <utility>

#include "common/ascii.h"
#include "http/pooled_client.h"
#include "storage/azure_wire.h"
#include "storage/upload_handles.h"

namespace cove::storage {
namespace {

using azure::Offset20;
using azure::ParseUint;
using azure::XmlElement;
using azure::XmlElements;

constexpr char kVersion[] = "2021-08-06";
constexpr size_t kBlockSize = 8 << 20;
constexpr int kLeaseSeconds = 30;
constexpr auto kLeaseRenewAfter = std::chrono::seconds(10);
constexpr int kAttempts = 5;
constexpr auto kFirstBackoff = std::chrono::milliseconds(50);

std::string Base64Encode(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3), '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(bytes.data()),
                          static_cast<int>(bytes.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

std::optional<std::string> Base64Decode(std::string_view text) {
  if (text.size() % 4 != 0) return std::nullopt;
  std::string out(3 * text.size() / 4, '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(text.data()),
                          static_cast<int>(text.size()));
  if (n < 0) return std::nullopt;
  size_t pad = 0;
  for (size_t i = text.size(); i > 0 && text[i - 1] == '='; --i) ++pad;
  out.resize(static_cast<size_t>(n) - pad);
  return out;
}

std::string PercentEncode(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

std::string HttpDate() {
  std::time_t now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm tm;
  gmtime_r(&now, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
  return buf;
}

std::string NewLeaseId() {
  unsigned char b[16];
  RAND_bytes(b, sizeof b);
  b[6] = static_cast<unsigned char>((b[6] & 0x0f) | 0x40);
  b[8] = static_cast<unsigned char>((b[8] & 0x3f) | 0x80);
  std::string hex = HexEncode(std::string_view(reinterpret_cast<char*>(b), sizeof b));
  return hex.substr(0, 8) + "-" + hex.substr(8, 4) + "-" + hex.substr(12, 4) + "-" +
         hex.substr(16, 4) + "-" + hex.substr(20);
}


std::string BlockId(uint64_t offset) { return Base64Encode(Offset20(offset)); }




std::string UploadPrefix(std::string_view id) { return "uploads/" + std::string(id) + "/"; }

}  // namespace

// ---- The signed REST calls ----------------------------------------------------------------

class AzureBlobStore::Service {
 public:
  struct Call {
    std::string method;
    std::string blob;  // "" = the container
    std::vector<std::pair<std::string, std::string>> query;
    std::vector<std::pair<std::string, std::string>> headers;
    std::string_view body;
    bool idempotent = true;
    const http::BodySink* sink = nullptr;
  };

  std::unique_ptr<http::PooledClient> http;
  std::string endpoint;   // as configured, for messages
  std::string base_path;  // "/ACCOUNT" for path-style endpoints, else ""
  std::string account, key, container;
  const Clock* clock = nullptr;

  std::string Describe(const Call& call) const {
    return call.method + " " + container + (call.blob.empty() ? "" : "/" + call.blob) + " at " +
           endpoint;
  }

  // The error for a final non-2xx answer.
  Error ErrorOf(const Call& call, const http::HttpResponse& r) const {
    Code code = Code::kInternal;
    if (r.status == 404) code = Code::kNotFound;
    if (r.status == 403) code = Code::kPermissionDenied;
    if (r.status == 409) code = Code::kAlreadyExists;
    if (r.status == 412) code = Code::kFailedPrecondition;
    if (r.status == 416) code = Code::kOutOfRange;
    if (r.status == 400) code = Code::kInvalidArgument;
    if (r.status >= 500 || r.status == 408) code = Code::kUnavailable;
    std::string error_code = ErrorCode(r);
    return Error{code, "azure blob storage: " + Describe(call) + ": HTTP " +
                           std::to_string(r.status) +
                           (error_code.empty() ? "" : " " + error_code)};
  }

  static std::string ErrorCode(const http::HttpResponse& r) {
    auto it = r.headers.find("x-ms-error-code");
    if (it != r.headers.end()) return it->second;
    return std::string(XmlElement(r.body, "Code"));
  }

  // Sends `call`, signed, retrying idempotent ones on transport failures and 500/503/408.
  // Returns the final answer whatever its status.
  Result<http::HttpResponse> Do(const Call& call) {
    uint64_t delivered = 0;
    http::BodySink counting;
    if (call.sink) {
      counting = [&](std::string_view piece) {
        delivered += piece.size();
        return (*call.sink)(piece);
      };
    }
    auto backoff = kFirstBackoff;
    for (int attempt = 1;; ++attempt) {
      http::PooledRequest request = Sign(call);
      auto response = http->Send(request, call.sink ? &counting : nullptr);
      bool retry = call.idempotent && attempt < kAttempts && delivered == 0;
      if (response) {
        int s = response->status;
        if (!(retry && (s == 500 || s == 503 || s == 408))) return response;
      } else {
        Code c = response.error().code;
        if (!(retry && (c == Code::kUnavailable || c == Code::kIOError))) {
          return Fail(response.error().code, "azure blob storage: " + Describe(call) + ": " +
                                                  response.error().message);
        }
      }
      std::this_thread::sleep_for(backoff);
      backoff *= 2;
    }
  }

  // Do, with any non-2xx answer an error.
  Result<http::HttpResponse> Expect(const Call& call) {
    COVE_ASSIGN_OR_RETURN(auto response, Do(call));
    if (response.status < 200 || response.status >= 300) return Fail(ErrorOf(call, response));
    return response;
  }

  http::PooledRequest Sign(const Call& call) const {
    std::string path = base_path + "/" + container + (call.blob.empty() ? "" : "/" + call.blob);
    http::PooledRequest request;
    request.method = call.method;
    request.body = call.body;
    request.target = path;
    auto query = call.query;
    std::sort(query.begin(), query.end());
    for (size_t i = 0; i < query.size(); ++i) {
      request.target += (i == 0 ? "?" : "&") + query[i].first + "=" + PercentEncode(query[i].second);
    }
    std::map<std::string, std::string> headers;
    for (const auto& [name, value] : call.headers) headers[AsciiLower(name)] = value;
    headers["x-ms-date"] = HttpDate();
    headers["x-ms-version"] = kVersion;
    auto get = [&](const char* name) {
      auto it = headers.find(name);
      return it == headers.end() ? std::string() : it->second;
    };
    std::string to_sign = call.method + "\n" + get("content-encoding") + "\n" +
                          get("content-language") + "\n" +
                          (call.body.empty() ? "" : std::to_string(call.body.size())) + "\n" +
                          get("content-md5") + "\n" + get("content-type") + "\n" + get("date") +
                          "\n" + get("if-modified-since") + "\n" + get("if-match") + "\n" +
                          get("if-none-match") + "\n" + get("if-unmodified-since") + "\n" +
                          get("range") + "\n";
    for (const auto& [name, value] : headers) {
      if (name.rfind("x-ms-", 0) == 0) to_sign += name + ":" + value + "\n";
    }
    to_sign += "/" + account + path;
    for (const auto& [name, value] : query) to_sign += "\n" + name + ":" + value;
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int mac_len = 0;
    HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
         reinterpret_cast<const unsigned char*>(to_sign.data()), to_sign.size(), mac, &mac_len);
    headers["authorization"] =
        "SharedKey " + account + ":" +
        Base64Encode(std::string_view(reinterpret_cast<char*>(mac), mac_len));
    for (auto& [name, value] : headers) request.headers.emplace_back(name, std::move(value));
    return request;
  }

  // ---- Calls used by the store and its uploads ----

  // Size of a committed blob, or kNotFound (also while a copy into it is pending).
  Result<uint64_t> Size(const std::string& blob) {
    Call call{"HEAD", blob};
    COVE_ASSIGN_OR_RETURN(auto r, Expect(call));
    auto copy = r.headers.find("x-ms-copy-status");
    if (copy != r.headers.end() && copy->second != "success") {
      return Fail(Code::kNotFound, blob + " is still being copied (" + copy->second + ")");
    }
    auto length = ParseUint(r.headers["content-length"]);
    if (!length) return Fail(Code::kInternal, Describe(call) + ": no Content-Length");
    return *length;
  }

  // Streams bytes [offset, offset+length) of `blob` to `sink`.
  Status ReadRange(const std::string& blob, uint64_t offset, uint64_t length,
                   const http::BodySink& sink) {
    if (length == 0) return Ok();
    Call call{"GET", blob};
    call.headers = {{"x-ms-range", "bytes=" + std::to_string(offset) + "-" +
                                       std::to_string(offset + length - 1)}};
    uint64_t got = 0;
    http::BodySink counted = [&](std::string_view piece) {
      got += piece.size();
      return sink(piece);
    };
    call.sink = &counted;
    COVE_RETURN_IF_ERROR(Expect(call));
    if (got != length) {
      return Fail(Code::kCorruption, Describe(call) + ": " + std::to_string(got) +
                                         " bytes instead of " + std::to_string(length));
    }
    return Ok();
  }

  Status PutBlob(const std::string& blob, std::string_view bytes,
                 std::vector<std::pair<std::string, std::string>> headers = {},
                 bool idempotent = true) {
    Call call{"PUT", blob};
    call.headers = std::move(headers);
    call.headers.emplace_back("x-ms-blob-type", "BlockBlob");
    call.body = bytes;
    call.idempotent = idempotent;
    COVE_RETURN_IF_ERROR(Expect(call));
    return Ok();
  }

  // DELETE; kNotFound passes through.
  Status DeleteBlob(const std::string& blob, const std::string& lease = "") {
    Call call{"DELETE", blob};
    if (!lease.empty()) call.headers = {{"x-ms-lease-id", lease}};
    COVE_RETURN_IF_ERROR(Expect(call));
    return Ok();
  }

  // Names (and sizes and metadata XML) of the blobs under `prefix`, every page.
  struct Listed {
    std::string name;
    uint64_t size = 0;
    std::string metadata;
  };
  Result<std::vector<Listed>> List(const std::string& prefix, bool metadata) {
    std::vector<Listed> out;
    std::string marker;
    do {
      Call call{"GET", ""};
      call.query = {{"restype", "container"}, {"comp", "list"}, {"prefix", prefix}};
      if (metadata) call.query.emplace_back("include", "metadata");
      if (!marker.empty()) call.query.emplace_back("marker", marker);
      COVE_ASSIGN_OR_RETURN(auto r, Expect(call));
      for (std::string_view blob : XmlElements(r.body, "Blob")) {
        Listed item;
        item.name = std::string(XmlElement(blob, "Name"));
        item.size = ParseUint(XmlElement(blob, "Content-Length")).value_or(0);
        item.metadata = std::string(XmlElement(blob, "Metadata"));
        out.push_back(std::move(item));
      }
      marker = std::string(XmlElement(r.body, "NextMarker"));
    } while (!marker.empty());
    return out;
  }

  // Lease calls on an upload's lock. Acquire: kNotFound (no upload), kFailedPrecondition (held).
  Status Lease(std::string_view id, const std::string& action, const std::string& lease_id) {
    Call call{"PUT", UploadPrefix(id) + "lock"};
    call.query = {{"comp", "lease"}};
    call.headers = {{"x-ms-lease-action", action}};
    if (action == "acquire") {
      call.headers.emplace_back("x-ms-lease-duration", std::to_string(kLeaseSeconds));
      call.headers.emplace_back("x-ms-proposed-lease-id", lease_id);
    } else {
      call.headers.emplace_back("x-ms-lease-id", lease_id);
    }
    COVE_ASSIGN_OR_RETURN(auto r, Do(call));
    if (r.status >= 200 && r.status < 300) return Ok();
    if (r.status == 404) return Fail(Code::kNotFound, "upload " + std::string(id) + " not found");
    if (r.status == 409) {
      // An acquire that was sent again (a retried or resent request) finds the lease its first
      // attempt took: renewing with our id tells ours from another node's.
      if (action == "acquire" && ErrorCode(r) == "LeaseAlreadyPresent" &&
          Lease(id, "renew", lease_id)) {
        return Ok();
      }
      return Fail(Code::kFailedPrecondition, "upload " + std::string(id) + " is in use (" +
                                                 ErrorCode(r) + " on its lease)");
    }
    return Fail(ErrorOf(call, r));
  }

  std::string ModifiedNow() const {
    return std::to_string(
        std::chrono::duration_cast<std::chrono::nanoseconds>(clock->Now().time_since_epoch())
            .count());
  }
};

namespace {

using Service = AzureBlobStore::Service;

std::string BlobName(const Digest& d) {
  return "blobs/" + std::string(d.algorithm_name()) + "/" + d.hex();
}

// Writes all of `data` to the pipe; kUnavailable once the reader went away (EPIPE).
Status WriteAllFd(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return Fail(Code::kUnavailable, std::string("stream reader gone: ") + std::strerror(errno));
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return Ok();
}

// The body of a stream thread: bytes [offset, offset+length) of blob `digest` into `fd`.
// A whole-blob read is verified: the last piece is held back until the digest matched.
void StreamBlob(std::shared_ptr<Service> service, Digest digest, uint64_t offset,
                uint64_t length, bool whole, UniqueFd fd) {
  sigset_t block;
  sigemptyset(&block);
  sigaddset(&block, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &block, nullptr);  // EPIPE rather than a signal if not ignored
  Hasher hasher(digest.algorithm());
  std::string held;
  http::BodySink sink = [&](std::string_view piece) -> Status {
    if (!whole) return WriteAllFd(fd.get(), piece);
    hasher.Update(piece);
    COVE_RETURN_IF_ERROR(WriteAllFd(fd.get(), held));
    held.assign(piece);
    return Ok();
  };
  Status status = service->ReadRange(BlobName(digest), offset, length, sink);
  if (!status) {
    if (status.error().code != Code::kUnavailable || status.error().message.find("stream reader") ==
                                                         std::string::npos) {
      spdlog::error("azure blob store: streaming {}: {}", digest.str(), status.error().message);
    }
    return;
  }
  if (whole) {
    Digest actual = hasher.Finish();
    if (actual != digest) {
      spdlog::error("azure blob store: blob {} has digest {}; stream cut short", digest.str(),
                    actual.str());
      return;
    }
    (void)WriteAllFd(fd.get(), held);
  }
}

// SHA256_CTX to and from its saved form (storage/azure_wire.h checks what it reads back).
std::string SaveState(const SHA256_CTX& ctx, uint64_t length) {
  return azure::EncodeHashState(
      std::string_view(reinterpret_cast<const char*>(&ctx), sizeof ctx), length);
}

Result<SHA256_CTX> LoadState(std::string_view bytes, uint64_t length, const std::string& where) {
  COVE_ASSIGN_OR_RETURN(std::string raw, azure::DecodeHashState(bytes, length, where));
  SHA256_CTX ctx;
  std::memcpy(&ctx, raw.data(), sizeof ctx);
  return ctx;
}

class AzureUpload final : public Upload {
 public:
  AzureUpload(std::shared_ptr<Service> service, std::string id, std::string lease)
      : service_(std::move(service)),
        id_(std::move(id)),
        prefix_(UploadPrefix(id_)),
        lease_(std::move(lease)),
        renewed_(std::chrono::steady_clock::now()) {
    SHA256_Init(&ctx_);
  }

  // Flushes what is buffered (unless the handle broke) and releases the lease; nothing once
  // Commit deleted the lock.
  ~AzureUpload() override {
    if (spent_) return;
    if (state_.Usable(id_) && size_ != flushed_) {
      if (auto flushed = Flush(); !flushed) {
        spdlog::warn("azure blob store: upload {}: flush on release: {}", id_,
                     flushed.error().message);
      }
    }
    (void)service_->Lease(id_, "release", lease_);
  }

  // A handle whose Restore failed: it only releases its lease.
  void Abandon() { state_.Break(); }

  // Resume's part: the state at `at`, blocks and bytes up to `acknowledged`.
  Status Restore(uint64_t acknowledged) {
    // The committed blocks of the data blob, in order.
    Service::Call call{"GET", prefix_ + "data"};
    call.query = {{"comp", "blocklist"}, {"blocklisttype", "committed"}};
    COVE_ASSIGN_OR_RETURN(auto list, service_->Expect(call));
    uint64_t committed = 0;
    std::vector<std::pair<uint64_t, uint64_t>> blocks;  // offset, size
    for (std::string_view block : XmlElements(list.body, "Block")) {
      auto name = Base64Decode(XmlElement(block, "Name"));
      auto size = ParseUint(XmlElement(block, "Size"));
      auto offset = name ? ParseUint(*name) : std::nullopt;
      if (!offset || !size || *offset != committed) {
        return Fail(Code::kCorruption, "upload " + id_ + ": unexpected block list");
      }
      blocks.emplace_back(*offset, *size);
      committed += *size;
    }
    if (committed < acknowledged) {
      return Fail(Code::kCorruption, "upload " + id_ + " holds " + std::to_string(committed) +
                                         " bytes, fewer than the " + std::to_string(acknowledged) +
                                         " acknowledged");
    }
    // The saved state at the largest length <= acknowledged; later ones are stale from now on.
    COVE_ASSIGN_OR_RETURN(auto states, service_->List(prefix_ + "state/", false));
    std::optional<uint64_t> from;
    for (const auto& s : states) {
      auto at = ParseUint(std::string_view(s.name).substr(s.name.rfind('/') + 1));
      if (!at) continue;
      if (*at > acknowledged) {
        (void)service_->DeleteBlob(s.name);
      } else if (!from || *at > *from) {
        from = at;
      }
    }
    if (!from) return Fail(Code::kCorruption, "upload " + id_ + " has no saved hash state");
    std::string state_blob = prefix_ + "state/" + Offset20(*from);
    COVE_ASSIGN_OR_RETURN(auto state, service_->Expect(Service::Call{"GET", state_blob}));
    std::string& bytes = state.body;
    COVE_ASSIGN_OR_RETURN(ctx_, LoadState(bytes, *from, state_blob));
    COVE_RETURN_IF_ERROR(service_->ReadRange(prefix_ + "data", *from, acknowledged - *from,
                                             [&](std::string_view p) {
                                               SHA256_Update(&ctx_, p.data(), p.size());
                                               return Ok();
                                             }));
    // Keep whole blocks below `acknowledged`; read the start of a cut block back.
    for (const auto& [offset, size] : blocks) {
      if (offset + size <= acknowledged) {
        blocks_.push_back(offset);
        staged_ = offset + size;
      }
    }
    COVE_RETURN_IF_ERROR(service_->ReadRange(prefix_ + "data", staged_, acknowledged - staged_,
                                             [&](std::string_view p) {
                                               buffer_.append(p);
                                               return Ok();
                                             }));
    size_ = acknowledged;
    flushed_ = acknowledged;
    dirty_list_ = committed != acknowledged;
    return Ok();
  }

  const std::string& id() const override { return id_; }
  uint64_t size() const override { return size_; }

  Status Append(std::string_view data) override {
    COVE_RETURN_IF_ERROR(state_.Usable(id_));
    if (data.empty()) return Ok();
    SHA256_Update(&ctx_, data.data(), data.size());
    buffer_.append(data);
    size_ += data.size();
    while (buffer_.size() >= kBlockSize) {
      COVE_RETURN_IF_ERROR(Broken(StageBlock(kBlockSize)));
    }
    return Ok();
  }

  Status Flush() override {
    COVE_RETURN_IF_ERROR(state_.Usable(id_));
    if (size_ == flushed_ && !dirty_list_) return Ok();
    COVE_RETURN_IF_ERROR(Broken(CommitBlocks()));
    COVE_RETURN_IF_ERROR(Broken(service_->PutBlob(prefix_ + "state/" + Offset20(size_),
                                                  SaveState(ctx_, size_))));
    flushed_ = size_;
    return Ok();
  }

  Result<uint64_t> Commit(const Digest& expected) override {
    COVE_RETURN_IF_ERROR(state_.Usable(id_));
    Digest actual;
    if (expected.algorithm() == DigestAlgorithm::kSha256) {
      SHA256_CTX copy = ctx_;
      unsigned char md[SHA256_DIGEST_LENGTH];
      SHA256_Final(md, &copy);
      COVE_ASSIGN_OR_RETURN(
          actual, Digest::Parse("sha256:" + HexEncode(std::string_view(
                                                reinterpret_cast<const char*>(md), sizeof md))));
    } else {
      COVE_RETURN_IF_ERROR(Broken(CommitBlocks()));
      Hasher hasher(expected.algorithm());
      COVE_RETURN_IF_ERROR(
          service_->ReadRange(prefix_ + "data", 0, size_, [&](std::string_view p) {
            hasher.Update(p);
            return Ok();
          }));
      actual = hasher.Finish();
    }
    if (actual != expected) {
      return Fail(Code::kInvalidArgument,
                  "upload has digest " + actual.str() + ", not " + expected.str());
    }
    COVE_RETURN_IF_ERROR(Broken(CommitBlocks()));
    COVE_RETURN_IF_ERROR(Broken(Install(expected)));
    state_.Spend();
    spent_ = true;
    // The blob is in place; what is left is clean-up.
    COVE_ASSIGN_OR_RETURN(auto names, service_->List(prefix_, false));
    for (const auto& n : names) {
      if (n.name != prefix_ + "lock") COVE_RETURN_IF_ERROR(Gone(service_->DeleteBlob(n.name)));
    }
    COVE_RETURN_IF_ERROR(Gone(service_->DeleteBlob(prefix_ + "lock", lease_)));
    return size_;
  }

 private:
  static Status Gone(Status s) {
    if (!s && s.error().code == Code::kNotFound) return Ok();
    return s;
  }

  Status Broken(Status s) {
    if (!s) state_.Break();
    return s;
  }

  // Renews the lease when it is due; a failure (another node took it) breaks the handle.
  Status KeepLease() {
    auto now = std::chrono::steady_clock::now();
    if (now - renewed_ < kLeaseRenewAfter) return Ok();
    COVE_RETURN_IF_ERROR(service_->Lease(id_, "renew", lease_));
    renewed_ = now;
    return Ok();
  }

  // Put Block of the first `n` buffered bytes.
  Status StageBlock(size_t n) {
    COVE_RETURN_IF_ERROR(KeepLease());
    Service::Call call{"PUT", prefix_ + "data"};
    call.query = {{"comp", "block"}, {"blockid", BlockId(staged_)}};
    call.body = std::string_view(buffer_).substr(0, n);
    COVE_RETURN_IF_ERROR(service_->Expect(call));
    blocks_.push_back(staged_);
    staged_ += n;
    buffer_.erase(0, n);
    dirty_list_ = true;
    return Ok();
  }

  // Stages what is buffered and commits the block list (with the modification stamp).
  Status CommitBlocks() {
    if (!buffer_.empty()) COVE_RETURN_IF_ERROR(StageBlock(buffer_.size()));
    if (!dirty_list_) return KeepLease();
    std::string xml = "<?xml version=\"1.0\" encoding=\"utf-8\"?><BlockList>";
    for (uint64_t offset : blocks_) xml += "<Latest>" + BlockId(offset) + "</Latest>";
    xml += "</BlockList>";
    Service::Call call{"PUT", prefix_ + "data"};
    call.query = {{"comp", "blocklist"}};
    call.headers = {{"x-ms-meta-covemodified", service_->ModifiedNow()},
                    {"content-type", "application/xml"}};
    call.body = xml;
    COVE_RETURN_IF_ERROR(service_->Expect(call));
    dirty_list_ = false;
    return Ok();
  }

  // Copies the committed data blob to blobs/... unless it exists; waits for a pending copy.
  Status Install(const Digest& digest) {
    std::string to = BlobName(digest);
    auto existing = service_->Size(to);
    if (existing) return Ok();
    if (existing.error().code != Code::kNotFound) return Fail(existing.error());
    Service::Call call{"PUT", to};
    std::string source = service_->endpoint + "/" + service_->container + "/" + prefix_ + "data";
    call.headers = {{"x-ms-copy-source", source}, {"if-none-match", "*"}};
    COVE_ASSIGN_OR_RETURN(auto r, service_->Do(call));
    if (r.status == 409 || r.status == 412) return Ok();  // another upload installed it
    if (r.status < 200 || r.status >= 300) return Fail(service_->ErrorOf(call, r));
    auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(10);
    auto wait = std::chrono::milliseconds(20);
    std::string status = r.headers["x-ms-copy-status"];
    while (status == "pending") {
      if (std::chrono::steady_clock::now() > deadline) {
        return Fail(Code::kUnavailable, "copy of upload " + id_ + " to " + to + " timed out");
      }
      std::this_thread::sleep_for(wait);
      wait = std::min(wait * 2, std::chrono::milliseconds(1000));
      COVE_RETURN_IF_ERROR(KeepLease());
      COVE_ASSIGN_OR_RETURN(auto head, service_->Expect(Service::Call{"HEAD", to}));
      status = head.headers["x-ms-copy-status"];
    }
    if (!status.empty() && status != "success") {
      return Fail(Code::kIOError, "copy of upload " + id_ + " to " + to + " ended " + status);
    }
    return Ok();
  }

  std::shared_ptr<Service> service_;
  std::string id_;
  std::string prefix_;
  std::string lease_;
  std::chrono::steady_clock::time_point renewed_;
  SHA256_CTX ctx_;
  std::string buffer_;           // appended bytes not yet staged; they start at staged_
  std::vector<uint64_t> blocks_;  // offsets of the staged blocks, in order
  uint64_t staged_ = 0;
  uint64_t size_ = 0;
  uint64_t flushed_ = 0;
  bool dirty_list_ = false;  // the committed block list is not blocks_ yet
  bool spent_ = false;       // committed: the lock (and its lease) are gone
  HandleState state_;
};

}  // namespace

// ---- The store ----------------------------------------------------------------------------

AzureBlobStore::AzureBlobStore(std::shared_ptr<Service> service) : service_(std::move(service)) {}
AzureBlobStore::~AzureBlobStore() = default;

Result<BlobStorePtr> AzureBlobStore::Open(AzureBlobOptions options) {
  if (options.clock == nullptr) return Fail(Code::kInvalidArgument, "azure blob store: no clock");
  if (options.account.empty() || options.container.empty()) {
    return Fail(Code::kInvalidArgument, "azure blob store: account and container are required");
  }
  auto key = Base64Decode(options.key);
  if (!key || key->empty()) {
    return Fail(Code::kInvalidArgument, "azure blob store: the account key is not base64");
  }
  std::string endpoint = options.endpoint;
  while (!endpoint.empty() && endpoint.back() == '/') endpoint.pop_back();
  size_t scheme = endpoint.find("://");
  size_t slash = scheme == std::string::npos ? std::string::npos : endpoint.find('/', scheme + 3);
  auto service = std::make_shared<Service>();
  service->endpoint = endpoint;
  service->base_path = slash == std::string::npos ? "" : endpoint.substr(slash);
  service->account = options.account;
  service->key = *std::move(key);
  service->container = options.container;
  service->clock = options.clock;
  http::HttpsOptions tls;
  tls.ca_file = options.ca_file;
  COVE_ASSIGN_OR_RETURN(service->http,
                        http::PooledClient::Create(endpoint.substr(0, slash),
                                                   std::chrono::seconds(60), std::move(tls)));
  Service::Call create{"PUT", ""};
  create.query = {{"restype", "container"}};
  auto r = service->Do(create);
  if (!r) {
    return Fail(Code::kUnavailable, "cannot reach the azure storage account at " + endpoint +
                                        ": " + r.error().message);
  }
  if (r->status == 403) {
    return Fail(Code::kPermissionDenied, "the azure storage account at " + endpoint +
                                             " refused the key of account " + options.account +
                                             " (" + Service::ErrorCode(*r) + ")");
  }
  if (r->status != 201 && r->status != 409) {
    Error e = service->ErrorOf(create, *r);
    if (e.code == Code::kInternal) e.code = Code::kUnavailable;
    return Fail(std::move(e));
  }
  return BlobStorePtr(new AzureBlobStore(std::move(service)));
}

Result<uint64_t> AzureBlobStore::Stat(const Digest& digest) {
  auto size = service_->Size(BlobName(digest));
  if (!size && size.error().code == Code::kNotFound) {
    return Fail(Code::kNotFound, "blob " + digest.str() + " not found");
  }
  return size;
}

Result<BlobFile> AzureBlobStore::Open(const Digest& digest, uint64_t offset,
                                      std::optional<uint64_t> length) {
  COVE_ASSIGN_OR_RETURN(uint64_t size, Stat(digest));
  COVE_ASSIGN_OR_RETURN(uint64_t n, BlobRangeLength(digest, size, offset, length));
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) < 0) {
    return Fail(Code::kIOError, std::string("pipe: ") + std::strerror(errno));
  }
  UniqueFd reader(fds[0]), writer(fds[1]);
  bool whole = offset == 0 && n == size;
  std::thread(StreamBlob, service_, digest, offset, n, whole, std::move(writer)).detach();
  BlobFile file{std::move(reader), size};
  file.stream = true;
  return file;
}

Result<std::string> AzureBlobStore::Read(const Digest& digest, uint64_t max_size) {
  COVE_ASSIGN_OR_RETURN(uint64_t size, Stat(digest));
  if (size > max_size) {
    return Fail(Code::kResourceExhausted, "blob " + digest.str() + " has " +
                                              std::to_string(size) + " bytes, more than " +
                                              std::to_string(max_size));
  }
  std::string out;
  COVE_RETURN_IF_ERROR(service_->ReadRange(BlobName(digest), 0, size, [&](std::string_view p) {
    out.append(p);
    return Ok();
  }));
  return out;
}

Status AzureBlobStore::Put(const Digest& digest, std::string_view bytes) {
  COVE_RETURN_IF_ERROR(CheckBytes(digest, bytes));
  // Put Blob replaces atomically, and the content is the same whoever writes it.
  return service_->PutBlob(BlobName(digest), bytes);
}

Status AzureBlobStore::Delete(const Digest& digest) {
  auto deleted = service_->DeleteBlob(BlobName(digest));
  if (!deleted && deleted.error().code == Code::kNotFound) {
    return Fail(Code::kNotFound, "blob " + digest.str() + " not found");
  }
  return deleted;
}

Result<UploadPtr> AzureBlobStore::CreateUpload(std::string_view id) {
  COVE_RETURN_IF_ERROR(ValidateUploadId(id));
  std::string prefix = UploadPrefix(id);
  // The lock is the id's claim: created only if absent (not retried: a retry would find it).
  auto claimed = service_->PutBlob(prefix + "lock", "", {{"if-none-match", "*"}}, false);
  if (!claimed) {
    if (claimed.error().code == Code::kAlreadyExists ||
        claimed.error().code == Code::kFailedPrecondition) {
      return Fail(Code::kAlreadyExists, "upload " + std::string(id) + " exists");
    }
    return Fail(claimed.error());
  }
  std::string lease = NewLeaseId();
  COVE_RETURN_IF_ERROR(service_->Lease(id, "acquire", lease));
  auto upload = std::make_unique<AzureUpload>(service_, std::string(id), lease);
  COVE_RETURN_IF_ERROR(
      service_->PutBlob(prefix + "data", "", {{"x-ms-meta-covemodified", service_->ModifiedNow()}}));
  SHA256_CTX ctx;
  SHA256_Init(&ctx);
  COVE_RETURN_IF_ERROR(service_->PutBlob(prefix + "state/" + Offset20(0), SaveState(ctx, 0)));
  return UploadPtr(std::move(upload));
}

Result<UploadPtr> AzureBlobStore::ResumeUpload(std::string_view id, uint64_t acknowledged) {
  COVE_RETURN_IF_ERROR(ValidateUploadId(id));
  std::string lease = NewLeaseId();
  COVE_RETURN_IF_ERROR(service_->Lease(id, "acquire", lease));
  auto upload = std::make_unique<AzureUpload>(service_, std::string(id), lease);
  if (auto restored = upload->Restore(acknowledged); !restored) {
    upload->Abandon();  // its destructor releases the lease
    return Fail(restored.error());
  }
  return UploadPtr(std::move(upload));
}

Status AzureBlobStore::DeleteUpload(std::string_view id) {
  COVE_RETURN_IF_ERROR(ValidateUploadId(id));
  std::string prefix = UploadPrefix(id);
  std::string lease = NewLeaseId();
  auto leased = service_->Lease(id, "acquire", lease);
  if (!leased && leased.error().code != Code::kNotFound) return leased;
  COVE_ASSIGN_OR_RETURN(auto names, service_->List(prefix, false));
  // No lock: a CreateUpload that died before it, or a commit that died in its clean-up. What
  // is left is nobody's; remove it (ListUploads lists it, so a purge must be able to).
  if (!leased && names.empty()) return leased;
  if (!leased) lease.clear();
  for (const auto& n : names) {
    if (n.name == prefix + "lock") continue;
    auto deleted = service_->DeleteBlob(n.name);
    if (!deleted && deleted.error().code != Code::kNotFound) return deleted;
  }
  auto deleted = service_->DeleteBlob(prefix + "lock", lease);
  if (!deleted && deleted.error().code != Code::kNotFound) return deleted;
  return Ok();
}

Result<std::vector<UploadInfo>> AzureBlobStore::ListUploads() {
  COVE_ASSIGN_OR_RETURN(auto listed, service_->List("uploads/", true));
  std::map<std::string, UploadInfo> uploads;
  for (const auto& item : listed) {
    std::string_view rest = std::string_view(item.name).substr(8);
    size_t slash = rest.find('/');
    if (slash == std::string_view::npos) continue;
    std::string id(rest.substr(0, slash));
    std::string_view leaf = rest.substr(slash + 1);
    if (!ValidateUploadId(id) || (leaf != "lock" && leaf != "data")) continue;
    UploadInfo& info = uploads[id];
    info.id = id;
    if (leaf == "data") {
      info.size = item.size;
      if (auto ns = ParseUint(XmlElement(item.metadata, "covemodified"))) {
        info.modified = Clock::TimePoint(std::chrono::duration_cast<Clock::TimePoint::duration>(
            std::chrono::nanoseconds(*ns)));
      }
    }
  }
  std::vector<UploadInfo> out;
  for (auto& [id, info] : uploads) out.push_back(std::move(info));
  return out;
}

Result<std::vector<std::string>> AzureBlobStore::ListNames(const std::string& prefix) {
  COVE_ASSIGN_OR_RETURN(auto listed, service_->List(prefix, false));
  std::vector<std::string> out;
  for (auto& item : listed) out.push_back(std::move(item.name));
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace cove::storage
