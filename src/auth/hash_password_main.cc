// cove-hash-password: reads a password on stdin (one line) and prints its Argon2id hash, for
// the password_hash fields of coved's `auth:` configuration. With --generate, makes a random
// password, prints it on stderr and its hash on stdout.
#include <cstring>
#include <iostream>
#include <string>

#include "auth/password.h"

int main(int argc, char** argv) {
  std::string password;
  if (argc > 1 && std::strcmp(argv[1], "--generate") == 0) {
    password = cove::auth::GeneratePassword();
    std::cerr << password << "\n";
  } else if (!std::getline(std::cin, password) || password.empty()) {
    std::cerr << "usage: cove-hash-password [--generate] < password\n";
    return 2;
  }
  auto hash = cove::auth::HashPassword(password);
  if (!hash) {
    std::cerr << hash.error().ToString() << "\n";
    return 1;
  }
  std::cout << *hash << "\n";
  return 0;
}
