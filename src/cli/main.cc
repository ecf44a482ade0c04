// cove: the command-line client. It will mirror `az` (issue: control plane and CLI); today it
// has what a registry user needs first:
//
//   cove ca show [--data-dir DIR]   print the CA certificate that coved's TLS certificates
//                                   chain to, for clients to trust (skopeo --dest-cert-dir,
//                                   podman certs.d, ctr --tlscacert, curl --cacert)
//
// Errors go to stderr with a non-zero exit.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>

namespace {

std::string DefaultDataDir() {
  if (::geteuid() == 0) return "/var/lib/cove";
  const char* home = std::getenv("HOME");
  return std::string(home ? home : ".") + "/.local/share/cove";
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"cove: manage cove registries and their private endpoints"};
  app.require_subcommand(1);
  std::string data_dir = DefaultDataDir();

  CLI::App* ca = app.add_subcommand("ca", "the certificate authority coved issues TLS from");
  ca->require_subcommand(1);
  CLI::App* show = ca->add_subcommand("show", "print the CA certificate (PEM)");
  show->add_option("--data-dir", data_dir, "coved's data directory")->capture_default_str();
  show->callback([&] {
    std::string path = data_dir + "/tls/ca.crt";
    std::ifstream in(path);
    if (!in) {
      std::cerr << "cove: cannot read " << path
                << " (has coved been started with this --data-dir?)\n";
      std::exit(1);
    }
    std::stringstream ss;
    ss << in.rdbuf();
    std::cout << ss.str();
  });

  CLI11_PARSE(app, argc, argv);
  return 0;
}
