// RecordTableTest: the fixture of the record table tests (containers_test.cc,
// images_test.cc): one table of a fresh MetadataTestEnv, what it lists as
// keys, and the changes it reports. Not thread-safe; owned by one test.
#ifndef BERTH_HOST_METADATA_RECORD_TABLE_TEST_H_
#define BERTH_HOST_METADATA_RECORD_TABLE_TEST_H_

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

#include "berth/filters.h"
#include "metadata/plugin.h"
#include "metadata/test_env.h"

namespace berth::host::metadata::testing {

// `kTable`: the MetadataPlugin accessor of the table (&MetadataPlugin::images);
// `kKey`: the record's key field (&Image::name).
template <auto kTable, auto kKey>
class RecordTableTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(env_.ok()) << env_.failure(); }
  auto& records() { return (env_.md().*kTable)(); }
  // The keys of the records List answers for `exprs` in `ns`, in its order;
  // fails the test on a parse or list error.
  std::vector<std::string> Listed(const std::string& ns, const std::vector<std::string>& exprs) {
    auto f = filters::ParseAll(exprs);
    EXPECT_TRUE(f.ok()) << f.status().ToString();
    if (!f.ok()) return {};
    auto list = records().List(ns, *f);
    EXPECT_TRUE(list.ok()) << list.status().ToString();
    std::vector<std::string> keys;
    if (list.ok()) {
      for (const auto& record : *list) keys.push_back(record.*kKey);
    }
    return keys;
  }
  // Update of `change` with `fieldpaths` under a key that is not stored is
  // NotFound, and under an empty key InvalidArgument.
  template <typename Record>
  void ExpectUpdateNeedsAStoredKey(Record change, const std::vector<std::string>& fieldpaths) {
    change.*kKey = "missing";
    EXPECT_TRUE(records().Update("ns", change, fieldpaths).status().Is(Code::kNotFound));
    change.*kKey = "";
    EXPECT_TRUE(records().Update("ns", change, fieldpaths).status().Is(Code::kInvalidArgument));
  }
  // The record `key`, the last in namespace "ns", keeps the namespace from
  // being deleted (FailedPrecondition naming the gc kind `kind`) until it is
  // deleted, which counts one change, a deletion. REQUIRES: CountMutations.
  void ExpectHoldsTheNamespace(const std::string& key, std::string_view kind) {
    Status held = env_.md().DeleteNamespace("ns");
    EXPECT_TRUE(held.Is(Code::kFailedPrecondition)) << held.ToString();
    EXPECT_NE(held.message().find(kind), std::string::npos) << held.ToString();
    const int mutations = mutations_;
    const int deletions = deletions_;
    ASSERT_TRUE(records().Delete("ns", key).ok());
    EXPECT_EQ(mutations_, mutations + 1);
    EXPECT_EQ(deletions_, deletions + 1);
    Status emptied = env_.md().DeleteNamespace("ns");
    EXPECT_TRUE(emptied.ok()) << emptied.ToString();
  }
  // From now on, counts the store's changes into mutations_ and deletions_.
  void CountMutations() {
    env_.md().OnMutation([this](bool deletion) {
      ++mutations_;
      if (deletion) ++deletions_;
    });
  }

  int mutations_ = 0;
  int deletions_ = 0;
  MetadataTestEnv env_;  // after the counts, which its callbacks touch
};

}  // namespace berth::host::metadata::testing

#endif  // BERTH_HOST_METADATA_RECORD_TABLE_TEST_H_
