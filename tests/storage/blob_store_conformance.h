// BlobStoreConformance: the behaviour every BlobStore implementation must have.
//
// The tests are in blob_store_conformance.cc, linked once into the storage test binary. An
// implementation's test file includes this header, defines a BlobStoreHarness (which owns the
// backing storage and can "restart" the store: drop it and open a new one on the same data), and
// instantiates the suite:
//
//   INSTANTIATE_TEST_SUITE_P(Filesystem, BlobStoreConformance,
//                            ::testing::Values(BlobStoreImpl{"Filesystem", MakeFsHarness}),
//                            BlobStoreImplName);
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <functional>
#include <memory>
#include <ostream>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "common/digest.h"
#include "storage/blob_store.h"
#include "storage/test_util.h"

namespace cove::storage::testing {

class BlobStoreHarness {
 public:
  virtual ~BlobStoreHarness() = default;
  virtual BlobStore& store() = 0;
  // Drops the store object and opens a new one on the same data (a process restart).
  // Live Upload handles must have been dropped first.
  virtual void Restart() = 0;
};

struct BlobStoreImpl {
  std::string name;
  std::function<std::unique_ptr<BlobStoreHarness>(const Clock&)> make;
};

// gtest prints the parameter by name.
inline void PrintTo(const BlobStoreImpl& impl, std::ostream* os) { *os << impl.name; }

inline std::string BlobStoreImplName(const ::testing::TestParamInfo<BlobStoreImpl>& info) {
  return info.param.name;
}

class BlobStoreConformance : public ::testing::TestWithParam<BlobStoreImpl> {
 protected:
  void SetUp() override { harness_ = GetParam().make(clock_); }
  BlobStore& store() { return harness_->store(); }

  // Reads everything from a BlobFile's descriptor.
  static std::string ReadFd(const BlobFile& file) {
    std::string out;
    char buf[4096];
    while (true) {
      ssize_t n = ::read(file.fd.get(), buf, sizeof buf);
      if (n <= 0) break;
      out.append(buf, static_cast<size_t>(n));
    }
    return out;
  }

  ManualClock clock_;
  std::unique_ptr<BlobStoreHarness> harness_;
};

}  // namespace cove::storage::testing
