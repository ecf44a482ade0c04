// GarbageCollector: online garbage collection for one node's stores — no read-only window, no
// mark-and-sweep over everything. Garbage is found through the MetaStore's review queues
// (storage/meta_store.h, "online garbage collection", after GitLab's online GC): every event
// that may leave a blob link or a blob unreferenced queues a review of it, and a sweep pass
// decides about the reviews that have waited out the grace period.
//
// One pass (SweepOnce), in this order:
//   1. links: due link reviews; a link no manifest of its repository references is removed
//      (its blob is queued) — the uploads whose manifest never came;
//   2. blobs: due blob reviews; a blob nothing references any more is deleted from the BlobStore
//      (BlobStore::Delete is the MetaStore's delete callback, run under its claim);
//   3. retention: for each registry whose ACR retention policy for untagged manifests is
//      enabled (RegistryInfo::untagged_retention_*), the untagged manifests older than `days`
//      are deleted (their links and digests are queued for later passes).
// A pass does a bounded amount of work (options); the next pass continues.
//
// Grace period: 24 hours by default, GitLab's review delay for its online GC. It is what keeps
// an upload's blob alive between its bytes being committed and the manifest that names it:
// a review becomes due only that long after the last event on its key, and the upload path
// stamps the blob again (MetaStore::ProtectBlob) just before it commits the bytes.
//
// Retention deletes manifests in this node's stores only and emits no RepositoryEvent: every
// region applies the same policy to its own copy (ACR's retention, too, runs per registry
// replica).
//
// Thread-safety: SweepOnce may be called from any thread; passes on several threads or nodes
// take different reviews (the MetaStore's claims).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <vector>

#include "authz/registry_info.h"
#include "common/clock.h"
#include "common/error.h"
#include "storage/blob_store.h"
#include "storage/meta_store.h"

namespace cove::registry {

struct GarbageCollectorOptions {
  // How long a review waits after the last event on its key before a sweep decides about it.
  std::chrono::seconds grace{24 * 3600};
  uint64_t links_per_pass = 10'000;
  uint64_t blobs_per_pass = 10'000;
  uint64_t manifests_per_pass = 10'000;  // per registry
};

// What one pass did.
struct GcReport {
  uint64_t links_removed = 0;
  uint64_t blobs_reviewed = 0;
  uint64_t blobs_deleted = 0;
  uint64_t manifests_deleted = 0;  // by retention policies
};

class GarbageCollector {
 public:
  // `registries` names the registries served now, with their retention policies (called once
  // per pass). The stores and the clock must outlive the collector.
  GarbageCollector(storage::BlobStore& blobs, storage::MetaStore& meta, const Clock& clock,
                   std::function<std::vector<RegistryInfo>()> registries,
                   GarbageCollectorOptions options = {});

  // One pass (see above). On a store error the pass still runs its other phases and then
  // fails with the first error (what was done stays done); a blob whose deletion failed keeps
  // its review for a later pass.
  Result<GcReport> SweepOnce();

  const GarbageCollectorOptions& options() const { return options_; }

 private:
  storage::BlobStore& blobs_;
  storage::MetaStore& meta_;
  const Clock& clock_;
  std::function<std::vector<RegistryInfo>()> registries_;
  GarbageCollectorOptions options_;
};

}  // namespace cove::registry
