// deploy, up, ca show.
#include <fstream>
#include <iostream>
#include <sstream>

#include "cli/commands.h"
#include "cli/deploy.h"

namespace cove::cli {

using nlohmann::json;

namespace {

std::variant<std::map<std::string, std::string>, Outcome> Parameters(const ParsedArgs& a) {
  std::map<std::string, std::string> out;
  for (const auto& occurrence : a.GetRepeats("--parameters")) {
    for (const auto& kv : occurrence) {
      size_t eq = kv.find('=');
      if (eq == std::string::npos || eq == 0) {
        return Outcome::Usage("argument --parameters: expected NAME=VALUE, got '" + kv + "'");
      }
      out[kv.substr(0, eq)] = kv.substr(eq + 1);
    }
  }
  return out;
}

ArgSpec ParametersArg() {
  return {.name = "--parameters",
          .aliases = {"-p"},
          .help = "Values for ${NAME} placeholders in the file: NAME=VALUE ...",
          .kind = ArgKind::kRepeat};
}

}  // namespace

void AddDeployCommands(Registry& r) {
  r.AddCommand(
      {.path = {"deploy"},
       .summary = "Apply a declarative file of resources, idempotently, in dependency order "
                  "(cove only).",
       .args = {{.name = "--file",
                 .aliases = {"-f"},
                 .help = "The deployment file (YAML or JSON): a list of resources, each an id "
                         "or type+name(+resourceGroup), with its REST body. '-' reads stdin.",
                 .required = true},
                {.name = "--resource-group",
                 .aliases = {"-g"},
                 .help = "Resource group of resources that name none; also ${resourceGroup}."},
                ParametersArg()},
       .run =
           [](Context& ctx, const ParsedArgs& a) {
             std::string file = *a.Get("--file");
             std::stringstream text;
             if (file == "-") {
               text << std::cin.rdbuf();
             } else {
               std::ifstream in(file);
               if (!in) return Outcome::Failure("cannot read " + file);
               text << in.rdbuf();
             }
             auto doc = ParseDeploymentText(text.str());
             if (!doc) return Outcome::Failure(file + ": " + doc.error().message);
             auto params = Parameters(a);
             if (auto* stop = std::get_if<Outcome>(&params)) return *stop;
             return ApplyDeployment(ctx, *doc, a.GetOr("--resource-group", ""),
                                    std::get<0>(params));
           },
       .examples = {{"Apply a file twice: the second run reports every resource unchanged.",
                     "cove deploy -f seed.yaml -o table"}}});
  r.AddCommand({.path = {"up"},
                .summary =
                    "Create the seed's architecture in one step: resource group, VNet with "
                    "subnet, Premium registry, private endpoint (10.0.0.5, 10.0.0.6), private DNS "
                    "zone linked to the VNet, zone group (cove only).",
                .args = {{.name = "--resource-group",
                          .aliases = {"-g"},
                          .help = "Resource group to create it in.",
                          .default_text = "myResourceGroup"},
                         {.name = "--location",
                          .aliases = {"-l"},
                          .help = "Region of the resources.",
                          .default_text = "westus"},
                         {.name = "--registry",
                          .aliases = {"-r"},
                          .help = "Name of the registry.",
                          .default_text = "myregistry"},
                         {.name = "--show-file",
                          .help = "Print the built-in deployment file instead of applying it.",
                          .kind = ArgKind::kSwitch}},
                .run = [](Context& ctx, const ParsedArgs& a) {
                  if (a.Has("--show-file")) {
                    ctx.out() << UpDeployment();
                    return Outcome::Nothing();
                  }
                  auto doc = ParseDeploymentText(UpDeployment());
                  if (!doc) return Outcome::Failure("built-in deployment: " + doc.error().message);
                  std::string group = a.GetOr("--resource-group", "myResourceGroup");
                  return ApplyDeployment(ctx, *doc, group,
                                         {{"resourceGroup", group},
                                          {"location", a.GetOr("--location", "westus")},
                                          {"registry", a.GetOr("--registry", "myregistry")}});
                }});
}

void AddCaCommands(Registry& r) {
  r.AddGroup({{"ca"}, "The certificate authority coved issues TLS certificates from (cove only)."});
  r.AddCommand({.path = {"ca", "show"},
                .summary =
                    "Print the CA certificate (PEM) that coved's TLS certificates chain to, for "
                    "clients to trust (skopeo --dest-cert-dir, podman certs.d, ctr --tlscacert, "
                    "curl --cacert).",
                .args = {{.name = "--data-dir", .help = "coved's data directory."}},
                .run =
                    [](Context& ctx, const ParsedArgs& a) {
                      std::string path = a.GetOr("--data-dir", ctx.env().data_dir) + "/tls/ca.crt";
                      std::ifstream in(path);
                      if (!in) {
                        return Outcome::Failure("cannot read " + path +
                                                " (has coved been started with this --data-dir?)");
                      }
                      std::stringstream ss;
                      ss << in.rdbuf();
                      ctx.out() << ss.str();
                      return Outcome::Nothing();
                    },
                .subscription_arg = false});
}

}  // namespace cove::cli
