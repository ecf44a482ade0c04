#include "registry/garbage_collector.h"

#include <spdlog/spdlog.h>

#include <optional>
#include <utility>

namespace cove::registry {

GarbageCollector::GarbageCollector(storage::BlobStore& blobs, storage::MetaStore& meta,
                                   const Clock& clock,
                                   std::function<std::vector<RegistryInfo>()> registries,
                                   GarbageCollectorOptions options)
    : blobs_(blobs),
      meta_(meta),
      clock_(clock),
      registries_(std::move(registries)),
      options_(std::move(options)) {}

Result<GcReport> GarbageCollector::SweepOnce() {
  GcReport report;
  std::optional<Error> first_error;
  auto failed = [&](std::string_view phase, const Error& error) {
    spdlog::warn("garbage collection: {}: {}", phase, error.ToString());
    if (!first_error) first_error = Error{error.code, std::string(phase) + ": " + error.message};
  };
  const Clock::TimePoint due = clock_.Now() - options_.grace;

  if (auto removed = meta_.SweepLinks(due, options_.links_per_pass)) {
    report.links_removed = *removed;
  } else {
    failed("links", removed.error());
  }

  auto delete_bytes = [this](const Digest& digest) { return blobs_.Delete(digest); };
  while (report.blobs_reviewed < options_.blobs_per_pass) {
    auto swept = meta_.SweepNextBlob(due, delete_bytes);
    if (!swept) {
      failed("blobs", swept.error());
      break;
    }
    if (!*swept) break;
    ++report.blobs_reviewed;
    if ((*swept)->deleted) ++report.blobs_deleted;
  }

  for (const RegistryInfo& registry : registries_ ? registries_() : std::vector<RegistryInfo>()) {
    if (!registry.untagged_retention_enabled) continue;
    // Measured from now, not from `due`: the policy's days are the grace of a manifest.
    auto created_before = clock_.Now() - std::chrono::hours(24) * registry.untagged_retention_days;
    auto deleted = meta_.DeleteUntaggedManifests(registry.name, created_before,
                                                 options_.manifests_per_pass);
    if (!deleted) {
      failed("retention of " + registry.name, deleted.error());
      continue;
    }
    report.manifests_deleted += *deleted;
  }

  if (report.links_removed || report.blobs_deleted || report.manifests_deleted) {
    spdlog::info("garbage collection: {} links removed, {} of {} blobs reviewed deleted, {} "
                 "untagged manifests deleted by retention policies",
                 report.links_removed, report.blobs_deleted, report.blobs_reviewed,
                 report.manifests_deleted);
  }
  if (first_error) return Fail(std::move(*first_error));
  return report;
}

}  // namespace cove::registry
