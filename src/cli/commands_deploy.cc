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
  r.AddCommand(
      {.path = {"up"},
       .summary = "Create the seed's architecture in one step: resource group, VNet with "
                  "subnet, Premium registry, private endpoint (10.0.0.5, 10.0.0.6), private DNS "
                  "zone linked to the VNet, zone group, client VM vm1 (10.0.0.4); then, from "
                  "inside vm1, resolve the registry, push a sample image and pull it back, and "
                  "print what happened (cove only; the VM steps need root and a coved running "
                  "as root).",
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
                {.name = "--no-vm",
                 .help = "Only apply the deployment: no DNS, push or pull from vm1.",
                 .kind = ArgKind::kSwitch},
                {.name = "--no-push",
                 .help = "Show vm1's DNS answers, but push and pull nothing.",
                 .kind = ArgKind::kSwitch},
                {.name = "--fabric-prefix",
                 .help = "coved's --fabric-prefix. Default: $COVE_FABRIC_PREFIX, else cove."},
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
         std::string registry = a.GetOr("--registry", "myregistry");
         Outcome applied = ApplyDeployment(ctx, *doc, group,
                                           {{"resourceGroup", group},
                                            {"location", a.GetOr("--location", "westus")},
                                            {"registry", registry}});
         if (applied.exit_code != 0 || !applied.value) return applied;
         // With -o or --query, stdout is the deployment's answer (for scripts) and the
         // narrative goes to stderr; else the narrative is the output.
         bool scripted = a.Has("--output") || a.Has("--query");
         std::ostream& o = scripted ? ctx.err() : ctx.out();
         o << "deployment (" << group << "):\n";
         for (const auto& r : *applied.value) {
           o << "  " << r.value("action", "") << "\t" << r.value("type", "") << "\t"
             << r.value("id", "").substr(r.value("id", "").rfind('/') + 1) << "\n";
         }
         if (!a.Has("--no-vm")) {
           std::string prefix = a.GetOr("--fabric-prefix", ctx.env().fabric_prefix);
           Environment env = ctx.env();
           env.fabric_prefix = prefix;
           Context sub_ctx(ctx.out(), ctx.err(), env);
           sub_ctx.SetArgs(&a);
           Outcome client = RunUpClient(sub_ctx, o, group, "vm1", registry, !a.Has("--no-push"));
           if (client.exit_code != 0) return client;
         }
         return scripted ? applied : Outcome::Nothing();
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
