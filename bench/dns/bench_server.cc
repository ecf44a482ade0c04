// cove-dns-bench-server: serves a catalog from a JSON file (catalog_json.h) with cove's DNS
// server, for bench/dns/run and for trying the server by hand.
//
//   cove-dns-bench-server --catalog FILE [--address 127.0.0.1] [--port 0] [--view ID]
//                         [--threads 1]
//
// Prints "port N" on stdout once it answers, then serves until SIGINT or SIGTERM, and prints the
// view's counters on stderr when it stops.
#include <signal.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>

#include "dns/catalog_json.h"
#include "dns/server.h"

int main(int argc, char** argv) {
  std::string catalog_file, address = "127.0.0.1", view;
  int port = 0, threads = 1;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i], value = argv[i + 1];
    if (flag == "--catalog") {
      catalog_file = value;
    } else if (flag == "--address") {
      address = value;
    } else if (flag == "--port") {
      port = std::atoi(value.c_str());
    } else if (flag == "--view") {
      view = value;
    } else if (flag == "--threads") {
      threads = std::atoi(value.c_str());
    } else {
      std::cerr << "unknown flag " << flag << "\n";
      return 2;
    }
  }
  if (catalog_file.empty() || port < 0 || port > 65535) {
    std::cerr << "usage: cove-dns-bench-server --catalog FILE [--address A] [--port P] "
                 "[--view ID] [--threads N]\n";
    return 2;
  }
  std::ifstream in(catalog_file);
  std::stringstream text;
  text << in.rdbuf();
  auto spec = cove::dns::CatalogSpecFromJson(text.str());
  if (!spec) {
    std::cerr << spec.error().ToString() << "\n";
    return 1;
  }
  auto catalog = cove::dns::Catalog::Build(*spec);
  if (!catalog) {
    std::cerr << catalog.error().ToString() << "\n";
    return 1;
  }
  cove::dns::CatalogStore store;
  store.Set(*catalog);

  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);  // before the server's threads start

  cove::dns::Server server(store, {.threads = threads});
  auto bound = server.Listen(address, static_cast<uint16_t>(port), view);
  if (!bound) {
    std::cerr << bound.error().ToString() << "\n";
    return 1;
  }
  server.Start();
  std::cout << "port " << *bound << std::endl;
  int sig = 0;
  sigwait(&signals, &sig);
  server.Stop();
  cove::dns::ViewCounterSnapshot c = server.Counters(view);
  std::cerr << "queries " << c.queries << " responses " << c.responses << " dropped " << c.dropped
            << " truncated " << c.truncated << " noerror " << c.rcodes[0] << " nxdomain "
            << c.rcodes[3] << " refused " << c.rcodes[5] << "\n";
  return 0;
}
