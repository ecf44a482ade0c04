#include "cli/args.h"

#include <algorithm>
#include <cctype>
#include <sstream>

namespace cove::cli {


std::optional<bool> ParseBool(const std::string& text) {
  std::string t = AsciiLower(text);
  if (t == "true" || t == "yes" || t == "on" || t == "1") return true;
  if (t == "false" || t == "no" || t == "off" || t == "0") return false;
  return std::nullopt;
}

std::optional<std::string> ParsedArgs::Get(const std::string& name) const {
  auto it = occurrences.find(name);
  if (it == occurrences.end() || it->second.empty() || it->second.back().empty()) {
    return std::nullopt;
  }
  return it->second.back().front();
}

std::string ParsedArgs::GetOr(const std::string& name, const std::string& fallback) const {
  return Get(name).value_or(fallback);
}

std::vector<std::string> ParsedArgs::GetList(const std::string& name) const {
  auto it = occurrences.find(name);
  if (it == occurrences.end() || it->second.empty()) return {};
  return it->second.back();
}

std::vector<std::vector<std::string>> ParsedArgs::GetRepeats(const std::string& name) const {
  auto it = occurrences.find(name);
  if (it == occurrences.end()) return {};
  return it->second;
}

std::optional<bool> ParsedArgs::GetBool(const std::string& name) const {
  auto it = occurrences.find(name);
  if (it == occurrences.end() || it->second.empty()) return std::nullopt;
  if (it->second.back().empty()) return true;
  return ParseBool(it->second.back().front());
}

const std::vector<ArgSpec>& GlobalArgs() {
  static const std::vector<ArgSpec> kGlobals = {
      {.name = "--debug",
       .help = "Increase logging verbosity to show all debug logs.",
       .kind = ArgKind::kSwitch},
      {.name = "--help",
       .aliases = {"-h"},
       .help = "Show this help message and exit.",
       .kind = ArgKind::kSwitch},
      {.name = "--only-show-errors",
       .help = "Only show errors, suppressing warnings.",
       .kind = ArgKind::kSwitch},
      {.name = "--output",
       .aliases = {"-o"},
       .help = "Output format.",
       .choices = {"json", "jsonc", "none", "table", "tsv", "yaml", "yamlc"},
       .default_text = "json"},
      {.name = "--query",
       .help = "JMESPath query string. See http://jmespath.org/ for more information and "
               "examples."},
      {.name = "--subscription",
       .help = "Name or ID of subscription. You can configure the default subscription using "
               "`cove account set -s NAME_OR_ID`."},
      {.name = "--verbose",
       .help = "Increase logging verbosity. Use --debug for full debug logs.",
       .kind = ArgKind::kSwitch},
  };
  return kGlobals;
}

namespace {

bool IsOption(const std::string& token) {
  return token.size() > 1 && token[0] == '-' &&
         !std::isdigit(static_cast<unsigned char>(token[1])) && token[1] != '.';
}

std::string DisplayName(const ArgSpec& spec) {
  std::string out = spec.name;
  for (const auto& a : spec.aliases) out += "/" + a;
  return out;
}

std::string HelpNames(const ArgSpec& spec) {
  std::string out = spec.name;
  for (const auto& a : spec.aliases) out += " " + a;
  return out;
}

std::string QuotedList(const std::vector<std::string>& values) {
  std::string out;
  for (size_t i = 0; i < values.size(); ++i) {
    if (i) out += ", ";
    out += "'" + values[i] + "'";
  }
  return out;
}

const ArgSpec& IdsArg() {
  static const ArgSpec kIds = {
      .name = "--ids",
      .help =
          "One or more resource IDs (space-delimited). It should be a complete resource ID "
          "containing all information of 'Resource Id' arguments. You should provide either "
          "--ids or other 'Resource Id' arguments.",
      .kind = ArgKind::kList};
  return kIds;
}

// The arguments `command` accepts: its own, --ids, then the globals it does not override.
std::vector<const ArgSpec*> AllArgs(const CommandSpec& command) {
  std::vector<const ArgSpec*> all;
  for (const auto& a : command.args) all.push_back(&a);
  if (command.supports_ids) all.push_back(&IdsArg());
  for (const auto& g : GlobalArgs()) {
    if (g.name == "--subscription" && !command.subscription_arg) continue;
    bool overridden = false;
    for (const auto& a : command.args) {
      if (a.name == g.name) overridden = true;
      for (const auto& alias : a.aliases) {
        for (const auto& galias : g.aliases) overridden |= alias == galias;
      }
    }
    if (!overridden) all.push_back(&g);
  }
  return all;
}

}  // namespace

std::variant<ParseResult, UsageError> Parse(const CommandSpec& command,
                                            const std::vector<std::string>& tokens) {
  std::vector<const ArgSpec*> all = AllArgs(command);
  auto find = [&](const std::string& name) -> const ArgSpec* {
    for (const ArgSpec* a : all) {
      if (a->name == name) return a;
      for (const auto& alias : a->aliases) {
        if (alias == name) return a;
      }
    }
    return nullptr;
  };

  ParseResult result;
  std::vector<std::string> extras;
  size_t i = 0;
  while (i < tokens.size()) {
    const std::string& token = tokens[i];
    if (token == "--") {
      for (++i; i < tokens.size(); ++i) {
        (command.positional_and_rest ? result.args.rest : extras).push_back(tokens[i]);
      }
      break;
    }
    if (!IsOption(token)) {
      (command.positional_and_rest ? result.args.positional : extras).push_back(token);
      ++i;
      continue;
    }
    std::string name = token;
    std::optional<std::string> inline_value;
    if (size_t eq = token.find('='); eq != std::string::npos && token.rfind("--", 0) == 0) {
      name = token.substr(0, eq);
      inline_value = token.substr(eq + 1);
    }
    const ArgSpec* spec = find(name);
    if (spec == nullptr) {
      extras.push_back(token);
      for (++i; i < tokens.size() && !IsOption(tokens[i]); ++i) extras.push_back(tokens[i]);
      continue;
    }
    ++i;
    if (spec->name == "--help") {
      result.help = true;
      return result;
    }
    std::vector<std::string> values;
    switch (spec->kind) {
      case ArgKind::kSwitch:
        if (inline_value) {
          return UsageError{"argument " + DisplayName(*spec) + ": ignored explicit argument '" +
                            *inline_value + "'"};
        }
        break;
      case ArgKind::kValue:
        if (inline_value) {
          values.push_back(*inline_value);
        } else if (i < tokens.size() && !IsOption(tokens[i])) {
          values.push_back(tokens[i++]);
        } else {
          return UsageError{"argument " + DisplayName(*spec) + ": expected one argument"};
        }
        break;
      case ArgKind::kList:
      case ArgKind::kRepeat:
        if (inline_value) {
          values.push_back(*inline_value);
        } else {
          while (i < tokens.size() && !IsOption(tokens[i])) values.push_back(tokens[i++]);
        }
        if (values.empty()) {
          return UsageError{"argument " + DisplayName(*spec) + ": expected at least one argument"};
        }
        break;
      case ArgKind::kOptionalList:
        if (inline_value) {
          values.push_back(*inline_value);
        } else {
          while (i < tokens.size() && !IsOption(tokens[i])) values.push_back(tokens[i++]);
        }
        break;
      case ArgKind::kFlag:
        if (inline_value) {
          values.push_back(*inline_value);
        } else if (i < tokens.size() && !IsOption(tokens[i])) {
          values.push_back(tokens[i++]);
        }
        if (!values.empty() && !ParseBool(values.front())) {
          return UsageError{"argument " + DisplayName(*spec) + ": invalid choice: '" +
                            values.front() + "' (choose from 'false', 'true')"};
        }
        break;
    }
    if (!spec->choices.empty()) {
      for (std::string& v : values) {
        auto match = std::find_if(spec->choices.begin(), spec->choices.end(),
                                  [&](const std::string& c) { return EqualsIgnoreCase(c, v); });
        if (match == spec->choices.end()) {
          return UsageError{"argument " + DisplayName(*spec) + ": invalid choice: '" + v +
                            "' (choose from " + QuotedList(spec->choices) + ")"};
        }
        v = *match;
      }
    }
    if (!spec->deprecated_for.empty()) {
      result.warnings.push_back("Argument '" + spec->name +
                                "' has been deprecated and will be removed in a future release. "
                                "Use '" +
                                spec->deprecated_for + "' instead.");
    }
    result.args.occurrences[spec->name].push_back(std::move(values));
  }

  bool have_ids = result.args.Has("--ids");
  std::vector<std::string> missing;
  for (const auto& a : command.args) {
    if (!a.required || result.args.Has(a.name)) continue;
    if (a.id_part && have_ids) continue;
    missing.push_back(DisplayName(a));
  }
  if (!missing.empty()) {
    std::string text = "the following arguments are required: ";
    for (size_t k = 0; k < missing.size(); ++k) text += (k ? ", " : "") + missing[k];
    return UsageError{text};
  }
  if (!extras.empty()) {
    std::string text = "unrecognized arguments:";
    for (const auto& e : extras) text += " " + e;
    return UsageError{text};
  }
  return result;
}

void Registry::AddGroup(GroupSpec group) { groups_.push_back(std::move(group)); }

void Registry::AddCommand(CommandSpec command) { commands_.push_back(std::move(command)); }

Registry::Lookup Registry::Find(const std::vector<std::string>& words) const {
  Lookup best;
  for (const auto& c : commands_) {
    if (c.path.size() <= words.size() && std::equal(c.path.begin(), c.path.end(), words.begin()) &&
        c.path.size() > best.consumed) {
      best = Lookup{&c, nullptr, c.path.size()};
    }
  }
  for (const auto& g : groups_) {
    if (g.path.size() <= words.size() && std::equal(g.path.begin(), g.path.end(), words.begin()) &&
        (g.path.size() > best.consumed || (best.command == nullptr && best.group == nullptr))) {
      best = Lookup{nullptr, &g, g.path.size()};
    }
  }
  return best;
}

namespace {

std::string Join(const std::vector<std::string>& words) {
  std::string out;
  for (const auto& w : words) out += (out.empty() ? "" : " ") + w;
  return out;
}

void RenderArgSection(std::ostringstream& out, const std::string& title,
                      std::vector<const ArgSpec*> args, bool ids_optional) {
  if (args.empty()) return;
  auto first = [&](const ArgSpec* a) { return a->required && !(ids_optional && a->id_part); };
  std::stable_sort(args.begin(), args.end(), [&](const ArgSpec* a, const ArgSpec* b) {
    if (first(a) != first(b)) return first(a);
    return a->name < b->name;
  });
  size_t width = 0;
  for (const ArgSpec* a : args) width = std::max(width, HelpNames(*a).size());
  auto shown_required = [&](const ArgSpec* a) {
    return a->required && !(ids_optional && a->id_part);
  };
  bool any_required = std::any_of(args.begin(), args.end(), shown_required);
  out << "\n" << title << "\n";
  for (const ArgSpec* a : args) {
    std::string names = HelpNames(*a);
    out << "    " << names << std::string(width - names.size(), ' ');
    if (any_required) out << (shown_required(a) ? " [Required]" : "           ");
    std::string help = a->help;
    if (a->kind == ArgKind::kFlag && a->choices.empty()) help += "  Allowed values: false, true.";
    if (!a->choices.empty()) {
      help += "  Allowed values: ";
      for (size_t i = 0; i < a->choices.size(); ++i) help += (i ? ", " : "") + a->choices[i];
      help += ".";
    }
    if (!a->default_text.empty()) help += "  Default: " + a->default_text + ".";
    if (!a->deprecated_for.empty()) help += "  Deprecated: use " + a->deprecated_for + ".";
    out << " : " << help << "\n";
  }
}

}  // namespace

std::string Registry::RenderGroupHelp(const GroupSpec& group) const {
  std::ostringstream out;
  out << "\nGroup\n    cove" << (group.path.empty() ? "" : " " + Join(group.path)) << " : "
      << group.summary << "\n";
  std::vector<std::pair<std::string, std::string>> subgroups, commands;
  for (const auto& g : groups_) {
    if (g.path.size() == group.path.size() + 1 &&
        std::equal(group.path.begin(), group.path.end(), g.path.begin())) {
      subgroups.emplace_back(g.path.back(), g.summary);
    }
  }
  for (const auto& c : commands_) {
    if (c.path.size() == group.path.size() + 1 &&
        std::equal(group.path.begin(), group.path.end(), c.path.begin())) {
      commands.emplace_back(c.path.back(), c.summary);
    }
  }
  size_t width = 0;
  for (const auto& [n, s] : subgroups) width = std::max(width, n.size());
  for (const auto& [n, s] : commands) width = std::max(width, n.size());
  for (auto* list : {&subgroups, &commands}) {
    if (list->empty()) continue;
    std::sort(list->begin(), list->end());
    out << "\n" << (list == &subgroups ? "Subgroups:" : "Commands:") << "\n";
    for (const auto& [n, s] : *list) {
      out << "    " << n << std::string(width - n.size(), ' ') << " : " << s << "\n";
    }
  }
  return out.str();
}

std::string Registry::RenderCommandHelp(const CommandSpec& command) const {
  std::ostringstream out;
  out << "\nCommand\n    cove " << Join(command.path) << " : " << command.summary << "\n";
  std::vector<const ArgSpec*> own, ids, globals;
  for (const auto& a : command.args) {
    if (a.hidden) continue;
    (command.supports_ids && a.id_part ? ids : own).push_back(&a);
  }
  RenderArgSection(out, "Arguments", own, false);
  if (command.supports_ids) {
    ids.push_back(&IdsArg());
    RenderArgSection(out, "Resource Id Arguments", ids, true);
  }
  for (const auto& g : GlobalArgs()) {
    if (g.name == "--subscription" && !command.subscription_arg) continue;
    globals.push_back(&g);
  }
  RenderArgSection(out, "Global Arguments", globals, false);
  if (!command.examples.empty()) {
    out << "\nExamples\n";
    for (const auto& [title, line] : command.examples) {
      out << "    " << title << "\n        " << line << "\n\n";
    }
  }
  return out.str();
}

}  // namespace cove::cli
