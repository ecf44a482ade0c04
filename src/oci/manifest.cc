#include "oci/manifest.h"

#include <cstddef>
#include <limits>
#include <nlohmann/json.hpp>
#include <utility>

namespace cove::oci {
namespace {

using Json = nlohmann::json;

// Real manifests nest four or five levels (index → manifests[] → descriptor → platform →
// os.features[]). Anything much deeper is hostile; refusing it before nlohmann builds a DOM keeps
// the recursive parts of the library (DOM destruction, dump) off deep input.
constexpr int kMaxNesting = 64;

constexpr std::string_view kSchema1 = "application/vnd.docker.distribution.manifest.v1+json";
constexpr std::string_view kSchema1Signed =
    "application/vnd.docker.distribution.manifest.v1+prettyjws";

constexpr std::string_view kSchema1Message =
    "Docker schema 1 manifests are not supported; push the image as Docker schema 2 or OCI "
    "(current docker, podman, buildah and skopeo do so by default)";

tl::unexpected<Error> Invalid(std::string message) {
  return Fail(Code::kInvalidArgument, std::move(message));
}

bool IsSchema1(std::string_view media_type) {
  return media_type == kSchema1 || media_type == kSchema1Signed;
}

// Fails when arrays/objects nest deeper than kMaxNesting. Brackets inside strings do not count.
Status CheckNesting(std::string_view bytes) {
  int depth = 0;
  bool in_string = false;
  bool escaped = false;
  for (char c : bytes) {
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    switch (c) {
      case '"':
        in_string = true;
        break;
      case '[':
      case '{':
        if (++depth > kMaxNesting) {
          return Invalid("manifest JSON nests deeper than " + std::to_string(kMaxNesting) +
                         " levels");
        }
        break;
      case ']':
      case '}':
        --depth;  // unbalanced input is left for the parser to report
        break;
      default:
        break;
    }
  }
  return Ok();
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// "Application/VND.oci.image.manifest.v1+json; charset=utf-8" → the lowercased type/subtype.
std::string BareMediaType(std::string_view content_type) {
  std::string_view bare = Trim(content_type.substr(0, content_type.find(';')));
  std::string out(bare);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

// RFC 6838 section 4.2 restricted-name: an alphanumeric, then up to 126 of
// alphanumerics and ! # $ & - ^ _ . +
bool IsRestrictedName(std::string_view s) {
  auto alnum = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
  };
  if (s.empty() || s.size() > 127 || !alnum(s[0])) return false;
  for (char c : s.substr(1)) {
    if (!alnum(c) && std::string_view("!#$&-^_.+").find(c) == std::string_view::npos) {
      return false;
    }
  }
  return true;
}

// type "/" subtype, both restricted names; no parameters.
bool IsMediaTypeSyntax(std::string_view s) {
  size_t slash = s.find('/');
  if (slash == std::string_view::npos) return false;
  return IsRestrictedName(s.substr(0, slash)) && IsRestrictedName(s.substr(slash + 1));
}

// Looks up an optional member; JSON null counts as absent (as Go's encoding/json, which most
// clients and registries use, treats it).
const Json* Member(const Json& object, const char* key) {
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) return nullptr;
  return &*it;
}

Status CheckAnnotations(const Json& annotations, const std::string& where) {
  if (!annotations.is_object()) {
    return Invalid(where + " must be an object of string values");
  }
  for (const auto& [key, value] : annotations.items()) {
    if (!value.is_string()) {
      return Invalid(where + "[\"" + key + "\"] must be a string");
    }
  }
  return Ok();
}

Result<std::string> MediaTypeField(const Json& object, const char* key, const std::string& where,
                                   bool required) {
  const Json* value = Member(object, key);
  if (value == nullptr) {
    if (required) return Invalid(where + "." + key + " is required");
    return std::string();
  }
  if (!value->is_string()) return Invalid(where + "." + key + " must be a string");
  const std::string& text = value->get_ref<const std::string&>();
  if (text.empty() && !required) return std::string();
  if (!IsMediaTypeSyntax(text)) {
    return Invalid(where + "." + key + " \"" + text + "\" is not a media type (type/subtype)");
  }
  return text;
}

Result<Descriptor> ParseDescriptor(const Json& j, const std::string& where) {
  if (!j.is_object()) return Invalid(where + " must be a descriptor object");
  Descriptor d;
  COVE_ASSIGN_OR_RETURN(d.media_type, MediaTypeField(j, "mediaType", where, /*required=*/true));

  const Json* digest = Member(j, "digest");
  if (digest == nullptr) return Invalid(where + ".digest is required");
  if (!digest->is_string()) return Invalid(where + ".digest must be a string");
  auto parsed = Digest::Parse(digest->get_ref<const std::string&>());
  if (!parsed) return Invalid(where + ".digest: " + parsed.error().message);
  d.digest = std::move(*parsed);

  const Json* size = Member(j, "size");
  if (size == nullptr) return Invalid(where + ".size is required");
  if (size->is_number_unsigned()) {
    uint64_t n = size->get<uint64_t>();
    if (n > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      return Invalid(where + ".size is out of range");
    }
    d.size = n;
  } else if (size->is_number_integer()) {  // signed means negative here
    return Invalid(where + ".size must not be negative");
  } else {
    return Invalid(where + ".size must be a non-negative integer");
  }

  COVE_ASSIGN_OR_RETURN(d.artifact_type,
                        MediaTypeField(j, "artifactType", where, /*required=*/false));
  if (const Json* annotations = Member(j, "annotations")) {
    COVE_RETURN_IF_ERROR(CheckAnnotations(*annotations, where + ".annotations"));
  }
  if (const Json* urls = Member(j, "urls")) {
    if (!urls->is_array()) return Invalid(where + ".urls must be an array of strings");
    for (const Json& url : *urls) {
      if (!url.is_string()) return Invalid(where + ".urls must be an array of strings");
    }
  }
  return d;
}

Result<std::vector<Descriptor>> ParseDescriptorArray(const Json& manifest, const char* key) {
  const Json* array = Member(manifest, key);
  if (array == nullptr) return Invalid(std::string(key) + " is required");
  if (!array->is_array()) return Invalid(std::string(key) + " must be an array of descriptors");
  std::vector<Descriptor> out;
  out.reserve(array->size());
  for (size_t i = 0; i < array->size(); ++i) {
    COVE_ASSIGN_OR_RETURN(Descriptor d, ParseDescriptor((*array)[i], std::string(key) + "[" +
                                                                         std::to_string(i) + "]"));
    out.push_back(std::move(d));
  }
  return out;
}

// Decides the manifest's media type from the Content-Type and the body's mediaType field.
Result<std::string> ResolveMediaType(std::string_view content_type, const Json& manifest) {
  std::string from_header = BareMediaType(content_type);
  std::string from_body;
  if (auto it = manifest.find("mediaType"); it != manifest.end()) {
    if (!it->is_string()) return Invalid("mediaType must be a string");
    from_body = it->get<std::string>();
    if (IsSchema1(from_body)) return Fail(Code::kUnimplemented, std::string(kSchema1Message));
  }
  if (IsManifestMediaType(from_header)) {
    if (!from_body.empty() && from_body != from_header) {
      return Invalid("mediaType \"" + from_body +
                     "\" in the manifest does not match Content-Type \"" + from_header + "\"");
    }
    return from_header;
  }
  // No usable Content-Type: a bare "application/json" is what generic HTTP tools send.
  if (from_header.empty() || from_header == "application/json") {
    if (from_body.empty()) {
      return Invalid(
          "cannot tell the manifest type: send Content-Type or a mediaType field naming one of " +
          std::string(kOciManifest) + ", " + std::string(kOciIndex) + ", " +
          std::string(kDockerManifest) + ", " + std::string(kDockerManifestList));
    }
    if (!IsManifestMediaType(from_body)) {
      return Fail(Code::kUnimplemented, "unsupported manifest media type \"" + from_body + "\"");
    }
    return from_body;
  }
  return Fail(Code::kUnimplemented, "unsupported manifest media type \"" + from_header + "\"");
}

Result<ParsedManifest> ParseDocument(const Json& j, std::string_view content_type) {
  if (!j.is_object()) return Invalid("manifest must be a JSON object");

  // Schema 1 first, so that its bodies get the schema-1 message rather than a structural one.
  const Json* version = Member(j, "schemaVersion");
  if (version != nullptr && version->is_number_integer() && version->get<int64_t>() == 1) {
    return Fail(Code::kUnimplemented, std::string(kSchema1Message));
  }
  ParsedManifest m;
  COVE_ASSIGN_OR_RETURN(m.media_type, ResolveMediaType(content_type, j));
  if (version == nullptr) return Invalid("schemaVersion is required");
  if (!version->is_number_integer()) return Invalid("schemaVersion must be the integer 2");
  if (!version->is_number_unsigned() || version->get<uint64_t>() != 2) {
    return Invalid("schemaVersion must be 2, not " + version->dump());
  }

  m.is_index = m.media_type == kOciIndex || m.media_type == kDockerManifestList;
  if (m.is_index) {
    // An index must not also read as an image manifest (the ambiguity behind CVE-2021-41190).
    if (j.contains("config") || j.contains("layers")) {
      return Invalid("an index must not have config or layers");
    }
    COVE_ASSIGN_OR_RETURN(m.manifests, ParseDescriptorArray(j, "manifests"));
  } else {
    if (j.contains("manifests")) return Invalid("an image manifest must not have manifests");
    const Json* config = Member(j, "config");
    if (config == nullptr) return Invalid("config is required");
    COVE_ASSIGN_OR_RETURN(Descriptor c, ParseDescriptor(*config, "config"));
    m.config = std::move(c);
    // layers is required but may be empty: the image spec only says it SHOULD have an entry, and
    // real images built FROM scratch with only metadata have none.
    COVE_ASSIGN_OR_RETURN(m.layers, ParseDescriptorArray(j, "layers"));
  }

  if (const Json* subject = Member(j, "subject")) {
    COVE_ASSIGN_OR_RETURN(Descriptor s, ParseDescriptor(*subject, "subject"));
    m.subject = std::move(s);
  }
  COVE_ASSIGN_OR_RETURN(m.artifact_type, MediaTypeField(j, "artifactType", "manifest", false));
  if (m.artifact_type.empty() && m.config) m.artifact_type = m.config->media_type;

  if (const Json* annotations = Member(j, "annotations")) {
    COVE_RETURN_IF_ERROR(CheckAnnotations(*annotations, "annotations"));
    m.annotations_json = annotations->dump(-1, ' ', false, Json::error_handler_t::replace);
  }
  return m;
}

}  // namespace

bool IsManifestMediaType(std::string_view media_type) {
  return media_type == kOciManifest || media_type == kOciIndex || media_type == kDockerManifest ||
         media_type == kDockerManifestList;
}

Result<ParsedManifest> ParseManifest(std::string_view bytes, std::string_view content_type) {
  if (IsSchema1(BareMediaType(content_type))) {
    return Fail(Code::kUnimplemented, std::string(kSchema1Message));
  }
  if (bytes.size() > kMaxManifestSize) {
    return Invalid("manifest is larger than " + std::to_string(kMaxManifestSize) + " bytes");
  }
  COVE_RETURN_IF_ERROR(CheckNesting(bytes));
  try {
    Json j = Json::parse(bytes.begin(), bytes.end());
    return ParseDocument(j, content_type);
  } catch (const Json::parse_error& e) {
    return Invalid(std::string("manifest is not valid JSON: ") + e.what());
  } catch (const Json::exception& e) {
    // ParseDocument checks types before every access; this is a bug guard, not a code path.
    return Invalid(std::string("manifest could not be read: ") + e.what());
  }
}

bool IsForeignLayer(std::string_view media_type) {
  return media_type.starts_with("application/vnd.oci.image.layer.nondistributable.") ||
         media_type == "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip";
}

}  // namespace cove::oci
