// A real ClientHello, as OpenSSL's client writes it (TLS 1.3 capable), for tests of code that
// reads one without terminating TLS.
#pragma once

#include <openssl/bio.h>
#include <openssl/ssl.h>

#include <string>

namespace cove::privatelink::testing {

// The bytes a TLS client sends first; `server_name` "" sends no SNI.
inline std::string MakeClientHello(const std::string& server_name) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  SSL* ssl = SSL_new(ctx);
  BIO* in = BIO_new(BIO_s_mem());
  BIO* out = BIO_new(BIO_s_mem());
  SSL_set_bio(ssl, in, out);  // the SSL owns both
  if (!server_name.empty()) SSL_set_tlsext_host_name(ssl, server_name.c_str());
  SSL_connect(ssl);  // writes the ClientHello, then wants to read
  char* data = nullptr;
  long n = BIO_get_mem_data(out, &data);
  std::string hello(data, static_cast<size_t>(n));
  SSL_free(ssl);
  SSL_CTX_free(ctx);
  return hello;
}

}  // namespace cove::privatelink::testing
