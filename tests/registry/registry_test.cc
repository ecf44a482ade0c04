// The Distribution API over loopback: a real http::Server on 127.0.0.1 in front of the Registry,
// on the real filesystem blob store and SQLite metadata store, talked to with plain HTTP/1.1.
// A few cases that need to control the transport itself (a TLS peer, a connection dying
// mid-body) drive the Handler directly. Written from distribution-spec v1.1.
#include "registry/registry.h"

#include <unistd.h>

#include <filesystem>
#include <map>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "access/access.h"
#include "common/digest.h"
#include "http/server.h"
#include "oci/manifest.h"
#include "registry/content_source.h"
#include "registry/route.h"
#include "storage/filesystem_blob_store.h"
#include "storage/sqlite_meta_store.h"
#include "support/raw_http.h"

namespace cove::registry {
namespace {

using json = nlohmann::json;

constexpr char kLogin[] = "myregistry.azurecr.io";
constexpr char kPlain[] = "plainreg.azurecr.io";
constexpr char kData[] = "myregistry.westus.data.azurecr.io";

struct Reply {
  int status = 0;
  http::Headers headers;
  std::string body;
  bool close = false;

  std::string Header(std::string_view name) const {
    return std::string(headers.Get(name).value_or(""));
  }
  std::string ErrorCode() const {
    auto j = json::parse(body, nullptr, false);
    if (!j.is_object() || !j.contains("errors")) return "";
    return j["errors"][0]["code"].get<std::string>();
  }
};

std::string ReadFileBody(const http::FileBody& f) {
  std::string out(f.length, '\0');
  size_t done = 0;
  while (done < f.length) {
    ssize_t n = ::pread(f.fd.get(), out.data() + done, f.length - done, f.offset + done);
    if (n <= 0) break;
    done += n;
  }
  out.resize(done);
  return out;
}

class RegistryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("cove-registry-test-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    Reopen();
  }
  void TearDown() override {
    Close();
    std::filesystem::remove_all(dir_);
  }

  // Stops the server and drops the registry and stores, newest first.
  void Close() {
    conn_.reset();
    if (server_) server_->Stop();
    server_.reset();
    registry_.reset();
    meta_.reset();
    blobs_.reset();
  }

  // Opens the filesystem blob store `<prefix>blobs` and the metadata `<prefix>meta.db` in dir_.
  void OpenStores(const std::string& prefix, storage::BlobStorePtr& blobs_out,
                  storage::MetaStorePtr& meta_out) {
    auto blobs = storage::FilesystemBlobStore::Open((dir_ / (prefix + "blobs")).string(), clock_);
    ASSERT_TRUE(blobs) << blobs.error().ToString();
    blobs_out = std::move(*blobs);
    auto meta = storage::SqliteMetaStore::Open((dir_ / (prefix + "meta.db")).string());
    ASSERT_TRUE(meta) << meta.error().ToString();
    meta_out = std::move(*meta);
  }

  // Opens (or re-opens, as after a restart) the stores and the registry on dir_.
  void Reopen() {
    Close();
    OpenStores("", blobs_, meta_);
    if (!meta_) return;
    RegistryInfo with_data{"myregistry", "westus", {"westus", "eastus"}, true};
    RegistryInfo plain{"plainreg", "westus", {"westus"}, false};
    auto directory = Directory::Create("azurecr.io", {with_data, plain}, "plainreg");
    ASSERT_TRUE(directory) << directory.error().ToString();
    RegistryOptions options;
    options.new_upload_id = [this] { return "upload" + std::to_string(++ids_); };
    options.region = region_;
    registry_ = std::make_unique<Registry>(*directory, *blobs_, *meta_, signer_, clock_, options);
    server_ = std::make_unique<http::Server>(*registry_, nullptr);
    auto port = server_->Listen({.address = "127.0.0.1", .port = 0});
    ASSERT_TRUE(port) << port.error().ToString();
    port_ = *port;
    server_->Start();
  }

  // One request over loopback (keep-alive; a new connection after the server closed one).
  Reply Do(const std::string& method, const std::string& target, const std::string& body = "",
           std::map<std::string, std::string> headers = {}, std::string host = kPlain) {
    if (auto h = headers.find("Host"); h != headers.end()) {
      host = h->second;
      headers.erase(h);
    }
    if (!conn_) conn_ = std::make_unique<cove::testing::RawHttp>(port_);
    auto raw = conn_->Request(method, target, body, headers, host);
    Reply reply;
    reply.status = raw.status;
    reply.body = raw.body;
    reply.close = raw.closed;
    std::string_view head = raw.head;
    head.remove_prefix(std::min(head.size(), head.find("\r\n") + 2));
    while (!head.empty() && !head.starts_with("\r\n")) {
      auto eol = head.find("\r\n");
      std::string_view line = head.substr(0, eol);
      auto colon = line.find(':');
      std::string_view value = line.substr(colon + 1);
      while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
      reply.headers.Add(std::string(line.substr(0, colon)), std::string(value));
      head.remove_prefix(std::min(head.size(), eol + 2));
    }
    if (method == "HEAD") reply.headers.Set("X-Test-Length", std::to_string(raw.content_length));
    if (raw.closed || raw.status == 0) conn_.reset();
    return reply;
  }

  // One request straight through the Handler, as a transport would drive it.
  Reply DoDirect(const std::string& method, const std::string& target, const std::string& body = "",
                 std::map<std::string, std::string> headers = {}, const std::string& host = kPlain,
                 bool tls = true, std::shared_ptr<const access::Verdict> verdict = nullptr) {
    http::Request req;
    req.verdict = std::move(verdict);
    req.method = method;
    req.target = target;
    req.headers.Set("Host", host);
    for (auto& [k, v] : headers) req.headers.Set(k, v);
    if (!body.empty() || method == "PUT" || method == "PATCH" || method == "POST") {
      req.content_length = body.size();
    }
    req.peer.tls = tls;
    auto exchange = registry_->Start(std::move(req));
    Reply reply;
    http::Response response;
    bool early = false;
    for (size_t i = 0; i < body.size(); i += 4096) {
      if (auto r = exchange->OnBody(std::string_view(body).substr(i, 4096))) {
        response = std::move(*r);
        early = true;
        break;
      }
    }
    if (!early) response = exchange->Finish();
    reply.status = response.status;
    reply.headers = response.headers;
    reply.close = response.close;
    if (method == "HEAD") {  // the transport sends the length, never the body
      reply.headers.Set("X-Test-Length", std::to_string(response.BodySize()));
    } else if (auto* s = std::get_if<std::string>(&response.body)) {
      reply.body = *s;
    } else if (auto* f = std::get_if<http::FileBody>(&response.body)) {
      reply.body = ReadFileBody(*f);
    }
    return reply;
  }

  // Monolithic push; returns the digest.
  std::string PushBlob(const std::string& repo, const std::string& content,
                       const std::string& host = kPlain) {
    std::string digest = Digest::Of(content).str();
    auto r = Do("POST", "/v2/" + repo + "/blobs/uploads/?digest=" + digest, content, {}, host);
    EXPECT_EQ(r.status, 201) << r.body;
    return digest;
  }

  std::string ImageManifest(const std::string& config, const std::vector<std::string>& layers,
                            const std::string& subject = "") {
    json m = {{"schemaVersion", 2},
              {"mediaType", "application/vnd.oci.image.manifest.v1+json"},
              {"config",
               {{"mediaType", "application/vnd.oci.image.config.v1+json"},
                {"digest", Digest::Of(config).str()},
                {"size", config.size()}}},
              {"layers", json::array()}};
    for (const auto& l : layers) {
      m["layers"].push_back({{"mediaType", "application/vnd.oci.image.layer.v1.tar+gzip"},
                             {"digest", Digest::Of(l).str()},
                             {"size", l.size()}});
    }
    if (!subject.empty()) {
      m["subject"] = {{"mediaType", "application/vnd.oci.image.manifest.v1+json"},
                      {"digest", Digest::Of(subject).str()},
                      {"size", subject.size()}};
    }
    return m.dump();
  }

  // Pushes config+layers and the manifest under `reference`; returns the manifest bytes.
  std::string PushImage(const std::string& repo, const std::string& reference,
                        const std::string& seed, const std::string& host = kPlain) {
    std::string config = "{\"seed\":\"" + seed + "\"}";
    std::string layer = "layer-of-" + seed;
    PushBlob(repo, config, host);
    PushBlob(repo, layer, host);
    std::string manifest = ImageManifest(config, {layer});
    auto r = Do("PUT", "/v2/" + repo + "/manifests/" + reference, manifest,
                {{"Content-Type", "application/vnd.oci.image.manifest.v1+json"}}, host);
    EXPECT_EQ(r.status, 201) << r.body;
    return manifest;
  }

  std::filesystem::path dir_;
  std::string region_;  // RegistryOptions::region at the next Reopen
  ManualClock clock_;
  UrlSigner signer_{std::string(32, 'k'), clock_};
  storage::BlobStorePtr blobs_;
  storage::MetaStorePtr meta_;
  std::unique_ptr<Registry> registry_;
  std::unique_ptr<http::Server> server_;
  std::unique_ptr<cove::testing::RawHttp> conn_;
  uint16_t port_ = 0;
  int ids_ = 0;
};

TEST(RouteTest, ParsesEveryEndpoint) {
  EXPECT_EQ(ParseRoute("/v2/").kind, Route::kBase);
  EXPECT_EQ(ParseRoute("/v2").kind, Route::kBase);
  EXPECT_EQ(ParseRoute("/v2/_catalog").kind, Route::kCatalog);
  auto t = ParseRoute("/v2/a/b/tags/list");
  EXPECT_EQ(t.kind, Route::kTags);
  EXPECT_EQ(t.name, "a/b");
  auto m = ParseRoute("/v2/x/manifests/latest");
  EXPECT_EQ(m.kind, Route::kManifest);
  EXPECT_EQ(m.reference, "latest");
  auto b = ParseRoute("/v2/blobs/blobs/sha256:00");
  EXPECT_EQ(b.kind, Route::kBlob);
  EXPECT_EQ(b.name, "blobs");
  EXPECT_EQ(ParseRoute("/v2/a/blobs/uploads/").kind, Route::kUploadStart);
  auto u = ParseRoute("/v2/a/blobs/uploads/abc");
  EXPECT_EQ(u.kind, Route::kUpload);
  EXPECT_EQ(u.reference, "abc");
  EXPECT_EQ(ParseRoute("/v2/a/referrers/sha256:1").kind, Route::kReferrers);
  for (const char* bad : {"/", "/v1/", "/v2/manifests/x", "/v2/a/manifests/", "/v2/a/blobs/",
                          "/v2/a/unknown/x", "/v2//blobs/uploads/"}) {
    EXPECT_EQ(ParseRoute(bad).kind, Route::kNotFound) << bad;
  }
}

TEST_F(RegistryTest, BaseAnswersWithApiVersion) {
  auto r = Do("GET", "/v2/");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.Header("Docker-Distribution-API-Version"), "registry/2.0");
  EXPECT_EQ(Do("HEAD", "/v2/").status, 200);
  EXPECT_EQ(Do("DELETE", "/v2/").status, 405);
}

TEST_F(RegistryTest, MonolithicPushThenPull) {
  std::string content(100000, 'x');
  std::string digest = PushBlob("library/ubuntu", content);
  auto get = Do("GET", "/v2/library/ubuntu/blobs/" + digest);
  EXPECT_EQ(get.status, 200);
  EXPECT_EQ(get.body, content);
  EXPECT_EQ(get.Header("Docker-Content-Digest"), digest);
  auto head = Do("HEAD", "/v2/library/ubuntu/blobs/" + digest);
  EXPECT_EQ(head.status, 200);
  EXPECT_EQ(head.Header("X-Test-Length"), "100000");
  // Not visible in another repository.
  auto other = Do("GET", "/v2/other/blobs/" + digest);
  EXPECT_EQ(other.status, 404);
  EXPECT_EQ(other.ErrorCode(), "BLOB_UNKNOWN");
}

TEST_F(RegistryTest, PostThenPut) {
  auto post = Do("POST", "/v2/repo/blobs/uploads/");
  ASSERT_EQ(post.status, 202);
  EXPECT_EQ(post.Header("Location"), "/v2/repo/blobs/uploads/upload1");
  EXPECT_EQ(post.Header("Range"), "0-0");
  EXPECT_EQ(post.Header("Docker-Upload-UUID"), "upload1");
  std::string content = "hello blob";
  auto put = Do("PUT", post.Header("Location") + "?digest=" + Digest::Of(content).str(), content);
  EXPECT_EQ(put.status, 201);
  EXPECT_EQ(put.Header("Location"), "/v2/repo/blobs/" + Digest::Of(content).str());
  EXPECT_EQ(Do("GET", put.Header("Location")).body, content);
}

TEST_F(RegistryTest, ChunkedUploadWithContentRange) {
  std::string a(5000, 'a'), b(7000, 'b'), c(10, 'c');
  auto loc = Do("POST", "/v2/repo/blobs/uploads/").Header("Location");
  auto p1 = Do("PATCH", loc, a, {{"Content-Range", "0-4999"}});
  ASSERT_EQ(p1.status, 202) << p1.body;
  EXPECT_EQ(p1.Header("Range"), "0-4999");
  // Out of order: starts at the wrong offset.
  auto bad = Do("PATCH", loc, b, {{"Content-Range", "4000-10999"}});
  EXPECT_EQ(bad.status, 416);
  EXPECT_EQ(bad.Header("Range"), "0-4999");
  // Content-Range that disagrees with Content-Length.
  EXPECT_EQ(Do("PATCH", loc, b, {{"Content-Range", "5000-5001"}}).status, 416);
  EXPECT_EQ(Do("PATCH", loc, b, {{"Content-Range", "garbage"}}).status, 416);
  auto p2 = Do("PATCH", loc, b, {{"Content-Range", "5000-11999"}});
  ASSERT_EQ(p2.status, 202);
  auto status = Do("GET", loc);
  EXPECT_EQ(status.status, 204);
  EXPECT_EQ(status.Header("Range"), "0-11999");
  EXPECT_EQ(status.Header("Location"), loc);
  // Final chunk in the PUT.
  std::string all = a + b + c;
  auto put = Do("PUT", loc + "?digest=" + Digest::Of(all).str(), c);
  ASSERT_EQ(put.status, 201) << put.body;
  EXPECT_EQ(Do("GET", put.Header("Location")).body, all);
  // The session is gone.
  EXPECT_EQ(Do("GET", loc).ErrorCode(), "BLOB_UPLOAD_UNKNOWN");
}

TEST_F(RegistryTest, PatchWithoutContentRangeStreams) {
  auto loc = Do("POST", "/v2/repo/blobs/uploads/").Header("Location");
  std::string big(300000, 'z');
  EXPECT_EQ(Do("PATCH", loc, big).status, 202);
  EXPECT_EQ(Do("PATCH", loc, big).Header("Range"), "0-599999");
  auto put = Do("PUT", loc + "?digest=" + Digest::Of(big + big).str());
  EXPECT_EQ(put.status, 201);
}

TEST_F(RegistryTest, DigestMismatchIsRefused) {
  auto loc = Do("POST", "/v2/repo/blobs/uploads/").Header("Location");
  auto put = Do("PUT", loc + "?digest=" + Digest::Of("other").str(), "content");
  EXPECT_EQ(put.status, 400);
  EXPECT_EQ(put.ErrorCode(), "DIGEST_INVALID");
  // Monolithic: nothing stays behind.
  auto mono = Do("POST", "/v2/repo/blobs/uploads/?digest=" + Digest::Of("other").str(), "x");
  EXPECT_EQ(mono.ErrorCode(), "DIGEST_INVALID");
  EXPECT_EQ(Do("GET", "/v2/repo/blobs/" + Digest::Of("x").str()).status, 404);
  // Missing or malformed digest on PUT.
  EXPECT_EQ(Do("PUT", loc).ErrorCode(), "DIGEST_INVALID");
  EXPECT_EQ(Do("PUT", loc + "?digest=sha256:abc").ErrorCode(), "DIGEST_INVALID");
}

TEST_F(RegistryTest, CancelUpload) {
  auto loc = Do("POST", "/v2/repo/blobs/uploads/").Header("Location");
  EXPECT_EQ(Do("PATCH", loc, "abc").status, 202);
  EXPECT_EQ(Do("DELETE", loc).status, 204);
  auto gone = Do("GET", loc);
  EXPECT_EQ(gone.status, 404);
  EXPECT_EQ(gone.ErrorCode(), "BLOB_UPLOAD_UNKNOWN");
  EXPECT_EQ(Do("PATCH", "/v2/repo/blobs/uploads/nosuch", "abc").ErrorCode(),
            "BLOB_UPLOAD_UNKNOWN");
  // An upload is bound to its repository.
  auto loc2 = Do("POST", "/v2/repo/blobs/uploads/").Header("Location");
  std::string id = loc2.substr(loc2.rfind('/') + 1);
  EXPECT_EQ(Do("GET", "/v2/other/blobs/uploads/" + id).ErrorCode(), "BLOB_UPLOAD_UNKNOWN");
}

TEST_F(RegistryTest, CrossRepositoryMount) {
  std::string digest = PushBlob("source", "shared layer");
  auto mounted = Do("POST", "/v2/target/blobs/uploads/?mount=" + digest + "&from=source");
  EXPECT_EQ(mounted.status, 201);
  EXPECT_EQ(mounted.Header("Location"), "/v2/target/blobs/" + digest);
  EXPECT_EQ(Do("GET", "/v2/target/blobs/" + digest).body, "shared layer");
  // Not in the source: falls back to an upload session.
  auto fallback =
      Do("POST", "/v2/target/blobs/uploads/?mount=" + Digest::Of("nope").str() + "&from=source");
  EXPECT_EQ(fallback.status, 202);
  EXPECT_NE(fallback.Header("Location").find("/v2/target/blobs/uploads/"), std::string::npos);
  // Another registry's repository of the same name is not a source.
  auto cross = Do("POST", "/v2/target/blobs/uploads/?mount=" + digest + "&from=source", "", {},
                  kLogin);
  EXPECT_EQ(cross.status, 202);
}

TEST_F(RegistryTest, BlobRanges) {
  std::string content = "0123456789";
  std::string digest = PushBlob("repo", content);
  auto part = Do("GET", "/v2/repo/blobs/" + digest, "", {{"Range", "bytes=2-5"}});
  EXPECT_EQ(part.status, 206);
  EXPECT_EQ(part.body, "2345");
  EXPECT_EQ(part.Header("Content-Range"), "bytes 2-5/10");
  EXPECT_EQ(Do("GET", "/v2/repo/blobs/" + digest, "", {{"Range", "bytes=7-"}}).body, "789");
  EXPECT_EQ(Do("GET", "/v2/repo/blobs/" + digest, "", {{"Range", "bytes=-3"}}).body, "789");
  EXPECT_EQ(Do("GET", "/v2/repo/blobs/" + digest, "", {{"Range", "bytes=5-100"}}).body, "56789");
  auto bad = Do("GET", "/v2/repo/blobs/" + digest, "", {{"Range", "bytes=20-30"}});
  EXPECT_EQ(bad.status, 416);
  EXPECT_EQ(bad.Header("Content-Range"), "bytes */10");
  EXPECT_EQ(Do("GET", "/v2/repo/blobs/" + digest, "", {{"Range", "bytes=5-2"}}).status, 416);
}

TEST_F(RegistryTest, ManifestPushNeedsItsBlobs) {
  std::string config = "{}", layer = "layer";
  std::string manifest = ImageManifest(config, {layer});
  auto refused = Do("PUT", "/v2/app/manifests/v1", manifest,
                    {{"Content-Type", "application/vnd.oci.image.manifest.v1+json"}});
  EXPECT_EQ(refused.status, 400);  // as distribution: the request names missing content
  EXPECT_EQ(refused.ErrorCode(), "MANIFEST_BLOB_UNKNOWN");
  PushBlob("app", config);
  PushBlob("app", layer);
  auto put = Do("PUT", "/v2/app/manifests/v1", manifest,
                {{"Content-Type", "application/vnd.oci.image.manifest.v1+json"}});
  ASSERT_EQ(put.status, 201) << put.body;
  std::string digest = Digest::Of(manifest).str();
  EXPECT_EQ(put.Header("Docker-Content-Digest"), digest);
  EXPECT_EQ(put.Header("Location"), "/v2/app/manifests/" + digest);
  for (const std::string& ref : {std::string("v1"), digest}) {
    auto get = Do("GET", "/v2/app/manifests/" + ref);
    EXPECT_EQ(get.status, 200);
    EXPECT_EQ(get.body, manifest);
    EXPECT_EQ(get.Header("Content-Type"), "application/vnd.oci.image.manifest.v1+json");
    EXPECT_EQ(get.Header("Docker-Content-Digest"), digest);
    auto head = Do("HEAD", "/v2/app/manifests/" + ref);
    EXPECT_EQ(head.status, 200);
    EXPECT_EQ(head.Header("X-Test-Length"), std::to_string(manifest.size()));
  }
  EXPECT_EQ(Do("GET", "/v2/app/manifests/v2").ErrorCode(), "MANIFEST_UNKNOWN");
}

TEST_F(RegistryTest, ManifestDigestReferenceMustMatch) {
  std::string manifest = PushImage("app", "v1", "a");
  auto wrong = Do("PUT", "/v2/app/manifests/" + Digest::Of("x").str(), manifest,
                  {{"Content-Type", "application/vnd.oci.image.manifest.v1+json"}});
  EXPECT_EQ(wrong.ErrorCode(), "DIGEST_INVALID");
  auto right = Do("PUT", "/v2/app/manifests/" + Digest::Of(manifest).str(), manifest,
                  {{"Content-Type", "application/vnd.oci.image.manifest.v1+json"}});
  EXPECT_EQ(right.status, 201);
}

TEST_F(RegistryTest, ManifestLimitsAndGarbage) {
  std::string huge(4 * 1024 * 1024 + 1, ' ');
  auto big = Do("PUT", "/v2/app/manifests/v1", huge,
                {{"Content-Type", "application/vnd.oci.image.manifest.v1+json"}});
  EXPECT_EQ(big.status, 413);
  EXPECT_TRUE(big.close);
  auto garbage = Do("PUT", "/v2/app/manifests/v1", "{not json",
                    {{"Content-Type", "application/vnd.oci.image.manifest.v1+json"}});
  EXPECT_EQ(garbage.status, 400);
  EXPECT_EQ(garbage.ErrorCode(), "MANIFEST_INVALID");
  EXPECT_EQ(Do("PUT", "/v2/app/manifests/bad:tag:x", "{}").status, 400);
}

TEST_F(RegistryTest, IndexNeedsItsChildren) {
  std::string child = PushImage("multi", "amd64", "amd64");
  json index = {{"schemaVersion", 2},
                {"mediaType", "application/vnd.oci.image.index.v1+json"},
                {"manifests",
                 {{{"mediaType", "application/vnd.oci.image.manifest.v1+json"},
                   {"digest", Digest::Of(child).str()},
                   {"size", child.size()},
                   {"platform", {{"os", "linux"}, {"architecture", "amd64"}}}},
                  {{"mediaType", "application/vnd.oci.image.manifest.v1+json"},
                   {"digest", Digest::Of("missing").str()},
                   {"size", 7}}}}};
  auto refused = Do("PUT", "/v2/multi/manifests/latest", index.dump(),
                    {{"Content-Type", "application/vnd.oci.image.index.v1+json"}});
  EXPECT_EQ(refused.ErrorCode(), "MANIFEST_BLOB_UNKNOWN");
  index["manifests"].erase(1);
  auto ok = Do("PUT", "/v2/multi/manifests/latest", index.dump(),
               {{"Content-Type", "application/vnd.oci.image.index.v1+json"}});
  EXPECT_EQ(ok.status, 201) << ok.body;
  EXPECT_EQ(Do("GET", "/v2/multi/manifests/latest").Header("Content-Type"),
            "application/vnd.oci.image.index.v1+json");
}

TEST_F(RegistryTest, TagsListSortedAndPaged) {
  for (const char* tag : {"v10", "v2", "latest", "V1", "v1"}) PushImage("app", tag, tag);
  auto all = Do("GET", "/v2/app/tags/list");
  EXPECT_EQ(all.status, 200);
  EXPECT_EQ(json::parse(all.body),
            json({{"name", "app"}, {"tags", {"V1", "latest", "v1", "v10", "v2"}}}));
  EXPECT_EQ(all.Header("Link"), "");
  auto page1 = Do("GET", "/v2/app/tags/list?n=2");
  EXPECT_EQ(json::parse(page1.body)["tags"], json({"V1", "latest"}));
  EXPECT_EQ(page1.Header("Link"), "</v2/app/tags/list?last=latest&n=2>; rel=\"next\"");
  auto page2 = Do("GET", "/v2/app/tags/list?n=2&last=latest");
  EXPECT_EQ(json::parse(page2.body)["tags"], json({"v1", "v10"}));
  auto page3 = Do("GET", "/v2/app/tags/list?n=2&last=v10");
  EXPECT_EQ(json::parse(page3.body)["tags"], json({"v2"}));
  EXPECT_EQ(page3.Header("Link"), "");
  EXPECT_EQ(Do("GET", "/v2/app/tags/list?n=abc").ErrorCode(), "PAGINATION_NUMBER_INVALID");
  EXPECT_EQ(Do("GET", "/v2/app/tags/list?n=-1").ErrorCode(), "PAGINATION_NUMBER_INVALID");
  EXPECT_EQ(Do("GET", "/v2/nosuchrepo/tags/list").ErrorCode(), "NAME_UNKNOWN");
}

TEST_F(RegistryTest, CatalogPaged) {
  for (const char* repo : {"b", "a/x", "c", "a"}) PushBlob(repo, repo);
  auto all = Do("GET", "/v2/_catalog");
  EXPECT_EQ(json::parse(all.body)["repositories"], json({"a", "a/x", "b", "c"}));
  auto page = Do("GET", "/v2/_catalog?n=3");
  EXPECT_EQ(json::parse(page.body)["repositories"], json({"a", "a/x", "b"}));
  EXPECT_EQ(page.Header("Link"), "</v2/_catalog?last=b&n=3>; rel=\"next\"");
  EXPECT_EQ(json::parse(Do("GET", "/v2/_catalog?last=b").body)["repositories"], json({"c"}));
  // Registries do not see each other's repositories.
  EXPECT_EQ(json::parse(Do("GET", "/v2/_catalog", "", {}, kLogin).body)["repositories"],
            json::array());
}

TEST_F(RegistryTest, ReferrersApi) {
  std::string subject = PushImage("app", "v1", "subject");
  std::string config = "{}";
  PushBlob("app", config);
  json sbom = json::parse(ImageManifest(config, {}, subject));
  sbom["artifactType"] = "application/spdx+json";
  sbom["config"]["mediaType"] = "application/vnd.oci.empty.v1+json";
  sbom["config"]["digest"] = Digest::Of(config).str();
  sbom["annotations"] = {{"org.example", "yes"}};
  auto put = Do("PUT", "/v2/app/manifests/" + Digest::Of(sbom.dump()).str(), sbom.dump(),
                {{"Content-Type", "application/vnd.oci.image.manifest.v1+json"}});
  ASSERT_EQ(put.status, 201) << put.body;
  EXPECT_EQ(put.Header("OCI-Subject"), Digest::Of(subject).str());

  auto list = Do("GET", "/v2/app/referrers/" + Digest::Of(subject).str());
  EXPECT_EQ(list.status, 200);
  EXPECT_EQ(list.Header("Content-Type"), "application/vnd.oci.image.index.v1+json");
  auto index = json::parse(list.body);
  ASSERT_EQ(index["manifests"].size(), 1u);
  EXPECT_EQ(index["manifests"][0]["digest"], Digest::Of(sbom.dump()).str());
  EXPECT_EQ(index["manifests"][0]["artifactType"], "application/spdx+json");
  EXPECT_EQ(index["manifests"][0]["annotations"]["org.example"], "yes");
  EXPECT_EQ(list.Header("OCI-Filters-Applied"), "");

  auto filtered = Do("GET", "/v2/app/referrers/" + Digest::Of(subject).str() +
                                "?artifactType=application/vnd.example");
  EXPECT_EQ(json::parse(filtered.body)["manifests"].size(), 0u);
  EXPECT_EQ(filtered.Header("OCI-Filters-Applied"), "artifactType");
  // Unknown subject: an empty index, not an error.
  auto none = Do("GET", "/v2/app/referrers/" + Digest::Of("nothing").str());
  EXPECT_EQ(none.status, 200);
  EXPECT_EQ(json::parse(none.body)["manifests"].size(), 0u);
  EXPECT_EQ(Do("GET", "/v2/app/referrers/notadigest").ErrorCode(), "DIGEST_INVALID");
}

TEST_F(RegistryTest, Deletes) {
  std::string manifest = PushImage("app", "v1", "a");
  std::string digest = Digest::Of(manifest).str();
  // Delete the tag: the manifest stays.
  EXPECT_EQ(Do("DELETE", "/v2/app/manifests/v1").status, 202);
  EXPECT_EQ(Do("GET", "/v2/app/manifests/v1").ErrorCode(), "MANIFEST_UNKNOWN");
  EXPECT_EQ(Do("GET", "/v2/app/manifests/" + digest).status, 200);
  EXPECT_EQ(Do("DELETE", "/v2/app/manifests/" + digest).status, 202);
  EXPECT_EQ(Do("GET", "/v2/app/manifests/" + digest).ErrorCode(), "MANIFEST_UNKNOWN");
  EXPECT_EQ(Do("DELETE", "/v2/app/manifests/" + digest).ErrorCode(), "MANIFEST_UNKNOWN");
  std::string blob = PushBlob("app", "blob");
  EXPECT_EQ(Do("DELETE", "/v2/app/blobs/" + blob).status, 202);
  EXPECT_EQ(Do("GET", "/v2/app/blobs/" + blob).ErrorCode(), "BLOB_UNKNOWN");
  EXPECT_EQ(Do("DELETE", "/v2/app/blobs/" + blob).ErrorCode(), "BLOB_UNKNOWN");
}

TEST_F(RegistryTest, DataEndpointRedirectAndSignedUrls) {
  std::string content(50000, 'd');
  std::string digest = PushBlob("app", content, kLogin);
  auto redirect = Do("GET", "/v2/app/blobs/" + digest, "",
                     {{"Host", "myregistry.azurecr.io:8443"}}, kLogin);
  ASSERT_EQ(redirect.status, 307);
  std::string location = redirect.Header("Location");
  std::string prefix = "http://myregistry.westus.data.azurecr.io:8443/v2/app/blobs/" + digest + "?";
  ASSERT_EQ(location.substr(0, prefix.size()), prefix) << location;
  std::string target = location.substr(location.find("/v2/"));
  // HEAD on the login server answers directly (no redirect for metadata).
  EXPECT_EQ(Do("HEAD", "/v2/app/blobs/" + digest, "", {}, kLogin).status, 200);

  auto data = Do("GET", target, "", {}, kData);
  EXPECT_EQ(data.status, 200);
  EXPECT_EQ(data.body, content);
  EXPECT_EQ(registry_->counters().data_host_bytes_served.load(), content.size());

  // Tampered signature, wrong repository, no signature, other paths.
  std::string tampered = target;
  tampered.back() = tampered.back() == 'A' ? 'B' : 'A';
  auto denied = Do("GET", tampered, "", {}, kData);
  EXPECT_EQ(denied.status, 403);
  EXPECT_EQ(denied.ErrorCode(), "DENIED");
  std::string other_repo = target;
  other_repo.replace(other_repo.find("/app/"), 5, "/ap2/");
  EXPECT_EQ(Do("GET", other_repo, "", {}, kData).ErrorCode(), "DENIED");
  EXPECT_EQ(Do("GET", "/v2/app/blobs/" + digest, "", {}, kData).ErrorCode(), "DENIED");
  EXPECT_EQ(Do("GET", "/v2/app/manifests/latest", "", {}, kData).ErrorCode(), "DENIED");
  // Signed for westus, presented to eastus.
  EXPECT_EQ(Do("GET", target, "", {}, "myregistry.eastus.data.azurecr.io").ErrorCode(), "DENIED");
  // Not a region of the registry.
  EXPECT_EQ(Do("GET", target, "", {}, "myregistry.northeurope.data.azurecr.io").ErrorCode(),
            "NAME_UNKNOWN");
  // Expired after 20 minutes.
  clock_.Advance(std::chrono::minutes(21));
  auto expired = Do("GET", target, "", {}, kData);
  EXPECT_EQ(expired.status, 403);
  EXPECT_NE(expired.body.find("expired"), std::string::npos);
}

// Behind the Gate the registry is the verdict's (the one the network rules were decided for),
// never a second match of the host; the host only tells a data host from a login server.
TEST_F(RegistryTest, VerdictPicksTheRegistry) {
  std::string content(5000, 'v');
  std::string digest = PushBlob("app", content, kLogin);
  auto verdict = [](std::string registry) {
    auto v = std::make_shared<access::Verdict>();
    v->registry = std::move(registry);
    return std::shared_ptr<const access::Verdict>(std::move(v));
  };
  const std::string blob = "/v2/app/blobs/" + digest;
  // Without a verdict the host decides: plainreg has no such blob.
  EXPECT_EQ(DoDirect("HEAD", blob, "", {}, kPlain).status, 404);
  // With one, its registry is served, whatever the host matches now.
  EXPECT_EQ(DoDirect("HEAD", blob, "", {}, kPlain, true, verdict("myregistry")).status, 200);
  EXPECT_EQ(DoDirect("HEAD", blob, "", {}, kLogin, true, verdict("plainreg")).status, 404);
  // A verdict for no registry (or one the directory does not hold) matches nothing.
  EXPECT_EQ(DoDirect("HEAD", blob, "", {}, kLogin, true, verdict("")).status, 404);
  EXPECT_EQ(DoDirect("GET", "/v2/", "", {}, kLogin, true, verdict("")).ErrorCode(),
            "NAME_UNKNOWN");
  EXPECT_EQ(DoDirect("GET", "/v2/", "", {}, kLogin, true, verdict("gone")).ErrorCode(),
            "NAME_UNKNOWN");
  // The verdict's registry's data host is still a data host (signed URLs only)...
  auto redirect = DoDirect("GET", blob, "", {}, kLogin, true, verdict("myregistry"));
  ASSERT_EQ(redirect.status, 307);
  std::string location = redirect.Header("Location");
  std::string target = location.substr(location.find("/v2/"));
  EXPECT_EQ(DoDirect("GET", target, "", {}, kData, true, verdict("myregistry")).status, 200);
  EXPECT_EQ(DoDirect("GET", blob, "", {}, kData, true, verdict("myregistry")).ErrorCode(),
            "DENIED");
  // ...but another registry's data host is not the verdict's: served as its login server.
  EXPECT_EQ(DoDirect("GET", "/v2/", "", {}, kData, true, verdict("plainreg")).status, 200);
}

TEST_F(RegistryTest, TlsRedirectIsHttps) {
  std::string digest = PushBlob("app", "abc", kLogin);
  auto r = DoDirect("GET", "/v2/app/blobs/" + digest, "", {}, kLogin, /*tls=*/true);
  EXPECT_EQ(r.status, 307);
  EXPECT_EQ(r.Header("Location").substr(0, 8), "https://");
  auto plain = DoDirect("GET", "/v2/app/blobs/" + digest, "", {}, kLogin, /*tls=*/false);
  EXPECT_EQ(plain.Header("Location").substr(0, 7), "http://");
}

TEST_F(RegistryTest, BadInputGetsOciErrors) {
  EXPECT_EQ(Do("GET", "/v2/UPPER/tags/list").ErrorCode(), "NAME_INVALID");
  EXPECT_EQ(Do("GET", "/v2/a..b/manifests/x").ErrorCode(), "NAME_INVALID");
  EXPECT_EQ(Do("GET", "/v2/" + std::string(300, 'a') + "/tags/list").ErrorCode(), "NAME_INVALID");
  EXPECT_EQ(Do("GET", "/v2/app/blobs/sha256:xyz").ErrorCode(), "DIGEST_INVALID");
  EXPECT_EQ(Do("GET", "/v2/app/blobs/md5:abc").ErrorCode(), "DIGEST_INVALID");
  EXPECT_EQ(Do("GET", "/v2/app/manifests/sha256:zz").ErrorCode(), "DIGEST_INVALID");
  EXPECT_EQ(Do("GET", "/v2/app/manifests/-badtag").ErrorCode(), "MANIFEST_UNKNOWN");
  EXPECT_EQ(Do("GET", "/v3/whatever").status, 404);
  EXPECT_EQ(Do("POST", "/v2/app/manifests/x").ErrorCode(), "UNSUPPORTED");
  EXPECT_EQ(Do("POST", "/v2/app/blobs/uploads/?digest=nope", "x").ErrorCode(), "DIGEST_INVALID");
  auto unknown_host = Do("GET", "/v2/", "", {}, "other.azurecr.io");
  EXPECT_EQ(unknown_host.status, 200) << "falls back to the default registry";
}

TEST_F(RegistryTest, UploadResumesAfterRestart) {
  std::string a(10000, 'a'), b(10000, 'b');
  auto loc = Do("POST", "/v2/repo/blobs/uploads/").Header("Location");
  ASSERT_EQ(Do("PATCH", loc, a, {{"Content-Range", "0-9999"}}).status, 202);
  Reopen();  // as after kill -9 and restart
  auto status = Do("GET", loc);
  EXPECT_EQ(status.status, 204);
  EXPECT_EQ(status.Header("Range"), "0-9999");
  ASSERT_EQ(Do("PATCH", loc, b, {{"Content-Range", "10000-19999"}}).status, 202);
  auto put = Do("PUT", loc + "?digest=" + Digest::Of(a + b).str());
  ASSERT_EQ(put.status, 201) << put.body;
  EXPECT_EQ(Do("GET", put.Header("Location")).body, a + b);
}

TEST_F(RegistryTest, InterruptedChunkIsNotAcknowledged) {
  auto loc = Do("POST", "/v2/repo/blobs/uploads/").Header("Location");
  ASSERT_EQ(Do("PATCH", loc, "first").status, 202);
  // A PATCH whose connection dies mid-body.
  http::Request req;
  req.method = "PATCH";
  req.target = loc;
  req.headers.Set("Host", kPlain);
  req.content_length = 100;
  auto exchange = registry_->Start(std::move(req));
  EXPECT_FALSE(exchange->OnBody("partial"));
  exchange->Abort();
  exchange.reset();
  EXPECT_EQ(Do("GET", loc).Header("Range"), "0-4");
  auto put = Do("PUT", loc + "?digest=" + Digest::Of("first second").str(), " second");
  EXPECT_EQ(put.status, 201) << put.body;
}

TEST_F(RegistryTest, AbandonedUploadsArePurged) {
  auto loc = Do("POST", "/v2/repo/blobs/uploads/").Header("Location");
  ASSERT_EQ(Do("PATCH", loc, "data").status, 202);
  auto none = registry_->PurgeAbandonedUploads();
  ASSERT_TRUE(none);
  EXPECT_EQ(*none, 0u);
  clock_.Advance(std::chrono::hours(25));
  auto purged = registry_->PurgeAbandonedUploads();
  ASSERT_TRUE(purged) << purged.error().ToString();
  EXPECT_EQ(*purged, 1u);
  EXPECT_EQ(Do("GET", loc).ErrorCode(), "BLOB_UPLOAD_UNKNOWN");
}

TEST_F(RegistryTest, Sha512Blobs) {
  std::string content = "sha512 content";
  std::string digest = Digest::Of(content, DigestAlgorithm::kSha512).str();
  auto r = Do("POST", "/v2/repo/blobs/uploads/?digest=" + digest, content);
  EXPECT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(Do("GET", "/v2/repo/blobs/" + digest).body, content);
}

// ---- read-through across regions (issue 12) ----

// Another region of the registry, as the node under test sees it through its ContentSource:
// content in a second RepositoryService on stores of its own, copied into the node's
// repositories the way replication does (blobs and child manifests first, then the manifest and
// its tag), so what the node serves afterwards comes from its own stores. `unavailable` plays a
// peer that claims content and fails to deliver it.
class PeerRegion final : public ContentSource {
 public:
  PeerRegion(std::string name, RepositoryService& peer, RepositoryService& local)
      : name_(std::move(name)), peer_(peer), local_(local) {}

  Status RefreshTag(const storage::RepoKey& repo, const std::string& tag) override {
    ++refreshes;
    if (unavailable) return Fail(Code::kUnavailable, "peer did not answer");
    auto theirs = peer_.ResolveTag(repo, tag);
    if (!theirs) return theirs.error().code == Code::kNotFound ? Ok() : Fail(theirs.error());
    auto ours = local_.ResolveTag(repo, tag);
    if (ours && *ours == *theirs) return Ok();
    return CopyManifest(repo, *theirs, tag);
  }
  Status FetchManifest(const storage::RepoKey& repo, const Digest& digest) override {
    ++manifest_fetches;
    if (unavailable) return Fail(Code::kUnavailable, "peer did not deliver");
    return CopyManifest(repo, digest, std::nullopt);
  }
  std::optional<std::string> RegionHolding(const storage::RepoKey& repo,
                                           const Digest& digest) override {
    ++holding_asks;
    if (unavailable || !peer_.StatBlob(repo, digest)) return std::nullopt;
    return name_;
  }
  Status FetchBlob(const storage::RepoKey& repo, const Digest& digest) override {
    ++blob_fetches;
    if (unavailable) return Fail(Code::kUnavailable, "peer did not deliver");
    return CopyBlob(repo, digest);
  }

  std::atomic<bool> unavailable{false};
  std::atomic<int> refreshes{0}, manifest_fetches{0}, holding_asks{0}, blob_fetches{0};

 private:
  Status CopyBlob(const storage::RepoKey& repo, const Digest& digest) {
    if (local_.StatBlob(repo, digest)) return Ok();
    COVE_RETURN_IF_ERROR(peer_.StatBlob(repo, digest));
    COVE_ASSIGN_OR_RETURN(auto file, peer_.OpenBlob(digest));
    std::string bytes = ReadFileBody(http::FileBody{std::move(file.fd), 0, file.size});
    COVE_ASSIGN_OR_RETURN(auto session, local_.StartUpload(repo));
    COVE_RETURN_IF_ERROR(session.upload->Append(bytes));
    COVE_RETURN_IF_ERROR(local_.CommitUpload(session.record, session.upload, digest));
    return Ok();
  }
  Status CopyManifest(const storage::RepoKey& repo, const Digest& digest,
                      const std::optional<std::string>& tag) {
    COVE_ASSIGN_OR_RETURN(auto content, peer_.GetManifest(repo, digest));
    COVE_ASSIGN_OR_RETURN(auto parsed, oci::ParseManifest(content.bytes, content.media_type));
    if (parsed.config) COVE_RETURN_IF_ERROR(CopyBlob(repo, parsed.config->digest));
    for (const auto& layer : parsed.layers) COVE_RETURN_IF_ERROR(CopyBlob(repo, layer.digest));
    for (const auto& child : parsed.manifests) {
      COVE_RETURN_IF_ERROR(CopyManifest(repo, child.digest, std::nullopt));
    }
    return local_.PutManifest(repo, parsed, digest, std::move(content.bytes), tag);
  }

  std::string name_;
  RepositoryService& peer_;
  RepositoryService& local_;
};

// The node serves eastus (a replica of myregistry, whose home is westus); its peer is westus.
class ReadThroughTest : public RegistryTest {
 protected:
  void SetUp() override {
    RegistryTest::SetUp();
    OpenStores("peer-", peer_blobs_, peer_meta_);
    ASSERT_TRUE(peer_meta_);
    peer_ = std::make_unique<RepositoryService>(*peer_blobs_, *peer_meta_, clock_);
    region_ = "eastus";
    Reopen();
    source_ = std::make_shared<PeerRegion>("westus", *peer_, registry_->repositories());
    registry_->SetContentSource(source_);
  }
  void TearDown() override {
    Close();
    source_.reset();
    peer_.reset();
    peer_meta_.reset();
    peer_blobs_.reset();
    RegistryTest::TearDown();
  }

  // A blob pushed in the peer region only; returns its digest.
  std::string PeerBlob(const std::string& registry, const std::string& repo,
                       const std::string& content) {
    Digest digest = Digest::Of(content);
    auto session = peer_->StartUpload({registry, repo});
    EXPECT_TRUE(session) << session.error().ToString();
    if (!session) return digest.str();
    EXPECT_TRUE(session->upload->Append(content));
    auto committed = peer_->CommitUpload(session->record, session->upload, digest);
    EXPECT_TRUE(committed) << committed.error().ToString();
    return digest.str();
  }

  // An image pushed in the peer region only, tagged `tag` when set; returns the manifest bytes.
  std::string PeerImage(const std::string& repo, const std::optional<std::string>& tag,
                        const std::string& seed) {
    std::string config = "{\"seed\":\"" + seed + "\"}";
    std::string layer = "layer-of-" + seed;
    PeerBlob("myregistry", repo, config);
    PeerBlob("myregistry", repo, layer);
    std::string manifest = ImageManifest(config, {layer});
    auto parsed = oci::ParseManifest(manifest, "application/vnd.oci.image.manifest.v1+json");
    EXPECT_TRUE(parsed) << parsed.error().ToString();
    auto put =
        peer_->PutManifest({"myregistry", repo}, *parsed, Digest::Of(manifest), manifest, tag);
    EXPECT_TRUE(put) << put.error().ToString();
    return manifest;
  }

  // The signed data-host path for a blob of myregistry's `repo`, as `region`'s login server
  // issues it.
  std::string SignedTarget(const std::string& repo, const std::string& digest,
                           const std::string& region) {
    return "/v2/" + repo + "/blobs/" + digest + "?" +
           signer_.Sign({"myregistry", repo, digest, region});
  }

  // A GET of `target` on `host` for a blob only the peer held: copied once, then served here.
  void ExpectFetchedThenServed(const std::string& target, const std::string& host,
                               const std::string& content) {
    auto r = Do("GET", target, "", {}, host);
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body, content);
    EXPECT_EQ(source_->blob_fetches.load(), 1);
  }

  storage::BlobStorePtr peer_blobs_;
  storage::MetaStorePtr peer_meta_;
  std::unique_ptr<RepositoryService> peer_;
  std::shared_ptr<PeerRegion> source_;
};

constexpr char kEastData[] = "myregistry.eastus.data.azurecr.io";

TEST_F(ReadThroughTest, BlobHeldHereRedirectsToThisRegionsDataHost) {
  std::string content(3000, 'e');
  std::string digest = PushBlob("app", content, kLogin);
  auto redirect = Do("GET", "/v2/app/blobs/" + digest, "", {}, kLogin);
  ASSERT_EQ(redirect.status, 307);
  std::string location = redirect.Header("Location");
  std::string prefix = "http://myregistry.eastus.data.azurecr.io/v2/app/blobs/" + digest + "?";
  ASSERT_EQ(location.substr(0, prefix.size()), prefix) << location;
  auto data = Do("GET", location.substr(location.find("/v2/")), "", {}, kEastData);
  EXPECT_EQ(data.status, 200);
  EXPECT_EQ(data.body, content);
  EXPECT_EQ(source_->holding_asks.load(), 0);
  EXPECT_EQ(source_->blob_fetches.load(), 0);
}

TEST_F(ReadThroughTest, BlobHeldElsewhereRedirectsToTheHoldersDataHost) {
  std::string content(3000, 'w');
  std::string digest = PeerBlob("myregistry", "app", content);
  auto redirect = Do("GET", "/v2/app/blobs/" + digest, "", {}, kLogin);
  ASSERT_EQ(redirect.status, 307);
  EXPECT_EQ(redirect.Header("Docker-Content-Digest"), digest);
  std::string location = redirect.Header("Location");
  std::string prefix = "http://myregistry.westus.data.azurecr.io/v2/app/blobs/" + digest + "?";
  ASSERT_EQ(location.substr(0, prefix.size()), prefix) << location;
  // Signed for westus: the holder's node accepts it.
  std::string query = location.substr(location.find('?') + 1);
  auto se = query.substr(3, query.find('&') - 3);
  auto sig = query.substr(query.find("sig=") + 4);
  EXPECT_TRUE(signer_.Verify({"myregistry", "app", digest, "westus"}, se, sig));
  // Redirected, not copied: the blob is still not held here.
  EXPECT_EQ(source_->blob_fetches.load(), 0);
  EXPECT_FALSE(registry_->repositories().StatBlob({"myregistry", "app"}, *Digest::Parse(digest)));
  // Held nowhere: 404 as before.
  std::string nowhere = Digest::Of("nowhere").str();
  EXPECT_EQ(Do("GET", "/v2/app/blobs/" + nowhere, "", {}, kLogin).ErrorCode(), "BLOB_UNKNOWN");
  EXPECT_EQ(Do("HEAD", "/v2/app/blobs/" + nowhere, "", {}, kLogin).status, 404);
}

TEST_F(ReadThroughTest, BlobHeadHeldElsewhereAnswersTheSize) {
  std::string content(4321, 'h');
  std::string digest = PeerBlob("myregistry", "app", content);
  auto head = Do("HEAD", "/v2/app/blobs/" + digest, "", {}, kLogin);
  EXPECT_EQ(head.status, 200);
  EXPECT_EQ(head.Header("X-Test-Length"), "4321");
  EXPECT_EQ(head.Header("Docker-Content-Digest"), digest);
  EXPECT_EQ(source_->blob_fetches.load(), 1);
  // Now held here: a GET goes to this region's data host.
  auto redirect = Do("GET", "/v2/app/blobs/" + digest, "", {}, kLogin);
  EXPECT_NE(redirect.Header("Location").find("//myregistry.eastus.data."), std::string::npos);
  EXPECT_EQ(source_->holding_asks.load(), 0);
}

TEST_F(ReadThroughTest, DataHostFetchesABlobNotHeldYet) {
  std::string content(2000, 'l');
  std::string digest = PeerBlob("myregistry", "app", content);
  ExpectFetchedThenServed(SignedTarget("app", digest, "eastus"), kEastData, content);
  // The signature is still checked first.
  std::string other = PeerBlob("myregistry", "app", "other");
  EXPECT_EQ(Do("GET", "/v2/app/blobs/" + other, "", {}, kEastData).ErrorCode(), "DENIED");
  EXPECT_EQ(source_->blob_fetches.load(), 1);
}

TEST_F(ReadThroughTest, DataEndpointOffFetchesThenServes) {
  std::string content(5000, 'p');
  std::string digest = PeerBlob("plainreg", "app", content);
  ExpectFetchedThenServed("/v2/app/blobs/" + digest, kPlain, content);
  EXPECT_EQ(source_->holding_asks.load(), 0);
  EXPECT_EQ(registry_->counters().blob_bytes_served.load(), content.size());
  // Held here now: served without asking again.
  EXPECT_EQ(Do("GET", "/v2/app/blobs/" + digest, "", {}, kPlain).body, content);
  EXPECT_EQ(source_->blob_fetches.load(), 1);
}

TEST_F(ReadThroughTest, TagRefreshServesTheNewerDigest) {
  PushImage("app", "latest", "v1", kLogin);
  std::string newer = PeerImage("app", "latest", "v2");
  PeerImage("app", "peer-only", "v3");
  auto get = Do("GET", "/v2/app/manifests/latest", "", {}, kLogin);
  EXPECT_EQ(get.status, 200);
  EXPECT_EQ(get.body, newer);
  EXPECT_EQ(get.Header("Docker-Content-Digest"), Digest::Of(newer).str());
  auto head = Do("HEAD", "/v2/app/manifests/latest", "", {}, kLogin);
  EXPECT_EQ(head.Header("Docker-Content-Digest"), Digest::Of(newer).str());
  EXPECT_EQ(source_->refreshes.load(), 2);
  // Its blobs came with it: held here, redirected to this region.
  std::string layer = Digest::Of("layer-of-v2").str();
  EXPECT_NE(Do("GET", "/v2/app/blobs/" + layer, "", {}, kLogin)
                .Header("Location")
                .find("//myregistry.eastus.data."),
            std::string::npos);
  // tags/list stays local: the peer's other tag is not listed until it is read or replicated.
  auto tags = json::parse(Do("GET", "/v2/app/tags/list", "", {}, kLogin).body);
  EXPECT_EQ(tags["tags"], json::array({"latest"}));
  // A tag only the peer has is served too.
  EXPECT_EQ(Do("GET", "/v2/app/manifests/peer-only", "", {}, kLogin).status, 200);
  EXPECT_EQ(Do("GET", "/v2/app/manifests/nowhere", "", {}, kLogin).ErrorCode(), "MANIFEST_UNKNOWN");
}

TEST_F(ReadThroughTest, ManifestByDigestIsFetched) {
  std::string manifest = PeerImage("app", std::nullopt, "d1");
  std::string digest = Digest::Of(manifest).str();
  auto head = Do("HEAD", "/v2/app/manifests/" + digest, "", {}, kLogin);
  EXPECT_EQ(head.status, 200);
  EXPECT_EQ(head.Header("X-Test-Length"), std::to_string(manifest.size()));
  EXPECT_EQ(Do("GET", "/v2/app/manifests/" + digest, "", {}, kLogin).body, manifest);
  EXPECT_EQ(source_->manifest_fetches.load(), 1);
  EXPECT_EQ(source_->refreshes.load(), 0);
  EXPECT_EQ(Do("GET", "/v2/app/manifests/" + Digest::Of("none").str(), "", {}, kLogin).ErrorCode(),
            "MANIFEST_UNKNOWN");
}

TEST_F(ReadThroughTest, UnreachableSourceAnswersAsBefore) {
  source_->unavailable = true;
  std::string local = PushImage("app", "latest", "v1", kLogin);
  std::string remote = PeerImage("app", "latest", "v2");
  auto get = Do("GET", "/v2/app/manifests/latest", "", {}, kLogin);
  EXPECT_EQ(get.status, 200);
  EXPECT_EQ(get.body, local);
  EXPECT_EQ(source_->refreshes.load(), 1);
  EXPECT_EQ(Do("GET", "/v2/app/manifests/" + Digest::Of(remote).str(), "", {}, kLogin).ErrorCode(),
            "MANIFEST_UNKNOWN");
  std::string blob = PeerBlob("myregistry", "app", "remote blob");
  EXPECT_EQ(Do("GET", "/v2/app/blobs/" + blob, "", {}, kLogin).ErrorCode(), "BLOB_UNKNOWN");
  EXPECT_EQ(Do("HEAD", "/v2/app/blobs/" + blob, "", {}, kLogin).status, 404);
  EXPECT_EQ(Do("GET", SignedTarget("app", blob, "eastus"), "", {}, kEastData).ErrorCode(),
            "BLOB_UNKNOWN");
  std::string plain = PeerBlob("plainreg", "app", "remote plain blob");
  EXPECT_EQ(Do("GET", "/v2/app/blobs/" + plain, "", {}, kPlain).ErrorCode(), "BLOB_UNKNOWN");
  EXPECT_GE(source_->blob_fetches.load(), 3);
  // Without a source at all (peers gone), the same answers.
  registry_->SetContentSource(nullptr);
  EXPECT_EQ(registry_->content_source(), nullptr);
  EXPECT_EQ(Do("GET", "/v2/app/blobs/" + blob, "", {}, kLogin).ErrorCode(), "BLOB_UNKNOWN");
  EXPECT_EQ(Do("GET", "/v2/app/manifests/latest", "", {}, kLogin).body, local);
  // A peer again: the blob is found.
  source_->unavailable = false;
  registry_->SetContentSource(source_);
  EXPECT_EQ(Do("GET", "/v2/app/blobs/" + blob, "", {}, kLogin).status, 307);
}

TEST_F(ReadThroughTest, LegacyRegionRedirectsToTheHomeRegion) {
  std::string digest = PushBlob("app", "legacy", kLogin);
  for (std::string region : {"", "northeurope"}) {  // none, or one the registry is not in
    region_ = region;
    Reopen();
    EXPECT_EQ(registry_->content_source(), nullptr);
    auto redirect = Do("GET", "/v2/app/blobs/" + digest, "", {}, kLogin);
    ASSERT_EQ(redirect.status, 307) << region;
    EXPECT_EQ(redirect.Header("Location").substr(0, 42),
              "http://myregistry.westus.data.azurecr.io/v")
        << region;
  }
  // plainreg is in westus only: an eastus node serves it from its home region too.
  region_ = "eastus";
  Reopen();
  EXPECT_EQ(Do("GET", "/v2/app/blobs/" + PushBlob("app", "plain")).body, "plain");
}

}  // namespace
}  // namespace cove::registry
