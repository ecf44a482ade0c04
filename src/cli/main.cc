// `cove`: see cli/cli.h for the commands and how they differ from az.
#include <iostream>
#include <string>
#include <vector>

#include "cli/cli.h"

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  return cove::cli::Run(args, std::cout, std::cerr, cove::cli::Environment::FromProcess());
}
