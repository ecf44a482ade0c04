// Azurite: the Azure Storage emulator's blob service (azurite-blob, pinned in tools/npm and
// installed by scripts/install-deps) run for a test: on 127.0.0.1 with a port the kernel chose
// (--blobPort 0; the port is read from its "listens on" line), a workspace in a fresh temp
// directory, the well-known development account. Stopped by PID (SIGTERM, then SIGKILL) and its
// directory removed when the object goes away, whether or not the test passed. Test-only.
//
// A missing azurite is a test failure (error() names scripts/install-deps), never a skip.
//
// Thread-safety: a plain value once started; the accessors may be read from any thread.
#pragma once

#include <sys/types.h>

#include <string>
#include <thread>

#include "support/temp_dir.h"

namespace cove::testing {

class Azurite {
 public:
  // The emulator's published development account and key.
  static constexpr const char* kAccount = "devstoreaccount1";
  static constexpr const char* kKey =
      "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

  // Starts azurite-blob and waits (at most 60 s) until it listens.
  Azurite();
  ~Azurite();
  Azurite(const Azurite&) = delete;
  Azurite& operator=(const Azurite&) = delete;

  // True when it runs; otherwise error() says why.
  bool ok() const { return port_ != 0; }
  const std::string& error() const { return error_; }
  int port() const { return port_; }
  // "http://127.0.0.1:PORT/devstoreaccount1".
  std::string endpoint() const;

 private:
  TempDir dir_;
  pid_t pid_ = -1;
  int port_ = 0;
  std::string error_;
  std::thread drain_;  // reads the emulator's output until it exits, so it never blocks
};

}  // namespace cove::testing
