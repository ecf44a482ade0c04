#include "runtime/bundle.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/unique_fd.h"

namespace cove::runtime {
namespace {

using nlohmann::json;

constexpr const char* kDefaultPath =
    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

// A list of strings from the image config's `key` (absent or null: empty).
Result<std::vector<std::string>> StringList(const json& config, const char* key) {
  std::vector<std::string> out;
  auto it = config.find(key);
  if (it == config.end() || it->is_null()) return out;
  if (!it->is_array())
    return Fail(Code::kInvalidArgument,
                std::string("image config ") + key + " is not a list of strings");
  for (const json& item : *it) {
    if (!item.is_string()) {
      return Fail(Code::kInvalidArgument,
                  std::string("image config ") + key + " is not a list of strings");
    }
    out.push_back(item.get<std::string>());
  }
  return out;
}

std::string StringField(const json& config, const char* key) {
  auto it = config.find(key);
  return it != config.end() && it->is_string() ? it->get<std::string>() : std::string();
}

std::optional<uint32_t> ParseId(std::string_view text) {
  uint32_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty()) return std::nullopt;
  return value;
}

// Looks `name` up in an /etc/passwd- or /etc/group-shaped file: field 0 is the name, field 2 the
// id; for passwd field 3 is the primary group.
struct IdEntry {
  uint32_t id = 0;
  uint32_t group = 0;
};
std::optional<IdEntry> LookUp(const std::string& path, std::string_view name) {
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    std::vector<std::string> fields;
    std::stringstream stream(line);
    std::string field;
    while (std::getline(stream, field, ':')) fields.push_back(field);
    if (fields.size() < 3 || fields[0] != name) continue;
    auto id = ParseId(fields[2]);
    if (!id) return std::nullopt;
    IdEntry entry{*id, 0};
    if (fields.size() > 3) entry.group = ParseId(fields[3]).value_or(0);
    return entry;
  }
  return std::nullopt;
}

// The image's User ("", "uid", "name", "uid:gid", "name:group") as runc's user object.
Result<json> ResolveUser(const std::string& user, const std::string& rootfs) {
  if (user.empty()) return json{{"uid", 0}, {"gid", 0}};
  const size_t colon = user.find(':');
  const std::string who = user.substr(0, colon);
  const std::string group = colon == std::string::npos ? "" : user.substr(colon + 1);
  uint32_t uid = 0;
  uint32_t gid = 0;
  if (auto id = ParseId(who)) {
    uid = *id;
    if (auto entry = LookUp(rootfs + "/etc/passwd", who); entry && entry->id == uid) {
      gid = entry->group;
    }
  } else if (auto entry = LookUp(rootfs + "/etc/passwd", who)) {
    uid = entry->id;
    gid = entry->group;
  } else {
    return Fail(Code::kInvalidArgument,
                "unable to find user " + who + ": no matching entries in passwd file");
  }
  if (!group.empty()) {
    if (auto id = ParseId(group)) {
      gid = *id;
    } else if (auto entry = LookUp(rootfs + "/etc/group", group)) {
      gid = entry->id;
    } else {
      return Fail(Code::kInvalidArgument,
                  "unable to find group " + group + ": no matching entries in group file");
    }
  }
  return json{{"uid", uid}, {"gid", gid}};
}

json Mount(const char* destination, const char* type, const char* source,
           std::vector<std::string> options) {
  json mount = {{"destination", destination}, {"type", type}, {"source", source}};
  if (!options.empty()) mount["options"] = std::move(options);
  return mount;
}

}  // namespace

uint64_t GigabytesToBytes(double gb) {
  return static_cast<uint64_t>(gb * 1024.0 * 1024.0 * 1024.0);
}

Result<nlohmann::json> Bundle::RuntimeSpec(const nlohmann::json& image_config,
                                           const BundleSpec& spec) const {
  static const json kEmpty = json::object();
  const json& config = image_config.is_object() ? image_config : kEmpty;
  if (!image_config.is_null() && !image_config.is_object()) {
    return Fail(Code::kInvalidArgument, "image config is not an object");
  }

  std::vector<std::string> args;
  if (spec.has_command) {
    args = spec.command;
  } else {
    COVE_ASSIGN_OR_RETURN(args, StringList(config, "Entrypoint"));
    COVE_ASSIGN_OR_RETURN(std::vector<std::string> cmd, StringList(config, "Cmd"));
    args.insert(args.end(), cmd.begin(), cmd.end());
  }
  if (args.empty()) return Fail(Code::kInvalidArgument, "no command specified");

  // Image Env first, then the container's variables replacing any of the same name.
  COVE_ASSIGN_OR_RETURN(std::vector<std::string> env, StringList(config, "Env"));
  for (const auto& [name, value] : spec.env) {
    const std::string prefix = name + "=";
    std::erase_if(env, [&](const std::string& entry) { return entry.starts_with(prefix); });
    env.push_back(prefix + value);
  }
  if (std::none_of(env.begin(), env.end(),
                   [](const std::string& entry) { return entry.starts_with("PATH="); })) {
    env.insert(env.begin(), kDefaultPath);
  }

  std::string cwd = StringField(config, "WorkingDir");
  if (cwd.empty()) cwd = "/";
  COVE_ASSIGN_OR_RETURN(json user, ResolveUser(StringField(config, "User"), rootfs()));

  const std::vector<std::string> caps = {"CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"};
  json process = {
      {"terminal", false},
      {"user", std::move(user)},
      {"args", std::move(args)},
      {"env", std::move(env)},
      {"cwd", cwd},
      {"capabilities",
       {{"bounding", caps}, {"effective", caps}, {"permitted", caps}, {"ambient", caps}}},
      {"rlimits", json::array({{{"type", "RLIMIT_NOFILE"}, {"hard", 1024}, {"soft", 1024}}})},
      {"noNewPrivileges", true},
  };

  json mounts = json::array({
      Mount("/proc", "proc", "proc", {}),
      Mount("/dev", "tmpfs", "tmpfs", {"nosuid", "strictatime", "mode=755", "size=65536k"}),
      Mount("/dev/pts", "devpts", "devpts",
            {"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}),
      Mount("/dev/shm", "tmpfs", "shm", {"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}),
      Mount("/dev/mqueue", "mqueue", "mqueue", {"nosuid", "noexec", "nodev"}),
      Mount("/sys", "sysfs", "sysfs", {"nosuid", "noexec", "nodev", "ro"}),
  });
  if (!spec.etc_overlay.empty()) {
    for (const char* file : {"resolv.conf", "hosts"}) {
      const std::string source = spec.etc_overlay + "/" + file;
      std::error_code ec;
      if (!std::filesystem::is_regular_file(source, ec)) continue;
      mounts.push_back({{"destination", std::string("/etc/") + file},
                        {"type", "bind"},
                        {"source", source},
                        {"options", {"rbind", "ro", "nosuid", "nodev", "noexec"}}});
    }
  }

  json network = {{"type", "network"}};
  if (!spec.network_namespace_path.empty()) network["path"] = spec.network_namespace_path;
  json resources = {{"devices", json::array({{{"allow", false}, {"access", "rwm"}}})}};
  if (spec.memory_limit_bytes) resources["memory"] = {{"limit", *spec.memory_limit_bytes}};

  json linux_section = {
      {"resources", std::move(resources)},
      {"namespaces", json::array({{{"type", "pid"}},
                                  std::move(network),
                                  {{"type", "ipc"}},
                                  {{"type", "uts"}},
                                  {{"type", "mount"}}})},
      {"maskedPaths",
       {"/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
        "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware",
        "/proc/scsi"}},
      {"readonlyPaths", {"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"}},
  };

  return json{
      {"ociVersion", "1.0.2-dev"},
      {"process", std::move(process)},
      {"root", {{"path", "rootfs"}, {"readonly", false}}},
      {"hostname", spec.hostname},
      {"mounts", std::move(mounts)},
      {"linux", std::move(linux_section)},
  };
}

Status Bundle::WriteConfig(const nlohmann::json& runtime_spec) const {
  const std::string text = runtime_spec.dump(1);
  const std::string temp = config_path() + ".tmp";
  UniqueFd fd(::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
  if (!fd.valid()) {
    return Fail(Code::kIOError, "open " + temp + ": " + std::strerror(errno));
  }
  size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd.get(), text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Fail(Code::kIOError, "write " + temp + ": " + std::strerror(errno));
    done += static_cast<size_t>(n);
  }
  fd.Reset();
  if (::rename(temp.c_str(), config_path().c_str()) != 0) {
    return Fail(Code::kIOError, "rename " + temp + ": " + std::strerror(errno));
  }
  return Ok();
}

Status Bundle::Remove() const {
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
  if (ec) return Fail(Code::kIOError, "remove " + dir_ + ": " + ec.message());
  return Ok();
}

}  // namespace cove::runtime
