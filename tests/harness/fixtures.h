// The test plugin libraries built under <build>/tests/fixtures/<set>/, and a
// way to give a berthd its own copy of them (a folder the test owns, so the
// loader's ownership and permission checks pass), and test data. Thread-safe.
#ifndef BERTH_TESTS_HARNESS_FIXTURES_H_
#define BERTH_TESTS_HARNESS_FIXTURES_H_

#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <string>

namespace berth::test {

// `size` deterministic pseudo-random bytes; different seeds give different
// bytes (xorshift64), so a test can regenerate what it wrote.
std::string DeterministicBytes(std::size_t size, std::uint64_t seed);

// "<build>/tests/fixtures/<set>" ("broken" or "good").
std::string FixtureDir(const std::string& set);

// Copies every "*.so" of `from` into `to` (created 0755) with mode 0644.
// Fails when `from` holds no library.
::testing::AssertionResult CopyLibraries(const std::string& from,
                                         const std::string& to);

}  // namespace berth::test

#endif  // BERTH_TESTS_HARNESS_FIXTURES_H_
