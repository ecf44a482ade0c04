// Replicator: active-active geo-replication between the region nodes of a registry (issue 12).
//
// Each region of a registry is its own node with its own stores and RepositoryService. The
// Replicator of a region records every change of that region in its Journal (journal.h) and
// pulls the journals of its peer regions over the backbone, applying what it has not seen.
// Replication is asynchronous; regions converge by one rule, last writer wins by hybrid logical
// clock (hlc.h: wall ms, then counter, then region name).
//
// Local writes. The Replicator observes the RepositoryService (RepositoryObserver): each event
// of a local change is stamped with a new HLC, moves its register and is appended to the
// journal, synchronously, after the change is durable. Events caused by the Replicator itself
// while applying a remote entry are not local writes (a thread_local marker on the applying
// thread tells them apart); the remote entry is journaled with its own origin and HLC instead.
// A crash between a change and its journal entry is repaired by Reconcile(), run for each
// registry that SetRegistries() gives this region: a tag the service holds that its register
// does not know (or knows at another digest) is journaled as a local write made now.
//
// Pull protocol (HTTPS on the backbone; handler(), mounted by the region node on its
// replication listener). Every request needs "Authorization: Bearer <backbone key>"
// (compared in constant time; otherwise 401 {"error":{"code":"Unauthorized",...}}).
//   GET  /cove/replication/v1/changes?after=<seq>&limit=<n>&wait=<ms>&region=<puller>
//        → {"head":H,"next":N,"entries":[{seq,origin,ms,logical,kind,registry,repository,tag,
//          digest,media_type,size}...]}. Long-polls up to `wait` ms when nothing is past
//          `after`. Only entries of registries that the puller's region also holds; `next` is
//          the last seq examined (the puller's next `after`, also past skipped entries).
//   GET|HEAD /cove/replication/v1/manifests/<registry>/<repo...>/<digest>
//        → the bytes, Content-Type = media type; 404 when not held.
//   GET|HEAD /cove/replication/v1/blobs/<registry>/<repo...>/<digest>
//        → the bytes, streamed from the blob file (sendfile on plain connections); 404.
//   GET  /cove/replication/v1/tags/<registry>/<repo...>/<tag>
//        → {"hlc":{"ms","logical","origin"},"digest":D} or {...,"deleted":true}; 404 unknown.
//   GET  /cove/replication/v1/status → {"region":R,"peers":[PeerStatus as JSON]}.
//
// Applying a remote entry (idempotent, at-least-once): an entry already in the journal (same
// origin and HLC) or made by this region is a no-op. Manifest put: unless a newer tombstone
// says deleted, fetch the manifest if not held, then each blob and child manifest it names that
// is missing (recursively), each streamed into a RepositoryService upload whose commit verifies
// the digest (a corrupt transfer is discarded, never visible, and retried), then PutManifest
// without a tag. Tag set/delete, manifest delete, blob link/unlink: applied only when newer than
// the register (a re-push with a higher HLC wins over an older tombstone). A blob link fetches
// the blob when missing. When the peer no longer holds what an entry names (404), the entry is a
// no-op: a later entry of that peer says what happened to it. The peer's cursor advances
// durably with each applied entry; on a failure the batch stops and is retried with backoff,
// nothing is skipped. Registry deletion is not replicated (the control plane deletes a
// registry in every region); it forgets the registry's registers.
//
// Known limit: a local write racing with the application of an older remote write of the same
// tag can leave the local state at the older value while the register holds the newer one;
// the next write of that tag repairs it.
//
// Use (the region node): Replicator::Open(service, clock, options) after the service exists;
// mount handler() on the region's replication listener (TLS, certificate for the backbone
// address); feed SetRegistries() and SetPeers() from every config push and SetBackboneKey() when
// the key rotates; hand the Replicator to the OCI handlers as their registry::ContentSource.
// Tear down in reverse: stop the listener's server, destroy the Replicator, then the service.
//
// A push arrives as a manifest put followed by its tag; when the tag entry follows in the same
// batch and will win, the manifest is stored with its tag in one PutManifest (one event, as in
// the origin), so a batch never ends on a manifest put when more entries exist.
//
// ContentSource (read-through): RefreshTag asks every peer not marked down for its tag register
// in parallel (options.source_timeout each; a peer that does not answer is left alone for
// options.down_for) and applies the newest if it beats the local register, journaling it as the
// remote entry it is; FetchManifest/FetchBlob copy from the first peer that holds the content;
// RegionHolding asks peers in turn with HEAD.
//
// TLS: peers are verified against options.ca_pem and their `server_name` (else their address,
// as an IP SAN); see backbone_client.h.
//
// Thread-safety: every public method may be called from any thread, including while the pull
// threads run (SetPeers/SetRegistries are config pushes). OnRepositoryEvent runs on the thread
// of the change. The Replicator must be destroyed (or Stop()ped) before the RepositoryService,
// and the server that mounts handler() must stop calling it first (a long poll in flight may
// outlive the Replicator: it then answers 503).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "common/error.h"
#include "http/message.h"
#include "registry/content_source.h"
#include "registry/repository_service.h"
#include "replication/backbone_client.h"
#include "replication/hlc.h"
#include "replication/journal.h"

namespace cove::replication {

struct Peer {
  std::string region;   // e.g. "westus"
  std::string address;  // backbone address of its replication listener
  uint16_t port = 0;
  std::string server_name;  // optional: the name its certificate carries (else the address)
};

struct ReplicatorOptions {
  std::string region;        // this region
  std::string journal_path;  // SQLite file
  std::string backbone_key;  // shared secret (hex) every backbone request carries
  std::string ca_pem;        // CA that peer certificates chain to; "" = plain HTTP (tests)
  std::chrono::milliseconds poll_wait{5000};         // long-poll of /changes
  std::chrono::milliseconds request_timeout{30000};  // each read/write of a pull or fetch
  std::chrono::milliseconds retry_initial{100};      // backoff after a failed batch, doubling
  std::chrono::milliseconds retry_max{5000};
  std::chrono::milliseconds apply_delay{0};  // tests: each batch waits this long before applying
  int64_t batch_limit = 500;                 // entries per /changes
  int failed_after = 3;                      // consecutive failures before a peer is Failed
  // ContentSource: how long a peer may take to answer, and how long one that did not answer
  // is left alone.
  std::chrono::milliseconds source_timeout{1000};
  std::chrono::milliseconds down_for{5000};
};

struct PeerStatus {
  enum class State { kSyncing, kReady, kFailed };
  std::string region;
  State state = State::kSyncing;
  int64_t cursor = 0;       // last seq of the peer's journal applied here
  int64_t head = 0;         // the peer's head at the last poll
  int64_t lag_entries = 0;  // head - cursor
  int64_t lag_ms = 0;       // now - HLC ms of the oldest unapplied entry; 0 when caught up
  std::optional<Clock::TimePoint> last_success;
  std::string message;  // the last error, when Failed
};
std::string_view PeerStateName(PeerStatus::State state);

class Replicator final : public registry::RepositoryObserver, public registry::ContentSource {
 public:
  // Opens the journal, subscribes to `service` and starts serving (no peers yet: SetPeers).
  // `service` and `clock` must outlive the Replicator.
  static Result<std::unique_ptr<Replicator>> Open(registry::RepositoryService& service,
                                                  const Clock& clock, ReplicatorOptions options);
  ~Replicator() override;
  Replicator(const Replicator&) = delete;
  Replicator& operator=(const Replicator&) = delete;

  // Which regions hold each registry (this region's among them for the ones it serves). Runs
  // Reconcile for registries newly held here.
  void SetRegistries(std::map<std::string, std::vector<std::string>> registries);
  // The peers to pull from; a new peer starts at its stored cursor (0: backfill), a removed one
  // stops being pulled, a changed address is used from the next request on.
  void SetPeers(std::vector<Peer> peers);
  void SetBackboneKey(std::string key);
  // Journals the tags of `registries` that the journal does not know (crash gap).
  Status Reconcile(const std::vector<std::string>& registries);
  // Stops the pull threads and wakes long polls; idempotent.
  void Stop();

  std::vector<PeerStatus> Statuses() const;
  // The handler of the backbone endpoints (lives as long as the Replicator).
  http::Handler& handler();
  Journal& journal() { return *journal_; }
  const std::string& region() const { return options_.region; }

  // Tests: blobs this node serves get these bytes instead (nullopt: the real ones).
  void SetBlobFaultForTesting(std::function<std::optional<std::string>(const Digest&)> fault);

  // RepositoryObserver
  void OnRepositoryEvent(const registry::RepositoryEvent& event) override;

  // ContentSource
  Status RefreshTag(const storage::RepoKey& repo, const std::string& tag) override;
  Status FetchManifest(const storage::RepoKey& repo, const Digest& digest) override;
  std::optional<std::string> RegionHolding(const storage::RepoKey& repo,
                                           const Digest& digest) override;
  Status FetchBlob(const storage::RepoKey& repo, const Digest& digest) override;

 private:
  class Handler;
  class ChangesExchange;
  struct Liveness;
  struct PeerState;

  Replicator(registry::RepositoryService& service, const Clock& clock, ReplicatorOptions options,
             std::unique_ptr<Journal> journal);

  // Local writes.
  void RecordLocal(Entry entry);
  // Pulling.
  void PullLoop(std::shared_ptr<PeerState> peer);
  Status PullOnce(PeerState& peer, BackboneClient& client);
  std::string CurrentKey() const;
  // Applies a remote entry unless it is this region's own, of a registry not held here or
  // already journaled, then journals it (and sets `peer`'s cursor to its seq when set).
  // `next` is the entry that follows in the batch, if any.
  Status ApplyRemote(const Entry& entry, BackboneClient& client, const std::string* peer,
                     const Entry* next);
  // Applying; `client` reaches the peer that holds what the entry names.
  Status Apply(const Entry& entry, BackboneClient& client, const Entry* next);
  // Fetches the manifest (and what it names) unless held; stores it with `tag` when set.
  Status EnsureManifest(const storage::RepoKey& repo, const Digest& digest, BackboneClient& client,
                        int depth, const std::optional<std::string>& tag = std::nullopt);
  Status EnsureBlob(const storage::RepoKey& repo, const Digest& digest, BackboneClient& client);
  Status PointTag(const storage::RepoKey& repo, const std::string& tag, const Digest& digest,
                  BackboneClient& client);
  bool Holds(const std::string& registry) const;
  bool RegionHolds(const std::string& region, const std::string& registry) const;
  // Long polls.
  uint64_t WaiterGeneration();
  // Adds a long poll's wake-up unless the journal moved since `generation` (false then).
  bool AddWaiter(uint64_t generation, std::chrono::steady_clock::time_point deadline,
                 std::function<void()> ready);
  void NotifyWaiters();
  void WaiterLoop();
  bool CheckKey(std::string_view authorization) const;
  // ContentSource helpers: clients for the peers not known to be down.
  std::vector<std::pair<Peer, std::unique_ptr<BackboneClient>>> ReachablePeers();
  void MarkDown(const std::string& region);
  // Runs `fetch` against each reachable peer until one succeeds.
  Status FromPeers(const std::function<Status(BackboneClient&)>& fetch);

  registry::RepositoryService& service_;
  const Clock& clock_;
  ReplicatorOptions options_;
  std::unique_ptr<Journal> journal_;
  std::unique_ptr<Handler> handler_;
  std::shared_ptr<Liveness> live_;

  std::mutex clock_mu_;
  HybridClock hlc_;  // guarded by clock_mu_

  mutable std::mutex mu_;
  std::string backbone_key_;                                                 // guarded by mu_
  std::map<std::string, std::vector<std::string>> registries_;               // guarded by mu_
  std::map<std::string, std::shared_ptr<PeerState>> peers_;                  // guarded by mu_
  std::map<std::string, std::chrono::steady_clock::time_point> down_until_;  // guarded by mu_
  std::function<std::optional<std::string>(const Digest&)> blob_fault_;      // guarded by mu_
  bool stopped_ = false;                                                     // guarded by mu_

  std::mutex waiters_mu_;
  std::condition_variable waiters_cv_;
  struct Waiter {
    std::chrono::steady_clock::time_point deadline;
    std::function<void()> ready;
  };
  std::vector<Waiter> waiters_;     // guarded by waiters_mu_
  bool waiters_stop_ = false;       // guarded by waiters_mu_
  uint64_t waiter_generation_ = 0;  // guarded by waiters_mu_; bumped by each journal append
  std::thread waiter_thread_;
};

}  // namespace cove::replication
