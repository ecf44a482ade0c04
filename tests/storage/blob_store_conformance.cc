// The BlobStore conformance tests (see blob_store_conformance.h), compiled once per binary.
#include "storage/blob_store_conformance.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <thread>
#include <vector>

namespace cove::storage::testing {

TEST_P(BlobStoreConformance, PutThenStatOpenRead) {
  std::string bytes = "layer bytes";
  Digest d = Digest::Of(bytes);
  COVE_ASSERT_OK(store().Put(d, bytes));
  auto size = store().Stat(d);
  COVE_ASSERT_OK(size);
  EXPECT_EQ(*size, bytes.size());
  auto file = store().Open(d);
  COVE_ASSERT_OK(file);
  EXPECT_EQ(file->size, bytes.size());
  EXPECT_EQ(ReadFd(*file), bytes);
  auto read = store().Read(d, bytes.size());
  COVE_ASSERT_OK(read);
  EXPECT_EQ(*read, bytes);
  COVE_EXPECT_CODE(store().Read(d, bytes.size() - 1), Code::kResourceExhausted);
}

TEST_P(BlobStoreConformance, OpenRange) {
  std::string bytes = "0123456789";
  Digest d = Digest::Of(bytes);
  COVE_ASSERT_OK(store().Put(d, bytes));
  auto file = store().Open(d, 2, 5);
  COVE_ASSERT_OK(file);
  EXPECT_EQ(file->size, 10u);
  if (file->stream) {
    EXPECT_EQ(ReadFd(*file), "23456");  // a stream delivers just the range
  } else {
    EXPECT_EQ(ReadFd(*file), bytes);  // a file holds the whole blob
  }
  auto rest = store().Open(d, 7);
  COVE_ASSERT_OK(rest);
  EXPECT_EQ(ReadFd(*rest), rest->stream ? "789" : bytes);
  COVE_EXPECT_OK(store().Open(d, 10));
  COVE_EXPECT_CODE(store().Open(d, 11), Code::kOutOfRange);
  COVE_EXPECT_CODE(store().Open(d, 5, 6), Code::kOutOfRange);
}

TEST_P(BlobStoreConformance, MissingBlobIsNotFound) {
  Digest d = Digest::Of("nothing here");
  COVE_EXPECT_CODE(store().Stat(d), Code::kNotFound);
  COVE_EXPECT_CODE(store().Open(d), Code::kNotFound);
  COVE_EXPECT_CODE(store().Read(d, 100), Code::kNotFound);
  COVE_EXPECT_CODE(store().Delete(d), Code::kNotFound);
}

TEST_P(BlobStoreConformance, PutRejectsWrongDigestAndStoresNothing) {
  Digest d = Digest::Of("expected");
  COVE_EXPECT_CODE(store().Put(d, "something else"), Code::kInvalidArgument);
  COVE_EXPECT_CODE(store().Stat(d), Code::kNotFound);
  COVE_EXPECT_CODE(store().Stat(Digest::Of("something else")), Code::kNotFound);
}

TEST_P(BlobStoreConformance, PutIsIdempotentAndDeleteRemoves) {
  Digest d = Digest::Of("twice");
  COVE_ASSERT_OK(store().Put(d, "twice"));
  COVE_ASSERT_OK(store().Put(d, "twice"));
  COVE_ASSERT_OK(store().Delete(d));
  COVE_EXPECT_CODE(store().Stat(d), Code::kNotFound);
  COVE_EXPECT_CODE(store().Delete(d), Code::kNotFound);
}

TEST_P(BlobStoreConformance, EmptyBlob) {
  Digest d = Digest::Of("");
  COVE_ASSERT_OK(store().Put(d, ""));
  auto read = store().Read(d, 0);
  COVE_ASSERT_OK(read);
  EXPECT_EQ(*read, "");
  COVE_ASSERT_OK(store().Delete(d));
  auto upload = store().CreateUpload("empty");
  COVE_ASSERT_OK(upload);
  auto size = (*upload)->Commit(d);
  COVE_ASSERT_OK(size);
  EXPECT_EQ(*size, 0u);
  COVE_EXPECT_OK(store().Stat(d));
}

TEST_P(BlobStoreConformance, Sha512PutAndUpload) {
  std::string bytes = "sha512 content";
  Digest d = Digest::Of(bytes, DigestAlgorithm::kSha512);
  COVE_ASSERT_OK(store().Put(d, bytes));
  EXPECT_EQ(*store().Read(d, 100), bytes);
  COVE_EXPECT_CODE(store().Stat(Digest::Of(bytes)), Code::kNotFound);  // sha256: another blob
  COVE_ASSERT_OK(store().Delete(d));

  auto upload = store().CreateUpload("u512");
  COVE_ASSERT_OK(upload);
  COVE_ASSERT_OK((*upload)->Append("sha512 "));
  COVE_ASSERT_OK((*upload)->Append("content"));
  COVE_EXPECT_CODE((*upload)->Commit(Digest::Of("wrong", DigestAlgorithm::kSha512)),
                   Code::kInvalidArgument);
  auto size = (*upload)->Commit(d);
  COVE_ASSERT_OK(size);
  EXPECT_EQ(*size, bytes.size());
  EXPECT_EQ(*store().Read(d, 100), bytes);
}

TEST_P(BlobStoreConformance, UploadAppendCommit) {
  auto upload = store().CreateUpload("up-1_A");
  COVE_ASSERT_OK(upload);
  EXPECT_EQ((*upload)->id(), "up-1_A");
  EXPECT_EQ((*upload)->size(), 0u);
  COVE_ASSERT_OK((*upload)->Append("hello "));
  COVE_ASSERT_OK((*upload)->Append(""));
  COVE_ASSERT_OK((*upload)->Append("world"));
  EXPECT_EQ((*upload)->size(), 11u);
  Digest d = Digest::Of("hello world");
  COVE_EXPECT_CODE(store().Stat(d), Code::kNotFound);  // nothing visible before commit
  auto size = (*upload)->Commit(d);
  COVE_ASSERT_OK(size);
  EXPECT_EQ(*size, 11u);
  EXPECT_EQ(*store().Read(d, 100), "hello world");
  // The handle is spent and the upload is gone.
  COVE_EXPECT_CODE((*upload)->Append("more"), Code::kFailedPrecondition);
  upload->reset();
  auto uploads = store().ListUploads();
  COVE_ASSERT_OK(uploads);
  EXPECT_TRUE(uploads->empty());
  COVE_EXPECT_CODE(store().ResumeUpload("up-1_A", 0), Code::kNotFound);
}

TEST_P(BlobStoreConformance, CommitOfExistingBlobDropsStagedBytes) {
  Digest d = Digest::Of("same");
  COVE_ASSERT_OK(store().Put(d, "same"));
  auto upload = store().CreateUpload("dup");
  COVE_ASSERT_OK(upload);
  COVE_ASSERT_OK((*upload)->Append("same"));
  auto size = (*upload)->Commit(d);
  COVE_ASSERT_OK(size);
  EXPECT_EQ(*size, 4u);
  upload->reset();
  EXPECT_EQ(*store().Read(d, 10), "same");
  EXPECT_TRUE(store().ListUploads()->empty());
}

TEST_P(BlobStoreConformance, CreateUploadRejectsTakenId) {
  auto upload = store().CreateUpload("taken");
  COVE_ASSERT_OK(upload);
  COVE_EXPECT_CODE(store().CreateUpload("taken"), Code::kAlreadyExists);
  upload->reset();
  COVE_EXPECT_CODE(store().CreateUpload("taken"), Code::kAlreadyExists);
}

TEST_P(BlobStoreConformance, UploadIdsAreValidated) {
  std::string longest(128, 'a');
  std::string too_long(129, 'a');
  for (const std::string& bad :
       {std::string(), too_long, std::string(".."), std::string("../etc"), std::string("a/b"),
        std::string("a.b"), std::string("a b"), std::string("a\0b", 3), std::string("ü")}) {
    SCOPED_TRACE(bad);
    COVE_EXPECT_CODE(store().CreateUpload(bad), Code::kInvalidArgument);
    COVE_EXPECT_CODE(store().ResumeUpload(bad, 0), Code::kInvalidArgument);
    COVE_EXPECT_CODE(store().DeleteUpload(bad), Code::kInvalidArgument);
  }
  COVE_EXPECT_OK(store().CreateUpload(longest));
}

TEST_P(BlobStoreConformance, DigestMismatchLeavesUploadUsable) {
  auto upload = store().CreateUpload("mismatch");
  COVE_ASSERT_OK(upload);
  COVE_ASSERT_OK((*upload)->Append("abc"));
  COVE_EXPECT_CODE((*upload)->Commit(Digest::Of("abcd")), Code::kInvalidArgument);
  COVE_EXPECT_CODE(store().Stat(Digest::Of("abcd")), Code::kNotFound);
  COVE_EXPECT_CODE(store().Stat(Digest::Of("abc")), Code::kNotFound);
  EXPECT_EQ((*upload)->size(), 3u);
  // The same handle goes on.
  COVE_ASSERT_OK((*upload)->Append("d"));
  upload->reset();
  // And after the handle is dropped the upload is resumable.
  auto resumed = store().ResumeUpload("mismatch", 4);
  COVE_ASSERT_OK(resumed);
  COVE_EXPECT_CODE((*resumed)->Commit(Digest::Of("abc")), Code::kInvalidArgument);
  COVE_ASSERT_OK((*resumed)->Commit(Digest::Of("abcd")));
  EXPECT_EQ(*store().Read(Digest::Of("abcd"), 10), "abcd");
}

TEST_P(BlobStoreConformance, SecondLiveHandleIsRefused) {
  auto upload = store().CreateUpload("busy");
  COVE_ASSERT_OK(upload);
  COVE_ASSERT_OK((*upload)->Append("x"));
  COVE_EXPECT_CODE(store().ResumeUpload("busy", 1), Code::kFailedPrecondition);
  COVE_EXPECT_CODE(store().DeleteUpload("busy"), Code::kFailedPrecondition);
  upload->reset();
  auto resumed = store().ResumeUpload("busy", 1);
  COVE_ASSERT_OK(resumed);
  COVE_EXPECT_CODE(store().ResumeUpload("busy", 1), Code::kFailedPrecondition);
  resumed->reset();
  COVE_EXPECT_OK(store().DeleteUpload("busy"));
}

TEST_P(BlobStoreConformance, ResumeAfterRestartTruncatesUnacknowledgedBytes) {
  {
    auto upload = store().CreateUpload("restart");
    COVE_ASSERT_OK(upload);
    COVE_ASSERT_OK((*upload)->Append("hello "));
    COVE_ASSERT_OK((*upload)->Append("world, interrupted"));
  }
  harness_->Restart();
  auto resumed = store().ResumeUpload("restart", 6);
  COVE_ASSERT_OK(resumed);
  EXPECT_EQ((*resumed)->size(), 6u);
  COVE_ASSERT_OK((*resumed)->Append("there"));
  Digest d = Digest::Of("hello there");
  auto size = (*resumed)->Commit(d);
  COVE_ASSERT_OK(size);
  EXPECT_EQ(*size, 11u);
  EXPECT_EQ(*store().Read(d, 100), "hello there");
}

TEST_P(BlobStoreConformance, ResumeRebuildsHashOfLargeUpload) {
  // Several MiB, so rebuilding the hash crosses read-chunk boundaries.
  std::string bytes;
  for (int i = 0; bytes.size() < (3u << 20); ++i) bytes += "chunk " + std::to_string(i) + "\n";
  {
    auto upload = store().CreateUpload("large");
    COVE_ASSERT_OK(upload);
    for (size_t off = 0; off < bytes.size(); off += 100'000) {
      COVE_ASSERT_OK((*upload)->Append(std::string_view(bytes).substr(off, 100'000)));
    }
  }
  harness_->Restart();
  uint64_t keep = (5u << 19) + 7;  // 2.5 MiB + 7
  auto resumed = store().ResumeUpload("large", keep);
  COVE_ASSERT_OK(resumed);
  COVE_ASSERT_OK((*resumed)->Append(std::string_view(bytes).substr(keep)));
  COVE_ASSERT_OK((*resumed)->Commit(Digest::Of(bytes)));
  EXPECT_EQ(*store().Stat(Digest::Of(bytes)), bytes.size());
}

TEST_P(BlobStoreConformance, ResumeFailures) {
  COVE_EXPECT_CODE(store().ResumeUpload("never", 0), Code::kNotFound);
  {
    auto upload = store().CreateUpload("short");
    COVE_ASSERT_OK(upload);
    COVE_ASSERT_OK((*upload)->Append("1234"));
  }
  COVE_EXPECT_CODE(store().ResumeUpload("short", 5), Code::kCorruption);
  // A refused resume does not leave the id claimed.
  auto resumed = store().ResumeUpload("short", 4);
  COVE_ASSERT_OK(resumed);
  EXPECT_EQ((*resumed)->size(), 4u);
}

TEST_P(BlobStoreConformance, DeleteAndListUploads) {
  COVE_EXPECT_CODE(store().DeleteUpload("ghost"), Code::kNotFound);
  {
    auto a = store().CreateUpload("a");
    auto b = store().CreateUpload("b");
    COVE_ASSERT_OK(a);
    COVE_ASSERT_OK(b);
    COVE_ASSERT_OK((*b)->Append("12345"));
    auto live = store().ListUploads();  // live handles are listed too
    COVE_ASSERT_OK(live);
    EXPECT_EQ(live->size(), 2u);
  }
  auto uploads = store().ListUploads();
  COVE_ASSERT_OK(uploads);
  ASSERT_EQ(uploads->size(), 2u);
  std::sort(uploads->begin(), uploads->end(),
            [](const UploadInfo& x, const UploadInfo& y) { return x.id < y.id; });
  EXPECT_EQ((*uploads)[0].id, "a");
  EXPECT_EQ((*uploads)[0].size, 0u);
  EXPECT_EQ((*uploads)[1].id, "b");
  EXPECT_EQ((*uploads)[1].size, 5u);
  COVE_ASSERT_OK(store().DeleteUpload("a"));
  COVE_EXPECT_CODE(store().DeleteUpload("a"), Code::kNotFound);
  COVE_EXPECT_CODE(store().ResumeUpload("a", 0), Code::kNotFound);
  uploads = store().ListUploads();
  ASSERT_EQ(uploads->size(), 1u);
  EXPECT_EQ((*uploads)[0].id, "b");
  // The id is free again.
  COVE_EXPECT_OK(store().CreateUpload("a"));
}

TEST_P(BlobStoreConformance, ConcurrentPutsAndUploads) {
  constexpr int kThreads = 4;
  constexpr int kPerThread = 10;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([this, t] {
      for (int i = 0; i < kPerThread; ++i) {
        std::string bytes = "blob " + std::to_string(t) + "/" + std::to_string(i);
        EXPECT_TRUE(store().Put(Digest::Of(bytes), bytes));
        EXPECT_TRUE(store().Put(Digest::Of("shared"), "shared"));  // the same blob from all
        std::string id = "t" + std::to_string(t) + "-" + std::to_string(i);
        auto upload = store().CreateUpload(id);
        EXPECT_TRUE(upload);
        if (!upload) continue;
        EXPECT_TRUE((*upload)->Append(bytes + " uploaded"));
        EXPECT_TRUE((*upload)->Commit(Digest::Of(bytes + " uploaded")));
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int t = 0; t < kThreads; ++t) {
    for (int i = 0; i < kPerThread; ++i) {
      std::string bytes = "blob " + std::to_string(t) + "/" + std::to_string(i);
      EXPECT_EQ(*store().Read(Digest::Of(bytes), 100), bytes);
      EXPECT_EQ(*store().Read(Digest::Of(bytes + " uploaded"), 100), bytes + " uploaded");
    }
  }
  EXPECT_EQ(*store().Read(Digest::Of("shared"), 100), "shared");
  EXPECT_TRUE(store().ListUploads()->empty());
}

}  // namespace cove::storage::testing
