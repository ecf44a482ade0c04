#include "runtime/pull_main.h"

#include "runtime/pull.h"

namespace cove::runtime {

int PullMain(const std::vector<std::string>& args, std::istream& in, std::ostream& out,
             std::ostream& err) {
  return PullMainWith(args, in, out, err, NewHttpsTransport);
}

int CredentialProviderMain(const std::vector<std::string>& args, std::istream& in,
                           std::ostream& out, std::ostream& err) {
  return CredentialProviderMainWith(args, in, out, err, NewHttpsTransport);
}

}  // namespace cove::runtime
