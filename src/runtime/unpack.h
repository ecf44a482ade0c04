// Unpacking image layers into a root filesystem, as containerd's applier does: each layer a tar
// (gzip'd or not; any compression libarchive reads), applied in order over the previous ones.
//
//   - OCI whiteouts: "<dir>/.wh.<name>" removes <dir>/<name> (what lower layers put there);
//     "<dir>/.wh..wh..opq" empties <dir> of what lower layers put there (entries of this layer
//     stay). Neither is written to the rootfs.
//   - Regular files, directories, symlinks (stored as they are, never followed), FIFOs and hard
//     links (whose target must be inside the rootfs) are created with their owners (numeric ids;
//     never looked up in the host's /etc/passwd), modes, times and xattrs. Device nodes and
//     sockets are skipped.
//   - SECURE: nothing is written outside the rootfs. An entry with an absolute path or a ".."
//     component fails the layer (kPermissionDenied). A symlink among an entry's directories
//     (or a whiteout's, or a hard-link target's) is resolved inside the rootfs as containerd's
//     fs.RootPath does — an absolute or "../.." target is read from the rootfs, never the host —
//     so "lib -> /usr/lib" then "lib/x" writes rootfs/usr/lib/x, and "esc -> /etc" then
//     "esc/passwd" writes rootfs/etc/passwd. libarchive then writes with
//     ARCHIVE_EXTRACT_SECURE_SYMLINKS | SECURE_NODOTDOT as a second guard; whiteouts open
//     directories with O_NOFOLLOW. A layer that fails midway leaves what it had written; the
//     caller discards the rootfs.
//
// diff_ids: UncompressedDigest() is the sha256 of the uncompressed tar, what the image config's
// rootfs.diff_ids list; the pull checks it before applying the layer.
//
// Thread-safety: functions of their arguments (no chdir, no umask change); two calls must not
// apply into the same rootfs at once. Memory is bounded (libarchive streams).
#pragma once

#include <string>
#include <string_view>

#include "common/digest.h"
#include "common/error.h"

namespace cove::runtime {

// sha256 of the layer at `path` after decompression. kInvalidArgument when it cannot be read.
Result<Digest> UncompressedDigest(const std::string& path);

// Applies the layer at `path` onto `rootfs` (created when absent). kInvalidArgument for a
// malformed archive, kPermissionDenied for an entry that would reach outside the rootfs,
// kIOError when the filesystem says no.
Status ApplyLayer(const std::string& path, const std::string& rootfs);

// The same for a layer held in memory (tests, the fuzzer).
Status ApplyLayerBytes(std::string_view bytes, const std::string& rootfs);

}  // namespace cove::runtime
