// LeaseStore: containerd's lease rules over the metadata store, and the
// RFC 3339 times of containerd.io/gc.expire.
#include "metadata/leases.h"

#include <gtest/gtest.h>

#include "metadata/test_env.h"

namespace berth::host::metadata {
namespace {

class LeasesTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(env_.ok()) << env_.failure(); }
  LeaseStore& leases() { return env_.md().leases(); }
  std::vector<std::string> Ids(const std::string& ns, const std::vector<std::string>& exprs) {
    auto f = filters::ParseAll(exprs);
    EXPECT_TRUE(f.ok());
    auto list = leases().List(ns, *f);
    EXPECT_TRUE(list.ok()) << list.status().ToString();
    std::vector<std::string> ids;
    for (const Lease& l : *list) ids.push_back(l.id);
    return ids;
  }

  testing::MetadataTestEnv env_;
};

TEST_F(LeasesTest, CreateListDelete) {
  auto a = leases().Create("ns", "a", {{"team", "blue"}});
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_EQ(a->id, "a");
  EXPECT_GT(a->created_at.time_since_epoch().count(), 0);
  ASSERT_TRUE(leases().Create("ns", "b", {}).ok());
  ASSERT_TRUE(leases().Create("other", "a", {}).ok()) << "ids are per namespace";
  EXPECT_TRUE(leases().Create("ns", "a", {}).status().Is(Code::kAlreadyExists));
  EXPECT_TRUE(leases().Create("ns", "", {}).status().Is(Code::kInvalidArgument));
  EXPECT_TRUE(leases().Create("ns", std::string(kMaxRefLength + 1, 'l'), {})
                  .status()
                  .Is(Code::kInvalidArgument));
  // Any other id is a name (containerd's rule), escaped in the keys: "x/y"
  // neither collides with "x%2Fy" nor looks like a resource of lease "x".
  for (const std::string& id : std::vector<std::string>{"x/y", "x%2Fy", "a\nb", "../l"}) {
    ASSERT_TRUE(leases().Create("ns", id, {}).ok()) << id;
  }
  ASSERT_TRUE(leases().Create("ns", "x", {}).ok());
  auto of_x = leases().ListResources("ns", "x");
  EXPECT_TRUE(of_x.ok() && of_x->empty()) << "lease x/y shows as a resource of x";
  ASSERT_TRUE(leases().Delete("ns", "x/y").ok());
  EXPECT_TRUE(leases().Delete("ns", "x/y").Is(Code::kNotFound));
  for (const std::string& id : std::vector<std::string>{"x%2Fy", "a\nb", "../l", "x"}) {
    ASSERT_TRUE(leases().Delete("ns", id).ok()) << id;
  }
  EXPECT_TRUE(leases().Create("ns", "c", {{"", "v"}}).status().Is(Code::kInvalidArgument));

  EXPECT_EQ(Ids("ns", {}), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(Ids("ns", {"labels.team==blue"}), std::vector<std::string>{"a"});
  EXPECT_EQ(Ids("ns", {"id==b"}), std::vector<std::string>{"b"});
  EXPECT_EQ(Ids("ns", {"id==b", "labels.team"}), (std::vector<std::string>{"a", "b"}));

  ASSERT_TRUE(leases().AddResource("ns", "a", {Sha256Of("x"), "content"}).ok());
  ASSERT_TRUE(leases().Delete("ns", "a").ok());
  EXPECT_TRUE(leases().Delete("ns", "a").Is(Code::kNotFound));
  EXPECT_TRUE(leases().ListResources("ns", "a").status().Is(Code::kNotFound));
  EXPECT_EQ(Ids("ns", {}), std::vector<std::string>{"b"});
  EXPECT_EQ(Ids("other", {}), std::vector<std::string>{"a"});
  // Nothing of "a" is left in the store.
  auto left = env_.md().db().HasPrefix(keys::Lease("ns", "a") + "/");
  ASSERT_TRUE(left.ok());
  EXPECT_FALSE(*left);
}

TEST_F(LeasesTest, ResourcesAreCheckedAsContainerdChecksThem) {
  ASSERT_TRUE(leases().Create("ns", "l", {}).ok());
  const std::string digest = Sha256Of("x");
  const std::vector<LeaseResource> good = {
      {digest, "content"}, {"some/ref", "ingests"}, {"key/with/slashes", "snapshots/overlayfs"}};
  for (const auto& r : good) {
    Status s = leases().AddResource("ns", "l", r);
    EXPECT_TRUE(s.ok()) << r.type << " " << r.id << ": " << s.ToString();
  }
  auto listed = leases().ListResources("ns", "l");
  ASSERT_TRUE(listed.ok());
  EXPECT_EQ(*listed, good);

  EXPECT_TRUE(
      leases().AddResource("ns", "l", {"sha256:nope", "content"}).Is(Code::kInvalidArgument));
  EXPECT_TRUE(leases().AddResource("ns", "l", {"k", "snapshots"}).Is(Code::kInvalidArgument));
  EXPECT_TRUE(leases().AddResource("ns", "l", {"k", "snapshots/a/b"}).Is(Code::kInvalidArgument));
  EXPECT_TRUE(leases().AddResource("ns", "l", {"", "ingests"}).Is(Code::kInvalidArgument));
  EXPECT_TRUE(leases().AddResource("ns", "l", {"x", "images"}).Is(Code::kNotImplemented));
  EXPECT_TRUE(leases().AddResource("ns", "none", {digest, "content"}).Is(Code::kNotFound));

  ASSERT_TRUE(leases().DeleteResource("ns", "l", {"some/ref", "ingests"}).ok());
  ASSERT_TRUE(leases().DeleteResource("ns", "l", {"some/ref", "ingests"}).ok());
  listed = leases().ListResources("ns", "l");
  ASSERT_TRUE(listed.ok());
  EXPECT_EQ(listed->size(), 2u);
}

TEST(Rfc3339Test, ParsesContainerdsFormsAndRoundTrips) {
  auto utc = ParseRfc3339("2024-02-29T12:34:56Z");
  ASSERT_TRUE(utc.has_value());
  EXPECT_EQ(FormatRfc3339(*utc), "2024-02-29T12:34:56Z");
  auto offset = ParseRfc3339("2024-02-29T14:34:56.5+02:00");
  ASSERT_TRUE(offset.has_value());
  EXPECT_EQ(std::chrono::duration_cast<std::chrono::milliseconds>(*offset - *utc).count(), 500);
  auto west = ParseRfc3339("2024-02-29T07:34:56-05:00");
  ASSERT_TRUE(west.has_value());
  EXPECT_EQ(*west, *utc);
  for (const char* bad : {"", "2024-02-29", "2024-02-29T12:34:56", "2024-13-01T00:00:00Z",
                          "2024-02-29T12:34:56.Z", "2024-02-29T12:34:56+0200", "tomorrow"}) {
    EXPECT_FALSE(ParseRfc3339(bad).has_value()) << bad;
  }
}

}  // namespace
}  // namespace berth::host::metadata
