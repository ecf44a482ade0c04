#include "runtime/pull.h"

#include <dirent.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <iostream>
#include <iterator>
#include <map>
#include <optional>

#include "oci/manifest.h"
#include "runtime/image_ref.h"
#include "runtime/registry_client.h"
#include "runtime/unpack.h"

namespace cove::runtime {
namespace {

using json = nlohmann::json;
using Outcome = tl::expected<PullResult, PullFailure>;

constexpr uint64_t kMaxConfigSize = 16 * 1024 * 1024;
constexpr char kProviderApi[] = "credentialprovider.kubelet.k8s.io/v1";

tl::unexpected<PullFailure> Failed(std::string stage, Error error,
                                   std::string default_reason = "") {
  if (error.reason.empty()) error.reason = std::move(default_reason);
  if (error.reason.empty()) {
    switch (error.code) {
      case Code::kCorruption:
        error.reason = "DIGEST_INVALID";
        break;
      case Code::kIOError:
        error.reason = "IO_ERROR";
        break;
      case Code::kResourceExhausted:
        error.reason = "SIZE_INVALID";
        break;
      case Code::kUnimplemented:
        error.reason = "UNSUPPORTED";
        break;
      default:
        error.reason = "INVALID";
        break;
    }
  }
  return tl::unexpected<PullFailure>(PullFailure{std::move(stage), std::move(error)});
}

Error Err(Code code, std::string message, std::string reason) {
  Error e{code, std::move(message)};
  e.reason = std::move(reason);
  return e;
}

Status MakeDirs(const std::string& path) {
  std::string sofar;
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string::npos) end = path.size();
    sofar = path.substr(0, end);
    if (!sofar.empty() && ::mkdir(sofar.c_str(), 0755) != 0 && errno != EEXIST) {
      return Fail(Code::kIOError, "mkdir " + sofar + ": " + std::strerror(errno));
    }
    start = end + 1;
  }
  return Ok();
}

// True when `path` is absent or an empty directory.
Result<bool> AbsentOrEmpty(const std::string& path) {
  DIR* d = ::opendir(path.c_str());
  if (d == nullptr) {
    if (errno == ENOENT) return true;
    return Fail(Code::kIOError, "cannot open " + path + ": " + std::strerror(errno));
  }
  bool empty = true;
  while (struct dirent* e = ::readdir(d)) {
    std::string n = e->d_name;
    if (n != "." && n != "..") empty = false;
  }
  ::closedir(d);
  return empty;
}

std::string BlobPath(const std::string& store, const Digest& digest) {
  return store + "/blobs/" + std::string(digest.algorithm_name()) + "/" + digest.hex();
}

bool HasBlob(const std::string& path, uint64_t size) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
         static_cast<uint64_t>(st.st_size) == size;
}

Status StoreSmallBlob(const std::string& store, const Digest& digest, const std::string& bytes) {
  std::string path = BlobPath(store, digest);
  if (HasBlob(path, bytes.size())) return Ok();
  std::string tmp = path + ".tmp";
  FILE* f = std::fopen(tmp.c_str(), "wb");
  if (f == nullptr) return Fail(Code::kIOError, "writing " + tmp + ": " + std::strerror(errno));
  bool ok = std::fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size();
  ok = std::fclose(f) == 0 && ok;
  if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0) {
    ::unlink(tmp.c_str());
    return Fail(Code::kIOError, "storing " + path + ": " + std::strerror(errno));
  }
  return Ok();
}

// The linux/amd64 entry of an index (the first one when several).
Result<oci::Descriptor> PickPlatform(const std::string& index_bytes,
                                     const oci::ParsedManifest& index) {
  json j = json::parse(index_bytes, nullptr, /*allow_exceptions=*/false);
  const json* list = j.is_object() && j.contains("manifests") && j["manifests"].is_array()
                         ? &j["manifests"]
                         : nullptr;
  for (size_t i = 0; list && i < list->size() && i < index.manifests.size(); ++i) {
    const json& entry = (*list)[i];
    if (!entry.is_object() || !entry.contains("platform") || !entry["platform"].is_object()) {
      continue;
    }
    const json& p = entry["platform"];
    if (p.value("os", "") == "linux" && p.value("architecture", "") == "amd64") {
      return index.manifests[i];
    }
  }
  return Fail(Err(Code::kNotFound, "no matching manifest for linux/amd64 in the manifest list",
                  "MANIFEST_UNKNOWN"));
}

// Parses "--flag VALUE" / "--flag=VALUE" pairs; kInvalidArgument for anything else.
Result<std::map<std::string, std::string>> ParseFlags(const std::vector<std::string>& args,
                                                      const std::vector<std::string>& known) {
  std::map<std::string, std::string> out;
  for (size_t i = 0; i < args.size(); ++i) {
    std::string name = args[i], value;
    size_t eq = name.find('=');
    bool inline_value = eq != std::string::npos;
    if (inline_value) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
    }
    if (std::find(known.begin(), known.end(), name) == known.end()) {
      return Fail(Code::kInvalidArgument, "unknown argument '" + args[i] + "'");
    }
    if (!inline_value) {
      if (i + 1 >= args.size()) return Fail(Code::kInvalidArgument, name + " needs a value");
      value = args[++i];
    }
    if (out.count(name)) return Fail(Code::kInvalidArgument, name + " given twice");
    out[name] = value;
  }
  return out;
}

std::string ReadAll(std::istream& in) {
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

std::string Get(const std::map<std::string, std::string>& flags, const std::string& name) {
  auto it = flags.find(name);
  return it == flags.end() ? "" : it->second;
}

}  // namespace

Outcome Pull(const PullOptions& options, Transport& transport) {
  auto ref = ParseImageReference(options.image);
  if (!ref) return Failed("resolve", ref.error(), "NAME_INVALID");
  if (auto made = MakeDirs(options.store + "/blobs/sha256"); !made) {
    return Failed("blob", made.error());
  }
  if (!options.rootfs.empty()) {
    auto empty = AbsentOrEmpty(options.rootfs);
    if (!empty) return Failed("unpack", empty.error());
    if (!*empty) {
      return Failed("unpack",
                    Err(Code::kFailedPrecondition, "the rootfs " + options.rootfs + " is not empty",
                        "ROOTFS_NOT_EMPTY"));
    }
  }

  Credential credential = options.credential;
  if (credential.kind == Credential::Kind::kIdentity) {
    auto token = ImdsAccessToken(transport, credential.identity, kManagementResource, options.imds);
    if (!token) return Failed("credential", token.error());
    auto refresh = ExchangeForRefreshToken(transport, ref->registry, *token);
    if (!refresh) return Failed("credential", refresh.error());
    credential = Credential{.kind = Credential::Kind::kRefreshToken, .refresh_token = *refresh};
  }

  RegistryClient client(transport, *ref, credential);
  auto challenge = client.Ping();
  if (!challenge) return Failed("resolve", challenge.error());
  if (*challenge) {
    if (auto auth = client.Authenticate(**challenge); !auth) {
      return Failed("credential", auth.error());
    }
  }

  auto top = client.GetManifest(ref->manifest_reference());
  if (!top) return Failed("manifest", top.error());
  auto parsed = oci::ParseManifest(top->bytes, top->media_type);
  if (!parsed) return Failed("manifest", parsed.error(), "MANIFEST_INVALID");
  PullResult result;
  result.digest = top->digest;
  FetchedManifest manifest = *top;
  if (parsed->is_index) {
    auto pick = PickPlatform(top->bytes, *parsed);
    if (!pick) return Failed("manifest", pick.error());
    if (auto stored = StoreSmallBlob(options.store, top->digest, top->bytes); !stored) {
      return Failed("blob", stored.error());
    }
    auto child = client.GetManifest(pick->digest.str());
    if (!child) return Failed("manifest", child.error());
    manifest = *child;
    parsed = oci::ParseManifest(manifest.bytes, manifest.media_type);
    if (!parsed) return Failed("manifest", parsed.error(), "MANIFEST_INVALID");
    if (parsed->is_index) {
      return Failed("manifest",
                    Err(Code::kUnimplemented, "the linux/amd64 entry is itself an index",
                        "MANIFEST_INVALID"));
    }
  }
  result.manifest = manifest.digest;
  if (auto stored = StoreSmallBlob(options.store, manifest.digest, manifest.bytes); !stored) {
    return Failed("blob", stored.error());
  }

  auto config_bytes = client.GetBlob(*parsed->config, kMaxConfigSize);
  if (!config_bytes) return Failed("blob", config_bytes.error());
  json config = json::parse(*config_bytes, nullptr, /*allow_exceptions=*/false);
  if (!config.is_object()) {
    return Failed("blob",
                  Err(Code::kInvalidArgument,
                      "the image config " + parsed->config->digest.str() + " is not a JSON object",
                      "CONFIG_INVALID"));
  }
  if (auto stored = StoreSmallBlob(options.store, parsed->config->digest, *config_bytes); !stored) {
    return Failed("blob", stored.error());
  }
  result.config =
      config.contains("config") && config["config"].is_object() ? config["config"] : json::object();

  for (const oci::Descriptor& layer : parsed->layers) {
    std::string path = BlobPath(options.store, layer.digest);
    if (auto made = MakeDirs(path.substr(0, path.rfind('/'))); !made) {
      return Failed("blob", made.error());
    }
    if (!HasBlob(path, layer.size)) {
      if (auto got = client.DownloadBlob(layer, path); !got) return Failed("blob", got.error());
    }
    ++result.layers;
    result.bytes += layer.size;
  }

  if (!options.rootfs.empty()) {
    std::vector<std::string> diff_ids;
    if (config.contains("rootfs") && config["rootfs"].is_object() &&
        config["rootfs"].contains("diff_ids") && config["rootfs"]["diff_ids"].is_array()) {
      for (const auto& d : config["rootfs"]["diff_ids"]) {
        diff_ids.push_back(d.is_string() ? d.get<std::string>() : "");
      }
    }
    if (diff_ids.size() != parsed->layers.size()) {
      return Failed("unpack",
                    Err(Code::kInvalidArgument,
                        "the image config lists " + std::to_string(diff_ids.size()) +
                            " diff_ids for " + std::to_string(parsed->layers.size()) + " layers",
                        "CONFIG_INVALID"));
    }
    for (size_t i = 0; i < parsed->layers.size(); ++i) {
      std::string path = BlobPath(options.store, parsed->layers[i].digest);
      auto diff = UncompressedDigest(path);
      if (!diff) return Failed("unpack", diff.error(), "LAYER_INVALID");
      if (diff->str() != diff_ids[i]) {
        return Failed("unpack",
                      Err(Code::kCorruption,
                          "layer " + parsed->layers[i].digest.str() + " uncompresses to " +
                              diff->str() + ", the config's diff_id is " + diff_ids[i],
                          "DIGEST_INVALID"));
      }
      if (auto applied = ApplyLayer(path, options.rootfs); !applied) {
        Error e = applied.error();
        e.message = "layer " + parsed->layers[i].digest.str() + ": " + e.message;
        return Failed("unpack", e,
                      e.code == Code::kPermissionDenied ? "LAYER_UNSAFE" : "LAYER_INVALID");
      }
    }
  }
  return result;
}

json PullOutcomeJson(const std::string& image, const Outcome& outcome) {
  if (outcome) {
    return json{{"ok", true},
                {"image", image},
                {"digest", outcome->digest.str()},
                {"config", outcome->config},
                {"layers", outcome->layers},
                {"bytes", outcome->bytes}};
  }
  return json{{"ok", false},
              {"stage", outcome.error().stage},
              {"status", outcome.error().error.http_status},
              {"code", outcome.error().error.reason},
              {"message", outcome.error().error.message}};
}

int PullMainWith(const std::vector<std::string>& args, std::istream& in, std::ostream& out,
                 std::ostream& err, const TransportFactory& make_transport) {
  auto flags = ParseFlags(args, {"--image", "--store", "--rootfs", "--ca", "--connect-to"});
  if (!flags || Get(*flags, "--image").empty() || Get(*flags, "--store").empty()) {
    err << "coved pull: " << (flags ? "--image and --store are required" : flags.error().message)
        << "\nusage: coved pull --image REF --store DIR [--rootfs DIR] [--ca FILE] "
           "[--connect-to ADDR:PORT] < credential.json\n";
    return 2;
  }
  PullOptions options{.image = Get(*flags, "--image"),
                      .store = Get(*flags, "--store"),
                      .rootfs = Get(*flags, "--rootfs")};
  Outcome outcome;
  if (auto credential = ParseCredential(ReadAll(in)); !credential) {
    outcome = Failed("credential", credential.error(), "CREDENTIAL_INVALID");
  } else {
    options.credential = *credential;
    std::unique_ptr<Transport> transport = make_transport(TransportOptions{
        .ca_file = Get(*flags, "--ca"), .connect_to = Get(*flags, "--connect-to")});
    outcome = Pull(options, *transport);
  }
  out << PullOutcomeJson(options.image, outcome)
             .dump(-1, ' ', false, json::error_handler_t::replace)
      << "\n";
  out.flush();
  return outcome ? 0 : 1;
}

int CredentialProviderMainWith(const std::vector<std::string>& args, std::istream& in,
                               std::ostream& out, std::ostream& err,
                               const TransportFactory& make_transport, const std::string& imds) {
  auto flags = ParseFlags(args, {"--identity", "--ca", "--connect-to"});
  if (!flags || Get(*flags, "--identity").empty()) {
    err << "coved acr-credential-provider: "
        << (flags ? "--identity is required" : flags.error().message)
        << "\nusage: coved acr-credential-provider --identity CLIENT_ID [--ca FILE] < request\n";
    return 2;
  }
  auto fail = [&](const std::string& stage, const Error& e, const std::string& code) {
    err << stage << ": " << (e.reason.empty() ? code : e.reason) << ": " << e.message << "\n";
    return 1;
  };
  json request = json::parse(ReadAll(in), nullptr, /*allow_exceptions=*/false);
  if (!request.is_object() || !request.contains("image") || !request["image"].is_string()) {
    return fail("request",
                Error{Code::kInvalidArgument,
                      "stdin must be a CredentialProviderRequest with "
                      "an image"},
                "INVALID_REQUEST");
  }
  auto ref = ParseImageReference(request["image"].get<std::string>());
  if (!ref) return fail("request", ref.error(), "NAME_INVALID");
  std::unique_ptr<Transport> transport = make_transport(
      TransportOptions{.ca_file = Get(*flags, "--ca"), .connect_to = Get(*flags, "--connect-to")});
  auto token = ImdsAccessToken(*transport, Get(*flags, "--identity"), kManagementResource, imds);
  if (!token) return fail("imds", token.error(), "INVALID");
  auto refresh = ExchangeForRefreshToken(*transport, ref->registry, *token);
  if (!refresh) return fail("exchange", refresh.error(), "INVALID");
  std::string api = request.value("apiVersion", kProviderApi);
  out << json{{"apiVersion", api},
              {"kind", "CredentialProviderResponse"},
              {"cacheKeyType", "Registry"},
              {"cacheDuration", "0s"},
              {"auth", {{ref->registry, {{"username", kNullGuid}, {"password", *refresh}}}}}}
             .dump(-1, ' ', false, json::error_handler_t::replace)
      << "\n";
  out.flush();
  return 0;
}

}  // namespace cove::runtime
