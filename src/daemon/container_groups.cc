#include "daemon/container_groups.h"

#include <spdlog/spdlog.h>

#include "arm/resource_path.h"
#include "common/ascii.h"

namespace cove::daemon {

using nlohmann::json;

namespace {

const json& Member(const json& j, const char* key) {
  static const json kNull;
  if (!j.is_object()) return kNull;
  auto it = j.find(key);
  return it == j.end() ? kNull : *it;
}

std::string Text(const json& j, const char* key) {
  const json& v = Member(j, key);
  return v.is_string() ? v.get<std::string>() : "";
}

std::optional<double> Number(const json& j, const char* key) {
  const json& v = Member(j, key);
  if (!v.is_number()) return std::nullopt;
  return v.get<double>();
}

}  // namespace

std::vector<ContainerGroupPlan> PlanContainerGroups(
    const arm::Snapshot& snapshot, const std::function<std::string(const std::string&)>& namespace_of,
    const std::string& etc_netns, const SecretsOf& secrets) {
  std::vector<ContainerGroupPlan> plans;
  for (const auto& m : snapshot.machines) {
    if (m.kind != arm::MachineView::Kind::kContainerGroup) continue;
    auto path = arm::ParseResourceId(m.id);
    if (!path) continue;
    auto doc = snapshot.documents.find(path->Key());
    if (doc == snapshot.documents.end() || !doc->second) continue;
    const json& props = Member(*doc->second, "properties");
    auto secret = secrets(m.id);
    if (!secret) {
      spdlog::warn("container group {}: its secrets cannot be read ({}); it does not run",
                   m.id, secret.error().message);
      continue;
    }
    const json& secret_env = Member(*secret, "env");
    const json& secret_registries = Member(*secret, "registries");
    ContainerGroupPlan plan;
    plan.id = m.id;
    plan.name = m.name;
    plan.ns = namespace_of(m.id);
    plan.etc_overlay = etc_netns + "/" + plan.ns;
    plan.restart_policy = Text(props, "restartPolicy");
    const json& containers = Member(props, "containers");
    for (const json& c : containers.is_array() ? containers : json::array()) {
      const json& cp = Member(c, "properties");
      ContainerPlan container;
      container.name = Text(c, "name");
      container.image = Text(cp, "image");
      const json& command = Member(cp, "command");
      if (command.is_array()) {
        container.has_command = true;
        for (const json& arg : command) {
          if (arg.is_string()) container.command.push_back(arg.get<std::string>());
        }
      }
      const json& env = Member(cp, "environmentVariables");
      for (const json& e : env.is_array() ? env : json::array()) {
        const std::string name = Text(e, "name");
        if (Member(e, "value").is_string()) {
          container.env.emplace_back(name, Text(e, "value"));
        } else {
          container.env.emplace_back(name, Text(secret_env, (container.name + "/" + name).c_str()));
        }
      }
      const json& resources = Member(cp, "resources");
      if (auto cpu = Number(Member(resources, "requests"), "cpu")) container.cpu = *cpu;
      if (auto gb = Number(Member(resources, "requests"), "memoryInGB")) container.memory_gb = *gb;
      container.memory_limit_gb = Number(Member(resources, "limits"), "memoryInGB");
      plan.containers.push_back(std::move(container));
    }
    const json& creds = Member(props, "imageRegistryCredentials");
    for (const json& cred : creds.is_array() ? creds : json::array()) {
      RegistryCredentialPlan rc;
      rc.server = Text(cred, "server");
      if (const std::string identity = Text(cred, "identity"); !identity.empty()) {
        for (const auto& uai : m.user_assigned) {
          if (EqualsIgnoreCase(uai.resource_id, identity)) rc.identity_client_id = uai.client_id;
        }
      } else {
        rc.username = Text(cred, "username");
        rc.password = Text(secret_registries, AsciiLower(rc.server).c_str());
      }
      plan.credentials.push_back(std::move(rc));
    }
    plans.push_back(std::move(plan));
  }
  return plans;
}

}  // namespace cove::daemon
