// Context: what a command handler may use — the output streams, coved's ARM client, the selected
// subscription and the user's config — and Outcome, what a handler answers.
//
// The Context is built by Run() (cli.h) for one command line. It creates the ArmClient on first
// use (so `--help` and usage errors never need coved) from COVE_ENDPOINT, default
// https://127.0.0.1:7780, trusting the CA in $COVE_CA_FILE, else <data dir>/tls/ca.crt (coved's
// CA; the data dir is $COVE_DATA_DIR, else coved's default for this user). An http:// endpoint
// is accepted only on a loopback host (coved --arm-insecure-http; tests).
//
// Credentials (the ARM client's bearer token, ArmToken()): the account `cove login` stored
// (login.json) while its token is valid; when nobody is signed in, coved's bootstrap credential
// <data dir>/bootstrap.json (daemon/arm_node.h: a service principal with Owner at "/", readable
// by coved's user only — root under `scripts/dev up`) when this user can read it, signed in
// with client_credentials for this one command; else no token (coved answers 401).
//
// The subscription is, in order: --subscription (name or id), the one
// `cove account set` stored in the config file, the default subscription
// c0ffee00-0000-4000-8000-000000000001.
//
// Config file: $XDG_CONFIG_HOME/cove/config, else $HOME/.config/cove/config; lines `key = value`
// (today only `subscription`). `cove login` keeps its identity token beside it in login.json
// (cli/credentials.h).
//
// Thread-safety: one command, one thread.
#pragma once

#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <ostream>
#include <string>

#include "cli/args.h"
#include "cli/arm_client.h"

namespace cove::cli {

inline constexpr char kDefaultSubscription[] = "c0ffee00-0000-4000-8000-000000000001";
inline constexpr char kDefaultEndpoint[] = "https://127.0.0.1:7780";

// What a handler answers: a value to print (through --query and --output), nothing (az prints
// nothing for deletes), or an error with its exit code.
struct Outcome {
  int exit_code = 0;
  std::optional<nlohmann::json> value;
  std::string error;  // text printed after "ERROR: "

  static Outcome Value(nlohmann::json v) { return Outcome{0, std::move(v), ""}; }
  static Outcome Nothing() { return Outcome{}; }
  static Outcome Usage(std::string message) { return Outcome{2, std::nullopt, std::move(message)}; }
  static Outcome Failure(std::string message, int code = 1) {
    return Outcome{code, std::nullopt, std::move(message)};
  }
  // az's rendering of an ARM error: "(Code) message\nCode: Code\nMessage: message", exit 1;
  // exit 3 for a 404 when `missing_is_3` (az's `show` commands).
  static Outcome FromArm(const ArmError& error, bool missing_is_3 = false);
  // az's rendering of a Microsoft Graph error: its message alone, exit 1 (3 for a 404 when
  // `missing_is_3`).
  static Outcome FromGraph(const ArmError& error, bool missing_is_3 = false);
};

// The environment a command line runs in (tests pass their own).
struct Environment {
  std::string endpoint = kDefaultEndpoint;  // COVE_ENDPOINT
  std::string config_path;                  // resolved config file path
  bool stdin_is_tty = false;
  bool stdout_is_tty = false;          // colours for jsonc/yamlc
  std::string data_dir;                // for `cove ca show`, `cove up` (COVE_DATA_DIR)
  std::string ca_file;                 // CA of coved's ARM endpoint (COVE_CA_FILE); "" =
                                       // <data_dir>/tls/ca.crt
  std::string fabric_prefix = "cove";  // coved's --fabric-prefix (COVE_FABRIC_PREFIX)
  // Where `acr login` writes registry credentials: $DOCKER_CONFIG/config.json, else
  // ~/.docker/config.json (cli/credentials.h).
  std::string docker_config_path;
  static Environment FromProcess();
};

class Context {
 public:
  Context(std::ostream& out, std::ostream& err, Environment env)
      : out_(out), err_(err), env_(std::move(env)) {}

  std::ostream& out() { return out_; }
  std::ostream& err() { return err_; }
  const Environment& env() const { return env_; }

  void SetArgs(const ParsedArgs* args) { args_ = args; }
  const ParsedArgs& args() const { return *args_; }

  // "WARNING: message" on stderr unless --only-show-errors.
  void Warn(const std::string& message);

  ArmResult<ArmClient*> Arm();
  // The bearer token ARM calls carry (see above): "" when there is none to use; an error when
  // the stored account's token has expired or the bootstrap sign-in fails.
  ArmResult<std::string> ArmToken();
  // <data dir>/bootstrap.json.
  std::string BootstrapPath() const { return env_.data_dir + "/bootstrap.json"; }
  // The subscription id this command acts in.
  ArmResult<std::string> Subscription();
  // Resolves a subscription name or id among GET /subscriptions.
  ArmResult<nlohmann::json> FindSubscription(const std::string& name_or_id);

  // Reads / writes one key of the config file.
  std::optional<std::string> ConfigGet(const std::string& key) const;
  Result<void> ConfigSet(const std::string& key, const std::string& value) const;

 private:
  std::ostream& out_;
  std::ostream& err_;
  Environment env_;
  const ParsedArgs* args_ = nullptr;
  std::unique_ptr<ArmClient> arm_;
  std::optional<std::string> subscription_;
};

// ---- resource ids ----

struct ResourceId {
  std::string subscription;
  std::string resource_group;
  std::string provider;                                    // "Microsoft.Network"
  std::vector<std::pair<std::string, std::string>> types;  // (type, name), parent first
  std::string Type() const;  // "Microsoft.Network/virtualNetworks/subnets"
  std::string Name() const { return types.empty() ? resource_group : types.back().second; }
};

bool IsResourceId(const std::string& text);
// Parses "/subscriptions/S[/resourceGroups/G[/providers/NS/T/N[/T/N...]]]" (case-insensitive
// segment names). Returns kInvalidArgument for anything else.
Result<ResourceId> ParseResourceId(const std::string& id);

std::string GroupPath(const std::string& sub, const std::string& group);
// /subscriptions/S/resourceGroups/G/providers/<type_path>/<name>; `type_path` may hold parent
// segments ("Microsoft.Network/virtualNetworks/V/subnets").
std::string ResourcePath(const std::string& sub, const std::string& group,
                         const std::string& type_path, const std::string& name);

}  // namespace cove::cli
