#include "storage/quorum_blob_store.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "storage/blob_store_conformance.h"
#include "storage/faulty_blob_store.h"
#include "storage/filesystem_blob_store.h"
#include "support/temp_dir.h"

namespace cove::storage {
namespace {

using ::cove::testing::TempDir;
using testing::BlobStoreConformance;
using testing::FaultSwitch;
using testing::FaultyBlobStore;
using State = QuorumChildHealth::State;

// Three zones: a FilesystemBlobStore per root, each behind a fault switch, under a quorum.
class Zones {
 public:
  explicit Zones(const Clock& clock, QuorumOptions options = {})
      : clock_(clock), options_(options) {
    for (size_t i = 0; i < 3; ++i) {
      roots_.push_back(dir_.Join("zone" + std::to_string(i)));
      faults_.push_back(std::make_shared<FaultSwitch>());
    }
    Open();
  }

  // Drops the store and opens it again on the same roots (a process restart).
  void Open() {
    store_.reset();
    std::vector<QuorumChild> children;
    fs_.clear();
    for (size_t i = 0; i < roots_.size(); ++i) {
      auto fs = FilesystemBlobStore::Open(roots_[i], clock_);
      EXPECT_TRUE(fs) << fs.error().ToString();
      if (!fs) return;
      fs_.push_back(static_cast<FilesystemBlobStore*>(fs->get()));
      QuorumChild child;
      child.name = "zone-" + std::to_string(i);
      child.store = std::make_unique<FaultyBlobStore>(std::move(*fs), faults_[i]);
      child.list_blobs = [fault = faults_[i]](BlobStore& s) -> Result<std::vector<Digest>> {
        COVE_RETURN_IF_ERROR(fault->Check("list blobs"));
        return static_cast<FilesystemBlobStore&>(static_cast<FaultyBlobStore&>(s).inner())
            .ListBlobs();
      };
      children.push_back(std::move(child));
    }
    auto created = QuorumBlobStore::Create(std::move(children), options_);
    EXPECT_TRUE(created) << created.error().ToString();
    if (created) store_ = std::move(*created);
  }

  QuorumBlobStore& store() { return *store_; }
  void Down(size_t i, bool down = true) { faults_[i]->Fail(down); }
  std::string BlobPath(size_t i, const Digest& d) const { return fs_[i]->BlobPath(d); }
  const std::string& root(size_t i) const { return roots_[i]; }

 private:
  TempDir dir_;
  const Clock& clock_;
  QuorumOptions options_;
  std::vector<std::string> roots_;
  std::vector<std::shared_ptr<FaultSwitch>> faults_;
  std::vector<FilesystemBlobStore*> fs_;
  std::unique_ptr<QuorumBlobStore> store_;
};

class ZonesHarness final : public testing::BlobStoreHarness {
 public:
  ZonesHarness(const Clock& clock, int down) : zones_(clock) {
    if (down >= 0) zones_.Down(static_cast<size_t>(down));
  }
  BlobStore& store() override { return zones_.store(); }
  void Restart() override { zones_.Open(); }

 private:
  Zones zones_;
};

// The zone-redundant store as the daemon opens it.
class FactoryHarness final : public testing::BlobStoreHarness {
 public:
  explicit FactoryHarness(const Clock& clock) : clock_(clock) { Restart(); }
  BlobStore& store() override { return *store_; }
  void Restart() override {
    store_.reset();
    auto opened =
        OpenZoneRedundantBlobStore({dir_.Join("a"), dir_.Join("b"), dir_.Join("c")}, clock_);
    EXPECT_TRUE(opened) << opened.error().ToString();
    if (opened) store_ = std::move(*opened);
  }

 private:
  TempDir dir_;
  const Clock& clock_;
  BlobStorePtr store_;
};

INSTANTIATE_TEST_SUITE_P(
    Quorum, BlobStoreConformance,
    ::testing::Values(testing::BlobStoreImpl{"ThreeFilesystemZones",
                                             [](const Clock& clock)
                                                 -> std::unique_ptr<testing::BlobStoreHarness> {
                                               return std::make_unique<FactoryHarness>(clock);
                                             }},
                      // Every behaviour holds with one zone failing throughout.
                      testing::BlobStoreImpl{
                          "OneZoneDown",
                          [](const Clock& clock) -> std::unique_ptr<testing::BlobStoreHarness> {
                            return std::make_unique<ZonesHarness>(clock, 1);
                          }}),
    testing::BlobStoreImplName);

bool Exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream out;
  out << in.rdbuf();
  return out.str();
}

void WriteFile(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << bytes;
}

std::string ReadAllFd(const BlobFile& file) {
  std::string out(file.size, '\0');
  EXPECT_EQ(::pread(file.fd.get(), out.data(), out.size(), 0), static_cast<ssize_t>(file.size));
  return out;
}

std::string Large() {
  std::string bytes;
  for (int i = 0; bytes.size() < (3u << 20); ++i) bytes += "layer line " + std::to_string(i) + "\n";
  return bytes;
}

// Commits `bytes` through an upload in pieces.
Result<uint64_t> Upload(BlobStore& store, const std::string& id, const std::string& bytes) {
  COVE_ASSIGN_OR_RETURN(auto upload, store.CreateUpload(id));
  for (size_t off = 0; off < bytes.size(); off += 500'000) {
    COVE_RETURN_IF_ERROR(upload->Append(std::string_view(bytes).substr(off, 500'000)));
  }
  return upload->Commit(Digest::Of(bytes));
}

class QuorumBlobStoreTest : public ::testing::Test {
 protected:
  ManualClock clock_;
  Zones zones_{clock_};
  QuorumBlobStore& store() { return zones_.store(); }
};

TEST_F(QuorumBlobStoreTest, WritesReachEveryZone) {
  EXPECT_EQ(store().write_quorum(), 2u);
  Digest d = Digest::Of("config");
  COVE_ASSERT_OK(store().Put(d, "config"));
  std::string large = Large();
  COVE_ASSERT_OK(Upload(store(), "up", large));
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(ReadFile(zones_.BlobPath(i, d)), "config");
    EXPECT_EQ(ReadFile(zones_.BlobPath(i, Digest::Of(large))), large);
  }
  for (const auto& child : store().ChildHealth()) {
    EXPECT_EQ(child.state, State::kHealthy) << child.name;
    EXPECT_EQ(child.failures, 0u);
  }
}

TEST_F(QuorumBlobStoreTest, OneZoneDownWritesAndReadsGoOnAndRepairCatchesUp) {
  zones_.Down(1);
  Digest put = Digest::Of("manifest-ish");
  COVE_ASSERT_OK(store().Put(put, "manifest-ish"));
  std::string large = Large();
  Digest uploaded = Digest::Of(large);
  COVE_ASSERT_OK(Upload(store(), "up", large));
  EXPECT_EQ(*store().Read(put, 100), "manifest-ish");
  EXPECT_EQ(*store().Stat(uploaded), large.size());
  auto health = store().ChildHealth();
  EXPECT_EQ(health[1].state, State::kUnavailable);
  EXPECT_EQ(health[1].missed_writes, 2u);
  EXPECT_NE(health[1].last_error.find("injected"), std::string::npos);
  EXPECT_EQ(health[0].state, State::kHealthy);

  // The zone comes back: it is reachable but behind until Repair().
  zones_.Down(1, false);
  COVE_ASSERT_OK(store().Stat(put));
  EXPECT_FALSE(Exists(zones_.BlobPath(1, put)));
  auto report = store().Repair();
  COVE_ASSERT_OK(report);
  EXPECT_EQ(report->blobs, 2u);
  EXPECT_EQ(report->copied, 2u);
  EXPECT_EQ(report->failed, 0u);
  EXPECT_EQ(ReadFile(zones_.BlobPath(1, put)), "manifest-ish");
  EXPECT_EQ(ReadFile(zones_.BlobPath(1, uploaded)), large);
  health = store().ChildHealth();
  EXPECT_EQ(health[1].state, State::kHealthy);
  EXPECT_EQ(health[1].missed_writes, 0u);
  EXPECT_TRUE(store().ListUploads()->empty());  // repair uploads leave nothing behind
  // A second run has nothing to do.
  report = store().Repair();
  EXPECT_EQ(report->copied + report->replaced + report->failed, 0u);
}

TEST_F(QuorumBlobStoreTest, ZoneFailingDuringUploadIsDroppedFromIt) {
  auto upload = store().CreateUpload("mid");
  COVE_ASSERT_OK(upload);
  COVE_ASSERT_OK((*upload)->Append("first "));
  zones_.Down(2);
  COVE_ASSERT_OK((*upload)->Append("second"));
  zones_.Down(2, false);  // back, but it left this upload
  COVE_ASSERT_OK((*upload)->Append(" third"));
  Digest d = Digest::Of("first second third");
  COVE_ASSERT_OK((*upload)->Commit(d));
  upload->reset();
  EXPECT_FALSE(Exists(zones_.BlobPath(2, d)));
  EXPECT_TRUE(store().ListUploads()->empty());  // zone 2's stale staging went with the commit
  EXPECT_EQ(store().ChildHealth()[2].missed_writes, 1u);
  COVE_ASSERT_OK(store().Repair());
  EXPECT_EQ(ReadFile(zones_.BlobPath(2, d)), "first second third");
}

TEST_F(QuorumBlobStoreTest, ResumeLeavesOutZoneThatFellBehind) {
  {
    auto upload = store().CreateUpload("resume");
    COVE_ASSERT_OK(upload);
    COVE_ASSERT_OK((*upload)->Append("abc"));
    zones_.Down(0);
    COVE_ASSERT_OK((*upload)->Append("def"));  // zone 0 holds 3 bytes, the others 6
  }
  zones_.Down(0, false);
  auto resumed = store().ResumeUpload("resume", 6);
  COVE_ASSERT_OK(resumed);
  EXPECT_EQ((*resumed)->size(), 6u);
  COVE_ASSERT_OK((*resumed)->Append("ghi"));
  COVE_ASSERT_OK((*resumed)->Commit(Digest::Of("abcdefghi")));
  resumed->reset();
  EXPECT_EQ(*store().Read(Digest::Of("abcdefghi"), 100), "abcdefghi");
  EXPECT_TRUE(store().ListUploads()->empty());
  // Resuming at a length zone 0 still holds takes it back in.
  {
    auto upload = store().CreateUpload("again");
    COVE_ASSERT_OK(upload);
    COVE_ASSERT_OK((*upload)->Append("12"));
    zones_.Down(0);
    COVE_ASSERT_OK((*upload)->Append("34"));
  }
  zones_.Down(0, false);
  auto back = store().ResumeUpload("again", 2);
  COVE_ASSERT_OK(back);
  COVE_ASSERT_OK((*back)->Append("xy"));
  COVE_ASSERT_OK((*back)->Commit(Digest::Of("12xy")));
  EXPECT_EQ(ReadFile(zones_.BlobPath(0, Digest::Of("12xy"))), "12xy");
}

TEST_F(QuorumBlobStoreTest, TwoZonesDownRefuseWritesAndLeaveNoBlob) {
  zones_.Down(1);
  zones_.Down(2);
  Digest d = Digest::Of("refused");
  auto put = store().Put(d, "refused");
  COVE_EXPECT_CODE(put, Code::kUnavailable);
  EXPECT_NE(put.error().message.find("stored in 1 of 3 zones, quorum is 2"), std::string::npos)
      << put.error().message;
  EXPECT_FALSE(Exists(zones_.BlobPath(0, d)));  // the copy that landed was rolled back
  COVE_EXPECT_CODE(store().CreateUpload("refused"), Code::kUnavailable);
  // Reads answer what they can: zone 0 says absent, two zones cannot tell.
  COVE_EXPECT_CODE(store().Stat(d), Code::kUnavailable);
  zones_.Down(1, false);
  zones_.Down(2, false);
  COVE_EXPECT_CODE(store().Stat(d), Code::kNotFound);
  EXPECT_TRUE(store().ListUploads()->empty());
}

TEST_F(QuorumBlobStoreTest, CommitBelowQuorumIsRefusedAndRolledBack) {
  auto upload = store().CreateUpload("late");
  COVE_ASSERT_OK(upload);
  COVE_ASSERT_OK((*upload)->Append("late bytes"));
  zones_.Down(0);
  zones_.Down(2);
  Digest d = Digest::Of("late bytes");
  COVE_EXPECT_CODE((*upload)->Commit(d), Code::kUnavailable);
  COVE_EXPECT_CODE((*upload)->Append("x"), Code::kFailedPrecondition);  // spent
  upload->reset();
  zones_.Down(0, false);
  zones_.Down(2, false);
  COVE_EXPECT_CODE(store().Stat(d), Code::kNotFound);
  EXPECT_FALSE(Exists(zones_.BlobPath(1, d)));
  // The zones that did not commit still hold the staged bytes: the upload can go on.
  auto resumed = store().ResumeUpload("late", 10);
  COVE_ASSERT_OK(resumed);
  COVE_ASSERT_OK((*resumed)->Commit(d));
  EXPECT_EQ(*store().Read(d, 100), "late bytes");
}

TEST_F(QuorumBlobStoreTest, AppendBelowQuorumFailsTheHandle) {
  auto upload = store().CreateUpload("sinking");
  COVE_ASSERT_OK(upload);
  COVE_ASSERT_OK((*upload)->Append("ok"));
  zones_.Down(0);
  zones_.Down(1);
  COVE_EXPECT_CODE((*upload)->Append("lost"), Code::kIOError);
  COVE_EXPECT_CODE((*upload)->Commit(Digest::Of("ok")), Code::kFailedPrecondition);
  upload->reset();
  zones_.Down(0, false);
  zones_.Down(1, false);
  auto resumed = store().ResumeUpload("sinking", 2);  // at the acknowledged length
  COVE_ASSERT_OK(resumed);
  COVE_ASSERT_OK((*resumed)->Commit(Digest::Of("ok")));
}

TEST_F(QuorumBlobStoreTest, RefusedWriteKeepsCopiesThatWereThereBefore) {
  Digest d = Digest::Of("acknowledged");
  COVE_ASSERT_OK(store().Put(d, "acknowledged"));
  zones_.Down(1);
  zones_.Down(2);
  COVE_EXPECT_CODE(store().Put(d, "acknowledged"), Code::kUnavailable);
  EXPECT_TRUE(Exists(zones_.BlobPath(0, d)));
  EXPECT_EQ(*store().Read(d, 100), "acknowledged");
}

TEST_F(QuorumBlobStoreTest, WipedZoneIsServedAroundAndRepairedByteIdentical) {
  std::vector<std::string> blobs = {"one", "two", Large()};
  COVE_ASSERT_OK(store().Put(Digest::Of(blobs[0]), blobs[0]));
  COVE_ASSERT_OK(store().Put(Digest::Of(blobs[1], DigestAlgorithm::kSha512), blobs[1]));
  COVE_ASSERT_OK(Upload(store(), "big", blobs[2]));
  std::vector<Digest> digests = {
      Digest::Of(blobs[0]), Digest::Of(blobs[1], DigestAlgorithm::kSha512), Digest::Of(blobs[2])};

  std::filesystem::remove_all(zones_.root(0));  // the disk of zone 0 is replaced
  for (size_t k = 0; k < digests.size(); ++k) {
    auto file = store().Open(digests[k]);
    COVE_ASSERT_OK(file);
    EXPECT_EQ(ReadAllFd(*file), blobs[k]);
  }
  auto report = store().Repair();
  COVE_ASSERT_OK(report);
  EXPECT_EQ(report->copied, 3u);
  EXPECT_EQ(report->failed, 0u);
  for (size_t k = 0; k < digests.size(); ++k) {
    EXPECT_EQ(ReadFile(zones_.BlobPath(0, digests[k])), ReadFile(zones_.BlobPath(1, digests[k])));
  }
  // New writes land on the rebuilt zone too.
  COVE_ASSERT_OK(store().Put(Digest::Of("after"), "after"));
  EXPECT_TRUE(Exists(zones_.BlobPath(0, Digest::Of("after"))));
  COVE_ASSERT_OK(Upload(store(), "after-up", "uploaded after"));
  EXPECT_TRUE(Exists(zones_.BlobPath(0, Digest::Of("uploaded after"))));
}

TEST_F(QuorumBlobStoreTest, CorruptCopyIsSkippedAndRepairReplacesIt) {
  Digest d = Digest::Of("precious bytes");
  COVE_ASSERT_OK(store().Put(d, "precious bytes"));
  Digest truncated = Digest::Of("another blob");
  COVE_ASSERT_OK(store().Put(truncated, "another blob"));
  WriteFile(zones_.BlobPath(0, d), "precious bytez");   // same size, one byte flipped
  WriteFile(zones_.BlobPath(0, truncated), "another");  // cut short

  EXPECT_EQ(*store().Read(d, 100), "precious bytes");
  auto file = store().Open(truncated);
  COVE_ASSERT_OK(file);
  EXPECT_EQ(file->size, 12u);
  EXPECT_EQ(ReadAllFd(*file), "another blob");
  auto health = store().ChildHealth();
  EXPECT_EQ(health[0].corrupt_copies, 2u);
  EXPECT_EQ(health[0].state, State::kLagging);

  auto report = store().Repair();
  COVE_ASSERT_OK(report);
  EXPECT_EQ(report->replaced, 2u);
  EXPECT_EQ(report->copied, 0u);
  EXPECT_EQ(ReadFile(zones_.BlobPath(0, d)), "precious bytes");
  EXPECT_EQ(ReadFile(zones_.BlobPath(0, truncated)), "another blob");
  EXPECT_EQ(store().ChildHealth()[0].state, State::kHealthy);
}

TEST_F(QuorumBlobStoreTest, EveryCopyCorruptIsCorruption) {
  Digest d = Digest::Of("rotten");
  COVE_ASSERT_OK(store().Put(d, "rotten"));
  for (size_t i = 0; i < 3; ++i) WriteFile(zones_.BlobPath(i, d), "rotted");
  COVE_EXPECT_CODE(store().Stat(d), Code::kCorruption);
  COVE_EXPECT_CODE(store().Read(d, 100), Code::kCorruption);
  auto report = store().Repair();
  COVE_ASSERT_OK(report);
  EXPECT_EQ(report->unrecoverable, 1u);
}

TEST_F(QuorumBlobStoreTest, ReadOfCorruptLargerCopyFallsBackToGoodOne) {
  Digest d = Digest::Of("small");
  COVE_ASSERT_OK(store().Put(d, "small"));
  WriteFile(zones_.BlobPath(0, d), "small but grown far beyond its limit");
  EXPECT_EQ(*store().Read(d, 10), "small");
  COVE_EXPECT_CODE(store().Read(d, 4), Code::kResourceExhausted);
}

TEST(QuorumBlobStoreOptionsTest, CopiesOverTheVerifyLimitAreTrustedOnReadButScrubbed) {
  ManualClock clock;
  Zones zones(clock, QuorumOptions{.verify_reads = true, .verify_max_size = 4});
  Digest small = Digest::Of("tiny");
  Digest large = Digest::Of("larger");
  COVE_ASSERT_OK(zones.store().Put(small, "tiny"));
  COVE_ASSERT_OK(zones.store().Put(large, "larger"));
  WriteFile(zones.BlobPath(0, small), "tinY");
  WriteFile(zones.BlobPath(0, large), "largeR");
  EXPECT_EQ(*zones.store().Read(small, 10), "tiny");    // hashed: zone 0 skipped
  EXPECT_EQ(*zones.store().Read(large, 10), "largeR");  // over the limit: served as stored
  auto report = zones.store().Repair();
  COVE_ASSERT_OK(report);
  EXPECT_EQ(report->replaced, 2u);
  EXPECT_EQ(*zones.store().Read(large, 10), "larger");
}

TEST_F(QuorumBlobStoreTest, DeleteMissedByDownZoneIsAppliedByRepair) {
  Digest d = Digest::Of("doomed");
  COVE_ASSERT_OK(store().Put(d, "doomed"));
  zones_.Down(2);
  COVE_ASSERT_OK(store().Delete(d));
  zones_.Down(2, false);
  EXPECT_TRUE(Exists(zones_.BlobPath(2, d)));
  auto report = store().Repair();
  COVE_ASSERT_OK(report);
  EXPECT_EQ(report->deleted, 1u);
  EXPECT_EQ(report->copied, 0u);  // not copied back from the zone that missed the delete
  for (size_t i = 0; i < 3; ++i) EXPECT_FALSE(Exists(zones_.BlobPath(i, d)));
  COVE_EXPECT_CODE(store().Stat(d), Code::kNotFound);
}

TEST_F(QuorumBlobStoreTest, PutAfterMissedDeleteIsNotDeletedByRepair) {
  Digest d = Digest::Of("phoenix");
  COVE_ASSERT_OK(store().Put(d, "phoenix"));
  zones_.Down(2);
  COVE_ASSERT_OK(store().Delete(d));
  zones_.Down(2, false);
  COVE_ASSERT_OK(store().Put(d, "phoenix"));
  auto report = store().Repair();
  COVE_ASSERT_OK(report);
  EXPECT_EQ(report->deleted, 0u);
  for (size_t i = 0; i < 3; ++i) EXPECT_TRUE(Exists(zones_.BlobPath(i, d)));
}

TEST_F(QuorumBlobStoreTest, RepairBlobsTakesAList) {
  Digest d = Digest::Of("listed");
  COVE_ASSERT_OK(store().Put(d, "listed"));
  std::filesystem::remove(zones_.BlobPath(1, d));
  RepairReport report = store().RepairBlobs({d, Digest::Of("not anywhere")});
  EXPECT_EQ(report.blobs, 2u);
  EXPECT_EQ(report.copied, 1u);
  EXPECT_EQ(report.unrecoverable, 0u);
  EXPECT_TRUE(Exists(zones_.BlobPath(1, d)));
}

TEST_F(QuorumBlobStoreTest, RepairWithDownZoneCountsWhatItCouldNotDo) {
  zones_.Down(0);
  COVE_ASSERT_OK(store().Put(Digest::Of("a"), "a"));
  auto report = store().Repair();  // zone 0 is still down
  COVE_ASSERT_OK(report);
  EXPECT_EQ(report->failed, 1u);
  EXPECT_EQ(store().ChildHealth()[0].missed_writes, 1u);
  zones_.Down(1);
  zones_.Down(2);
  COVE_EXPECT_CODE(store().Repair(), Code::kUnavailable);
}

TEST_F(QuorumBlobStoreTest, UploadsListedFromAnyZone) {
  {
    auto upload = store().CreateUpload("listed");
    COVE_ASSERT_OK(upload);
    COVE_ASSERT_OK((*upload)->Append("12345"));
  }
  zones_.Down(0);
  zones_.Down(1);
  auto uploads = store().ListUploads();
  COVE_ASSERT_OK(uploads);
  ASSERT_EQ(uploads->size(), 1u);
  EXPECT_EQ((*uploads)[0].size, 5u);
  COVE_ASSERT_OK(store().DeleteUpload("listed"));  // one zone had it: deleted there
  zones_.Down(2);
  COVE_EXPECT_CODE(store().ListUploads(), Code::kUnavailable);
}

TEST(OpenZoneRedundantBlobStoreTest, OpensRootsAndRejectsDuplicates) {
  ManualClock clock;
  TempDir dir;
  auto store = OpenZoneRedundantBlobStore({dir.Join("a"), dir.Join("b"), dir.Join("c")}, clock);
  COVE_ASSERT_OK(store);
  EXPECT_EQ((*store)->ChildHealth().size(), 3u);
  EXPECT_EQ((*store)->ChildHealth()[1].name, dir.Join("b"));
  store->reset();
  COVE_EXPECT_CODE(
      OpenZoneRedundantBlobStore({dir.Join("a"), dir.Join("b"), dir.Join("a/")}, clock),
      Code::kInvalidArgument);
  COVE_EXPECT_CODE(OpenZoneRedundantBlobStore({}, clock), Code::kInvalidArgument);
}

TEST(OpenZoneRedundantBlobStoreTest, OpensWithOneRootMissingButNotTwo) {
  ManualClock clock;
  TempDir dir;
  WriteFile(dir.Join("file1"), "not a directory");
  WriteFile(dir.Join("file2"), "not a directory");
  auto store = OpenZoneRedundantBlobStore({dir.Join("a"), dir.Join("file1"), dir.Join("c")}, clock);
  COVE_ASSERT_OK(store);
  auto health = (*store)->ChildHealth();
  EXPECT_EQ(health[1].state, State::kUnavailable);
  EXPECT_EQ(ChildStateName(health[1].state), "unavailable");
  EXPECT_NE(health[1].last_error.find("could not be opened"), std::string::npos);
  COVE_ASSERT_OK((*store)->Put(Digest::Of("x"), "x"));
  EXPECT_EQ(*(*store)->Read(Digest::Of("x"), 10), "x");
  store->reset();
  COVE_EXPECT_CODE(
      OpenZoneRedundantBlobStore({dir.Join("a"), dir.Join("file1"), dir.Join("file2")}, clock),
      Code::kIOError);
}

}  // namespace
}  // namespace cove::storage
