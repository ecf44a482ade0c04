// ContentSource: where a region's registry turns when it lacks, or may hold an old copy of,
// content that another region of the same registry has — the seam between the OCI handlers
// (registry.cc, manifests.cc, blobs.cc) and geo-replication (src/replication), which
// implements it. A registry without replicas, or a node with no peers, has no source
// (RegistryOptions::content_source is null) and serves only what it holds.
//
// Why it exists (read-your-writes, docs/regions.md): ACR replicates asynchronously and a client
// that pushed through one region and pulls through another meets "manifest unknown". cove reads
// through instead: a manifest GET by tag first asks the peers whether they hold a newer version
// of the tag (RefreshTag), a manifest the region does not hold is fetched from a peer that does
// (FetchManifest), and a blob GET for a blob the region does not hold is redirected to (or read
// through from) a region that holds it (RegionHolding / FetchBlob). A peer that cannot be
// reached within the source's timeout is skipped: the region then serves what it has.
//
// Every call brings the content into the local region through the RepositoryService, verified
// by digest as any push is, so a later read is local; calls are idempotent.
//
// Errors: kNotFound when no reachable region holds the content; kUnavailable when a region
// that claimed it failed to deliver it (the handler answers as for local storage errors).
//
// Thread-safety: every method may be called from any request thread at once.
#pragma once

#include <optional>
#include <string>

#include "common/digest.h"
#include "common/error.h"
#include "storage/meta_store.h"

namespace cove::registry {

class ContentSource {
 public:
  virtual ~ContentSource() = default;

  // Before a manifest GET/HEAD by tag: when a reachable peer holds a newer version of `tag` in
  // `repo` (by the replication's ordering: hybrid logical clock, then region), applies it
  // locally (manifest, its blobs, the tag — or the tag's deletion). OK when the local tag is now
  // the newest known (also when no peer answered).
  virtual Status RefreshTag(const storage::RepoKey& repo, const std::string& tag) = 0;

  // A manifest GET/HEAD by digest the region does not hold: copies it (and every blob and child
  // manifest it names) from a peer that holds it. kNotFound when none does.
  virtual Status FetchManifest(const storage::RepoKey& repo, const Digest& digest) = 0;

  // A blob GET/HEAD the region does not hold: the region (its name, e.g. "eastus") of a
  // reachable peer whose repository `repo` links blob `digest`; nullopt when none does.
  virtual std::optional<std::string> RegionHolding(const storage::RepoKey& repo,
                                                   const Digest& digest) = 0;

  // Copies blob `digest` of `repo` from a peer into the region (for a registry whose data
  // endpoint is off, so a blob is served by the login server itself). kNotFound when no peer
  // holds it.
  virtual Status FetchBlob(const storage::RepoKey& repo, const Digest& digest) = 0;
};

}  // namespace cove::registry
