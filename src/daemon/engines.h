// Engines: the stores a registry node runs on, chosen from its Config.
//
//   embedded (the default)   <data>/meta.db (SQLite) and <data>/blobs (the filesystem; three
//                            roots when zone-redundant); keys (keys/token-signing/,
//                            keys/identity-signing/, keys/blob-url/) and the CA under
//                            secrets_dir.
//                            One node owns them.
//   shared                   Config::metadata, a PostgreSQL connection string, and
//                            Config::blobs, an Azure Storage connection string. Nodes over the
//                            same ones are interchangeable: an upload started on one continues
//                            on another, a signed data-endpoint URL verifies on any, and each
//                            node's cache hears the others' changes (PostgreSQL LISTEN/NOTIFY,
//                            storage/caching_meta_store.h). The token-signing keys and the
//                            data-endpoint URL keys then live in the database (they rotate and
//                            every node re-reads them) — except on a region node, which signs
//                            with the full daemon's key files; the CA and host certificates
//                            stay files under secrets_dir, which nodes share or are given.
// Each engine may be shared alone (PostgreSQL with local blobs suits one node that wants its
// metadata in a managed database). A region node (daemon/region_node.h) keeps its region's data
// apart in the same engines: PostgreSQL schema `cove_<region>`, blob container `cove-<region>`;
// a node without a region uses `cove` for both.
//
// Opening refuses to start a node against an engine it cannot reach, with a message that names
// the engine and where it is, never its password or account key (storage::RedactConnection).
//
// Thread-safety: the parsers are pure functions; Engines is owned by one RegistryNode.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "auth/keys.h"
#include "common/clock.h"
#include "common/error.h"
#include "daemon/config.h"
#include "storage/blob_store.h"
#include "storage/caching_meta_store.h"
#include "storage/meta_store.h"
#include "storage/quorum_blob_store.h"

namespace cove::daemon {

// An Azure Storage connection string, as `az storage account show-connection-string` prints it:
// `;`-separated key=value pairs, of which AccountName and AccountKey are required; the blob
// endpoint is BlobEndpoint when given, else DefaultEndpointsProtocol (default https)
// "://<AccountName>.blob." EndpointSuffix (default core.windows.net).
// "UseDevelopmentStorage=true" is Azurite's well-known account on 127.0.0.1:10000.
struct BlobsConnection {
  std::string endpoint;  // "https://acct.blob.core.windows.net" or "http://127.0.0.1:10000/acct"
  std::string account;
  std::string key;       // base64, as given
};
// kInvalidArgument naming the missing or unknown part (never echoing the key).
Result<BlobsConnection> ParseBlobsConnection(std::string_view text);

// The PostgreSQL schema and the blob container of a node serving `region` ("" = none).
std::string SchemaFor(const std::string& region);
std::string ContainerFor(const std::string& region);

// What a node runs on. Only the fields its Config asks for are set: zones for a
// zone-redundant embedded blob store, cache for shared metadata.
struct Engines {
  storage::BlobStorePtr blobs;
  storage::QuorumBlobStore* zones = nullptr;    // owned by blobs
  storage::MetaStorePtr meta;                   // the cache in front of the engine when shared
  storage::CachingMetaStore* cache = nullptr;   // owned by meta
  // Where the signing keys (auth::KeyRing) and the data-endpoint URL keys (UrlKeys) are kept.
  std::unique_ptr<auth::KeyStorage> token_keys, identity_keys, url_keys;
  std::string legacy_url_key;  // a pre-rotation data directory's one URL key, or ""
  bool shared_metadata = false, shared_blobs = false;
};

// Opens the engines `config` names. Errors name the engine: "metadata (PostgreSQL
// postgresql://cove:***@db/cove): ..." / "blobs (Azure Blob Storage https://…): ...".
Result<Engines> OpenEngines(const Config& config, const Clock& clock);

// One engine's health for /cove/health: "ok", or "unavailable: <reason>" (the reason is logged,
// not answered). Probes with a read that cannot change anything.
struct EngineHealth {
  std::string metadata, blobs;  // "ok" or "unavailable"
  bool ok() const { return metadata == "ok" && blobs == "ok"; }
};
EngineHealth ProbeEngines(storage::MetaStore& meta, storage::BlobStore& blobs);

}  // namespace cove::daemon
