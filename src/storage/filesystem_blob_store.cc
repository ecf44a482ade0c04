#include "storage/filesystem_blob_store.h"

#include <dirent.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <utility>

#include "storage/upload_handles.h"

namespace cove::storage {
namespace {

constexpr size_t kReadChunk = 1 << 20;

Error Errno(std::string_view what, const std::string& path, int err = errno) {
  Code code = Code::kIOError;
  if (err == ENOENT) code = Code::kNotFound;
  return Error{code, std::string(what) + " " + path + ": " + std::strerror(err)};
}

// open(2), retried on EINTR.
int OpenRetry(const std::string& path, int flags, mode_t mode = 0) {
  int fd;
  do {
    fd = ::open(path.c_str(), flags, mode);
  } while (fd < 0 && errno == EINTR);
  return fd;
}

// Writes all of `data` at `offset`, retrying on EINTR and short writes.
Status WriteAll(int fd, std::string_view data, uint64_t offset, const std::string& path) {
  while (!data.empty()) {
    ssize_t n = ::pwrite(fd, data.data(), data.size(), static_cast<off_t>(offset));
    if (n < 0) {
      if (errno == EINTR) continue;
      return Fail(Errno("write", path));
    }
    if (n == 0) return Fail(Code::kIOError, "write " + path + ": no progress");
    data.remove_prefix(static_cast<size_t>(n));
    offset += static_cast<uint64_t>(n);
  }
  return Ok();
}

// Reads exactly `size` bytes at `offset` into `out` (appended), retrying on EINTR.
// kCorruption if the file ends first.
Status ReadAll(int fd, uint64_t offset, uint64_t size, std::string& out, const std::string& path) {
  size_t start = out.size();
  out.resize(start + size);
  uint64_t done = 0;
  while (done < size) {
    ssize_t n =
        ::pread(fd, out.data() + start + done, size - done, static_cast<off_t>(offset + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      out.resize(start);
      return Fail(Errno("read", path));
    }
    if (n == 0) {
      out.resize(start);
      return Fail(Code::kCorruption, "read " + path + ": file ended early");
    }
    done += static_cast<uint64_t>(n);
  }
  return Ok();
}

Status Fsync(int fd, const std::string& path) {
  int rc;
  do {
    rc = ::fsync(fd);
  } while (rc < 0 && errno == EINTR);
  if (rc < 0) return Fail(Errno("fsync", path));
  return Ok();
}

Status FsyncDir(const std::string& path) {
  UniqueFd fd(OpenRetry(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd.valid()) return Fail(Errno("open directory", path));
  return Fsync(fd.get(), path);
}

// mkdir that accepts an existing directory. Returns true in `created` if it made it.
Status MakeDir(const std::string& path, bool* created = nullptr) {
  if (::mkdir(path.c_str(), 0755) == 0) {
    if (created) *created = true;
    return Ok();
  }
  if (errno == EEXIST) {
    if (created) *created = false;
    return Ok();
  }
  return Fail(Errno("mkdir", path));
}

Status MakeDirs(const std::string& path) {
  for (size_t pos = 1; pos <= path.size(); ++pos) {
    if (pos == path.size() || path[pos] == '/') {
      COVE_RETURN_IF_ERROR(MakeDir(path.substr(0, pos)));
    }
  }
  return Ok();
}

// Names in directory `path` (without "." and ".."). kNotFound if it does not exist.
Result<std::vector<std::string>> ListDir(const std::string& path) {
  DIR* dir = ::opendir(path.c_str());
  if (dir == nullptr) return Fail(Errno("opendir", path));
  std::vector<std::string> names;
  errno = 0;
  while (dirent* entry = ::readdir(dir)) {
    std::string_view name = entry->d_name;
    if (name != "." && name != "..") names.emplace_back(name);
    errno = 0;
  }
  int err = errno;
  ::closedir(dir);
  if (err != 0) return Fail(Errno("readdir", path, err));
  return names;
}

Status Unlink(const std::string& path) {
  if (::unlink(path.c_str()) < 0) return Fail(Errno("unlink", path));
  return Ok();
}

// A running SHA-256 whose value can be read without ending it (EVP_MD_CTX_copy), so a Commit
// with the wrong digest leaves the upload able to take more bytes.
class RunningSha256 {
 public:
  RunningSha256() : ctx_(EVP_MD_CTX_new()) { EVP_DigestInit_ex(ctx_, EVP_sha256(), nullptr); }
  ~RunningSha256() { EVP_MD_CTX_free(ctx_); }
  RunningSha256(const RunningSha256&) = delete;
  RunningSha256& operator=(const RunningSha256&) = delete;

  void Update(std::string_view data) { EVP_DigestUpdate(ctx_, data.data(), data.size()); }

  Result<Digest> Peek() const {
    EVP_MD_CTX* copy = EVP_MD_CTX_new();
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    bool ok = copy != nullptr && EVP_MD_CTX_copy_ex(copy, ctx_) == 1 &&
              EVP_DigestFinal_ex(copy, md, &len) == 1;
    EVP_MD_CTX_free(copy);
    if (!ok) return Fail(Code::kInternal, "cannot finish SHA-256");
    return Digest::Parse("sha256:" +
                         HexEncode(std::string_view(reinterpret_cast<const char*>(md), len)));
  }

 private:
  EVP_MD_CTX* ctx_;
};

// Feeds the first `size` bytes of `fd` to `update` in chunks.
template <typename F>
Status HashFile(int fd, uint64_t size, const std::string& path, F&& update) {
  std::string buffer;
  buffer.reserve(std::min<uint64_t>(size, kReadChunk));
  for (uint64_t offset = 0; offset < size;) {
    uint64_t n = std::min<uint64_t>(size - offset, kReadChunk);
    buffer.clear();
    COVE_RETURN_IF_ERROR(ReadAll(fd, offset, n, buffer, path));
    update(std::string_view(buffer));
    offset += n;
  }
  return Ok();
}

Status SetModified(int fd, Clock::TimePoint t, const std::string& path) {
  auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
  timespec times[2];
  times[0].tv_sec = static_cast<time_t>(ns / 1'000'000'000);
  times[0].tv_nsec = static_cast<long>(ns % 1'000'000'000);
  times[1] = times[0];
  if (::futimens(fd, times) < 0) return Fail(Errno("futimens", path));
  return Ok();
}

}  // namespace

struct FilesystemBlobStore::Shared {
  std::string root;
  const Clock* clock;
  UploadClaims claims;  // upload ids with a live handle (or being deleted)

  std::string BlobDir(const Digest& d) const {
    return root + "/blobs/" + std::string(d.algorithm_name()) + "/" + d.hex().substr(0, 2);
  }
  std::string BlobPath(const Digest& d) const { return BlobDir(d) + "/" + d.hex(); }
  std::string UploadDir(std::string_view id) const { return root + "/uploads/" + std::string(id); }
  std::string UploadData(std::string_view id) const { return UploadDir(id) + "/data"; }

  // Moves the fsynced file `from` to blob `digest` unless the blob exists already (then `from`
  // is removed). Nothing partial ever appears under blobs/.
  Status Install(const std::string& from, const Digest& digest) {
    std::string dir = BlobDir(digest);
    std::string to = dir + "/" + digest.hex();
    struct stat st;
    if (::stat(to.c_str(), &st) == 0) return Unlink(from);
    bool created = false;
    std::string alg_dir = root + "/blobs/" + std::string(digest.algorithm_name());
    if (auto made = MakeDir(dir, &created); !made) {
      if (made.error().code != Code::kNotFound) return made;
      COVE_RETURN_IF_ERROR(MakeDirs(alg_dir));  // the layout vanished (a wiped disk): re-create
      COVE_RETURN_IF_ERROR(MakeDir(dir, &created));
    }
    if (created) COVE_RETURN_IF_ERROR(FsyncDir(alg_dir));
    if (::rename(from.c_str(), to.c_str()) < 0) return Fail(Errno("rename to", to));
    return FsyncDir(dir);
  }
};

namespace {

class FilesystemUpload final : public Upload {
 public:
  FilesystemUpload(std::shared_ptr<FilesystemBlobStore::Shared> shared, std::string id, UniqueFd fd,
                   uint64_t size)
      : shared_(std::move(shared)),
        id_(std::move(id)),
        path_(shared_->UploadData(id_)),
        fd_(std::move(fd)),
        size_(size),
        writeback_from_(size) {}

  ~FilesystemUpload() override { shared_->claims.Release(id_); }

  static constexpr uint64_t kWritebackStep = 8 << 20;

  RunningSha256& hash() { return hash_; }

  const std::string& id() const override { return id_; }
  uint64_t size() const override { return size_; }

  Status Append(std::string_view data) override {
    COVE_RETURN_IF_ERROR(state_.Usable(id_));
    if (data.empty()) return Ok();
    if (auto written = WriteAll(fd_.get(), data, size_, path_); !written) {
      state_.Break();
      return written;
    }
    hash_.Update(data);
    size_ += data.size();
    // Start writeback of every full 8 MiB as it arrives, so that Commit's fsync finds most of
    // a large blob already on disk instead of flushing it all at once.
    if (size_ - writeback_from_ >= kWritebackStep) {
      ::sync_file_range(fd_.get(), static_cast<off64_t>(writeback_from_),
                        static_cast<off64_t>(size_ - writeback_from_), SYNC_FILE_RANGE_WRITE);
      writeback_from_ = size_;
    }
    // The modification time is the injected clock's, so purging is testable without sleeps.
    // A failure here only affects purging; the bytes are written.
    (void)SetModified(fd_.get(), shared_->clock->Now(), path_);
    return Ok();
  }

  // The bytes are in the upload's file once Append returned, and a resume on this node rebuilds
  // the hash from the file: nothing to do. (No fdatasync per acknowledged chunk: Commit fsyncs,
  // and a machine crash before it loses the upload either way, as before.)
  Status Flush() override { return state_.Usable(id_); }

  Result<uint64_t> Commit(const Digest& expected) override {
    COVE_RETURN_IF_ERROR(state_.Usable(id_));
    Digest actual;
    if (expected.algorithm() == DigestAlgorithm::kSha256) {
      COVE_ASSIGN_OR_RETURN(actual, hash_.Peek());
    } else {
      Hasher hasher(expected.algorithm());
      COVE_RETURN_IF_ERROR(
          HashFile(fd_.get(), size_, path_, [&](std::string_view b) { hasher.Update(b); }));
      actual = hasher.Finish();
    }
    if (actual != expected) {
      return Fail(Code::kInvalidArgument,
                  "upload has digest " + actual.str() + ", not " + expected.str());
    }
    if (auto synced = Fsync(fd_.get(), path_); !synced) {
      state_.Break();
      return Fail(synced.error());
    }
    fd_.Reset();
    state_.Spend();  // from here on the handle is spent, whatever happens
    COVE_RETURN_IF_ERROR(shared_->Install(path_, expected));
    std::string dir = shared_->UploadDir(id_);
    if (::rmdir(dir.c_str()) < 0) return Fail(Errno("rmdir", dir));
    return size_;
  }

 private:
  std::shared_ptr<FilesystemBlobStore::Shared> shared_;
  std::string id_;
  std::string path_;
  UniqueFd fd_;
  uint64_t size_;
  uint64_t writeback_from_;  // bytes before this offset have had writeback started
  RunningSha256 hash_;
  HandleState state_;
};

}  // namespace

FilesystemBlobStore::FilesystemBlobStore(std::shared_ptr<Shared> shared)
    : shared_(std::move(shared)) {}

FilesystemBlobStore::~FilesystemBlobStore() = default;

Result<BlobStorePtr> FilesystemBlobStore::Open(std::string root, const Clock& clock) {
  while (root.size() > 1 && root.back() == '/') root.pop_back();
  if (root.empty()) return Fail(Code::kInvalidArgument, "blob store root is empty");
  for (const char* sub : {"/blobs/sha256", "/blobs/sha512", "/uploads", "/tmp"}) {
    COVE_RETURN_IF_ERROR(MakeDirs(root + sub));
  }
  // Put() leftovers: never visible, never needed.
  std::string tmp = root + "/tmp";
  COVE_ASSIGN_OR_RETURN(auto stray, ListDir(tmp));
  for (const auto& name : stray) {
    std::string path = tmp + "/" + name;
    if (::unlink(path.c_str()) < 0 && errno != ENOENT) return Fail(Errno("unlink", path));
  }
  // Upload directories without data: a crash between mkdir and create, or after a commit's
  // rename. Directories whose names are not ids were not made by this store; leave them.
  std::string uploads = root + "/uploads";
  COVE_ASSIGN_OR_RETURN(auto ids, ListDir(uploads));
  for (const auto& id : ids) {
    if (!ValidateUploadId(id)) continue;
    std::string dir = uploads + "/" + id;
    struct stat st;
    if (::stat((dir + "/data").c_str(), &st) == 0) continue;
    if (::rmdir(dir.c_str()) < 0 && errno != ENOENT) return Fail(Errno("rmdir", dir));
  }
  auto shared = std::make_shared<Shared>();
  shared->root = std::move(root);
  shared->clock = &clock;
  return BlobStorePtr(new FilesystemBlobStore(std::move(shared)));
}

std::string FilesystemBlobStore::BlobPath(const Digest& digest) const {
  return shared_->BlobPath(digest);
}

Result<std::vector<Digest>> FilesystemBlobStore::ListBlobs() const {
  std::vector<Digest> out;
  for (std::string_view alg : {"sha256", "sha512"}) {
    std::string alg_dir = shared_->root + "/blobs/" + std::string(alg);
    auto fans = ListDir(alg_dir);
    if (!fans) {
      if (fans.error().code == Code::kNotFound) continue;  // nothing stored (or a wiped disk)
      return Fail(std::move(fans).error());
    }
    for (const auto& fan : *fans) {
      auto names = ListDir(alg_dir + "/" + fan);
      if (!names) {
        if (names.error().code == Code::kNotFound) continue;
        return Fail(std::move(names).error());
      }
      for (const auto& name : *names) {
        // Only names this store writes: the digest's hex under the directory of its first two.
        auto digest = Digest::Parse(std::string(alg) + ":" + name);
        if (digest && digest->hex().compare(0, 2, fan) == 0) out.push_back(*std::move(digest));
      }
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

Result<uint64_t> FilesystemBlobStore::Stat(const Digest& digest) {
  std::string path = shared_->BlobPath(digest);
  struct stat st;
  if (::stat(path.c_str(), &st) < 0) {
    if (errno == ENOENT) return Fail(Code::kNotFound, "blob " + digest.str() + " not found");
    return Fail(Errno("stat", path));
  }
  return static_cast<uint64_t>(st.st_size);
}

Result<BlobFile> FilesystemBlobStore::Open(const Digest& digest, uint64_t offset,
                                           std::optional<uint64_t> length) {
  std::string path = shared_->BlobPath(digest);
  UniqueFd fd(OpenRetry(path, O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) {
    if (errno == ENOENT) return Fail(Code::kNotFound, "blob " + digest.str() + " not found");
    return Fail(Errno("open", path));
  }
  struct stat st;
  if (::fstat(fd.get(), &st) < 0) return Fail(Errno("fstat", path));
  uint64_t size = static_cast<uint64_t>(st.st_size);
  COVE_RETURN_IF_ERROR(BlobRangeLength(digest, size, offset, length));
  return BlobFile{std::move(fd), size};
}

Result<std::string> FilesystemBlobStore::Read(const Digest& digest, uint64_t max_size) {
  COVE_ASSIGN_OR_RETURN(BlobFile file, Open(digest));
  if (file.size > max_size) {
    return Fail(Code::kResourceExhausted, "blob " + digest.str() + " has " +
                                              std::to_string(file.size) + " bytes, more than " +
                                              std::to_string(max_size));
  }
  std::string out;
  COVE_RETURN_IF_ERROR(ReadAll(file.fd.get(), 0, file.size, out, shared_->BlobPath(digest)));
  return out;
}

Status FilesystemBlobStore::Put(const Digest& digest, std::string_view bytes) {
  COVE_RETURN_IF_ERROR(CheckBytes(digest, bytes));
  struct stat st;
  if (::stat(shared_->BlobPath(digest).c_str(), &st) == 0) return Ok();
  std::string path;
  int raw = -1;
  for (int attempt = 0; attempt < 2 && raw < 0; ++attempt) {
    path = shared_->root + "/tmp/put-XXXXXX";
    do {
      raw = ::mkostemp(path.data(), O_CLOEXEC);
    } while (raw < 0 && errno == EINTR);
    if (raw >= 0 || errno != ENOENT || attempt > 0) break;
    COVE_RETURN_IF_ERROR(MakeDirs(shared_->root + "/tmp"));  // the layout vanished: re-create
  }
  if (raw < 0) return Fail(Errno("mkostemp", path));
  UniqueFd fd(raw);
  Status status = WriteAll(fd.get(), bytes, 0, path);
  if (status) status = Fsync(fd.get(), path);
  fd.Reset();
  if (status) status = shared_->Install(path, digest);
  if (!status) (void)::unlink(path.c_str());
  return status;
}

Status FilesystemBlobStore::Delete(const Digest& digest) {
  std::string path = shared_->BlobPath(digest);
  if (::unlink(path.c_str()) < 0) {
    if (errno == ENOENT) return Fail(Code::kNotFound, "blob " + digest.str() + " not found");
    return Fail(Errno("unlink", path));
  }
  return Ok();
}

Result<UploadPtr> FilesystemBlobStore::CreateUpload(std::string_view id) {
  COVE_RETURN_IF_ERROR(ValidateUploadId(id));
  if (!shared_->claims.Claim(id)) {
    return Fail(Code::kAlreadyExists, "upload " + std::string(id) + " exists");
  }
  ClaimGuard claim(shared_->claims, std::string(id));
  std::string dir = shared_->UploadDir(id);
  int made = ::mkdir(dir.c_str(), 0755);
  if (made < 0 && errno == ENOENT) {  // the layout vanished (a wiped disk): re-create it
    COVE_RETURN_IF_ERROR(MakeDirs(shared_->root + "/uploads"));
    made = ::mkdir(dir.c_str(), 0755);
  }
  if (made < 0) {
    if (errno == EEXIST) return Fail(Code::kAlreadyExists, "upload " + std::string(id) + " exists");
    return Fail(Errno("mkdir", dir));
  }
  std::string path = shared_->UploadData(id);
  UniqueFd fd(OpenRetry(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
  if (!fd.valid()) {
    Error error = Errno("create", path);
    (void)::rmdir(dir.c_str());
    return Fail(std::move(error));
  }
  (void)SetModified(fd.get(), shared_->clock->Now(), path);
  // The upload must survive a crash once the caller records it.
  COVE_RETURN_IF_ERROR(FsyncDir(dir));
  COVE_RETURN_IF_ERROR(FsyncDir(shared_->root + "/uploads"));
  claim.Dismiss();
  return UploadPtr(new FilesystemUpload(shared_, std::string(id), std::move(fd), 0));
}

Result<UploadPtr> FilesystemBlobStore::ResumeUpload(std::string_view id, uint64_t acknowledged) {
  COVE_RETURN_IF_ERROR(ValidateUploadId(id));
  if (!shared_->claims.Claim(id)) {
    return Fail(Code::kFailedPrecondition, "upload " + std::string(id) + " is in use");
  }
  ClaimGuard claim(shared_->claims, std::string(id));
  std::string path = shared_->UploadData(id);
  UniqueFd fd(OpenRetry(path, O_RDWR | O_CLOEXEC));
  if (!fd.valid()) {
    if (errno == ENOENT) return Fail(Code::kNotFound, "upload " + std::string(id) + " not found");
    return Fail(Errno("open", path));
  }
  struct stat st;
  if (::fstat(fd.get(), &st) < 0) return Fail(Errno("fstat", path));
  uint64_t size = static_cast<uint64_t>(st.st_size);
  if (size < acknowledged) {
    return Fail(Code::kCorruption, "upload " + std::string(id) + " holds " + std::to_string(size) +
                                       " bytes, fewer than the " + std::to_string(acknowledged) +
                                       " acknowledged");
  }
  if (size > acknowledged) {
    int rc;
    do {
      rc = ::ftruncate(fd.get(), static_cast<off_t>(acknowledged));
    } while (rc < 0 && errno == EINTR);
    if (rc < 0) return Fail(Errno("ftruncate", path));
  }
  claim.Dismiss();  // the handle releases the id from here on
  auto upload =
      std::make_unique<FilesystemUpload>(shared_, std::string(id), std::move(fd), acknowledged);
  // Reopened fd is owned by the upload now; rebuild the running hash from the file.
  UniqueFd reader(OpenRetry(path, O_RDONLY | O_CLOEXEC));
  if (!reader.valid()) return Fail(Errno("open", path));
  COVE_RETURN_IF_ERROR(HashFile(reader.get(), acknowledged, path,
                                [&](std::string_view b) { upload->hash().Update(b); }));
  return UploadPtr(std::move(upload));
}

Status FilesystemBlobStore::DeleteUpload(std::string_view id) {
  COVE_RETURN_IF_ERROR(ValidateUploadId(id));
  if (!shared_->claims.Claim(id)) {
    return Fail(Code::kFailedPrecondition, "upload " + std::string(id) + " is in use");
  }
  ClaimGuard claim(shared_->claims, std::string(id));
  std::string dir = shared_->UploadDir(id);
  std::string path = shared_->UploadData(id);
  if (::unlink(path.c_str()) < 0 && errno != ENOENT) return Fail(Errno("unlink", path));
  if (::rmdir(dir.c_str()) < 0) {
    if (errno == ENOENT) return Fail(Code::kNotFound, "upload " + std::string(id) + " not found");
    return Fail(Errno("rmdir", dir));
  }
  return Ok();
}

Result<std::vector<UploadInfo>> FilesystemBlobStore::ListUploads() {
  std::string uploads = shared_->root + "/uploads";
  COVE_ASSIGN_OR_RETURN(auto ids, ListDir(uploads));
  std::sort(ids.begin(), ids.end());
  std::vector<UploadInfo> out;
  for (auto& id : ids) {
    if (!ValidateUploadId(id)) continue;
    std::string path = shared_->UploadData(id);
    struct stat st;
    if (::stat(path.c_str(), &st) < 0) {
      if (errno == ENOENT) continue;  // being created or deleted right now
      return Fail(Errno("stat", path));
    }
    Clock::TimePoint modified(std::chrono::duration_cast<Clock::TimePoint::duration>(
        std::chrono::seconds(st.st_mtim.tv_sec) + std::chrono::nanoseconds(st.st_mtim.tv_nsec)));
    out.push_back(UploadInfo{std::move(id), static_cast<uint64_t>(st.st_size), modified});
  }
  return out;
}

}  // namespace cove::storage
