// Test-only helpers for running containers: a busybox root filesystem built by hand (the host's
// statically linked /bin/busybox and a symlink per applet the tests use) and a network namespace
// with a dummy interface and an /etc overlay, both removed when the object goes away, pass or
// fail. Need root (the namespace) and /bin/busybox (scripts/install-deps).
//
// Thread-safety: plain values.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <thread>

#include "runtime/naming.h"
#include "support/temp_dir.h"

namespace cove::testing {

// Why containers cannot run here ("" when they can): they need root, runc and /bin/busybox.
inline std::string MissingForContainers() {
  if (::geteuid() != 0) return "needs root";
  if (std::system("runc --version >/dev/null 2>&1") != 0) return "needs runc";
  if (!std::filesystem::exists("/bin/busybox")) return "needs /bin/busybox";
  return "";
}

// Makes `dir` a busybox root: bin/busybox, bin/<applet> symlinks, /etc/passwd and /etc/group.
inline bool MakeBusyboxRootfs(const std::string& dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::create_directories(dir + "/bin", ec);
  fs::create_directories(dir + "/etc", ec);
  fs::copy_file("/bin/busybox", dir + "/bin/busybox", fs::copy_options::overwrite_existing, ec);
  if (ec) return false;
  for (const char* applet : {"sh", "echo", "cat", "hostname", "ip", "env", "ls", "sleep", "true",
                             "false", "test", "id", "wc"}) {
    fs::create_symlink("busybox", dir + "/bin/" + applet, ec);
  }
  std::ofstream(dir + "/etc/passwd") << "root:x:0:0:root:/root:/bin/sh\n"
                                     << "app:x:1000:1000:app:/:/bin/sh\n";
  std::ofstream(dir + "/etc/group") << "root:x:0:\napp:x:1000:\n";
  return true;
}

// A short random name part, so runs do not collide ("t1a2b").
inline std::string RandomTag() {
  std::random_device rd;
  char buf[8];
  std::snprintf(buf, sizeof buf, "t%04x", rd() & 0xffff);
  return buf;
}

// A named network namespace ("ip netns add") with an interface dummy0 (one end of a veth
// pair, 10.99.0.2/24), and /etc/netns/<name> holding a resolv.conf and a hosts file.
class TestNetns {
 public:
  explicit TestNetns(std::string name) : name_(std::move(name)) {
    ok_ = Run("ip netns add " + name_) &&
          Run("ip -n " + name_ + " link add dummy0 type veth peer name dummy1") &&
          Run("ip -n " + name_ + " addr add 10.99.0.2/24 dev dummy0") &&
          Run("ip -n " + name_ + " link set dummy0 up");
    std::filesystem::create_directories(etc_overlay());
    std::ofstream(etc_overlay() + "/resolv.conf") << "nameserver 192.0.2.53\n";
    std::ofstream(etc_overlay() + "/hosts") << "127.0.0.1 localhost\n10.99.0.7 peer.test\n";
  }
  ~TestNetns() {
    Run("ip netns delete " + name_);
    std::error_code ec;
    std::filesystem::remove_all(etc_overlay(), ec);
  }
  TestNetns(const TestNetns&) = delete;
  TestNetns& operator=(const TestNetns&) = delete;

  bool ok() const { return ok_; }
  const std::string& name() const { return name_; }
  std::string path() const { return "/run/netns/" + name_; }
  std::string etc_overlay() const { return "/etc/netns/" + name_; }

 private:
  static bool Run(const std::string& command) {
    return std::system((command + " >/dev/null 2>&1").c_str()) == 0;
  }
  std::string name_;
  bool ok_ = false;
};

// A fixture for tests that run containers: skips without root, runc or busybox; gives a
// per-run prefix (runc ids, runc root), a temp dir and a test namespace; removes the runc root
// at the end. Subclasses stop their containers before calling ContainerFixture::TearDown.
class ContainerFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    if (const std::string missing = MissingForContainers(); !missing.empty()) {
      GTEST_SKIP() << missing;
    }
    prefix_ = RandomTag();
    netns_ = std::make_unique<TestNetns>(prefix_ + "-ns");
    ASSERT_TRUE(netns_->ok());
  }
  void TearDown() override {
    netns_.reset();
    std::error_code ec;
    if (!prefix_.empty()) std::filesystem::remove_all(runtime::RuncRoot(prefix_), ec);
  }
  // True when SetUp skipped or failed: the subclass' SetUp stops there.
  bool NotReady() const { return IsSkipped() || HasFatalFailure(); }

  std::string prefix_;
  TempDir temp_;
  std::unique_ptr<TestNetns> netns_;
};

// Polls `done` every 20 ms until it holds or `timeout` passes.
inline bool Eventually(const std::function<bool()>& done,
                       std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (done()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

}  // namespace cove::testing
