#include "daemon/engines.h"

#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <cctype>
#include <filesystem>
#include <map>

#include "common/ascii.h"
#include "registry/url_signer.h"
#include "storage/azure_blob_store.h"
#include "storage/connection_string.h"
#include "storage/filesystem_blob_store.h"
#include "storage/postgres_meta_store.h"
#include "storage/postgres_secrets.h"
#include "storage/sqlite_meta_store.h"

namespace cove::daemon {
namespace {

std::string_view Trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

// Azurite's well-known development account (published in Azure's documentation).
constexpr std::string_view kDevAccount = "devstoreaccount1";
constexpr std::string_view kDevKey =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

Status MakePrivateDir(const std::string& path) {
  std::error_code ec;
  std::filesystem::create_directories(path, ec);
  if (ec) return Fail(Code::kIOError, "cannot create " + path + ": " + ec.message());
  ::chmod(path.c_str(), 0700);
  return Ok();
}

}  // namespace

Result<BlobsConnection> ParseBlobsConnection(std::string_view text) {
  std::map<std::string, std::string> parts;  // keys lowercased
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find(';', start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view part = Trim(text.substr(start, end - start));
    start = end + 1;
    if (part.empty()) continue;
    size_t eq = part.find('=');
    if (eq == std::string_view::npos || eq == 0) {
      return Fail(Code::kInvalidArgument,
                  "blobs: not an Azure Storage connection string (expected Key=Value pairs "
                  "separated by ';')");
    }
    parts[AsciiLower(Trim(part.substr(0, eq)))] = std::string(Trim(part.substr(eq + 1)));
  }
  static const std::map<std::string, std::string> kKnown = {
      {"defaultendpointsprotocol", ""}, {"accountname", ""},       {"accountkey", ""},
      {"blobendpoint", ""},             {"endpointsuffix", ""},    {"usedevelopmentstorage", ""},
      {"queueendpoint", ""},            {"tableendpoint", ""},     {"fileendpoint", ""}};
  for (const auto& [key, value] : parts) {
    if (!kKnown.count(key)) {
      return Fail(Code::kInvalidArgument, "blobs: unknown connection string key '" + key + "'");
    }
  }
  BlobsConnection c;
  if (AsciiLower(parts["usedevelopmentstorage"]) == "true") {
    c.account = kDevAccount;
    c.key = kDevKey;
    c.endpoint = "http://127.0.0.1:10000/" + c.account;
    return c;
  }
  c.account = parts["accountname"];
  c.key = parts["accountkey"];
  if (c.account.empty()) return Fail(Code::kInvalidArgument, "blobs: AccountName is missing");
  if (c.key.empty()) {
    return Fail(Code::kInvalidArgument,
                "blobs: AccountKey is missing (cove signs with Shared Key; SAS is not supported)");
  }
  if (!parts["blobendpoint"].empty()) {
    c.endpoint = parts["blobendpoint"];
    while (c.endpoint.ends_with('/')) c.endpoint.pop_back();
  } else {
    std::string protocol = parts["defaultendpointsprotocol"].empty()
                               ? "https"
                               : AsciiLower(parts["defaultendpointsprotocol"]);
    std::string suffix =
        parts["endpointsuffix"].empty() ? "core.windows.net" : parts["endpointsuffix"];
    c.endpoint = protocol + "://" + c.account + ".blob." + suffix;
  }
  if (!c.endpoint.starts_with("https://") && !c.endpoint.starts_with("http://")) {
    return Fail(Code::kInvalidArgument, "blobs: the blob endpoint must be http:// or https://");
  }
  return c;
}


std::string SchemaFor(const std::string& region) {
  return region.empty() ? "cove" : "cove_" + region;
}

std::string ContainerFor(const std::string& region) {
  // Container names: 3-63 of [a-z0-9-]; Azure region names are [a-z0-9].
  return region.empty() ? "cove" : "cove-" + region;
}

namespace {

Status OpenEmbeddedBlobs(const Config& config, const Clock& clock, Engines& e) {
  const std::string& dir = config.data_dir;
  if (config.zone_redundant) {
    COVE_ASSIGN_OR_RETURN(
        auto zoned, storage::OpenZoneRedundantBlobStore(
                        {dir + "/blobs", dir + "/zones/2/blobs", dir + "/zones/3/blobs"}, clock));
    e.zones = zoned.get();
    e.blobs = std::move(zoned);
    return Ok();
  }
  COVE_ASSIGN_OR_RETURN(e.blobs, storage::FilesystemBlobStore::Open(dir + "/blobs", clock));
  return Ok();
}

Status OpenEmbeddedKeys(const std::string& secrets, Engines& e) {
  COVE_RETURN_IF_ERROR(MakePrivateDir(secrets + "/keys"));
  COVE_ASSIGN_OR_RETURN(e.token_keys, auth::OpenKeyDirectory(secrets + "/keys/token-signing"));
  COVE_ASSIGN_OR_RETURN(e.identity_keys,
                        auth::OpenKeyDirectory(secrets + "/keys/identity-signing"));
  COVE_ASSIGN_OR_RETURN(e.url_keys, auth::OpenKeyDirectory(secrets + "/keys/blob-url", ".key"));
  // The single key of a data directory from before rotation (daemon/url_keys.h).
  std::string legacy = secrets + "/keys/blob-url.key";
  if (std::filesystem::exists(legacy)) {
    COVE_ASSIGN_OR_RETURN(e.legacy_url_key, registry::UrlSigner::LoadOrCreateKey(legacy));
  }
  return Ok();
}

Status OpenSharedBlobs(const Config& config, const Clock& clock, Engines& e) {
  std::string where = "blobs (Azure Blob Storage " + storage::RedactConnection(config.blobs) + ")";
  auto connection = ParseBlobsConnection(config.blobs);
  if (!connection) return Fail(connection.error().code, connection.error().message);
  auto store = storage::AzureBlobStore::Open({.endpoint = connection->endpoint,
                                              .account = connection->account,
                                              .key = connection->key,
                                              .container = ContainerFor(config.region),
                                              .ca_file = "",
                                              .clock = &clock});
  if (!store) return Fail(store.error().code, where + ": " + store.error().message);
  e.blobs = std::move(*store);
  e.shared_blobs = true;
  return Ok();
}

// PostgreSQL, behind a cache that the database's change feed keeps current: every other node's
// change to a tag or manifest drops this node's copy when it commits; while the feed is down the
// cache is off (engines.h).
Status OpenSharedMetadata(const Config& config, const Clock& clock, Engines& e) {
  std::string where = "metadata (PostgreSQL " + storage::RedactConnection(config.metadata) + ")";
  auto opened = storage::PostgresMetaStore::Open(
      {.conninfo = config.metadata, .schema = SchemaFor(config.region), .clock = &clock});
  if (!opened) return Fail(opened.error().code, where + ": " + opened.error().message);
  auto* postgres = static_cast<storage::PostgresMetaStore*>(opened->get());
  auto cache = std::make_unique<storage::CachingMetaStore>(std::move(*opened));
  storage::CachingMetaStore* cached = cache.get();
  auto listened = postgres->Listen([cached](const storage::Invalidation& change) {
    if (change.everything) {
      // The feed was down: what it missed is unknown. Start over, and stay on (the listener
      // calls this once it is back).
      cached->InvalidateAll();
      cached->SetEnabled(true);
      return;
    }
    cached->Invalidate(change.registry, change.repository);
  });
  if (!listened) return Fail(listened.error().code, where + ": " + listened.error().message);
  e.cache = cached;
  e.meta = std::move(cache);
  e.shared_metadata = true;
  return Ok();
}

// A KeyRing's keys as rows of the shared database (kind = the ring's purpose).
class DatabaseKeyStorage final : public auth::KeyStorage {
 public:
  DatabaseKeyStorage(std::shared_ptr<storage::PostgresSecrets> secrets, std::string kind)
      : secrets_(std::move(secrets)), kind_(std::move(kind)) {}
  Result<std::map<std::string, std::string>> List() override { return secrets_->List(kind_); }
  Status Put(const std::string& kid, const std::string& pem) override {
    return secrets_->Put(kind_, kid, pem);
  }
  Status Remove(const std::string& kid) override { return secrets_->Remove(kind_, kid); }
  std::string Describe() const override { return secrets_->where() + " " + kind_; }

 private:
  std::shared_ptr<storage::PostgresSecrets> secrets_;
  std::string kind_;
};

Status OpenDatabaseKeys(const Config& config, Engines& e) {
  auto opened = storage::PostgresSecrets::Open(config.metadata, SchemaFor(config.region));
  if (!opened) {
    return Fail(opened.error().code, "keys (PostgreSQL " +
                                         storage::RedactConnection(config.metadata) +
                                         "): " + opened.error().message);
  }
  std::shared_ptr<storage::PostgresSecrets> secrets = std::move(*opened);
  e.token_keys = std::make_unique<DatabaseKeyStorage>(secrets, "token-signing");
  e.identity_keys = std::make_unique<DatabaseKeyStorage>(secrets, "identity-signing");
  e.url_keys = std::make_unique<DatabaseKeyStorage>(secrets, "blob-url");
  return Ok();
}

}  // namespace

Result<Engines> OpenEngines(const Config& config, const Clock& clock) {
  Engines e;
  const std::string& secrets = config.secrets_dir.empty() ? config.data_dir : config.secrets_dir;
  COVE_RETURN_IF_ERROR(MakePrivateDir(config.data_dir));
  if (!config.blobs.empty()) {
    COVE_RETURN_IF_ERROR(OpenSharedBlobs(config, clock, e));
  } else {
    COVE_RETURN_IF_ERROR(OpenEmbeddedBlobs(config, clock, e));
  }
  if (!config.metadata.empty()) {
    COVE_RETURN_IF_ERROR(OpenSharedMetadata(config, clock, e));
  } else {
    COVE_ASSIGN_OR_RETURN(e.meta, storage::SqliteMetaStore::Open(config.data_dir + "/meta.db", clock));
  }
  // A region node signs with the full daemon's keys (its files), whatever its engines.
  if (!config.metadata.empty() && config.region.empty()) {
    COVE_RETURN_IF_ERROR(OpenDatabaseKeys(config, e));
  } else {
    COVE_RETURN_IF_ERROR(OpenEmbeddedKeys(secrets, e));
  }
  return e;
}

EngineHealth ProbeEngines(storage::MetaStore& meta, storage::BlobStore& blobs) {
  // Reads of things that do not exist: kNotFound is a healthy engine's answer.
  static const Digest kAbsent = Digest::Of("cove health probe");
  EngineHealth h{"ok", "ok"};
  if (auto tag = meta.ResolveTag({"-cove-health", "-"}, "-");
      !tag && tag.error().code != Code::kNotFound) {
    spdlog::warn("health: metadata: {}", tag.error().ToString());
    h.metadata = "unavailable";
  }
  if (auto stat = blobs.Stat(kAbsent); !stat && stat.error().code != Code::kNotFound) {
    spdlog::warn("health: blobs: {}", stat.error().ToString());
    h.blobs = "unavailable";
  }
  return h;
}

}  // namespace cove::daemon
