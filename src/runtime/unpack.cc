#include "runtime/unpack.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <deque>
#include <memory>
#include <set>
#include <vector>

#include "common/unique_fd.h"

namespace cove::runtime {
namespace {

using ArchivePtr = std::unique_ptr<struct archive, int (*)(struct archive*)>;

constexpr char kWhiteoutPrefix[] = ".wh.";
constexpr char kOpaque[] = ".wh..wh..opq";
constexpr size_t kBlock = 64 * 1024;

Error Denied(const std::string& what) {
  return Error{Code::kPermissionDenied, "layer entry '" + what + "' reaches outside the rootfs"};
}

std::string ArchiveError(struct archive* a) {
  const char* s = archive_error_string(a);
  return s ? s : "unknown libarchive error";
}

ArchivePtr NewReader(bool raw) {
  ArchivePtr a(archive_read_new(), archive_read_free);
  archive_read_support_filter_all(a.get());
  if (raw) {
    archive_read_support_format_raw(a.get());
  } else {
    archive_read_support_format_tar(a.get());
    archive_read_support_format_empty(a.get());
  }
  return a;
}

// An entry's path as components, "./" and empty components dropped; refuses absolute paths and
// "..".
Result<std::vector<std::string>> Components(const char* path) {
  if (path == nullptr) return Fail(Code::kInvalidArgument, "layer entry without a path");
  std::string p(path);
  if (!p.empty() && p[0] == '/') return Fail(Denied(p));
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= p.size()) {
    size_t end = p.find('/', start);
    if (end == std::string::npos) end = p.size();
    std::string c = p.substr(start, end - start);
    if (c == "..") return Fail(Denied(p));
    if (!c.empty() && c != ".") out.push_back(std::move(c));
    start = end + 1;
  }
  return out;
}

std::string Join(const std::vector<std::string>& parts, size_t n) {
  std::string out;
  for (size_t i = 0; i < n; ++i) {
    if (i) out += '/';
    out += parts[i];
  }
  return out;
}

// Opens the directory rootfs/parts[0..n) without following any symlink. kNotFound when some
// component is absent; kPermissionDenied when one is a symlink or not a directory.
Result<UniqueFd> OpenInside(int root, const std::vector<std::string>& parts, size_t n) {
  UniqueFd dir(::fcntl(root, F_DUPFD_CLOEXEC, 0));
  for (size_t i = 0; i < n; ++i) {
    UniqueFd next(
        ::openat(dir.get(), parts[i].c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!next.valid()) {
      if (errno == ENOENT) return Fail(Code::kNotFound, Join(parts, i + 1) + " is absent");
      if (errno == ELOOP || errno == ENOTDIR) return Fail(Denied(Join(parts, i + 1)));
      return Fail(Code::kIOError, "opening " + Join(parts, i + 1) + ": " + std::strerror(errno));
    }
    dir = std::move(next);
  }
  return dir;
}

// Resolves the directories parts[0..n) inside the rootfs as containerd's fs.RootPath does: a
// symlink on the way is followed, but its target is read relative to the rootfs (an absolute
// target starts again at the rootfs, ".." stops there), so the result names a path inside the
// rootfs whose directories are real ones (or absent, to be created). kPermissionDenied after
// too many links.
Result<std::vector<std::string>> ResolveInside(int root, const std::vector<std::string>& parts,
                                               size_t n) {
  std::vector<std::string> out;
  std::deque<std::string> todo(parts.begin(), parts.begin() + static_cast<ptrdiff_t>(n));
  int links = 0;
  while (!todo.empty()) {
    std::string c = std::move(todo.front());
    todo.pop_front();
    if (c.empty() || c == ".") continue;
    if (c == "..") {
      if (!out.empty()) out.pop_back();
      continue;
    }
    std::string rel = out.empty() ? c : Join(out, out.size()) + "/" + c;
    struct stat st;
    if (::fstatat(root, rel.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISLNK(st.st_mode)) {
      out.push_back(std::move(c));
      continue;
    }
    if (++links > 40) return Fail(Denied(Join(parts, n) + " (too many symlinks)"));
    std::string target(static_cast<size_t>(PATH_MAX), '\0');
    ssize_t len = ::readlinkat(root, rel.c_str(), target.data(), target.size());
    if (len < 0) return Fail(Code::kIOError, "readlink " + rel + ": " + std::strerror(errno));
    target.resize(static_cast<size_t>(len));
    if (!target.empty() && target[0] == '/') out.clear();
    std::vector<std::string> pieces;
    size_t start = 0;
    while (start <= target.size()) {
      size_t end = target.find('/', start);
      if (end == std::string::npos) end = target.size();
      pieces.push_back(target.substr(start, end - start));
      start = end + 1;
    }
    todo.insert(todo.begin(), pieces.begin(), pieces.end());
  }
  return out;
}

// Resolves an entry's path: its directories inside the rootfs (ResolveInside), its last
// component as it is.
Result<std::vector<std::string>> ResolveEntry(int root, const std::vector<std::string>& parts) {
  COVE_ASSIGN_OR_RETURN(auto out, ResolveInside(root, parts, parts.size() - 1));
  out.push_back(parts.back());
  return out;
}

// Removes dir/name and, for a directory, everything below it; never follows a symlink.
Status RemoveAt(int dir, const std::string& name) {
  struct stat st;
  if (::fstatat(dir, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    if (errno == ENOENT) return Ok();
    return Fail(Code::kIOError, "stat " + name + ": " + std::strerror(errno));
  }
  if (S_ISDIR(st.st_mode)) {
    int fd = ::openat(dir, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return Fail(Code::kIOError, "open " + name + ": " + std::strerror(errno));
    DIR* d = ::fdopendir(fd);
    if (d == nullptr) {
      ::close(fd);
      return Fail(Code::kIOError, "fdopendir " + name + ": " + std::strerror(errno));
    }
    std::unique_ptr<DIR, int (*)(DIR*)> owner(d, ::closedir);
    std::vector<std::string> children;
    while (struct dirent* e = ::readdir(d)) {
      std::string child = e->d_name;
      if (child != "." && child != "..") children.push_back(child);
    }
    for (const auto& child : children) COVE_RETURN_IF_ERROR(RemoveAt(::dirfd(d), child));
    if (::unlinkat(dir, name.c_str(), AT_REMOVEDIR) != 0) {
      return Fail(Code::kIOError, "rmdir " + name + ": " + std::strerror(errno));
    }
    return Ok();
  }
  if (::unlinkat(dir, name.c_str(), 0) != 0 && errno != ENOENT) {
    return Fail(Code::kIOError, "unlink " + name + ": " + std::strerror(errno));
  }
  return Ok();
}

class Applier {
 public:
  Applier(std::string root, int root_fd) : root_(std::move(root)), root_fd_(root_fd) {}

  Status Run(struct archive* in) {
    ArchivePtr out(archive_write_disk_new(), archive_write_free);
    archive_write_disk_set_options(
        out.get(), ARCHIVE_EXTRACT_OWNER | ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_TIME |
                       ARCHIVE_EXTRACT_XATTR | ARCHIVE_EXTRACT_UNLINK |
                       ARCHIVE_EXTRACT_SECURE_SYMLINKS | ARCHIVE_EXTRACT_SECURE_NODOTDOT);
    struct archive_entry* entry = nullptr;
    while (true) {
      int r = archive_read_next_header(in, &entry);
      if (r == ARCHIVE_EOF) break;
      if (r < ARCHIVE_WARN) {
        return Fail(Code::kInvalidArgument, "malformed layer: " + ArchiveError(in));
      }
      COVE_RETURN_IF_ERROR(Entry(in, out.get(), entry));
    }
    if (archive_write_close(out.get()) < ARCHIVE_WARN) {
      return Fail(Code::kIOError, "finishing the layer: " + ArchiveError(out.get()));
    }
    return Ok();
  }

 private:
  Status Entry(struct archive* in, struct archive* out, struct archive_entry* entry) {
    COVE_ASSIGN_OR_RETURN(auto named, Components(archive_entry_pathname(entry)));
    if (named.empty()) return Ok();  // "./": the rootfs itself
    COVE_ASSIGN_OR_RETURN(auto parts, ResolveEntry(root_fd_, named));
    const std::string& base = parts.back();
    if (base == kOpaque) return Opaque(parts);
    if (base.rfind(kWhiteoutPrefix, 0) == 0) return Whiteout(parts);
    mode_t type = archive_entry_filetype(entry);
    if (type == AE_IFCHR || type == AE_IFBLK || type == AE_IFSOCK) return Ok();
    std::string rel = Join(parts, parts.size());
    if (const char* link = archive_entry_hardlink(entry)) {
      COVE_ASSIGN_OR_RETURN(auto target_named, Components(link));
      if (target_named.empty()) return Fail(Denied(link));
      COVE_ASSIGN_OR_RETURN(auto target, ResolveEntry(root_fd_, target_named));
      // Every directory on the way must be a real one inside the rootfs.
      COVE_ASSIGN_OR_RETURN(UniqueFd dir, OpenInside(root_fd_, target, target.size() - 1));
      struct stat st;
      if (::fstatat(dir.get(), target.back().c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
        return Fail(Code::kInvalidArgument, "hard link " + rel + " to absent " + link);
      }
      archive_entry_set_hardlink(entry, (root_ + "/" + Join(target, target.size())).c_str());
      archive_entry_set_size(entry, 0);  // never write through a link
    }
    archive_entry_set_pathname(entry, (root_ + "/" + rel).c_str());
    written_.insert(rel);
    int r = archive_write_header(out, entry);
    if (r < ARCHIVE_WARN) {
      std::string why = ArchiveError(out);
      if (why.find("symlink") != std::string::npos || why.find("..") != std::string::npos) {
        return Fail(Code::kPermissionDenied, "layer entry '" + rel + "': " + why);
      }
      return Fail(Code::kIOError, "layer entry '" + rel + "': " + why);
    }
    if (archive_entry_size(entry) > 0) {
      const void* buf;
      size_t size;
      la_int64_t offset;
      while (true) {
        int rr = archive_read_data_block(in, &buf, &size, &offset);
        if (rr == ARCHIVE_EOF) break;
        if (rr < ARCHIVE_WARN) {
          return Fail(Code::kInvalidArgument, "malformed layer: " + ArchiveError(in));
        }
        if (archive_write_data_block(out, buf, size, offset) < ARCHIVE_WARN) {
          return Fail(Code::kIOError, "writing " + rel + ": " + ArchiveError(out));
        }
      }
    }
    if (archive_write_finish_entry(out) < ARCHIVE_WARN) {
      return Fail(Code::kIOError, "finishing " + rel + ": " + ArchiveError(out));
    }
    return Ok();
  }

  Status Whiteout(const std::vector<std::string>& parts) {
    std::string name = parts.back().substr(sizeof(kWhiteoutPrefix) - 1);
    if (name.empty() || name == "." || name == "..") return Fail(Denied(Join(parts, parts.size())));
    auto dir = OpenInside(root_fd_, parts, parts.size() - 1);
    if (!dir && dir.error().code == Code::kNotFound) return Ok();
    if (!dir) return Fail(dir.error());
    return RemoveAt(dir->get(), name);
  }

  Status Opaque(const std::vector<std::string>& parts) {
    auto dir = OpenInside(root_fd_, parts, parts.size() - 1);
    if (!dir && dir.error().code == Code::kNotFound) return Ok();
    if (!dir) return Fail(dir.error());
    std::string prefix = Join(parts, parts.size() - 1);
    if (!prefix.empty()) prefix += '/';
    int fd = ::fcntl(dir->get(), F_DUPFD_CLOEXEC, 0);
    DIR* d = ::fdopendir(fd);
    if (d == nullptr) {
      ::close(fd);
      return Fail(Code::kIOError, "listing " + prefix + ": " + std::strerror(errno));
    }
    std::unique_ptr<DIR, int (*)(DIR*)> owner(d, ::closedir);
    std::vector<std::string> children;
    while (struct dirent* e = ::readdir(d)) {
      std::string child = e->d_name;
      if (child == "." || child == "..") continue;
      // Keep what this layer wrote (an opaque marker may come after its siblings).
      auto it = written_.lower_bound(prefix + child);
      bool ours = it != written_.end() && it->rfind(prefix + child, 0) == 0 &&
                  (it->size() == prefix.size() + child.size() ||
                   (*it)[prefix.size() + child.size()] == '/');
      if (!ours) children.push_back(child);
    }
    for (const auto& child : children) COVE_RETURN_IF_ERROR(RemoveAt(dir->get(), child));
    return Ok();
  }

  std::string root_;
  int root_fd_;
  std::set<std::string> written_;
};

Status Apply(struct archive* in, const std::string& rootfs) {
  if (::mkdir(rootfs.c_str(), 0755) != 0 && errno != EEXIST) {
    return Fail(Code::kIOError, "mkdir " + rootfs + ": " + std::strerror(errno));
  }
  // libarchive checks every component of the paths it writes for symlinks; the rootfs's own
  // path must therefore hold none.
  char real[PATH_MAX];
  if (::realpath(rootfs.c_str(), real) == nullptr) {
    return Fail(Code::kIOError, "realpath " + rootfs + ": " + std::strerror(errno));
  }
  UniqueFd root_fd(::open(real, O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!root_fd.valid()) {
    return Fail(Code::kIOError, "open " + std::string(real) + ": " + std::strerror(errno));
  }
  std::string root = real;
  if (root == "/") return Fail(Code::kInvalidArgument, "refusing to unpack into /");
  return Applier(root, root_fd.get()).Run(in);
}

}  // namespace

Result<Digest> UncompressedDigest(const std::string& path) {
  ArchivePtr a = NewReader(/*raw=*/true);
  if (archive_read_open_filename(a.get(), path.c_str(), kBlock) != ARCHIVE_OK) {
    return Fail(Code::kInvalidArgument, "cannot read layer " + path + ": " + ArchiveError(a.get()));
  }
  struct archive_entry* entry = nullptr;
  Hasher hasher;
  int r = archive_read_next_header(a.get(), &entry);
  if (r == ARCHIVE_EOF) return hasher.Finish();
  if (r < ARCHIVE_WARN) {
    return Fail(Code::kInvalidArgument, "cannot read layer " + path + ": " + ArchiveError(a.get()));
  }
  std::vector<char> buf(kBlock);
  while (true) {
    la_ssize_t n = archive_read_data(a.get(), buf.data(), buf.size());
    if (n == 0) break;
    if (n < 0) {
      return Fail(Code::kInvalidArgument,
                  "cannot decompress layer " + path + ": " + ArchiveError(a.get()));
    }
    hasher.Update(std::string_view(buf.data(), static_cast<size_t>(n)));
  }
  return hasher.Finish();
}

Status ApplyLayer(const std::string& path, const std::string& rootfs) {
  ArchivePtr a = NewReader(/*raw=*/false);
  if (archive_read_open_filename(a.get(), path.c_str(), kBlock) != ARCHIVE_OK) {
    return Fail(Code::kInvalidArgument, "cannot read layer " + path + ": " + ArchiveError(a.get()));
  }
  return Apply(a.get(), rootfs);
}

Status ApplyLayerBytes(std::string_view bytes, const std::string& rootfs) {
  ArchivePtr a = NewReader(/*raw=*/false);
  if (archive_read_open_memory(a.get(), bytes.data(), bytes.size()) != ARCHIVE_OK) {
    return Fail(Code::kInvalidArgument, "cannot read layer: " + ArchiveError(a.get()));
  }
  return Apply(a.get(), rootfs);
}

}  // namespace cove::runtime
