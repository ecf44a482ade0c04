#include "arm/onprem_support.h"

namespace cove::arm {

Status CheckNewNetworkName(const ArmPath& p, const Json* existing, const std::string& type) {
  if (existing != nullptr || IsValidNetworkName(p.names.back())) return {};
  return tl::unexpected(NameInvalid(p.names.back(), type,
                                    "Names are 1-80 word characters, '.', '-' or '_', beginning "
                                    "with a word character."));
}

const Json* FindOfType(const Txn& txn, const std::string& id, std::string_view type) {
  const Json* doc = txn.Get(Lower(id));
  if (doc == nullptr || !EqualsIgnoreCase(doc->value("type", ""), type)) return nullptr;
  return doc;
}

Status CheckSameRegion(const Json& doc, const Json& dependency) {
  if (doc.value("location", "") == dependency.value("location", "")) return {};
  return tl::unexpected(InvalidReference(dependency.value("id", ""), doc.value("id", "")));
}

std::vector<std::string> ReferencesTo(const Txn& txn, std::string_view type, const char* field,
                                      const std::string& key) {
  std::vector<std::string> out;
  for (const auto& k : KeysOfType(txn, type)) {
    const Json& ref = Field(Field(*txn.Get(k), "properties"), field);
    if (Lower(ref.value("id", "")) == key) out.push_back(k);
  }
  return out;
}

std::string IdsOf(const Txn& txn, const std::vector<std::string>& keys) {
  std::string out;
  for (const auto& k : keys) {
    const Json* doc = txn.Get(k);
    out += (out.empty() ? "" : ", ") + (doc != nullptr ? doc->value("id", k) : k);
  }
  return out;
}

Status CheckAsn(int64_t asn, const std::string& what, bool azure_side) {
  bool reserved = asn == 8074 || asn == 8075 || asn == 12076 || asn == 23456 ||
                  (asn >= 65517 && asn <= 65520) || (asn >= 64496 && asn <= 64511) ||
                  (asn >= 65535 && asn <= 65551) || (asn == 65515 && !azure_side);
  if (asn < 1 || asn > 4294967294LL) {
    return ArmFail(400, "InvalidAsn",
                   "The ASN " + std::to_string(asn) + " of " + what +
                       " is not valid: an ASN is 1-4294967294.");
  }
  if (reserved) {
    return ArmFail(400, "InvalidAsn",
                   "The ASN " + std::to_string(asn) + " of " + what +
                       " is reserved by Azure or IANA and cannot be used. Reserved by Azure: "
                       "8074, 8075, 12076, 65515, 65517-65520; by IANA: 23456, 64496-64511, "
                       "65535-65551.");
  }
  return {};
}

const Json& Field(const Json& j, const char* key) {
  static const Json* empty = new Json(Json::object());
  if (!j.is_object()) return *empty;
  auto it = j.find(key);
  return it == j.end() || !(it->is_object() || it->is_array()) ? *empty : *it;
}

int64_t IntField(const Json& j, const char* key, int64_t fallback) {
  if (!j.is_object()) return fallback;
  auto it = j.find(key);
  return it != j.end() && it->is_number_integer() ? it->get<int64_t>() : fallback;
}

}  // namespace cove::arm
