#include "arm/identity_support.h"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>

#include "arm/resource_path.h"
#include "auth/password.h"

namespace cove::arm {

const std::vector<BuiltInRole>& BuiltInRoles() {
  static const auto* roles = new std::vector<BuiltInRole>{
      {"AcrPull",
       "7f951dda-4ed3-4680-a7ca-43fe172d538d",
       "acr pull",
       {"Microsoft.ContainerRegistry/registries/pull/read"},
       {}},
      {"AcrPush",
       "8311e382-0749-4cb8-b61a-304f252e45ec",
       "acr push",
       {"Microsoft.ContainerRegistry/registries/pull/read",
        "Microsoft.ContainerRegistry/registries/push/write"},
       {}},
      {"AcrDelete",
       "c2f4ef07-c644-48eb-af81-4b1b4947fb11",
       "acr delete",
       {"Microsoft.ContainerRegistry/registries/artifacts/delete"},
       {}},
      {"Owner",
       "8e3af657-a8ff-443c-a75c-2fe8c4bcb635",
       "Grants full access to manage all resources, including the ability to assign roles in "
       "Azure RBAC.",
       {"*"},
       {}},
      {"Contributor",
       "b24988ac-6180-42a0-ab88-20f7382dd24c",
       "Grants full access to manage all resources, but does not allow you to assign roles in "
       "Azure RBAC, manage assignments in Azure Blueprints, or share image galleries.",
       {"*"},
       {"Microsoft.Authorization/*/Delete", "Microsoft.Authorization/*/Write",
        "Microsoft.Authorization/elevateAccess/Action"}},
      {"Reader",
       "acdd72a7-3385-48ef-bd42-f606fba81ae7",
       "View all resources, but does not allow you to make any changes.",
       {"*/read"},
       {}},
      {"Network Contributor",
       "4d97b98b-1d4f-4787-a291-c67834d212e7",
       "Lets you manage networks, but not access to them.",
       {"Microsoft.Authorization/*/read", "Microsoft.Insights/alertRules/*", "Microsoft.Network/*",
        "Microsoft.ResourceHealth/availabilityStatuses/read", "Microsoft.Resources/deployments/*",
        "Microsoft.Resources/subscriptions/resourceGroups/read", "Microsoft.Support/*"},
       {}},
      {"User Access Administrator",
       "18d7d88d-d35e-4fb5-a5c3-7773c4a72b9d",
       "Lets you manage user access to Azure resources.",
       {"*/read", "Microsoft.Authorization/*", "Microsoft.Support/*"},
       {}},
  };
  return *roles;
}

const BuiltInRole* FindRoleByGuid(std::string_view guid) {
  for (const auto& r : BuiltInRoles()) {
    if (EqualsIgnoreCase(r.guid, guid)) return &r;
  }
  return nullptr;
}

const BuiltInRole* FindRoleByName(std::string_view name) {
  for (const auto& r : BuiltInRoles()) {
    if (EqualsIgnoreCase(r.name, name)) return &r;
  }
  return nullptr;
}

std::optional<std::string> RoleDefinitionGuid(std::string_view id) {
  constexpr std::string_view kTail = "/providers/microsoft.authorization/roledefinitions/";
  std::string lower = Lower(id);
  size_t at = lower.rfind(kTail);
  if (at == std::string::npos) return std::nullopt;
  std::string guid = lower.substr(at + kTail.size());
  if (!IsGuid(guid)) return std::nullopt;
  std::string prefix = lower.substr(0, at);
  if (!prefix.empty() && !prefix.starts_with("/subscriptions/")) return std::nullopt;
  return guid;
}

const std::vector<SystemScopeMapDef>& SystemScopeMapDefs() {
  static const auto* maps = new std::vector<SystemScopeMapDef>{
      {"_repositories_admin",
       "Can perform all read, write and delete operations on the registry",
       {"repositories/*/metadata/read", "repositories/*/metadata/write",
        "repositories/*/content/read", "repositories/*/content/write",
        "repositories/*/content/delete"}},
      {"_repositories_pull",
       "Can pull any repository of the registry",
       {"repositories/*/content/read"}},
      {"_repositories_push",
       "Can push to any repository of the registry",
       {"repositories/*/content/read", "repositories/*/content/write"}},
  };
  return *maps;
}

const SystemScopeMapDef* FindSystemScopeMap(std::string_view name) {
  for (const auto& m : SystemScopeMapDefs()) {
    if (EqualsIgnoreCase(m.name, name)) return &m;
  }
  return nullptr;
}

namespace {

std::string Format(Clock::TimePoint t, const char* pattern) {
  std::time_t secs = static_cast<std::time_t>(UnixSeconds(t));
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[48];
  std::strftime(buf, sizeof(buf), pattern, &tm);
  return buf;
}

bool Digits(std::string_view s, size_t at, size_t n, int* out) {
  if (at + n > s.size()) return false;
  int v = 0;
  for (size_t i = at; i < at + n; ++i) {
    if (!std::isdigit(static_cast<unsigned char>(s[i]))) return false;
    v = v * 10 + (s[i] - '0');
  }
  *out = v;
  return true;
}

}  // namespace

std::string FormatGraphTime(Clock::TimePoint t) { return Format(t, "%Y-%m-%dT%H:%M:%SZ"); }
std::string FormatArmTime(Clock::TimePoint t) {
  return Format(t, "%Y-%m-%dT%H:%M:%S.0000000+00:00");
}

std::optional<Clock::TimePoint> ParseIsoTime(std::string_view s) {
  std::tm tm{};
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
  if (!Digits(s, 0, 4, &year) || s.size() < 10 || s[4] != '-' || !Digits(s, 5, 2, &month) ||
      s[7] != '-' || !Digits(s, 8, 2, &day)) {
    return std::nullopt;
  }
  size_t i = 10;
  int64_t offset = 0;
  if (i < s.size()) {
    if ((s[i] != 'T' && s[i] != 't' && s[i] != ' ') || !Digits(s, i + 1, 2, &hour) ||
        s.size() < i + 9 || s[i + 3] != ':' || !Digits(s, i + 4, 2, &minute) || s[i + 6] != ':' ||
        !Digits(s, i + 7, 2, &second)) {
      return std::nullopt;
    }
    i += 9;
    if (i < s.size() && s[i] == '.') {
      ++i;
      size_t start = i;
      while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i;
      if (i == start) return std::nullopt;
    }
    if (i < s.size()) {
      if ((s[i] == 'Z' || s[i] == 'z') && i + 1 == s.size()) {
        i = s.size();
      } else if ((s[i] == '+' || s[i] == '-') && s.size() == i + 6 && s[i + 3] == ':') {
        int oh = 0, om = 0;
        if (!Digits(s, i + 1, 2, &oh) || !Digits(s, i + 4, 2, &om)) return std::nullopt;
        offset = (s[i] == '+' ? 1 : -1) * (oh * 3600 + om * 60);
        i = s.size();
      } else {
        return std::nullopt;
      }
    }
  }
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) {
    return std::nullopt;
  }
  tm.tm_year = year - 1900;
  tm.tm_mon = month - 1;
  tm.tm_mday = day;
  tm.tm_hour = hour;
  tm.tm_min = minute;
  tm.tm_sec = second;
  std::time_t t = timegm(&tm);
  return Clock::TimePoint(std::chrono::seconds(static_cast<int64_t>(t) - offset));
}

std::string GenerateSecret() {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  (void)auth::RandomBytes(0);  // initialises libsodium
  std::string out(32, '\0');
  for (char& c : out) c = kAlphabet[randombytes_uniform(sizeof(kAlphabet) - 1)];
  return out;
}

Result<std::string> HashSecret(std::string_view secret, bool fast) {
  return auth::HashPassword(secret, fast ? auth::HashCost::kMinimal : auth::HashCost::kInteractive);
}

// ---------------------------------------------------------------- SecretBox

Status SecretBox::LoadKey() {
  if (key_) return Ok();
  std::array<unsigned char, 32> key{};
  (void)auth::RandomBytes(0);
  if (key_path_.empty()) {
    crypto_secretbox_keygen(key.data());
    key_ = key;
    return Ok();
  }
  int fd = ::open(key_path_.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0 && errno == ENOENT) {
    std::error_code ec;
    auto dir = std::filesystem::path(key_path_).parent_path();
    std::filesystem::create_directories(dir, ec);
    if (ec) return Fail(Code::kIOError, "cannot create " + dir.string() + ": " + ec.message());
    ::chmod(dir.c_str(), 0700);
    crypto_secretbox_keygen(key.data());
    std::string tmp = key_path_ + ".tmp";
    int out = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (out < 0) return Fail(Code::kIOError, "cannot create " + tmp + ": " + std::strerror(errno));
    bool ok = ::write(out, key.data(), key.size()) == static_cast<ssize_t>(key.size()) &&
              ::fsync(out) == 0;
    ::close(out);
    if (!ok || ::rename(tmp.c_str(), key_path_.c_str()) != 0) {
      ::unlink(tmp.c_str());
      return Fail(Code::kIOError, "cannot write " + key_path_ + ": " + std::strerror(errno));
    }
    key_ = key;
    return Ok();
  }
  if (fd < 0) return Fail(Code::kIOError, "cannot open " + key_path_ + ": " + std::strerror(errno));
  ssize_t n = ::read(fd, key.data(), key.size());
  char extra;
  bool longer = n == static_cast<ssize_t>(key.size()) && ::read(fd, &extra, 1) > 0;
  ::close(fd);
  if (n != static_cast<ssize_t>(key.size()) || longer) {
    return Fail(Code::kCorruption, key_path_ + " does not hold a 32-byte key");
  }
  key_ = key;
  return Ok();
}

Result<std::string> SecretBox::Seal(std::string_view plaintext) {
  COVE_RETURN_IF_ERROR(LoadKey());
  std::string box(crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES + plaintext.size(), '\0');
  auto* nonce = reinterpret_cast<unsigned char*>(box.data());
  randombytes_buf(nonce, crypto_secretbox_NONCEBYTES);
  crypto_secretbox_easy(nonce + crypto_secretbox_NONCEBYTES,
                        reinterpret_cast<const unsigned char*>(plaintext.data()), plaintext.size(),
                        nonce, key_->data());
  std::string out(sodium_base64_ENCODED_LEN(box.size(), sodium_base64_VARIANT_ORIGINAL), '\0');
  sodium_bin2base64(out.data(), out.size(), reinterpret_cast<const unsigned char*>(box.data()),
                    box.size(), sodium_base64_VARIANT_ORIGINAL);
  out.resize(std::strlen(out.c_str()));
  return "sb1:" + out;
}

Result<std::string> SecretBox::Open(std::string_view sealed) {
  COVE_RETURN_IF_ERROR(LoadKey());
  auto corrupt = [] {
    return Fail(Code::kCorruption, "a sealed credential does not open with the credentials key");
  };
  if (!sealed.starts_with("sb1:")) return corrupt();
  sealed.remove_prefix(4);
  std::string box(sealed.size(), '\0');
  size_t len = 0;
  if (sodium_base642bin(reinterpret_cast<unsigned char*>(box.data()), box.size(), sealed.data(),
                        sealed.size(), nullptr, &len, nullptr,
                        sodium_base64_VARIANT_ORIGINAL) != 0 ||
      len < crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES) {
    return corrupt();
  }
  const auto* nonce = reinterpret_cast<const unsigned char*>(box.data());
  std::string out(len - crypto_secretbox_NONCEBYTES - crypto_secretbox_MACBYTES, '\0');
  if (crypto_secretbox_open_easy(reinterpret_cast<unsigned char*>(out.data()),
                                 nonce + crypto_secretbox_NONCEBYTES,
                                 len - crypto_secretbox_NONCEBYTES, nonce, key_->data()) != 0) {
    return corrupt();
  }
  return out;
}

}  // namespace cove::arm
