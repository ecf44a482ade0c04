#include "cli/cli.h"

#include <chrono>
#include <cstdio>

#include "cli/commands.h"
#include "cli/output.h"

namespace cove::cli {

namespace {

std::string Joined(const std::vector<std::string>& words) {
  std::string out = "cove";
  for (const auto& w : words) out += " " + w;
  return out;
}

}  // namespace

int Run(const std::vector<std::string>& args, std::ostream& out, std::ostream& err,
        const Environment& env) {
  auto started = std::chrono::steady_clock::now();
  const Registry& registry = Commands();
  // The command words, skipping global arguments written before them (`cove -o table group
  // list`); the remaining tokens go to the command's parser.
  std::vector<std::string> words;
  std::vector<size_t> word_at;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "-o" || a == "--output" || a == "--query" || a == "--subscription") {
      ++i;
      continue;
    }
    if (a == "--debug" || a == "--verbose" || a == "--only-show-errors") continue;
    if (!a.empty() && a[0] == '-') break;
    words.push_back(a);
    word_at.push_back(i);
  }
  Registry::Lookup found = registry.Find(words);
  if (found.command == nullptr) {
    const GroupSpec* group = found.group;
    if (group == nullptr) return 2;  // the root group is always registered
    if (found.consumed < words.size()) {
      err << "ERROR: '" << words[found.consumed] << "' is not in the '" << Joined(group->path)
          << "' command group. See '" << Joined(group->path) << " --help'.\n";
      return 2;
    }
    out << registry.RenderGroupHelp(*group);
    return 0;
  }
  const CommandSpec& command = *found.command;
  std::vector<std::string> tokens;
  for (size_t i = 0, w = 0; i < args.size(); ++i) {
    if (w < found.consumed && word_at[w] == i) {
      ++w;
      continue;
    }
    tokens.push_back(args[i]);
  }
  auto parsed = Parse(command, tokens);
  if (auto* usage = std::get_if<UsageError>(&parsed)) {
    err << "ERROR: " << usage->message << "\n";
    return 2;
  }
  ParseResult& result = std::get<ParseResult>(parsed);
  if (result.help) {
    out << registry.RenderCommandHelp(command);
    return 0;
  }
  Context ctx(out, err, env);
  ctx.SetArgs(&result.args);
  for (const auto& w : result.warnings) ctx.Warn(w);
  std::string format = result.args.GetOr("--output", "json");
  std::optional<std::string> query = result.args.Get("--query");
  if (auto bad = ValidateOutput(format, query ? &*query : nullptr)) {
    err << "ERROR: " << *bad << "\n";
    return 2;
  }
  Outcome outcome;
  try {
    outcome = command.run(ctx, result.args);
  } catch (const std::exception& e) {
    outcome = Outcome::Failure(std::string("unexpected answer from coved: ") + e.what());
  }
  if (outcome.exit_code != 0) {
    // An empty error: the command already said everything (`vm exec` passes on CMD's status).
    if (!outcome.error.empty()) err << "ERROR: " << outcome.error << "\n";
    return outcome.exit_code;
  }
  if (outcome.value) {
    std::string error;
    bool flatten = command.path[0] == "network" || command.path[0] == "acr" ||
                   command.path[0] == "identity" || command.path[0] == "container" ||
                   command.path[0] == "dns-resolver" || command.path[0] == "onprem" ||
                   command.path[0] == "aks";
    auto text = Render(AzView(*outcome.value, flatten), format, query ? &*query : nullptr,
                       env.stdout_is_tty, &error);
    if (!text) {
      err << "ERROR: " << error << "\n";
      return 1;
    }
    out << *text;
  }
  if (result.args.Has("--verbose") || result.args.Has("--debug")) {
    double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    char buf[64];
    std::snprintf(buf, sizeof(buf), "%.3f", seconds);
    err << "INFO: Command ran in " << buf << " seconds\n";
  }
  return 0;
}

}  // namespace cove::cli
