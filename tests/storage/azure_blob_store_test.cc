#include "storage/azure_blob_store.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <chrono>
#include <functional>
#include <mutex>
#include <thread>

#include "common/ascii.h"
#include "storage/blob_store_conformance.h"
#include "storage/filesystem_blob_store.h"
#include "support/temp_dir.h"
#include "support/azurite.h"

namespace cove::storage {
namespace {

using ::cove::testing::Azurite;
using testing::BlobStoreConformance;

// One emulator per test binary, started by the first test that needs it.
Azurite& SharedAzurite() {
  static Azurite* azurite = new Azurite();  // stopped by the atexit below
  static bool registered = [] {
    std::atexit([] { delete azurite; });
    return true;
  }();
  (void)registered;
  return *azurite;
}

// A fresh container per test.
std::string NewContainer() {
  static std::atomic<int> next{0};
  return "t" + std::to_string(::getpid()) + "x" + std::to_string(next++);
}

Result<BlobStorePtr> OpenStore(const Clock& clock, const std::string& container,
                               const std::string& endpoint = "",
                               const std::string& key = Azurite::kKey) {
  AzureBlobOptions options;
  options.endpoint = endpoint.empty() ? SharedAzurite().endpoint() : endpoint;
  options.account = Azurite::kAccount;
  options.key = key;
  options.container = container;
  options.clock = &clock;
  return AzureBlobStore::Open(options);
}

class AzureHarness final : public testing::BlobStoreHarness {
 public:
  explicit AzureHarness(const Clock& clock) : clock_(clock), container_(NewContainer()) {
    EXPECT_TRUE(SharedAzurite().ok()) << SharedAzurite().error();
    Restart();
  }
  BlobStore& store() override { return *store_; }
  void Restart() override {
    store_.reset();
    auto opened = OpenStore(clock_, container_);
    EXPECT_TRUE(opened) << opened.error().ToString();
    if (opened) store_ = std::move(*opened);
  }

 private:
  const Clock& clock_;
  std::string container_;
  BlobStorePtr store_;
};

INSTANTIATE_TEST_SUITE_P(Azure, BlobStoreConformance,
                         ::testing::Values(testing::BlobStoreImpl{
                             "Azure",
                             [](const Clock& clock) -> std::unique_ptr<testing::BlobStoreHarness> {
                               return std::make_unique<AzureHarness>(clock);
                             }}),
                         testing::BlobStoreImplName);

std::string ReadAllFd(int fd) {
  std::string out;
  char buf[1 << 16];
  while (true) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

class AzureBlobStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(SharedAzurite().ok()) << SharedAzurite().error();
    container_ = NewContainer();
    auto a = OpenStore(clock_, container_);
    auto b = OpenStore(clock_, container_);
    COVE_ASSERT_OK(a);
    COVE_ASSERT_OK(b);
    node_a_ = std::move(*a);
    node_b_ = std::move(*b);
  }
  AzureBlobStore& a() { return static_cast<AzureBlobStore&>(*node_a_); }

  ManualClock clock_;
  std::string container_;
  BlobStorePtr node_a_, node_b_;  // two "nodes" on one container
};

TEST_F(AzureBlobStoreTest, ResumeOnAnotherNodeAtTheAcknowledgedLength) {
  {
    auto upload = node_a_->CreateUpload("moving");
    COVE_ASSERT_OK(upload);
    COVE_ASSERT_OK((*upload)->Append("acknowledged "));
    COVE_ASSERT_OK((*upload)->Flush());
    EXPECT_EQ((*upload)->size(), 13u);
    COVE_ASSERT_OK((*upload)->Append("never acknowledged"));
  }
  auto names = a().ListNames("uploads/moving/state/");
  COVE_ASSERT_OK(names);
  EXPECT_EQ(names->size(), 3u);  // 0, 13 and the release's flush at 31
  auto resumed = node_b_->ResumeUpload("moving", 13);
  COVE_ASSERT_OK(resumed);
  EXPECT_EQ((*resumed)->size(), 13u);
  COVE_ASSERT_OK((*resumed)->Append("bytes"));
  COVE_ASSERT_OK((*resumed)->Flush());
  auto size = (*resumed)->Commit(Digest::Of("acknowledged bytes"));
  COVE_ASSERT_OK(size);
  EXPECT_EQ(*size, 18u);
  EXPECT_EQ(*node_a_->Read(Digest::Of("acknowledged bytes"), 100), "acknowledged bytes");
  EXPECT_TRUE(a().ListNames("uploads/")->empty());
}

TEST_F(AzureBlobStoreTest, OneLiveHandleAcrossNodes) {
  auto upload = node_a_->CreateUpload("leased");
  COVE_ASSERT_OK(upload);
  COVE_ASSERT_OK((*upload)->Append("x"));
  COVE_ASSERT_OK((*upload)->Flush());
  COVE_EXPECT_CODE(node_b_->ResumeUpload("leased", 1), Code::kFailedPrecondition);
  COVE_EXPECT_CODE(node_b_->DeleteUpload("leased"), Code::kFailedPrecondition);
  COVE_EXPECT_CODE(node_b_->CreateUpload("leased"), Code::kAlreadyExists);
  upload->reset();
  auto resumed = node_b_->ResumeUpload("leased", 1);
  COVE_ASSERT_OK(resumed);
  COVE_EXPECT_CODE(node_a_->ResumeUpload("leased", 1), Code::kFailedPrecondition);
  resumed->reset();
  COVE_EXPECT_OK(node_a_->DeleteUpload("leased"));
}

TEST_F(AzureBlobStoreTest, ListUploadsReportsTheLastFlush) {
  auto upload = node_a_->CreateUpload("stamped");
  COVE_ASSERT_OK(upload);
  Clock::TimePoint created = clock_.Now();
  clock_.Advance(std::chrono::minutes(5));
  COVE_ASSERT_OK((*upload)->Append("12345"));
  auto listed = node_b_->ListUploads();
  COVE_ASSERT_OK(listed);
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0].size, 0u);  // not flushed yet
  EXPECT_EQ((*listed)[0].modified, created);
  COVE_ASSERT_OK((*upload)->Flush());
  listed = node_b_->ListUploads();
  COVE_ASSERT_OK(listed);
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0].size, 5u);
  EXPECT_EQ((*listed)[0].modified, clock_.Now());
}

TEST_F(AzureBlobStoreTest, WrongKeyIsPermissionDenied) {
  auto opened = OpenStore(clock_, NewContainer(), "", "d3Jvbmcga2V5IGZvciB0aGUgYWNjb3VudA==");
  COVE_EXPECT_CODE(opened, Code::kPermissionDenied);
  EXPECT_NE(opened.error().message.find(SharedAzurite().endpoint()), std::string::npos)
      << opened.error().message;
}

TEST_F(AzureBlobStoreTest, UnreachableAccountIsUnavailable) {
  // A port nobody listens on: bind one, then close it.
  int s = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(s, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  socklen_t len = sizeof addr;
  ::getsockname(s, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(s);
  std::string endpoint =
      "http://127.0.0.1:" + std::to_string(ntohs(addr.sin_port)) + "/devstoreaccount1";
  auto opened = OpenStore(clock_, NewContainer(), endpoint);
  COVE_EXPECT_CODE(opened, Code::kUnavailable);
  EXPECT_NE(opened.error().message.find(endpoint), std::string::npos) << opened.error().message;
}

TEST_F(AzureBlobStoreTest, LargeStreamingRead) {
  std::string bytes(64 << 20, '\0');
  for (size_t i = 0; i < bytes.size(); i += 4096) bytes[i] = static_cast<char>(i / 4096);
  Digest d = Digest::Of(bytes);
  {
    auto upload = node_a_->CreateUpload("big");
    COVE_ASSERT_OK(upload);
    for (size_t off = 0; off < bytes.size(); off += 3 << 20) {
      COVE_ASSERT_OK((*upload)->Append(std::string_view(bytes).substr(off, 3 << 20)));
    }
    COVE_ASSERT_OK((*upload)->Commit(d));
  }
  auto file = node_b_->Open(d);
  COVE_ASSERT_OK(file);
  EXPECT_TRUE(file->stream);
  EXPECT_EQ(file->size, bytes.size());
  std::string got = ReadAllFd(file->fd.get());
  EXPECT_EQ(got.size(), bytes.size());
  EXPECT_TRUE(got == bytes);
  // A range in the middle, streamed.
  uint64_t offset = (10 << 20) + 3, length = 20 << 20;
  auto range = node_b_->Open(d, offset, length);
  COVE_ASSERT_OK(range);
  EXPECT_TRUE(ReadAllFd(range->fd.get()) == bytes.substr(offset, length));
  // A reader that goes away early ends the stream thread (EPIPE), and the store goes on.
  {
    auto early = node_b_->Open(d);
    COVE_ASSERT_OK(early);
    char buf[1000];
    EXPECT_EQ(::read(early->fd.get(), buf, sizeof buf), 1000);
  }
  EXPECT_EQ(*node_b_->Stat(d), bytes.size());
}

// ---- A fault-injecting proxy in front of Azurite --------------------------------------------

enum class Fault { kForward, k503, k500, kDrop };

// Accepts connections on 127.0.0.1; each carries one request (the proxy forwards it upstream
// with Connection: close and answers with close too), or the fault `rule` chose for it.
class FaultProxy {
 public:
  using Rule = std::function<Fault(const std::string& method, const std::string& target,
                                   const std::string& head)>;
  FaultProxy(int upstream_port, Rule rule) : upstream_(upstream_port), rule_(std::move(rule)) {
    listener_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::bind(listener_, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    socklen_t len = sizeof addr;
    ::getsockname(listener_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    ::listen(listener_, 64);
    thread_ = std::thread([this] { Loop(); });
  }
  ~FaultProxy() {
    stop_ = true;
    ::shutdown(listener_, SHUT_RDWR);
    thread_.join();
    ::close(listener_);
  }
  std::string endpoint() const {
    return "http://127.0.0.1:" + std::to_string(port_) + "/devstoreaccount1";
  }
  int requests() const { return requests_; }

 private:
  void Loop() {
    while (!stop_) {
      pollfd p{listener_, POLLIN, 0};
      if (::poll(&p, 1, 100) <= 0) continue;
      int client = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
      if (client < 0) continue;
      Serve(client);  // one at a time: the store's calls in these tests are sequential
      ::close(client);
    }
  }

  static bool SendAll(int fd, std::string_view data) {
    while (!data.empty()) {
      ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      data.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }

  void Serve(int client) {
    std::string in;
    char buf[1 << 16];
    size_t end;
    while ((end = in.find("\r\n\r\n")) == std::string::npos) {
      ssize_t n = ::recv(client, buf, sizeof buf, 0);
      if (n <= 0) return;
      in.append(buf, static_cast<size_t>(n));
    }
    std::string head = in.substr(0, end + 2);
    std::string lower = AsciiLower(head);
    size_t cl = lower.find("content-length:");
    size_t length = cl == std::string::npos ? 0 : std::stoul(head.substr(cl + 15));
    while (in.size() < end + 4 + length) {
      ssize_t n = ::recv(client, buf, sizeof buf, 0);
      if (n <= 0) return;
      in.append(buf, static_cast<size_t>(n));
    }
    ++requests_;
    std::string method = head.substr(0, head.find(' '));
    size_t t = head.find(' ') + 1;
    std::string target = head.substr(t, head.find(' ', t) - t);
    Fault fault = rule_(method, target, lower);
    if (fault == Fault::kDrop) return;
    if (fault == Fault::kForward) return Forward(client, in, end);
    std::string status = fault == Fault::k503 ? "503 Server Busy" : "500 Internal Server Error";
    std::string code = fault == Fault::k503 ? "ServerBusy" : "InternalError";
    SendAll(client, "HTTP/1.1 " + status + "\r\nx-ms-error-code: " + code +
                        "\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
  }

  void Forward(int client, const std::string& in, size_t end) {
    // Ask upstream to close after its answer: the proxy then relays until EOF.
    std::string request = in.substr(0, end + 2);
    std::string lower = AsciiLower(request);
    size_t conn = lower.find("\r\nconnection:");
    if (conn != std::string::npos) {
      size_t line_end = request.find("\r\n", conn + 2);
      request.erase(conn, line_end - conn);
    }
    request += "Connection: close\r\n\r\n" + in.substr(end + 4);
    int up = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<uint16_t>(upstream_));
    if (::connect(up, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
        SendAll(up, request)) {
      char buf[1 << 16];
      while (true) {
        ssize_t n = ::recv(up, buf, sizeof buf, 0);
        if (n <= 0 || !SendAll(client, std::string_view(buf, static_cast<size_t>(n)))) break;
      }
    }
    ::close(up);
  }

  int upstream_;
  Rule rule_;
  int listener_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> requests_{0};
  std::thread thread_;
};

bool Has(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

TEST_F(AzureBlobStoreTest, IdempotentCallsAreRetriedThrough503And500AndDrops) {
  std::atomic<int> put_faults{0}, block_faults{0}, copy_faults{0};
  FaultProxy proxy(SharedAzurite().port(), [&](const std::string& method,
                                               const std::string& target,
                                               const std::string& head) {
    if (method == "PUT" && Has(target, "/blobs/") && !Has(head, "x-ms-copy-source") &&
        put_faults < 2) {
      return ++put_faults == 1 ? Fault::k503 : Fault::k500;
    }
    if (Has(target, "blockid=") && block_faults++ == 0) return Fault::kDrop;
    if (Has(head, "x-ms-copy-source") && copy_faults++ == 0) return Fault::k503;
    return Fault::kForward;
  });
  auto opened = OpenStore(clock_, container_, proxy.endpoint());
  COVE_ASSERT_OK(opened);
  BlobStore& store = **opened;
  COVE_ASSERT_OK(store.Put(Digest::Of("retried"), "retried"));
  EXPECT_EQ(put_faults, 2);
  EXPECT_EQ(*node_a_->Read(Digest::Of("retried"), 100), "retried");

  auto upload = store.CreateUpload("flaky");
  COVE_ASSERT_OK(upload);
  COVE_ASSERT_OK((*upload)->Append("through a dropped connection"));
  COVE_ASSERT_OK((*upload)->Flush());
  COVE_ASSERT_OK((*upload)->Commit(Digest::Of("through a dropped connection")));
  EXPECT_EQ(block_faults, 2);
  EXPECT_EQ(copy_faults, 2);
  EXPECT_EQ(*node_a_->Read(Digest::Of("through a dropped connection"), 100),
            "through a dropped connection");
}

TEST_F(AzureBlobStoreTest, PersistentFailuresAreClearErrorsAndNothingIsHalfVisible) {
  FaultProxy proxy(SharedAzurite().port(), [&](const std::string& method, const std::string& target,
                                               const std::string& head) {
    if (Has(target, "comp=blocklist") && method == "PUT") return Fault::k500;
    if (Has(head, "x-ms-copy-source")) return Fault::k503;
    // The lock's creation is not idempotent: a dropped answer is not retried.
    if (Has(target, "/uploads/nolock/lock") && method == "PUT" && !Has(target, "comp=lease")) {
      return Fault::kDrop;
    }
    return Fault::kForward;
  });
  auto opened = OpenStore(clock_, container_, proxy.endpoint());
  COVE_ASSERT_OK(opened);
  BlobStore& store = **opened;

  int before = proxy.requests();
  auto nolock = store.CreateUpload("nolock");
  COVE_EXPECT_CODE(nolock, Code::kIOError);
  EXPECT_EQ(proxy.requests(), before + 1);  // not retried
  EXPECT_TRUE(Has(nolock.error().message, proxy.endpoint())) << nolock.error().message;

  auto upload = store.CreateUpload("doomed");
  COVE_ASSERT_OK(upload);
  COVE_ASSERT_OK((*upload)->Append("bytes"));
  auto flushed = (*upload)->Flush();
  COVE_EXPECT_CODE(flushed, Code::kUnavailable);
  EXPECT_TRUE(Has(flushed.error().message, "HTTP 500 InternalError")) << flushed.error().message;
  COVE_EXPECT_CODE((*upload)->Append("more"), Code::kFailedPrecondition);  // broken
  upload->reset();

  // A commit whose copy keeps failing: reported, and nothing under blobs/.
  auto other = node_a_->CreateUpload("copyfails");
  COVE_ASSERT_OK(other);
  COVE_ASSERT_OK((*other)->Append("copied"));
  COVE_ASSERT_OK((*other)->Flush());
  other->reset();
  auto resumed = store.ResumeUpload("copyfails", 6);
  COVE_ASSERT_OK(resumed);
  auto committed = (*resumed)->Commit(Digest::Of("copied"));
  COVE_EXPECT_CODE(committed, Code::kUnavailable);
  EXPECT_TRUE(Has(committed.error().message, "503 ServerBusy")) << committed.error().message;
  resumed->reset();
  EXPECT_TRUE(a().ListNames("blobs/")->empty());
  // The upload is still there, resumable on a healthy path.
  auto again = node_a_->ResumeUpload("copyfails", 6);
  COVE_ASSERT_OK(again);
  COVE_ASSERT_OK((*again)->Commit(Digest::Of("copied")));
}

// Rough throughput on this machine: a 256 MiB blob through an upload (1 MiB appends, a flush
// every 32 MiB, commit) and read back through Open, Azure (Azurite) against the filesystem.
// Run by hand: storage_test --gtest_also_run_disabled_tests --gtest_filter='*Throughput*'.
TEST_F(AzureBlobStoreTest, DISABLED_Throughput256MiB) {
  std::string piece(1 << 20, '\0');
  for (size_t i = 0; i < piece.size(); ++i) piece[i] = static_cast<char>(i * 7 + i / 4096);
  Hasher hasher;
  for (int i = 0; i < 256; ++i) hasher.Update(piece);
  Digest d = hasher.Finish();
  ::cove::testing::TempDir dir;
  auto fs = FilesystemBlobStore::Open(dir.Join("root"), clock_);
  COVE_ASSERT_OK(fs);
  for (auto [name, store] : {std::pair<const char*, BlobStore*>{"azure", node_a_.get()},
                             std::pair<const char*, BlobStore*>{"filesystem", fs->get()}}) {
    auto start = std::chrono::steady_clock::now();
    auto upload = store->CreateUpload("bench");
    COVE_ASSERT_OK(upload);
    for (int i = 0; i < 256; ++i) {
      COVE_ASSERT_OK((*upload)->Append(piece));
      if (i % 32 == 31) COVE_ASSERT_OK((*upload)->Flush());
    }
    COVE_ASSERT_OK((*upload)->Commit(d));
    double put = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    start = std::chrono::steady_clock::now();
    auto file = store->Open(d);
    COVE_ASSERT_OK(file);
    uint64_t got = 0;
    char buf[1 << 16];
    for (ssize_t n; (n = ::read(file->fd.get(), buf, sizeof buf)) > 0;) got += n;
    double read = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    EXPECT_EQ(got, 256u << 20);
    std::printf("%s: upload %.0f MiB/s (%.2f s), read %.0f MiB/s (%.2f s)\n", name, 256 / put, put,
                256 / read, read);
  }
}

}  // namespace
}  // namespace cove::storage
