#include "oci/manifest.h"

#include <gtest/gtest.h>

#include <string>

namespace cove::oci {
namespace {

// Digests as they appear in real manifests.
constexpr const char* kConfigDigest =
    "sha256:b5d6fe0712636ceb7430189de28819e195e8966372edfc2d9409d79402a0dc16";
constexpr const char* kLayer1 =
    "sha256:9d19ee268e0d7bcf6716e6658ee1b0384a71d6f2f9aa1ae2085610cf7c7b316f";
constexpr const char* kLayer2 =
    "sha256:f7202f7f1f26a4b2a2d1a3e4f76a2d5c9a40d7c5cb6c0eec0a3e1c05d7ce8a0b";
constexpr const char* kEmptyDigest =
    "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a";
constexpr const char* kAmd64 =
    "sha256:2ab6b4a8fc8e6c5b1a9a8fd4f9c0e6b45f8b1b4f5e1c0a3d6e2f9b7c8d1a0e3f";
constexpr const char* kArm64 =
    "sha256:5c1e0d7b2f3a4e6c8d9b0a1f2e3d4c5b6a7f8e9d0c1b2a3f4e5d6c7b8a9f0e1d";

// An OCI image manifest as buildah/podman push it.
constexpr const char* kImageBody = R"({
  "schemaVersion": 2,
  "mediaType": "application/vnd.oci.image.manifest.v1+json",
  "config": {
    "mediaType": "application/vnd.oci.image.config.v1+json",
    "digest": "sha256:b5d6fe0712636ceb7430189de28819e195e8966372edfc2d9409d79402a0dc16",
    "size": 1469
  },
  "layers": [
    {
      "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
      "digest": "sha256:9d19ee268e0d7bcf6716e6658ee1b0384a71d6f2f9aa1ae2085610cf7c7b316f",
      "size": 2802957
    },
    {
      "mediaType": "application/vnd.oci.image.layer.v1.tar+zstd",
      "digest": "sha256:f7202f7f1f26a4b2a2d1a3e4f76a2d5c9a40d7c5cb6c0eec0a3e1c05d7ce8a0b",
      "size": 0
    }
  ],
  "annotations": {
    "org.opencontainers.image.created": "2024-01-02T03:04:05Z",
    "org.opencontainers.image.base.name": "docker.io/library/alpine:3.19"
  }
})";

constexpr const char* kIndexBody = R"({
  "schemaVersion": 2,
  "mediaType": "application/vnd.oci.image.index.v1+json",
  "manifests": [
    {
      "mediaType": "application/vnd.oci.image.manifest.v1+json",
      "digest": "sha256:2ab6b4a8fc8e6c5b1a9a8fd4f9c0e6b45f8b1b4f5e1c0a3d6e2f9b7c8d1a0e3f",
      "size": 7143,
      "platform": { "architecture": "amd64", "os": "linux" }
    },
    {
      "mediaType": "application/vnd.oci.image.manifest.v1+json",
      "digest": "sha256:5c1e0d7b2f3a4e6c8d9b0a1f2e3d4c5b6a7f8e9d0c1b2a3f4e5d6c7b8a9f0e1d",
      "size": 7682,
      "platform": { "architecture": "arm64", "os": "linux", "variant": "v8",
                    "os.features": ["sse4"] }
    }
  ]
})";

constexpr const char* kDockerBody = R"({
   "schemaVersion": 2,
   "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
   "config": {
      "mediaType": "application/vnd.docker.container.image.v1+json",
      "size": 1469,
      "digest": "sha256:b5d6fe0712636ceb7430189de28819e195e8966372edfc2d9409d79402a0dc16"
   },
   "layers": [
      {
         "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
         "size": 2802957,
         "digest": "sha256:9d19ee268e0d7bcf6716e6658ee1b0384a71d6f2f9aa1ae2085610cf7c7b316f"
      },
      {
         "mediaType": "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
         "size": 1234,
         "digest": "sha256:f7202f7f1f26a4b2a2d1a3e4f76a2d5c9a40d7c5cb6c0eec0a3e1c05d7ce8a0b",
         "urls": ["https://mcr.microsoft.com/v2/windows/servercore/blobs/x"]
      }
   ]
})";

constexpr const char* kDockerListBody = R"({
   "schemaVersion": 2,
   "mediaType": "application/vnd.docker.distribution.manifest.list.v2+json",
   "manifests": [
      {
         "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
         "size": 528,
         "digest": "sha256:2ab6b4a8fc8e6c5b1a9a8fd4f9c0e6b45f8b1b4f5e1c0a3d6e2f9b7c8d1a0e3f",
         "platform": { "architecture": "amd64", "os": "linux" }
      },
      {
         "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
         "size": 528,
         "digest": "sha256:5c1e0d7b2f3a4e6c8d9b0a1f2e3d4c5b6a7f8e9d0c1b2a3f4e5d6c7b8a9f0e1d",
         "platform": { "architecture": "arm", "os": "linux", "variant": "v7" }
      }
   ]
})";

// An SBOM attached to an image (ORAS / notation style, image-spec 1.1 artifact guidance).
constexpr const char* kArtifactWithSubject = R"({
  "schemaVersion": 2,
  "mediaType": "application/vnd.oci.image.manifest.v1+json",
  "artifactType": "application/spdx+json",
  "config": {
    "mediaType": "application/vnd.oci.empty.v1+json",
    "digest": "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a",
    "size": 2,
    "data": "e30="
  },
  "layers": [
    {
      "mediaType": "application/spdx+json",
      "digest": "sha256:9d19ee268e0d7bcf6716e6658ee1b0384a71d6f2f9aa1ae2085610cf7c7b316f",
      "size": 5120,
      "annotations": { "org.opencontainers.image.title": "sbom.spdx.json" }
    }
  ],
  "subject": {
    "mediaType": "application/vnd.oci.image.manifest.v1+json",
    "digest": "sha256:2ab6b4a8fc8e6c5b1a9a8fd4f9c0e6b45f8b1b4f5e1c0a3d6e2f9b7c8d1a0e3f",
    "size": 7143
  },
  "annotations": { "org.opencontainers.image.created": "2024-05-06T07:08:09Z" }
})";

Result<ParsedManifest> Parse(std::string_view body, std::string_view ct = kOciManifest) {
  return ParseManifest(body, ct);
}

void ExpectInvalid(std::string_view body, std::string_view ct, std::string_view message_part) {
  auto m = ParseManifest(body, ct);
  ASSERT_FALSE(m) << body;
  EXPECT_EQ(m.error().code, Code::kInvalidArgument) << m.error().message;
  EXPECT_NE(m.error().message.find(message_part), std::string::npos)
      << "message: " << m.error().message << "\nwanted: " << message_part;
}

TEST(ManifestTest, OciImageManifest) {
  auto m = Parse(kImageBody);
  ASSERT_TRUE(m) << m.error().ToString();
  EXPECT_EQ(m->media_type, kOciManifest);
  EXPECT_FALSE(m->is_index);
  ASSERT_TRUE(m->config);
  EXPECT_EQ(m->config->digest.str(), kConfigDigest);
  EXPECT_EQ(m->config->size, 1469u);
  EXPECT_EQ(m->config->media_type, "application/vnd.oci.image.config.v1+json");
  ASSERT_EQ(m->layers.size(), 2u);
  EXPECT_EQ(m->layers[0].digest.str(), kLayer1);
  EXPECT_EQ(m->layers[0].size, 2802957u);
  EXPECT_EQ(m->layers[1].digest.str(), kLayer2);
  EXPECT_EQ(m->layers[1].size, 0u);
  EXPECT_EQ(m->layers[1].media_type, "application/vnd.oci.image.layer.v1.tar+zstd");
  EXPECT_TRUE(m->manifests.empty());
  EXPECT_FALSE(m->subject);
  // distribution-spec: without artifactType, the config media type stands in.
  EXPECT_EQ(m->artifact_type, "application/vnd.oci.image.config.v1+json");
  EXPECT_EQ(m->annotations_json,
            R"({"org.opencontainers.image.base.name":"docker.io/library/alpine:3.19",)"
            R"("org.opencontainers.image.created":"2024-01-02T03:04:05Z"})");
}

TEST(ManifestTest, OciIndexWithTwoPlatforms) {
  auto m = Parse(kIndexBody, kOciIndex);
  ASSERT_TRUE(m) << m.error().ToString();
  EXPECT_EQ(m->media_type, kOciIndex);
  EXPECT_TRUE(m->is_index);
  EXPECT_FALSE(m->config);
  EXPECT_TRUE(m->layers.empty());
  ASSERT_EQ(m->manifests.size(), 2u);
  EXPECT_EQ(m->manifests[0].digest.str(), kAmd64);
  EXPECT_EQ(m->manifests[0].size, 7143u);
  EXPECT_EQ(m->manifests[1].digest.str(), kArm64);
  EXPECT_EQ(m->artifact_type, "");
  EXPECT_EQ(m->annotations_json, "");
}

TEST(ManifestTest, DockerSchema2) {
  auto m = Parse(kDockerBody, kDockerManifest);
  ASSERT_TRUE(m) << m.error().ToString();
  EXPECT_EQ(m->media_type, kDockerManifest);
  EXPECT_FALSE(m->is_index);
  ASSERT_TRUE(m->config);
  EXPECT_EQ(m->config->media_type, "application/vnd.docker.container.image.v1+json");
  ASSERT_EQ(m->layers.size(), 2u);
  EXPECT_EQ(m->layers[1].media_type, "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip");
  EXPECT_EQ(m->layers[1].size, 1234u);
}

TEST(ManifestTest, DockerManifestList) {
  auto m = Parse(kDockerListBody, kDockerManifestList);
  ASSERT_TRUE(m) << m.error().ToString();
  EXPECT_EQ(m->media_type, kDockerManifestList);
  EXPECT_TRUE(m->is_index);
  ASSERT_EQ(m->manifests.size(), 2u);
  EXPECT_EQ(m->manifests[1].media_type, kDockerManifest);
}

TEST(ManifestTest, ArtifactWithEmptyConfigAndSubject) {
  auto m = Parse(kArtifactWithSubject);
  ASSERT_TRUE(m) << m.error().ToString();
  EXPECT_EQ(m->artifact_type, "application/spdx+json");
  ASSERT_TRUE(m->config);
  EXPECT_EQ(m->config->media_type, kOciEmptyConfig);
  EXPECT_EQ(m->config->digest.str(), kEmptyDigest);
  EXPECT_EQ(m->config->size, 2u);
  ASSERT_TRUE(m->subject);
  EXPECT_EQ(m->subject->digest.str(), kAmd64);
  EXPECT_EQ(m->subject->media_type, kOciManifest);
  EXPECT_EQ(m->subject->size, 7143u);
  EXPECT_EQ(m->annotations_json, R"({"org.opencontainers.image.created":"2024-05-06T07:08:09Z"})");
}

TEST(ManifestTest, ArtifactTypeFallsBackToConfigMediaType) {
  std::string body = std::string(R"({"schemaVersion":2,"config":{"mediaType":)") +
                     R"("application/vnd.cncf.helm.config.v1+json","digest":")" + kConfigDigest +
                     R"(","size":10},"layers":[{"mediaType":"application/vnd.cncf.helm.chart.)" +
                     R"(content.v1.tar+gzip","digest":")" + kLayer1 + R"(","size":99}]})";
  auto m = Parse(body);
  ASSERT_TRUE(m) << m.error().ToString();
  EXPECT_EQ(m->artifact_type, "application/vnd.cncf.helm.config.v1+json");
}

TEST(ManifestTest, EmptyLayersAndEmptyArtifactLayer) {
  // An image built FROM scratch with only metadata has no layers.
  std::string no_layers = std::string(R"({"schemaVersion":2,"config":{"mediaType":)") +
                          R"("application/vnd.oci.image.config.v1+json","digest":")" +
                          kConfigDigest + R"(","size":10},"layers":[]})";
  auto m = Parse(no_layers);
  ASSERT_TRUE(m) << m.error().ToString();
  EXPECT_TRUE(m->layers.empty());

  std::string empty_layer =
      std::string(R"({"schemaVersion":2,"artifactType":"application/x.sig",)") +
      R"("config":{"mediaType":"application/vnd.oci.empty.v1+json","digest":")" + kEmptyDigest +
      R"(","size":2},"layers":[{"mediaType":)" +
      R"("application/vnd.oci.empty.v1+json","digest":")" + kEmptyDigest + R"(","size":2}]})";
  m = Parse(empty_layer);
  ASSERT_TRUE(m) << m.error().ToString();
  ASSERT_EQ(m->layers.size(), 1u);
  EXPECT_EQ(m->artifact_type, "application/x.sig");
}

TEST(ManifestTest, IndexWithSubjectAndArtifactType) {
  std::string body = std::string(R"({"schemaVersion":2,"mediaType":")") + std::string(kOciIndex) +
                     R"(","artifactType":"application/vnd.example.bundle","manifests":[],)" +
                     R"("subject":{"mediaType":")" + std::string(kOciManifest) + R"(","digest":")" +
                     kAmd64 + R"(","size":5}})";
  auto m = Parse(body, "");
  ASSERT_TRUE(m) << m.error().ToString();
  EXPECT_TRUE(m->is_index);
  EXPECT_TRUE(m->manifests.empty());
  EXPECT_EQ(m->artifact_type, "application/vnd.example.bundle");
  ASSERT_TRUE(m->subject);
}

TEST(ManifestTest, ContentTypeParametersAndCaseAreIgnored) {
  auto m = Parse(kImageBody, "application/vnd.oci.image.manifest.v1+json; charset=utf-8");
  ASSERT_TRUE(m) << m.error().ToString();
  m = Parse(kImageBody, " Application/VND.OCI.Image.Manifest.v1+json ;q=1");
  ASSERT_TRUE(m) << m.error().ToString();
  EXPECT_EQ(m->media_type, kOciManifest);
}

TEST(ManifestTest, MissingContentTypeUsesMediaTypeField) {
  auto m = Parse(kDockerListBody, "");
  ASSERT_TRUE(m) << m.error().ToString();
  EXPECT_EQ(m->media_type, kDockerManifestList);
  m = Parse(kImageBody, "application/json");
  ASSERT_TRUE(m) << m.error().ToString();
  EXPECT_EQ(m->media_type, kOciManifest);
}

TEST(ManifestTest, ContentTypeWithoutMediaTypeField) {
  std::string body = std::string(R"({"schemaVersion":2,"manifests":[]})");
  auto m = Parse(body, kOciIndex);
  ASSERT_TRUE(m) << m.error().ToString();
  EXPECT_TRUE(m->is_index);
  ExpectInvalid(body, "", "cannot tell the manifest type");
}

TEST(ManifestTest, RejectsNotJson) {
  ExpectInvalid("", kOciManifest, "not valid JSON");
  ExpectInvalid("not json", kOciManifest, "not valid JSON");
  ExpectInvalid("{\"schemaVersion\":2,", kOciManifest, "not valid JSON");
  ExpectInvalid(std::string(kImageBody) + "garbage", kOciManifest, "not valid JSON");
  ExpectInvalid("{\"a\":\"\xff\"}", kOciManifest, "not valid JSON");
}

TEST(ManifestTest, RejectsNonObjects) {
  ExpectInvalid("[]", kOciManifest, "JSON object");
  ExpectInvalid("[{\"schemaVersion\":2}]", kOciManifest, "JSON object");
  ExpectInvalid("2", kOciManifest, "JSON object");
  ExpectInvalid("null", kOciManifest, "JSON object");
  ExpectInvalid("\"x\"", kOciManifest, "JSON object");
}

std::string ReplaceFirst(std::string s, std::string_view from, std::string_view to) {
  auto at = s.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  if (at != std::string::npos) s.replace(at, from.size(), to);
  return s;
}

TEST(ManifestTest, SchemaVersion) {
  ExpectInvalid(ReplaceFirst(kImageBody, "\"schemaVersion\": 2,", ""), kOciManifest,
                "schemaVersion is required");
  ExpectInvalid(ReplaceFirst(kImageBody, "\"schemaVersion\": 2", "\"schemaVersion\": 3"),
                kOciManifest, "schemaVersion must be 2");
  ExpectInvalid(ReplaceFirst(kImageBody, "\"schemaVersion\": 2", "\"schemaVersion\": -2"),
                kOciManifest, "schemaVersion must be 2");
  ExpectInvalid(ReplaceFirst(kImageBody, "\"schemaVersion\": 2", "\"schemaVersion\": \"2\""),
                kOciManifest, "schemaVersion must be the integer 2");
  ExpectInvalid(ReplaceFirst(kImageBody, "\"schemaVersion\": 2", "\"schemaVersion\": 2.0"),
                kOciManifest, "schemaVersion must be the integer 2");
  auto m = Parse(ReplaceFirst(kImageBody, "\"schemaVersion\": 2", "\"schemaVersion\": 1"));
  ASSERT_FALSE(m);
  EXPECT_EQ(m.error().code, Code::kUnimplemented);
  EXPECT_NE(m.error().message.find("schema 1"), std::string::npos);
}

TEST(ManifestTest, DockerSchema1IsUnimplemented) {
  constexpr const char* kSchema1 = R"({
   "name": "hello-world", "tag": "latest", "architecture": "amd64",
   "fsLayers": [{"blobSum": "sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef"}],
   "history": [{"v1Compatibility": "{}"}],
   "schemaVersion": 1,
   "signatures": []
  })";
  for (const char* ct :
       {"application/vnd.docker.distribution.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.v1+prettyjws", "", "application/json"}) {
    auto m = ParseManifest(kSchema1, ct);
    ASSERT_FALSE(m) << ct;
    EXPECT_EQ(m.error().code, Code::kUnimplemented) << ct;
    EXPECT_NE(m.error().message.find("schema 1"), std::string::npos) << m.error().message;
  }
  // Even when the body is not JSON, the Content-Type alone says it.
  auto m = ParseManifest("xx", "application/vnd.docker.distribution.manifest.v1+prettyjws");
  ASSERT_FALSE(m);
  EXPECT_EQ(m.error().code, Code::kUnimplemented);
  m = ParseManifest(R"({"schemaVersion":2,"mediaType":")"
                    "application/vnd.docker.distribution.manifest.v1+json\"}",
                    "");
  ASSERT_FALSE(m);
  EXPECT_EQ(m.error().code, Code::kUnimplemented);
}

TEST(ManifestTest, UnknownMediaTypesAreUnimplemented) {
  auto m = Parse(kImageBody, "application/vnd.oci.artifact.manifest.v1+json");
  ASSERT_FALSE(m);
  EXPECT_EQ(m.error().code, Code::kUnimplemented);
  EXPECT_NE(m.error().message.find("application/vnd.oci.artifact.manifest.v1+json"),
            std::string::npos);
  m = Parse(R"({"schemaVersion":2,"mediaType":"application/x-foo"})", "");
  ASSERT_FALSE(m);
  EXPECT_EQ(m.error().code, Code::kUnimplemented);
  m = Parse(kImageBody, "text/plain");
  ASSERT_FALSE(m);
  EXPECT_EQ(m.error().code, Code::kUnimplemented);
}

TEST(ManifestTest, MediaTypeMismatch) {
  ExpectInvalid(kImageBody, kDockerManifest, "does not match Content-Type");
  ExpectInvalid(kIndexBody, kOciManifest, "does not match Content-Type");
  ExpectInvalid(ReplaceFirst(kImageBody, "\"mediaType\": \"application/vnd.oci.image.manifest",
                             "\"mediaType\": 7, \"x\": \"application/vnd.oci.image.manifest"),
                kOciManifest, "mediaType must be a string");
}

TEST(ManifestTest, ImageManifestStructure) {
  ExpectInvalid(R"({"schemaVersion":2,"layers":[]})", kOciManifest, "config is required");
  ExpectInvalid(R"({"schemaVersion":2,"config":[],"layers":[]})", kOciManifest,
                "config must be a descriptor object");
  std::string config = std::string(R"("config":{"mediaType":"application/vnd.oci.image.config.)") +
                       R"(v1+json","digest":")" + kConfigDigest + R"(","size":1})";
  ExpectInvalid("{\"schemaVersion\":2," + config + "}", kOciManifest, "layers is required");
  ExpectInvalid("{\"schemaVersion\":2," + config + ",\"layers\":{}}", kOciManifest,
                "layers must be an array");
  ExpectInvalid("{\"schemaVersion\":2," + config + ",\"layers\":[7]}", kOciManifest,
                "layers[0] must be a descriptor object");
  ExpectInvalid("{\"schemaVersion\":2," + config + ",\"layers\":[],\"manifests\":[]}", kOciManifest,
                "must not have manifests");
}

TEST(ManifestTest, IndexStructure) {
  ExpectInvalid(R"({"schemaVersion":2})", kOciIndex, "manifests is required");
  ExpectInvalid(R"({"schemaVersion":2,"manifests":"x"})", kOciIndex, "manifests must be an array");
  ExpectInvalid(R"({"schemaVersion":2,"manifests":[],"layers":[]})", kOciIndex,
                "must not have config or layers");
  ExpectInvalid(ReplaceFirst(kIndexBody, "\"size\": 7682", "\"size\": \"7682\""), kOciIndex,
                "manifests[1].size must be a non-negative integer");
}

TEST(ManifestTest, DescriptorChecks) {
  ExpectInvalid(ReplaceFirst(kImageBody, kLayer2, "sha256:abc"), kOciManifest, "layers[1].digest");
  ExpectInvalid(ReplaceFirst(kImageBody, kLayer2, "md5:0123456789abcdef0123456789abcdef"),
                kOciManifest, "layers[1].digest: unsupported digest algorithm");
  ExpectInvalid(
      ReplaceFirst(kImageBody, kLayer2,
                   "sha256:F7202F7F1F26A4B2A2D1A3E4F76A2D5C9A40D7C5CB6C0EEC0A3E1C05D7CE8A0B"),
      kOciManifest, "layers[1].digest");
  ExpectInvalid(ReplaceFirst(kImageBody, "\"size\": 2802957", "\"size\": -1"), kOciManifest,
                "layers[0].size must not be negative");
  ExpectInvalid(ReplaceFirst(kImageBody, "\"size\": 2802957", "\"size\": \"2802957\""),
                kOciManifest, "layers[0].size must be a non-negative integer");
  ExpectInvalid(ReplaceFirst(kImageBody, "\"size\": 2802957", "\"size\": 2802957.5"), kOciManifest,
                "layers[0].size must be a non-negative integer");
  ExpectInvalid(ReplaceFirst(kImageBody, "\"size\": 2802957", "\"size\": 18446744073709551615"),
                kOciManifest, "layers[0].size is out of range");
  ExpectInvalid(ReplaceFirst(kImageBody, ",\n      \"size\": 2802957", ""), kOciManifest,
                "layers[0].size is required");
  ExpectInvalid(ReplaceFirst(kImageBody, "\"size\": 1469", "\"size\": null"), kOciManifest,
                "config.size is required");
  ExpectInvalid(
      ReplaceFirst(kImageBody, "\"digest\": \"sha256:b5d6", "\"digest\": 5, \"x\": \"sha256:b5d6"),
      kOciManifest, "config.digest must be a string");
  ExpectInvalid(ReplaceFirst(kImageBody, "application/vnd.oci.image.layer.v1.tar+gzip", "tar"),
                kOciManifest, "layers[0].mediaType \"tar\" is not a media type");
  ExpectInvalid(
      ReplaceFirst(kImageBody, "application/vnd.oci.image.layer.v1.tar+gzip", "application/x; a=b"),
      kOciManifest, "is not a media type");
  ExpectInvalid(ReplaceFirst(kImageBody, "\"mediaType\": \"application/vnd.oci.image.config",
                             "\"x\": \"application/vnd.oci.image.config"),
                kOciManifest, "config.mediaType is required");
  ExpectInvalid(ReplaceFirst(kDockerBody, "\"urls\": [\"https", "\"urls\": [1, \"https"),
                kDockerManifest, "layers[1].urls must be an array of strings");
  ExpectInvalid(ReplaceFirst(kArtifactWithSubject, "\"size\": 7143", "\"size\": -7143"),
                kOciManifest, "subject.size must not be negative");
  ExpectInvalid(ReplaceFirst(kArtifactWithSubject, "\"org.opencontainers.image.title\": \"sbom",
                             "\"n\": 1, \"t\": \"sbom"),
                kOciManifest, "layers[0].annotations[\"n\"] must be a string");
}

TEST(ManifestTest, AnnotationsAndArtifactType) {
  ExpectInvalid(ReplaceFirst(kImageBody, "\"2024-01-02T03:04:05Z\"", "5"), kOciManifest,
                "annotations[\"org.opencontainers.image.created\"] must be a string");
  ExpectInvalid(ReplaceFirst(kImageBody, "\"2024-01-02T03:04:05Z\"", "{\"a\":\"b\"}"), kOciManifest,
                "must be a string");
  ExpectInvalid(ReplaceFirst(kArtifactWithSubject,
                             "\"annotations\": { \"org.opencontainers.image.created\": "
                             "\"2024-05-06T07:08:09Z\" }",
                             "\"annotations\": [\"a\"]"),
                kOciManifest, "annotations must be an object");
  ExpectInvalid(ReplaceFirst(kArtifactWithSubject, "\"artifactType\": \"application/spdx+json\"",
                             "\"artifactType\": 1"),
                kOciManifest, "artifactType must be a string");
  ExpectInvalid(ReplaceFirst(kArtifactWithSubject, "\"artifactType\": \"application/spdx+json\"",
                             "\"artifactType\": \"sbom\""),
                kOciManifest, "artifactType \"sbom\" is not a media type");
  // An empty artifactType counts as missing.
  auto m = Parse(ReplaceFirst(kArtifactWithSubject, "\"artifactType\": \"application/spdx+json\"",
                              "\"artifactType\": \"\""));
  ASSERT_TRUE(m) << m.error().ToString();
  EXPECT_EQ(m->artifact_type, kOciEmptyConfig);
  // Empty annotations are kept as an empty object; escapes survive re-serialization.
  m = Parse(ReplaceFirst(kImageBody, "\"2024-01-02T03:04:05Z\"", "\"a\\\"b\\u00e9\\n\""));
  ASSERT_TRUE(m) << m.error().ToString();
  EXPECT_NE(m->annotations_json.find(R"("a\"b)"
                                     "\xc3\xa9"
                                     R"(\n")"),
            std::string::npos)
      << m->annotations_json;
}

TEST(ManifestTest, NullOptionalFieldsCountAsAbsent) {
  auto m = Parse(ReplaceFirst(kImageBody, "\"annotations\": {",
                              "\"subject\": null, \"artifactType\": null, \"x\": {"));
  ASSERT_TRUE(m) << m.error().ToString();
  EXPECT_FALSE(m->subject);
  EXPECT_EQ(m->annotations_json, "");
}

TEST(ManifestTest, DeepNestingIsRejectedWithoutCrashing) {
  std::string deep(100000, '[');
  ExpectInvalid(deep, kOciManifest, "nests deeper");
  std::string balanced = std::string(100000, '[') + std::string(100000, ']');
  ExpectInvalid(balanced, kOciManifest, "nests deeper");
  std::string objects;
  for (int i = 0; i < 50000; ++i) objects += "{\"a\":";
  ExpectInvalid(objects, kOciManifest, "nests deeper");
  // Nesting just inside the limit is parsed (and then rejected for what it is).
  std::string ok = "{\"schemaVersion\":2,\"x\":" + std::string(60, '[') + std::string(60, ']') +
                   ",\"manifests\":[]}";
  auto parsed = ParseManifest(ok, kOciIndex);
  ASSERT_TRUE(parsed) << parsed.error().ToString();
}

TEST(ManifestTest, BracketsInsideStringsDoNotCountAsNesting) {
  std::string value(100000, '[');
  auto m = Parse(ReplaceFirst(kImageBody, "2024-01-02T03:04:05Z", value + "\\\"" + value));
  ASSERT_TRUE(m) << m.error().ToString();
}

TEST(ManifestTest, TooLarge) {
  std::string big =
      ReplaceFirst(kImageBody, "2024-01-02T03:04:05Z", std::string(kMaxManifestSize, 'x'));
  ExpectInvalid(big, kOciManifest, "larger than");
}

TEST(ManifestTest, IsManifestMediaType) {
  EXPECT_TRUE(IsManifestMediaType(kOciManifest));
  EXPECT_TRUE(IsManifestMediaType(kOciIndex));
  EXPECT_TRUE(IsManifestMediaType(kDockerManifest));
  EXPECT_TRUE(IsManifestMediaType(kDockerManifestList));
  EXPECT_FALSE(IsManifestMediaType(kOciEmptyConfig));
  EXPECT_FALSE(IsManifestMediaType("application/vnd.docker.distribution.manifest.v1+json"));
  EXPECT_FALSE(IsManifestMediaType(""));
}

}  // namespace
}  // namespace cove::oci
