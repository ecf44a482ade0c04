// The command table and az's argument grammar.
//
// Every `cove` command is a CommandSpec: its path (`network vnet subnet update`), a summary, the
// arguments it takes (ArgSpec: long name, short aliases, kind, required, choices, help) and the
// function that runs it. Groups (`network`, `network vnet`) are GroupSpecs with a summary. The
// Registry holds both and finds the command a command line names.
//
// Parse() reads the tokens after the command path the way az's argparse does:
//   --flag value, --flag=value, -f value; a kList argument takes one or more values
//   (`--address-prefixes 10.0.0.0/16 10.1.0.0/16`); a kFlag argument (az's three-state flag)
//   takes an optional true/false (`--admin-enabled`, `--admin-enabled false`); a kRepeat
//   argument may be given several times, each with one or more values (`--ip-config name=a ...
//   --ip-config name=b ...`). Unknown options and stray words are collected and reported
//   together, as argparse does ("unrecognized arguments: --foo bar").
// Errors come back as a UsageError whose message is az's text; the caller prints it after
// "ERROR: " and exits 2.
//
// Help (RenderGroupHelp / RenderCommandHelp) is laid out as az lays it out: "Group"/"Command",
// "Subgroups", "Commands", "Arguments" (required first, then by name), "Global Arguments",
// "Examples".
//
// Thread-safety: a Registry is built once at start-up and then only read.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "common/ascii.h"

namespace cove::cli {

class Context;
struct Outcome;

enum class ArgKind {
  kValue,         // exactly one value
  kList,          // one or more values (argparse nargs='+'); the last occurrence wins
  kFlag,          // optional boolean value (az's three-state flag); bare flag means true
  kRepeat,        // one or more values, may be repeated; every occurrence is kept
  kSwitch,        // no value (argparse store_true): --yes, --debug
  kOptionalList,  // zero or more values (argparse nargs='*'): `--assign-identity [ID ...]`
};

struct ArgSpec {
  std::string name;                  // long form, "--resource-group"
  std::vector<std::string> aliases;  // "-g"
  std::string help;
  ArgKind kind = ArgKind::kValue;
  bool required = false;
  // Allowed values, compared case-insensitively; the canonical spelling is what handlers get.
  std::vector<std::string> choices;
  std::string default_text;  // shown in help only ("Default: 10.0.0.0/16")
  // Supplied by --ids on commands that take them: not required when --ids is given.
  bool id_part = false;
  // When set, using this argument prints az's deprecation warning naming this replacement.
  std::string deprecated_for;
  bool hidden = false;  // accepted but not listed in help (az's legacy aliases)
};

struct ParsedArgs {
  // Every occurrence of each argument (keyed by long name), each with its values.
  std::map<std::string, std::vector<std::vector<std::string>>> occurrences;
  // Commands with `positional_and_rest`: the bare words before `--`, and every token after it.
  std::vector<std::string> positional;
  std::vector<std::string> rest;

  bool Has(const std::string& name) const { return occurrences.count(name) > 0; }
  // The value of a kValue argument (last occurrence).
  std::optional<std::string> Get(const std::string& name) const;
  std::string GetOr(const std::string& name, const std::string& fallback) const;
  // The values of a kList / kOptionalList argument (last occurrence), empty when absent.
  std::vector<std::string> GetList(const std::string& name) const;
  // Each occurrence of a kRepeat argument.
  std::vector<std::vector<std::string>> GetRepeats(const std::string& name) const;
  // A kFlag: nullopt when absent, true for a bare flag or a true-ish value.
  std::optional<bool> GetBool(const std::string& name) const;
};

using Handler = std::function<Outcome(Context&, const ParsedArgs&)>;

struct CommandSpec {
  std::vector<std::string> path;  // {"network", "vnet", "create"}
  std::string summary;
  std::vector<ArgSpec> args;
  Handler run;
  std::vector<std::pair<std::string, std::string>> examples;  // (title, command line)
  bool supports_ids = false;     // adds --ids and makes id_part arguments optional with it
  bool subscription_arg = true;  // takes the global --subscription
  // Bare words are positional arguments and everything after `--` is kept verbatim (a command
  // line to run, `cove vm exec vm1 -- CMD ARGS...`); otherwise both are usage errors.
  bool positional_and_rest = false;
};

struct GroupSpec {
  std::vector<std::string> path;
  std::string summary;
};

struct UsageError {
  std::string message;  // az's text without the "ERROR: " prefix
};

// The global arguments every command takes (az's --output, --query, --debug, ...).
const std::vector<ArgSpec>& GlobalArgs();

class Registry {
 public:
  void AddGroup(GroupSpec group);
  void AddCommand(CommandSpec command);

  // Resolves the longest known prefix of `words`. Exactly one of command / group is set;
  // `consumed` says how many words named it.
  struct Lookup {
    const CommandSpec* command = nullptr;
    const GroupSpec* group = nullptr;
    size_t consumed = 0;
  };
  Lookup Find(const std::vector<std::string>& words) const;

  std::string RenderGroupHelp(const GroupSpec& group) const;
  std::string RenderCommandHelp(const CommandSpec& command) const;

  const std::vector<CommandSpec>& commands() const { return commands_; }

 private:
  std::vector<GroupSpec> groups_;
  std::vector<CommandSpec> commands_;
};

// Parses `tokens` (the words after the command path) for `command`, with the global arguments.
// Sets *help when -h/--help was given (then nothing else is checked).
// Returns the parsed arguments, or az's usage error.
struct ParseResult {
  ParsedArgs args;
  bool help = false;
  std::vector<std::string> warnings;  // deprecation warnings, printed unless --only-show-errors
};
std::variant<ParseResult, UsageError> Parse(const CommandSpec& command,
                                            const std::vector<std::string>& tokens);

// "true"/"yes"/"on"/"1" → true, "false"/"no"/"off"/"0" → false (case-insensitive).
std::optional<bool> ParseBool(const std::string& text);


}  // namespace cove::cli
