// The unpacker on hand-made layers: whiteouts, links, owners, and tars that try to write outside
// the rootfs (each must fail and leave the outside untouched).
#include "runtime/unpack.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "runtime/layer_builder.h"
#include "support/temp_dir.h"

namespace cove::runtime {
namespace {

using cove::testing::BuildTar;
using cove::testing::TarEntry;
namespace fs = std::filesystem;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class UnpackTest : public ::testing::Test {
 protected:
  void SetUp() override {
    rootfs_ = dir_.Join("rootfs");
    outside_ = dir_.Join("outside");
    fs::create_directories(outside_);
  }
  // Nothing may appear beside the rootfs nor in `outside_`.
  void ExpectOutsideUntouched() {
    EXPECT_TRUE(fs::is_empty(outside_));
    for (const auto& e : fs::directory_iterator(dir_.path())) {
      std::string name = e.path().filename();
      EXPECT_TRUE(name == "rootfs" || name == "outside") << name;
    }
    EXPECT_FALSE(fs::exists("/tmp/cove-evil-abs"));
  }

  cove::testing::TempDir dir_;
  std::string rootfs_, outside_;
};

TEST_F(UnpackTest, AppliesFilesLinksOwnersAndSkipsDevices) {
  std::string tar =
      BuildTar({{.path = "bin", .type = 'd', .mode = 0755},
                {.path = "./bin/tool", .data = "#!tool", .mode = 0750, .uid = 1000, .gid = 1001},
                {.path = "bin/sh", .type = 'l', .link = "tool"},
                {.path = "bin/abs", .type = 'l', .link = "/etc/passwd"},
                {.path = "bin/hard", .type = 'h', .link = "bin/tool"},
                {.path = "dev/null", .type = 'c'}},
               /*gzip=*/true);
  ASSERT_TRUE(ApplyLayerBytes(tar, rootfs_));
  EXPECT_EQ(ReadFile(rootfs_ + "/bin/tool"), "#!tool");
  struct stat st;
  ASSERT_EQ(::stat((rootfs_ + "/bin/tool").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0750u);
  EXPECT_EQ(st.st_uid, 1000u);
  EXPECT_EQ(st.st_gid, 1001u);
  EXPECT_EQ(st.st_nlink, 2u);
  EXPECT_EQ(fs::read_symlink(rootfs_ + "/bin/sh"), "tool");
  EXPECT_EQ(fs::read_symlink(rootfs_ + "/bin/abs"), "/etc/passwd");  // stored, never followed
  EXPECT_FALSE(fs::exists(fs::symlink_status(rootfs_ + "/dev/null")));
  ExpectOutsideUntouched();
}

TEST_F(UnpackTest, UncompressedDigestIsTheDiffId) {
  std::vector<TarEntry> entries = {{.path = "a", .data = "hello"}};
  std::string plain = BuildTar(entries, false);
  for (bool gzip : {false, true}) {
    std::string path = dir_.Join(gzip ? "layer.tgz" : "layer.tar");
    std::ofstream(path, std::ios::binary) << BuildTar(entries, gzip);
    auto d = UncompressedDigest(path);
    ASSERT_TRUE(d) << d.error().message;
    EXPECT_EQ(*d, Digest::Of(plain));
    fs::remove(path);
  }
}

TEST_F(UnpackTest, WhiteoutsRemoveWhatLowerLayersHold) {
  ASSERT_TRUE(ApplyLayerBytes(BuildTar({{.path = "a/keep", .data = "1"},
                                        {.path = "a/gone", .data = "2"},
                                        {.path = "a/gonedir/deep/x", .data = "3"},
                                        {.path = "b/x", .data = "4"},
                                        {.path = "b/sub/y", .data = "5"}},
                                       true),
                              rootfs_));
  ASSERT_TRUE(ApplyLayerBytes(BuildTar({{.path = "b/new", .data = "6"},
                                        {.path = "a/.wh.gone", .data = ""},
                                        {.path = "a/.wh.gonedir", .data = ""},
                                        {.path = "b/.wh..wh..opq", .data = ""},
                                        {.path = "c/.wh.absent", .data = ""}},
                                       false),
                              rootfs_));
  EXPECT_TRUE(fs::exists(rootfs_ + "/a/keep"));
  EXPECT_FALSE(fs::exists(rootfs_ + "/a/gone"));
  EXPECT_FALSE(fs::exists(rootfs_ + "/a/gonedir"));
  EXPECT_FALSE(fs::exists(rootfs_ + "/b/x"));
  EXPECT_FALSE(fs::exists(rootfs_ + "/b/sub"));
  EXPECT_EQ(ReadFile(rootfs_ + "/b/new"), "6");  // this layer's own entry survives its marker
  EXPECT_FALSE(fs::exists(rootfs_ + "/a/.wh.gone"));
  EXPECT_FALSE(fs::exists(rootfs_ + "/b/.wh..wh..opq"));
}

TEST_F(UnpackTest, EvilLayersWriteNothingOutside) {
  std::string out_rel = "../outside";
  std::vector<std::pair<std::string, std::vector<TarEntry>>> evil = {
      {"dotdot", {{.path = "../outside/pwned", .data = "x"}}},
      {"nested dotdot", {{.path = "a/../../outside/pwned", .data = "x"}}},
      {"absolute", {{.path = "/tmp/cove-evil-abs", .data = "x"}}},
      {"symlink then write through it",
       {{.path = "esc", .type = 'l', .link = outside_}, {.path = "esc/pwned", .data = "x"}}},
      {"relative symlink then write through it",
       {{.path = "esc", .type = 'l', .link = out_rel}, {.path = "esc/pwned", .data = "x"}}},
      {"symlink dir then nested write",
       {{.path = "d", .type = 'd', .mode = 0755},
        {.path = "d/esc", .type = 'l', .link = "../../outside"},
        {.path = "d/esc/sub/pwned", .data = "x"}}},
      {"hard link out", {{.path = "h", .type = 'h', .link = "../outside/target"}}},
      {"hard link through a symlink",
       {{.path = "esc", .type = 'l', .link = outside_},
        {.path = "h", .type = 'h', .link = "esc/t"}}},
      {"whiteout through a symlink",
       {{.path = "esc", .type = 'l', .link = outside_}, {.path = "esc/.wh.victim", .data = ""}}},
      {"opaque through a symlink",
       {{.path = "esc", .type = 'l', .link = outside_}, {.path = "esc/.wh..wh..opq", .data = ""}}},
      {"whiteout of ..", {{.path = "a/.wh...", .data = ""}}},
  };
  // Something to lose outside, for the whiteouts.
  std::ofstream(outside_ + "/victim") << "keep me";
  std::ofstream(outside_ + "/target") << "keep me";
  for (const auto& [name, entries] : evil) {
    SCOPED_TRACE(name);
    fs::remove_all(rootfs_);
    auto st = ApplyLayerBytes(BuildTar(entries, true), rootfs_);
    // ".." and absolute names fail the layer; symlinks are resolved inside the rootfs (where
    // the hard link's target is absent: an error too).
    bool hard = name.rfind("hard link", 0) == 0;
    bool confined = name.find("symlink") != std::string::npos && !hard;
    EXPECT_EQ(static_cast<bool>(st), confined) << (st ? "" : st.error().message);
    if (!st && !hard) {
      EXPECT_EQ(st.error().code, Code::kPermissionDenied) << st.error().message;
    }
    EXPECT_EQ(ReadFile(outside_ + "/victim"), "keep me");
    EXPECT_EQ(ReadFile(outside_ + "/target"), "keep me");
    EXPECT_FALSE(fs::exists(outside_ + "/pwned"));
    EXPECT_FALSE(fs::exists(outside_ + "/sub"));
    EXPECT_FALSE(fs::exists(outside_ + "/t"));
    EXPECT_FALSE(fs::exists("/tmp/cove-evil-abs"));
    EXPECT_EQ(std::distance(fs::directory_iterator(outside_), fs::directory_iterator()), 2);
  }
}

TEST_F(UnpackTest, SymlinkedDirectoriesResolveInsideTheRootfs) {
  ASSERT_TRUE(ApplyLayerBytes(BuildTar({{.path = "usr/lib", .type = 'd', .mode = 0755},
                                        {.path = "lib", .type = 'l', .link = "/usr/lib"},
                                        {.path = "up", .type = 'l', .link = "../../../.."},
                                        {.path = "etc", .type = 'l', .link = outside_}},
                                       true),
                              rootfs_));
  ASSERT_TRUE(ApplyLayerBytes(BuildTar({{.path = "lib/libc.so", .data = "c"},
                                        {.path = "up/usr/lib/libm.so", .data = "m"},
                                        {.path = "etc/passwd", .data = "root"}},
                                       true),
                              rootfs_));
  EXPECT_EQ(ReadFile(rootfs_ + "/usr/lib/libc.so"), "c");
  EXPECT_EQ(ReadFile(rootfs_ + "/usr/lib/libm.so"), "m");
  EXPECT_EQ(fs::read_symlink(rootfs_ + "/lib"), "/usr/lib");  // the link stays a link
  EXPECT_EQ(ReadFile(rootfs_ + outside_ + "/passwd"), "root");
  ExpectOutsideUntouched();
}

TEST_F(UnpackTest, GarbageIsAnError) {
  auto st = ApplyLayerBytes("this is not a tar archive, not even close.............", rootfs_);
  EXPECT_FALSE(st);
  ExpectOutsideUntouched();
}

}  // namespace
}  // namespace cove::runtime
