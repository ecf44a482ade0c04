// TLS for cove's listeners: its own certificate authority, and certificates per host name.
//
// On first start coved creates a CA (ECDSA P-256 key, self-signed, 10 years) under
// <data>/tls/ca.{crt,key} (key mode 0600); clients trust ca.crt (`cove` prints it). Server
// certificates are issued from it on demand, one per host name the Handler serves (SNI picks
// it), valid 1 year, cached in memory and under <data>/tls/hosts/<name>.{crt,key}, and
// re-issued when they are within 30 days of expiry or were signed by another CA.
//
// Thread-safety: CertificateAuthority and SniContextProvider may be used from any thread.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/error.h"

typedef struct ssl_ctx_st SSL_CTX;

namespace cove::http {

class CertificateAuthority {
 public:
  // Loads the CA from `dir` or creates it there (creating `dir` with mode 0700).
  static Result<std::unique_ptr<CertificateAuthority>> LoadOrCreate(const std::string& dir,
                                                                    const Clock& clock);
  ~CertificateAuthority();

  // The CA certificate, PEM.
  const std::string& CertificatePem() const;
  // A new key pair and certificate for `host_names` (DNS or IP SANs), PEM each.
  struct Issued {
    std::string certificate_pem;
    std::string private_key_pem;
  };
  Result<Issued> Issue(const std::vector<std::string>& host_names) const;

 private:
  struct Impl;
  explicit CertificateAuthority(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Chooses the SSL_CTX for a connection from its SNI name.
class TlsContextProvider {
 public:
  virtual ~TlsContextProvider() = default;
  // The context to use for `server_name` (lowercased; "" when the client sent no SNI).
  // nullptr refuses the handshake.
  virtual SSL_CTX* ContextFor(std::string_view server_name) = 0;
  // The context the handshake starts with (before SNI is seen).
  virtual SSL_CTX* DefaultContext() = 0;
};

// Issues a certificate per accepted name from `ca`, lazily. `accepts(name)` says which names
// are served; a connection without SNI, or with a name not accepted, gets the certificate for
// `default_name`.
class SniContextProvider final : public TlsContextProvider {
 public:
  SniContextProvider(const CertificateAuthority& ca, std::string cache_dir, const Clock& clock,
                     std::function<bool(std::string_view)> accepts, std::string default_name);
  ~SniContextProvider() override;
  SSL_CTX* ContextFor(std::string_view server_name) override;
  SSL_CTX* DefaultContext() override;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace cove::http
