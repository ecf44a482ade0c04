// Fuzzes the request router and the Distribution API handler end to end, without sockets:
// bytes become a request (method, target, a few headers, body) and run through
// Registry::Start / OnBody / Finish on real stores in a temp directory. Any crash, sanitizer
// report or response that is not a valid HTTP status is a finding.
//
// Input layout: lines "METHOD\nTARGET\nHeader: value\n...\n\nBODY".
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "registry/registry.h"
#include "registry/route.h"
#include "storage/filesystem_blob_store.h"
#include "storage/sqlite_meta_store.h"

namespace {

struct World {
  cove::ManualClock clock;
  cove::storage::BlobStorePtr blobs;
  cove::storage::MetaStorePtr meta;
  std::unique_ptr<cove::registry::UrlSigner> signer;
  std::unique_ptr<cove::registry::Registry> registry;

  World() {
    std::string dir = "/tmp/cove-router-fuzz-" + std::to_string(::getpid());
    std::filesystem::remove_all(dir);
    blobs = std::move(*cove::storage::FilesystemBlobStore::Open(dir, clock));
    meta = std::move(*cove::storage::SqliteMetaStore::Open(":memory:"));
    signer = std::make_unique<cove::registry::UrlSigner>(std::string(32, 'k'), clock);
    auto directory = cove::registry::Directory::Create(
        "azurecr.io", {{"myregistry", "westus", {"eastus"}, true}}, "myregistry");
    registry = std::make_unique<cove::registry::Registry>(*directory, *blobs, *meta, *signer,
                                                          clock);
    std::atexit([] { std::filesystem::remove_all("/tmp/cove-router-fuzz-" +
                                                 std::to_string(::getpid())); });
  }
};

std::string_view NextLine(std::string_view& in) {
  auto nl = in.find('\n');
  std::string_view line = in.substr(0, nl);
  in = nl == std::string_view::npos ? std::string_view() : in.substr(nl + 1);
  return line;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static World world;
  std::string_view in(reinterpret_cast<const char*>(data), size);
  cove::http::Request req;
  req.method = std::string(NextLine(in));
  req.target = std::string(NextLine(in));
  (void)cove::registry::ParseRoute(req.path());
  for (int i = 0; i < 8 && !in.empty(); ++i) {
    std::string_view line = NextLine(in);
    if (line.empty()) break;
    auto colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
    req.headers.Add(std::string(line.substr(0, colon)), std::string(value));
  }
  req.content_length = in.size();
  auto exchange = world.registry->Start(std::move(req));
  std::optional<cove::http::Response> early;
  for (size_t i = 0; i < in.size() && !early; i += 64) early = exchange->OnBody(in.substr(i, 64));
  cove::http::Response r = early ? std::move(*early) : exchange->Finish();
  if (r.status < 100 || r.status > 599) std::abort();
  return 0;
}
