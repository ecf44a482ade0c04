#include "arm/resource_listing.h"

#include <algorithm>
#include <cctype>

#include "arm/errors.h"
#include "auth/jwt.h"
#include "common/ascii.h"

namespace cove::arm {
namespace {

constexpr size_t kMaxPage = 1000;

Error InvalidFilter(std::string_view filter) {
  return ArmErrorOf(400, "InvalidFilterInQueryString",
                    "Invalid $filter '" + std::string(filter) + "' specified in the query string.");
}

// A cursor over a $filter's text: words, `eq` and quoted values.
class FilterScanner {
 public:
  explicit FilterScanner(std::string_view text) : text_(text) {}
  bool AtEnd() {
    SkipSpaces();
    return pos_ == text_.size();
  }
  // The next run of letters ("" when none).
  std::string Word() {
    SkipSpaces();
    size_t start = pos_;
    while (pos_ < text_.size() && std::isalpha(static_cast<unsigned char>(text_[pos_]))) ++pos_;
    return std::string(text_.substr(start, pos_ - start));
  }
  // A '...' literal, '' standing for one quote; nullopt when there is none.
  std::optional<std::string> Quoted() {
    SkipSpaces();
    if (pos_ >= text_.size() || text_[pos_] != '\'') return std::nullopt;
    std::string out;
    for (++pos_; pos_ < text_.size(); ++pos_) {
      if (text_[pos_] != '\'') {
        out.push_back(text_[pos_]);
      } else if (pos_ + 1 < text_.size() && text_[pos_ + 1] == '\'') {
        out.push_back('\'');
        ++pos_;
      } else {
        ++pos_;
        return out;
      }
    }
    return std::nullopt;  // unterminated
  }

 private:
  void SkipSpaces() {
    while (pos_ < text_.size() && text_[pos_] == ' ') ++pos_;
  }
  std::string_view text_;
  size_t pos_ = 0;
};

// Unreserved characters stay, everything else becomes %XX (a query value in a nextLink).
std::string EncodeQueryValue(std::string_view value) {
  static const char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : value) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out += {'%', kHex[c >> 4], kHex[c & 15]};
    }
  }
  return out;
}

// The group of a stored resource key "/subscriptions/{s}/resourcegroups/{rg}/providers/...".
std::string_view GroupOfKey(std::string_view key) {
  constexpr std::string_view kGroups = "/resourcegroups/";
  size_t at = key.find(kGroups);
  if (at == std::string_view::npos) return {};
  size_t start = at + kGroups.size();
  return key.substr(start, key.find('/', start) - start);
}

// A listed resource's name as ARM lists it: a child's names joined by '/' under its parents'
// ("myregistry/eastus" for a replication).
std::string ListedName(const Json& doc) {
  std::string id = doc.value("id", "");
  constexpr std::string_view kProviders = "/providers/";
  size_t at = AsciiLower(id).rfind(kProviders);
  if (at == std::string::npos) return doc.value("name", "");
  // "{ns}/{type}/{name}[/{type}/{name}]...": the names are every other segment after ns.
  std::string name;
  size_t start = id.find('/', at + kProviders.size());
  for (int i = 0; start != std::string::npos; ++i) {
    size_t end = id.find('/', start + 1);
    if (i % 2 == 1) {
      if (!name.empty()) name += "/";
      name += id.substr(start + 1, end == std::string::npos ? std::string::npos : end - start - 1);
    }
    start = end;
  }
  return name.empty() ? doc.value("name", "") : name;
}

bool Matches(const ResourceFilter& f, std::string_view key, const Json& doc) {
  if (!f.resource_type.empty() && AsciiLower(doc.value("type", "")) != f.resource_type) {
    return false;
  }
  if (!f.name.empty() && AsciiLower(ListedName(doc)) != f.name) return false;
  if (!f.resource_group.empty() && GroupOfKey(key) != f.resource_group) return false;
  if (!f.location.empty() && NormalizeLocation(doc.value("location", "")) != f.location) {
    return false;
  }
  if (!f.tag_name.empty()) {
    const Json* tags = doc.contains("tags") && doc["tags"].is_object() ? &doc["tags"] : nullptr;
    if (tags == nullptr) return false;
    bool found = false;
    for (const auto& [k, v] : tags->items()) {
      if (AsciiLower(k) != f.tag_name) continue;
      found = !f.tag_value || (v.is_string() && v.get<std::string>() == *f.tag_value);
      break;
    }
    if (!found) return false;
  }
  return true;
}

// GenericResourceExpanded: the envelope of a stored resource, with provisioningState when
// $expand asks for it.
Json ListedItem(const Json& doc, bool with_state) {
  Json item = {{"id", doc.value("id", "")},
               {"name", ListedName(doc)},
               {"type", doc.value("type", "")},
               {"location", doc.value("location", "")},
               {"tags", doc.contains("tags") && doc["tags"].is_object() ? doc["tags"]
                                                                       : Json::object()}};
  for (const char* member : {"sku", "kind", "identity", "managedBy"}) {
    if (doc.contains(member) && !doc[member].is_null()) item[member] = doc[member];
  }
  if (with_state) {
    const Json& properties = doc.contains("properties") ? doc["properties"] : Json();
    item["provisioningState"] = properties.is_object()
                                    ? properties.value("provisioningState", "Succeeded")
                                    : "Succeeded";
  }
  return item;
}

}  // namespace

Result<ResourceFilter> ParseResourceFilter(std::string_view filter) {
  ResourceFilter out;
  FilterScanner scan(filter);
  if (scan.AtEnd()) return out;
  bool tag_value_seen = false;
  for (;;) {
    std::string field = AsciiLower(scan.Word());
    if (AsciiLower(scan.Word()) != "eq") return tl::unexpected(InvalidFilter(filter));
    auto value = scan.Quoted();
    if (!value) return tl::unexpected(InvalidFilter(filter));
    std::string* target = nullptr;
    if (field == "resourcetype") {
      target = &out.resource_type;
    } else if (field == "name") {
      target = &out.name;
    } else if (field == "resourcegroup") {
      target = &out.resource_group;
    } else if (field == "location") {
      target = &out.location;
      *value = NormalizeLocation(*value);
    } else if (field == "tagname") {
      target = &out.tag_name;
    } else if (field == "tagvalue" && !tag_value_seen) {
      tag_value_seen = true;
      out.tag_value = *value;
    } else {
      return tl::unexpected(InvalidFilter(filter));
    }
    if (target != nullptr) {
      if (!target->empty() || value->empty()) return tl::unexpected(InvalidFilter(filter));
      *target = AsciiLower(*value);
    }
    if (scan.AtEnd()) break;
    if (AsciiLower(scan.Word()) != "and") return tl::unexpected(InvalidFilter(filter));
  }
  if (out.tag_value && out.tag_name.empty()) return tl::unexpected(InvalidFilter(filter));
  return out;
}

const std::vector<std::string>& ResourcesApiVersions() {
  static const std::vector<std::string> kVersions = {
      "2025-04-01", "2025-03-01", "2024-11-01", "2024-07-01", "2024-03-01", "2023-07-01",
      "2022-09-01", "2021-04-01", "2021-01-01", "2020-10-01", "2020-08-01", "2020-06-01",
      "2019-10-01", "2019-08-01", "2019-07-01", "2019-05-10", "2019-05-01", "2019-03-01",
      "2018-05-01", "2018-02-01", "2017-05-10", "2016-09-01", "2016-07-01", "2016-02-01",
      "2015-11-01"};
  return kVersions;
}

Result<ArmResponse> ListResources(const Txn& txn, const ArmRequest& r, const ArmPath& p) {
  if (r.method != "GET") {
    return ArmFail(405, "MethodNotAllowed", "Use GET to list resources.");
  }
  COVE_RETURN_IF_ERROR(CheckApiVersionIn(ResourcesApiVersions(), *r.api_version));
  std::string scope = p.SubscriptionKey() + "/resourcegroups/";
  if (!p.resource_group.empty()) {
    if (txn.Get(p.ResourceGroupKey()) == nullptr) {
      return ArmFail(404, "ResourceGroupNotFound",
                     "Resource group '" + p.resource_group + "' could not be found.");
    }
    scope = p.ResourceGroupKey() + "/";
  }
  COVE_ASSIGN_OR_RETURN(ResourceFilter filter, ParseResourceFilter(r.filter));
  size_t page = kMaxPage;
  if (!r.top.empty()) {
    size_t n = 0;
    bool digits = r.top.size() <= 4 && std::all_of(r.top.begin(), r.top.end(), [](char c) {
      return std::isdigit(static_cast<unsigned char>(c));
    });
    if (digits) n = std::stoul(r.top);
    if (n == 0 || n > kMaxPage) {
      return ArmFail(400, "InvalidTopInQueryString",
                     "Invalid $top '" + r.top + "' specified in the query string: it must be an "
                     "integer from 1 to 1000.");
    }
    page = n;
  }
  std::string after;  // the lowercase id (= key) of the previous page's last item
  if (!r.skip_token.empty()) {
    auto decoded = auth::Base64UrlDecode(r.skip_token);
    if (!decoded || !decoded->starts_with(scope)) {
      return ArmFail(400, "InvalidSkipTokenInQueryString",
                     "Invalid $skiptoken '" + r.skip_token + "' specified in the query string.");
    }
    after = *decoded;
  }
  bool with_state = AsciiLower(r.expand).find("provisioningstate") != std::string::npos;
  Json value = Json::array();
  std::string last;
  bool more = false;
  for (const auto& key : txn.KeysWithPrefix(scope)) {
    if (!after.empty() && key <= after) continue;
    if (key.find("/providers/") == std::string::npos || key.find("/#") != std::string::npos) {
      continue;  // resource groups and internal documents
    }
    const Json* doc = txn.Get(key);
    if (doc == nullptr || !doc->is_object() || !doc->contains("location") ||
        !doc->contains("type") || !Matches(filter, key, *doc)) {
      continue;
    }
    if (value.size() == page) {
      more = true;
      break;
    }
    value.push_back(ListedItem(*doc, with_state));
    last = key;
  }
  Json body = {{"value", std::move(value)}};
  if (more) {
    std::string link = "/subscriptions/" + p.subscription;
    if (!p.resource_group.empty()) link += "/resourceGroups/" + p.resource_group;
    link += "/resources?api-version=" + EncodeQueryValue(*r.api_version);
    if (!r.filter.empty()) link += "&$filter=" + EncodeQueryValue(r.filter);
    if (!r.top.empty()) link += "&$top=" + EncodeQueryValue(r.top);
    if (!r.expand.empty()) link += "&$expand=" + EncodeQueryValue(r.expand);
    link += "&$skiptoken=" + auth::Base64UrlEncode(last);
    body["nextLink"] = link;
  }
  return ArmResponse{200, std::move(body)};
}

}  // namespace cove::arm
