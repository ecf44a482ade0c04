#include "storage/filesystem_blob_store.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "storage/blob_store_conformance.h"
#include "support/temp_dir.h"

namespace cove::storage {
namespace {

using ::cove::testing::TempDir;
using testing::BlobStoreConformance;

class FilesystemHarness final : public testing::BlobStoreHarness {
 public:
  explicit FilesystemHarness(const Clock& clock) : clock_(clock) { Restart(); }
  BlobStore& store() override { return *store_; }
  void Restart() override {
    store_.reset();
    auto opened = FilesystemBlobStore::Open(dir_.Join("root"), clock_);
    EXPECT_TRUE(opened) << opened.error().ToString();
    if (opened) store_ = std::move(*opened);
  }

 private:
  TempDir dir_;
  const Clock& clock_;
  BlobStorePtr store_;
};

INSTANTIATE_TEST_SUITE_P(Filesystem, BlobStoreConformance,
                         ::testing::Values(testing::BlobStoreImpl{
                             "Filesystem",
                             [](const Clock& clock) -> std::unique_ptr<testing::BlobStoreHarness> {
                               return std::make_unique<FilesystemHarness>(clock);
                             }}),
                         testing::BlobStoreImplName);

bool Exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

void WriteFile(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out << bytes;
}

std::vector<std::string> Names(const std::string& dir) {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    names.push_back(entry.path().filename().string());
  }
  return names;
}

class FilesystemBlobStoreTest : public ::testing::Test {
 protected:
  Result<BlobStorePtr> OpenStore() { return FilesystemBlobStore::Open(root_, clock_); }

  TempDir dir_;
  std::string root_ = dir_.Join("root");
  ManualClock clock_;
};

TEST_F(FilesystemBlobStoreTest, LayoutIsContentAddressedPerAlgorithm) {
  auto store = OpenStore();
  COVE_ASSERT_OK(store);
  Digest d256 = Digest::Of("x");
  Digest d512 = Digest::Of("x", DigestAlgorithm::kSha512);
  COVE_ASSERT_OK((*store)->Put(d256, "x"));
  COVE_ASSERT_OK((*store)->Put(d512, "x"));
  EXPECT_TRUE(Exists(root_ + "/blobs/sha256/" + d256.hex().substr(0, 2) + "/" + d256.hex()));
  EXPECT_TRUE(Exists(root_ + "/blobs/sha512/" + d512.hex().substr(0, 2) + "/" + d512.hex()));
  auto& fs = static_cast<FilesystemBlobStore&>(**store);
  EXPECT_EQ(fs.BlobPath(d256),
            root_ + "/blobs/sha256/" + d256.hex().substr(0, 2) + "/" + d256.hex());
  EXPECT_TRUE(Names(root_ + "/tmp").empty());  // Put leaves no staging file behind

  auto upload = (*store)->CreateUpload("u");
  COVE_ASSERT_OK(upload);
  EXPECT_TRUE(Exists(root_ + "/uploads/u/data"));
  COVE_ASSERT_OK((*upload)->Append("y"));
  COVE_ASSERT_OK((*upload)->Commit(Digest::Of("y")));
  EXPECT_FALSE(Exists(root_ + "/uploads/u"));
}

TEST_F(FilesystemBlobStoreTest, OpenedBlobIsCloseOnExec) {
  auto store = OpenStore();
  COVE_ASSERT_OK(store);
  COVE_ASSERT_OK((*store)->Put(Digest::Of("fd"), "fd"));
  auto file = (*store)->Open(Digest::Of("fd"));
  COVE_ASSERT_OK(file);
  EXPECT_TRUE(::fcntl(file->fd.get(), F_GETFD) & FD_CLOEXEC);
  EXPECT_EQ(::fcntl(file->fd.get(), F_GETFL) & O_ACCMODE, O_RDONLY);
}

// A crash after writing but before the rename leaves files in tmp/ (Put) or uploads/ (upload);
// none of it may become visible, and reopening cleans up what cannot be resumed.
TEST_F(FilesystemBlobStoreTest, CrashBeforeRenameLeavesNothingVisible) {
  Digest d = Digest::Of("half written");
  {
    auto store = OpenStore();
    COVE_ASSERT_OK(store);
    auto upload = (*store)->CreateUpload("kept");
    COVE_ASSERT_OK(upload);
    COVE_ASSERT_OK((*upload)->Append("half written"));
  }
  WriteFile(root_ + "/tmp/put-crashed", "half written");
  std::filesystem::create_directory(root_ + "/uploads/nodata");
  std::filesystem::create_directory(root_ + "/uploads/not.an.id");

  auto store = OpenStore();
  COVE_ASSERT_OK(store);
  COVE_EXPECT_CODE((*store)->Stat(d), Code::kNotFound);
  EXPECT_TRUE(Names(root_ + "/tmp").empty());
  EXPECT_FALSE(Exists(root_ + "/uploads/nodata"));
  EXPECT_TRUE(Exists(root_ + "/uploads/not.an.id"));  // not ours: left alone
  auto uploads = (*store)->ListUploads();
  COVE_ASSERT_OK(uploads);
  ASSERT_EQ(uploads->size(), 1u);
  EXPECT_EQ((*uploads)[0].id, "kept");
  auto resumed = (*store)->ResumeUpload("kept", 12);
  COVE_ASSERT_OK(resumed);
  COVE_ASSERT_OK((*resumed)->Commit(d));
  EXPECT_EQ(*(*store)->Stat(d), 12u);
}

TEST_F(FilesystemBlobStoreTest, UploadModifiedTimeComesFromClock) {
  auto store = OpenStore();
  COVE_ASSERT_OK(store);
  Clock::TimePoint created = clock_.Now();
  auto a = (*store)->CreateUpload("a");
  COVE_ASSERT_OK(a);
  clock_.Advance(std::chrono::hours(3));
  auto b = (*store)->CreateUpload("b");
  COVE_ASSERT_OK(b);
  clock_.Advance(std::chrono::hours(1));
  COVE_ASSERT_OK((*b)->Append("later"));
  auto uploads = (*store)->ListUploads();
  COVE_ASSERT_OK(uploads);
  ASSERT_EQ(uploads->size(), 2u);
  EXPECT_EQ((*uploads)[0].id, "a");
  EXPECT_EQ(UnixSeconds((*uploads)[0].modified), UnixSeconds(created));
  EXPECT_EQ((*uploads)[1].id, "b");
  EXPECT_EQ(UnixSeconds((*uploads)[1].modified), UnixSeconds(clock_.Now()));
}

TEST_F(FilesystemBlobStoreTest, UploadOutlivesStoreObject) {
  UploadPtr upload;
  {
    auto store = OpenStore();
    COVE_ASSERT_OK(store);
    auto created = (*store)->CreateUpload("orphan");
    COVE_ASSERT_OK(created);
    upload = std::move(*created);
  }
  COVE_ASSERT_OK(upload->Append("still works"));
  COVE_ASSERT_OK(upload->Commit(Digest::Of("still works")));
  upload.reset();
  auto store = OpenStore();
  COVE_ASSERT_OK(store);
  EXPECT_EQ(*(*store)->Read(Digest::Of("still works"), 100), "still works");
}

TEST_F(FilesystemBlobStoreTest, OpenFailsWhenRootIsAFile) {
  WriteFile(root_, "not a directory");
  COVE_EXPECT_CODE(OpenStore(), Code::kIOError);
  COVE_EXPECT_CODE(FilesystemBlobStore::Open("", clock_), Code::kInvalidArgument);
}

TEST_F(FilesystemBlobStoreTest, ReadOfBlobDeletedWhileOpenStillWorks) {
  auto store = OpenStore();
  COVE_ASSERT_OK(store);
  Digest d = Digest::Of("going away");
  COVE_ASSERT_OK((*store)->Put(d, "going away"));
  auto file = (*store)->Open(d);
  COVE_ASSERT_OK(file);
  COVE_ASSERT_OK((*store)->Delete(d));
  char buf[32];
  EXPECT_EQ(::pread(file->fd.get(), buf, sizeof buf, 0), 10);
}

TEST_F(FilesystemBlobStoreTest, ListBlobsNamesCommittedBlobsOnly) {
  auto store = OpenStore();
  COVE_ASSERT_OK(store);
  auto& fs = static_cast<FilesystemBlobStore&>(**store);
  EXPECT_TRUE(fs.ListBlobs()->empty());
  Digest a = Digest::Of("a");
  Digest b = Digest::Of("b", DigestAlgorithm::kSha512);
  COVE_ASSERT_OK((*store)->Put(a, "a"));
  COVE_ASSERT_OK((*store)->Put(b, "b"));
  auto upload = (*store)->CreateUpload("staged");
  COVE_ASSERT_OK(upload);
  COVE_ASSERT_OK((*upload)->Append("not a blob yet"));
  WriteFile(root_ + "/blobs/sha256/" + a.hex().substr(0, 2) + "/stray", "x");
  std::filesystem::create_directories(root_ + "/blobs/sha256/zz");
  WriteFile(root_ + "/blobs/sha256/zz/" + Digest::Of("c").hex(), "c");  // wrong fan-out
  auto listed = fs.ListBlobs();
  COVE_ASSERT_OK(listed);
  EXPECT_EQ(*listed, (std::vector<Digest>{a, b}));
}

TEST_F(FilesystemBlobStoreTest, WritesRecreateALayoutThatVanished) {
  auto store = OpenStore();
  COVE_ASSERT_OK(store);
  std::filesystem::remove_all(root_);  // the disk was wiped under the running store
  auto& fs = static_cast<FilesystemBlobStore&>(**store);
  EXPECT_TRUE(fs.ListBlobs()->empty());
  COVE_EXPECT_CODE((*store)->Stat(Digest::Of("p")), Code::kNotFound);
  COVE_ASSERT_OK((*store)->Put(Digest::Of("p"), "p"));
  EXPECT_EQ(*(*store)->Read(Digest::Of("p"), 10), "p");
  std::filesystem::remove_all(root_);
  auto upload = (*store)->CreateUpload("u");
  COVE_ASSERT_OK(upload);
  COVE_ASSERT_OK((*upload)->Append("q"));
  COVE_ASSERT_OK((*upload)->Commit(Digest::Of("q")));
  EXPECT_EQ(*(*store)->Read(Digest::Of("q"), 10), "q");
}

}  // namespace
}  // namespace cove::storage
