// Small assertions for Result/Status in storage tests.
#pragma once

#include <gtest/gtest.h>

#include "common/error.h"

// Asserts that a Result/Status holds a value, printing the error otherwise.
#define COVE_ASSERT_OK(expr)                                                         \
  do {                                                                               \
    const auto& cove_r_ = (expr);                                                    \
    ASSERT_TRUE(cove_r_.has_value()) << #expr << ": " << cove_r_.error().ToString(); \
  } while (0)

#define COVE_EXPECT_OK(expr)                                                         \
  do {                                                                               \
    const auto& cove_r_ = (expr);                                                    \
    EXPECT_TRUE(cove_r_.has_value()) << #expr << ": " << cove_r_.error().ToString(); \
  } while (0)

// Expects that a Result/Status failed with `code`.
#define COVE_EXPECT_CODE(expr, expected_code)                                               \
  do {                                                                                      \
    const auto& cove_r_ = (expr);                                                           \
    if (cove_r_.has_value()) {                                                              \
      ADD_FAILURE() << #expr << " succeeded; expected " << ::cove::CodeName(expected_code); \
    } else {                                                                                \
      EXPECT_EQ(cove_r_.error().code, expected_code)                                        \
          << #expr << ": " << cove_r_.error().ToString();                                   \
    }                                                                                       \
  } while (0)
