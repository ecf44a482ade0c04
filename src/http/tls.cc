// CertificateAuthority and SniContextProvider on OpenSSL 3.
//
// On-disk layout (all PEM):
//   <ca dir>/ca.crt          the CA certificate (mode 0644)
//   <ca dir>/ca.key          its PKCS#8 private key (mode 0600)
//   <cache dir>/<name>.crt   a server certificate for host <name> (SAN DNS or IP)
//   <cache dir>/<name>.key   its private key (mode 0600)
// Every file is written atomically: <file>.tmp, fsync, rename, fsync of the directory.
#include "http/tls.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <mutex>

#include <spdlog/spdlog.h>

#include "common/digest.h"
#include "common/unique_fd.h"

namespace cove::http {
namespace {

constexpr auto kCaValidity = std::chrono::hours(24 * 365 * 10);
constexpr auto kServerValidity = std::chrono::hours(24 * 365);
constexpr auto kRenewBefore = std::chrono::hours(24 * 30);
constexpr auto kBackdate = std::chrono::hours(1);  // tolerate clients whose clocks lag

struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};
struct PkeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct CtxFree {
  void operator()(SSL_CTX* c) const { SSL_CTX_free(c); }
};
using X509Ptr = std::unique_ptr<X509, X509Free>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;
using BioPtr = std::unique_ptr<BIO, BioFree>;
using CtxPtr = std::unique_ptr<SSL_CTX, CtxFree>;

// The OpenSSL error queue as text (and cleared).
std::string SslErrors() {
  std::string out;
  while (unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out.empty() ? "unknown OpenSSL error" : out;
}

tl::unexpected<Error> SslFail(std::string what) {
  return Fail(Code::kInternal, what + ": " + SslErrors());
}

tl::unexpected<Error> ErrnoFail(const std::string& what, const std::string& path) {
  return Fail(Code::kIOError, what + " " + path + ": " + std::strerror(errno));
}

Result<std::string> ReadFile(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return ErrnoFail("open", path);
  std::string out;
  char buf[8192];
  for (;;) {
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoFail("read", path);
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

std::string DirOf(const std::string& path) {
  auto slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

// Writes `data` to `path` atomically with `mode`.
Status WriteFileAtomic(const std::string& path, std::string_view data, mode_t mode) {
  std::string tmp = path + ".tmp";
  UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode));
  if (!fd.valid()) return ErrnoFail("create", tmp);
  if (::fchmod(fd.get(), mode) != 0) return ErrnoFail("chmod", tmp);
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd.get(), data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoFail("write", tmp);
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd.get()) != 0) return ErrnoFail("fsync", tmp);
  fd.Reset();
  if (::rename(tmp.c_str(), path.c_str()) != 0) return ErrnoFail("rename", tmp);
  std::string dir = DirOf(path);
  UniqueFd dfd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dfd.valid()) ::fsync(dfd.get());
  return Ok();
}

// Creates `dir` (and missing parents) with `mode`; an existing directory is left as is.
Status MakeDirs(const std::string& dir, mode_t mode) {
  if (dir.empty()) return Ok();
  struct stat st;
  if (::stat(dir.c_str(), &st) == 0) {
    if (S_ISDIR(st.st_mode)) return Ok();
    return Fail(Code::kIOError, dir + " exists and is not a directory");
  }
  std::string parent = DirOf(dir);
  if (parent != dir) COVE_RETURN_IF_ERROR(MakeDirs(parent, mode));
  if (::mkdir(dir.c_str(), mode) != 0 && errno != EEXIST) return ErrnoFail("mkdir", dir);
  return Ok();
}

bool FileExists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

Result<std::string> CertToPem(X509* cert) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_X509(bio.get(), cert) != 1) return SslFail("PEM_write_bio_X509");
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(len));
}

Result<std::string> KeyToPem(EVP_PKEY* key) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    return SslFail("PEM_write_bio_PrivateKey");
  }
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(len));
}

Result<X509Ptr> CertFromPem(std::string_view pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  X509Ptr cert(bio ? PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr) : nullptr);
  if (!cert) return Fail(Code::kCorruption, "bad certificate PEM: " + SslErrors());
  return cert;
}

Result<PkeyPtr> KeyFromPem(std::string_view pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  PkeyPtr key(bio ? PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr) : nullptr);
  if (!key) return Fail(Code::kCorruption, "bad private key PEM: " + SslErrors());
  return key;
}

Result<PkeyPtr> NewKey() {
  PkeyPtr key(EVP_EC_gen("P-256"));
  if (!key) return SslFail("EVP_EC_gen");
  return key;
}

bool IsIpLiteral(const std::string& name) {
  unsigned char buf[16];
  return ::inet_pton(AF_INET, name.c_str(), buf) == 1 || ::inet_pton(AF_INET6, name.c_str(), buf) == 1;
}

// A DNS name usable in a SAN: letters, digits, '-', '.', a leading "*." wildcard; ≤ 253.
bool IsDnsName(std::string_view name) {
  if (name.empty() || name.size() > 253) return false;
  if (name.starts_with("*.")) name.remove_prefix(2);
  if (name.empty() || name.front() == '.' || name.back() == '.') return false;
  char prev = 0;
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '.';
    if (!ok || (c == '.' && prev == '.')) return false;
    prev = c;
  }
  return true;
}

Status AddExt(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
  if (!ext) return SslFail(std::string("extension ") + OBJ_nid2sn(nid));
  int ok = X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
  if (ok != 1) return SslFail("X509_add_ext");
  return Ok();
}

Status SetRandomSerial(X509* cert) {
  BIGNUM* bn = BN_new();
  if (!bn) return SslFail("BN_new");
  // 127 random bits: 128-bit serial that stays positive in DER.
  bool ok = BN_rand(bn, 127, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) == 1 &&
            BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert)) != nullptr;
  BN_free(bn);
  if (!ok) return SslFail("serial");
  return Ok();
}

// A certificate skeleton: v3, random serial, validity [now - backdate, now + validity], subject
// CN and the public key of `key`.
Result<X509Ptr> NewCert(const Clock& clock, std::chrono::hours validity, const std::string& cn,
                        EVP_PKEY* key) {
  X509Ptr cert(X509_new());
  if (!cert || X509_set_version(cert.get(), 2) != 1) return SslFail("X509_new");
  COVE_RETURN_IF_ERROR(SetRandomSerial(cert.get()));
  time_t now = UnixSeconds(clock.Now());
  time_t from = now - std::chrono::duration_cast<std::chrono::seconds>(kBackdate).count();
  time_t to = now + std::chrono::duration_cast<std::chrono::seconds>(validity).count();
  if (!ASN1_TIME_set(X509_getm_notBefore(cert.get()), from) ||
      !ASN1_TIME_set(X509_getm_notAfter(cert.get()), to)) {
    return SslFail("validity");
  }
  X509_NAME* name = X509_get_subject_name(cert.get());
  if (!cn.empty() &&
      X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                                 reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1,
                                 0) != 1) {
    return SslFail("subject");
  }
  if (X509_set_pubkey(cert.get(), key) != 1) return SslFail("X509_set_pubkey");
  return cert;
}

// notAfter as Unix seconds.
Result<int64_t> NotAfter(X509* cert) {
  struct tm tm;
  if (ASN1_TIME_to_tm(X509_get0_notAfter(cert), &tm) != 1) return SslFail("notAfter");
  return static_cast<int64_t>(timegm(&tm));
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// CertificateAuthority

struct CertificateAuthority::Impl {
  const Clock* clock;
  X509Ptr cert;
  PkeyPtr key;
  std::string cert_pem;
};

CertificateAuthority::CertificateAuthority(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
CertificateAuthority::~CertificateAuthority() = default;

const std::string& CertificateAuthority::CertificatePem() const { return impl_->cert_pem; }

Result<std::unique_ptr<CertificateAuthority>> CertificateAuthority::LoadOrCreate(
    const std::string& dir, const Clock& clock) {
  COVE_RETURN_IF_ERROR(MakeDirs(dir, 0700));
  const std::string cert_path = dir + "/ca.crt";
  const std::string key_path = dir + "/ca.key";
  auto impl = std::make_unique<Impl>();
  impl->clock = &clock;

  if (FileExists(cert_path) && FileExists(key_path)) {
    COVE_ASSIGN_OR_RETURN(impl->cert_pem, ReadFile(cert_path));
    COVE_ASSIGN_OR_RETURN(std::string key_pem, ReadFile(key_path));
    COVE_ASSIGN_OR_RETURN(impl->cert, CertFromPem(impl->cert_pem));
    COVE_ASSIGN_OR_RETURN(impl->key, KeyFromPem(key_pem));
    if (X509_check_private_key(impl->cert.get(), impl->key.get()) != 1) {
      ERR_clear_error();
      return Fail(Code::kCorruption, key_path + " does not match " + cert_path);
    }
    return std::unique_ptr<CertificateAuthority>(new CertificateAuthority(std::move(impl)));
  }

  if (FileExists(cert_path) || FileExists(key_path)) {
    spdlog::warn("tls: {} has only half of the CA; creating a new CA", dir);
  }
  COVE_ASSIGN_OR_RETURN(impl->key, NewKey());
  unsigned char tag[4];
  if (RAND_bytes(tag, sizeof tag) != 1) return SslFail("RAND_bytes");
  std::string cn = "cove registry CA " + HexEncode(std::string_view(reinterpret_cast<const char*>(tag), sizeof tag));
  COVE_ASSIGN_OR_RETURN(impl->cert, NewCert(clock, kCaValidity, cn, impl->key.get()));
  X509* c = impl->cert.get();
  if (X509_set_issuer_name(c, X509_get_subject_name(c)) != 1) return SslFail("issuer");
  COVE_RETURN_IF_ERROR(AddExt(c, c, NID_basic_constraints, "critical,CA:TRUE"));
  COVE_RETURN_IF_ERROR(AddExt(c, c, NID_key_usage, "critical,keyCertSign,cRLSign"));
  COVE_RETURN_IF_ERROR(AddExt(c, c, NID_subject_key_identifier, "hash"));
  if (X509_sign(c, impl->key.get(), EVP_sha256()) <= 0) return SslFail("X509_sign");
  COVE_ASSIGN_OR_RETURN(impl->cert_pem, CertToPem(c));
  COVE_ASSIGN_OR_RETURN(std::string key_pem, KeyToPem(impl->key.get()));
  // Key first: a crash between the two leaves no certificate, so the next start recreates both.
  COVE_RETURN_IF_ERROR(WriteFileAtomic(key_path, key_pem, 0600));
  COVE_RETURN_IF_ERROR(WriteFileAtomic(cert_path, impl->cert_pem, 0644));
  spdlog::info("tls: created certificate authority {} in {}", cn, dir);
  return std::unique_ptr<CertificateAuthority>(new CertificateAuthority(std::move(impl)));
}

Result<CertificateAuthority::Issued> CertificateAuthority::Issue(
    const std::vector<std::string>& host_names) const {
  if (host_names.empty()) return Fail(Code::kInvalidArgument, "no host names to certify");
  GENERAL_NAMES* sans = sk_GENERAL_NAME_new_null();
  if (!sans) return SslFail("sk_GENERAL_NAME_new_null");
  std::unique_ptr<GENERAL_NAMES, void (*)(GENERAL_NAMES*)> sans_owner(
      sans, [](GENERAL_NAMES* g) { GENERAL_NAMES_free(g); });
  for (const std::string& name : host_names) {
    GENERAL_NAME* gen = nullptr;
    if (IsIpLiteral(name)) {
      gen = a2i_GENERAL_NAME(nullptr, nullptr, nullptr, GEN_IPADD, name.c_str(), 0);
    } else if (IsDnsName(name)) {
      gen = a2i_GENERAL_NAME(nullptr, nullptr, nullptr, GEN_DNS, name.c_str(), 0);
    } else {
      return Fail(Code::kInvalidArgument, "not a host name or IP address: '" + name + "'");
    }
    if (!gen) return SslFail("subjectAltName " + name);
    if (sk_GENERAL_NAME_push(sans, gen) == 0) {
      GENERAL_NAME_free(gen);
      return SslFail("sk_GENERAL_NAME_push");
    }
  }

  COVE_ASSIGN_OR_RETURN(PkeyPtr key, NewKey());
  const std::string& first = host_names.front();
  std::string cn = first.size() <= 64 ? first : std::string();
  COVE_ASSIGN_OR_RETURN(X509Ptr cert, NewCert(*impl_->clock, kServerValidity, cn, key.get()));
  X509* c = cert.get();
  X509* ca = impl_->cert.get();
  if (X509_set_issuer_name(c, X509_get_subject_name(ca)) != 1) return SslFail("issuer");
  COVE_RETURN_IF_ERROR(AddExt(c, ca, NID_basic_constraints, "critical,CA:FALSE"));
  COVE_RETURN_IF_ERROR(AddExt(c, ca, NID_key_usage, "critical,digitalSignature"));
  COVE_RETURN_IF_ERROR(AddExt(c, ca, NID_ext_key_usage, "serverAuth"));
  COVE_RETURN_IF_ERROR(AddExt(c, ca, NID_subject_key_identifier, "hash"));
  COVE_RETURN_IF_ERROR(AddExt(c, ca, NID_authority_key_identifier, "keyid:always"));
  // Critical when the subject is empty (RFC 5280 4.2.1.6).
  if (X509_add1_ext_i2d(c, NID_subject_alt_name, sans, cn.empty() ? 1 : 0, X509V3_ADD_DEFAULT) !=
      1) {
    return SslFail("subjectAltName");
  }
  if (X509_sign(c, impl_->key.get(), EVP_sha256()) <= 0) return SslFail("X509_sign");
  Issued out;
  COVE_ASSIGN_OR_RETURN(out.certificate_pem, CertToPem(c));
  COVE_ASSIGN_OR_RETURN(out.private_key_pem, KeyToPem(key.get()));
  return out;
}

// ---------------------------------------------------------------------------------------------
// SniContextProvider

namespace {

// SNI names become file names: only [a-z0-9.-], no empty labels, ≤ 253.
bool IsSafeHostName(std::string_view name) {
  if (name.empty() || name.size() > 253 || name.front() == '.' || name.back() == '.') {
    return false;
  }
  char prev = 0;
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.';
    if (!ok || (c == '.' && prev == '.')) return false;
    prev = c;
  }
  return true;
}

}  // namespace

struct SniContextProvider::Impl {
  const CertificateAuthority& ca;
  std::string cache_dir;
  const Clock& clock;
  std::function<bool(std::string_view)> accepts;
  std::string default_name;

  struct Entry {
    CtxPtr ctx;
    int64_t renew_at = 0;  // Unix seconds: reissue from here on
  };
  std::mutex mu;
  std::map<std::string, Entry, std::less<>> contexts;  // guarded by mu
  // Replaced contexts are kept: a caller may still be about to hand one to SSL_set_SSL_CTX.
  // One per renewal (yearly) per name, so this stays tiny.
  std::vector<CtxPtr> retired;  // guarded by mu
  PkeyPtr ca_public_key;                                // guarded by mu

  Impl(const CertificateAuthority& ca, std::string cache_dir, const Clock& clock,
       std::function<bool(std::string_view)> accepts, std::string default_name)
      : ca(ca),
        cache_dir(std::move(cache_dir)),
        clock(clock),
        accepts(std::move(accepts)),
        default_name(std::move(default_name)) {}

  EVP_PKEY* CaPublicKey() {
    if (!ca_public_key) {
      auto cert = CertFromPem(ca.CertificatePem());
      if (cert) ca_public_key.reset(X509_get_pubkey(cert->get()));
    }
    return ca_public_key.get();
  }

  // A context for `cert_pem`/`key_pem` and when to renew it, or an error if the pair is
  // unusable (bad PEM, key mismatch, not signed by our CA, expiring).
  Result<Entry> MakeEntry(const std::string& cert_pem, const std::string& key_pem) {
    COVE_ASSIGN_OR_RETURN(X509Ptr cert, CertFromPem(cert_pem));
    COVE_ASSIGN_OR_RETURN(PkeyPtr key, KeyFromPem(key_pem));
    EVP_PKEY* ca_key = CaPublicKey();
    if (!ca_key || X509_verify(cert.get(), ca_key) != 1) {
      ERR_clear_error();
      return Fail(Code::kFailedPrecondition, "certificate not signed by this CA");
    }
    COVE_ASSIGN_OR_RETURN(int64_t not_after, NotAfter(cert.get()));
    Entry entry;
    entry.renew_at = not_after - std::chrono::duration_cast<std::chrono::seconds>(kRenewBefore).count();
    if (UnixSeconds(clock.Now()) >= entry.renew_at) {
      return Fail(Code::kFailedPrecondition, "certificate expires within 30 days");
    }
    entry.ctx.reset(SSL_CTX_new(TLS_server_method()));
    SSL_CTX* ctx = entry.ctx.get();
    if (!ctx) return SslFail("SSL_CTX_new");
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER);
    if (SSL_CTX_use_certificate(ctx, cert.get()) != 1 ||
        SSL_CTX_use_PrivateKey(ctx, key.get()) != 1 || SSL_CTX_check_private_key(ctx) != 1) {
      return SslFail("certificate/key for TLS context");
    }
    return entry;
  }

  // Loads `name` from the cache directory or issues (and stores) a new certificate.
  Result<Entry> LoadOrIssue(const std::string& name) {
    const std::string cert_path = cache_dir + "/" + name + ".crt";
    const std::string key_path = cache_dir + "/" + name + ".key";
    if (FileExists(cert_path) && FileExists(key_path)) {
      auto cert_pem = ReadFile(cert_path);
      auto key_pem = ReadFile(key_path);
      if (cert_pem && key_pem) {
        auto entry = MakeEntry(*cert_pem, *key_pem);
        if (entry) return entry;
        spdlog::info("tls: reissuing certificate for {}: {}", name, entry.error().message);
      }
    }
    COVE_ASSIGN_OR_RETURN(auto issued, ca.Issue({name}));
    COVE_ASSIGN_OR_RETURN(Entry entry, MakeEntry(issued.certificate_pem, issued.private_key_pem));
    Status stored = MakeDirs(cache_dir, 0700);
    if (stored) stored = WriteFileAtomic(key_path, issued.private_key_pem, 0600);
    if (stored) stored = WriteFileAtomic(cert_path, issued.certificate_pem, 0644);
    if (!stored) {  // still serve from memory
      spdlog::warn("tls: cannot cache certificate for {}: {}", name, stored.error().message);
    }
    return entry;
  }

  SSL_CTX* Get(std::string_view requested) {
    std::string_view name = requested;
    if (name.empty() || !IsSafeHostName(name) || !accepts(name)) name = default_name;
    std::lock_guard lock(mu);
    auto it = contexts.find(name);
    if (it != contexts.end() && UnixSeconds(clock.Now()) < it->second.renew_at) {
      return it->second.ctx.get();
    }
    // The default name comes from configuration; it passes the same check before use as a
    // file name.
    if (!IsSafeHostName(name)) {
      spdlog::error("tls: default host name '{}' is not a valid host name", name);
      return nullptr;
    }
    std::string key(name);
    auto entry = LoadOrIssue(key);
    if (!entry) {
      spdlog::error("tls: no certificate for {}: {}", key, entry.error().ToString());
      // An expiring context is better than none.
      return it != contexts.end() ? it->second.ctx.get() : nullptr;
    }
    auto& slot = contexts[key];
    if (slot.ctx) retired.push_back(std::move(slot.ctx));
    slot = std::move(*entry);
    return slot.ctx.get();
  }
};

SniContextProvider::SniContextProvider(const CertificateAuthority& ca, std::string cache_dir,
                                       const Clock& clock,
                                       std::function<bool(std::string_view)> accepts,
                                       std::string default_name)
    : impl_(std::make_unique<Impl>(ca, std::move(cache_dir), clock, std::move(accepts),
                                   std::move(default_name))) {}

SniContextProvider::~SniContextProvider() = default;

SSL_CTX* SniContextProvider::ContextFor(std::string_view server_name) {
  return impl_->Get(server_name);
}

SSL_CTX* SniContextProvider::DefaultContext() { return impl_->Get(""); }

}  // namespace cove::http
