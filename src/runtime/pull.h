// Pull, and the two coved subcommands built on it (issue 16, contracts 2 and 3).
//
// `coved pull --image REF --store DIR [--rootfs DIR] [--ca FILE] [--connect-to ADDR:PORT]`
//   what ACI's agent does for a container group, run inside the pulling machine's namespace.
//   stdin: one JSON credential object read to EOF ({} | {"username","password"} |
//   {"identity": client id}, runtime/credentials.h). Pulls manifest → config → layers into the
//   content store DIR/blobs/<alg>/<hex> (digests verified; blobs already there reused, temporary
//   files DIR/blobs/<alg>/.ingest-*), and with --rootfs unpacks the layers in order into that
//   empty or absent directory, each layer's diff_id checked first. stdout: exactly one JSON
//   object:
//     0: {"ok":true,"image":REF (as given),"digest":the digest REF resolves to (the index's for a
//        multi-platform image),"config":the config's "config" object verbatim ({} when absent),
//        "layers":N,"bytes":the layers' total (compressed) size}
//     1: {"ok":false,"stage":"credential"|"resolve"|"manifest"|"blob"|"unpack","status":HTTP
//        status or 0,"code":the registry's OCI code | CONNECT | ...,"message":the registry's
//        own message, verbatim, or the connection error}
//   2: usage error, message on stderr. --connect-to (curl's) sends every HTTPS connection to
//   ADDR:PORT while names and certificates stay the image's host: for tests.
//   Stages: credential = stdin, IMDS, /oauth2/exchange, the token endpoint; resolve = the
//   reference and GET /v2/; manifest = manifests; blob = config and layers; unpack = the rootfs.
//
// `coved acr-credential-provider --identity CLIENT_ID [--ca FILE] [--connect-to ADDR:PORT]`
//   kubelet's credential provider plugin (credentialprovider.kubelet.k8s.io/v1) as Azure's
//   acr-credential-provider: stdin a CredentialProviderRequest, stdout a
//   CredentialProviderResponse with the null GUID and an ACR refresh token for the image's
//   registry (cacheKeyType Registry, cacheDuration 0s). Failure: exit 1 and one stderr line
//   "<stage>: <CODE>: <message>", stage request | imds | exchange.
//
// Beast-free (the transport is injected), so the fuzzers and tests drive all of it.
//
// Thread-safety: Pull is a function of its arguments; the Mains are for a process's main thread.
#pragma once

#include <cstdint>
#include <functional>
#include <iosfwd>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <tl/expected.hpp>
#include <vector>

#include "common/digest.h"
#include "common/error.h"
#include "runtime/credentials.h"
#include "runtime/transport.h"

namespace cove::runtime {

struct PullOptions {
  std::string image;   // as given
  std::string store;   // content store directory (created when absent)
  std::string rootfs;  // "" = do not unpack
  Credential credential;
  std::string imds = kImdsEndpoint;
};

struct PullResult {
  Digest digest;          // what the reference resolved to
  Digest manifest;        // the image manifest's (== digest unless the reference is an index)
  nlohmann::json config;  // the config's "config" object
  int layers = 0;
  uint64_t bytes = 0;
};

struct PullFailure {
  std::string stage;  // credential | resolve | manifest | blob | unpack
  Error error;        // reason = the code reported, http_status = the status
};

// Pulls (and unpacks) `options.image` over `transport`.
tl::expected<PullResult, PullFailure> Pull(const PullOptions& options, Transport& transport);

// The JSON object `coved pull` prints for an outcome (dump it with
// error_handler_t::replace: a registry's message may hold any bytes).
nlohmann::json PullOutcomeJson(const std::string& image,
                               const tl::expected<PullResult, PullFailure>& outcome);

// Makes the transport a Main uses, from --ca and --connect-to (NewHttpsTransport in coved).
using TransportFactory = std::function<std::unique_ptr<Transport>(TransportOptions)>;

// The two subcommands (runtime/pull_main.h runs them over HTTPS): `args` exclude the
// subcommand's name; the return value is the exit code.
int PullMainWith(const std::vector<std::string>& args, std::istream& in, std::ostream& out,
                 std::ostream& err, const TransportFactory& make_transport);
int CredentialProviderMainWith(const std::vector<std::string>& args, std::istream& in,
                               std::ostream& out, std::ostream& err,
                               const TransportFactory& make_transport,
                               const std::string& imds = kImdsEndpoint);

}  // namespace cove::runtime
