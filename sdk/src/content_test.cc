#include "berth/content.h"

#include <gtest/gtest.h>

namespace berth {
namespace {

TEST(ContentTest, ValidateRef) {
  EXPECT_TRUE(ValidateRef("ingest-1").ok());
  EXPECT_TRUE(ValidateRef("default/1/layer-sha256:abc").ok());
  EXPECT_TRUE(ValidateRef("a..b").ok());
  // Refs are names, as containerd takes them: stores never make paths of them.
  for (std::string name : {std::string("../x"), std::string("a/../../b"), std::string(".."),
                           std::string("/etc/passwd"), std::string("a\nb"),
                           std::string(kMaxRefLength, 'r')}) {
    EXPECT_TRUE(ValidateRef(name).ok()) << name;
  }
  for (std::string bad : {std::string(""), std::string(kMaxRefLength + 1, 'r')}) {
    EXPECT_TRUE(ValidateRef(bad).Is(Code::kInvalidArgument)) << bad;
  }
}

TEST(ContentTest, ValidateLabels) {
  EXPECT_TRUE(ValidateLabels({{"a", "b"}}).ok());
  EXPECT_TRUE(ValidateLabels({{"k", std::string(kMaxLabelSize - 1, 'v')}}).ok());
  EXPECT_TRUE(ValidateLabels({{"k", std::string(kMaxLabelSize, 'v')}})
                  .Is(Code::kInvalidArgument));
  EXPECT_TRUE(ValidateLabels({{"", "v"}}).Is(Code::kInvalidArgument));
  // All labels together: at most kMaxLabelsSize bytes.
  Labels many;
  for (std::size_t i = 0; many.size() * kMaxLabelSize < kMaxLabelsSize; ++i) {
    many["k" + std::to_string(i)] = std::string(kMaxLabelSize - 8, 'v');
  }
  EXPECT_TRUE(ValidateLabels(many).ok());
  many["one-more"] = std::string(kMaxLabelSize - 8, 'v');
  Status s = ValidateLabels(many);
  EXPECT_TRUE(s.Is(Code::kInvalidArgument));
  EXPECT_NE(s.message().find(std::to_string(kMaxLabelsSize)), std::string::npos) << s.ToString();
}

TEST(ContentTest, ApplyLabelUpdate) {
  Labels to{{"a", "1"}, {"b", "2"}};
  ASSERT_TRUE(ApplyLabelUpdate(to, {{"a", "9"}}, {"labels.a", "labels.b"}).ok());
  EXPECT_EQ(to, (Labels{{"a", "9"}}));
  ASSERT_TRUE(ApplyLabelUpdate(to, {{"c", "3"}}, {"labels"}).ok());
  EXPECT_EQ(to, (Labels{{"c", "3"}}));
  ASSERT_TRUE(ApplyLabelUpdate(to, {{"x.y", "1"}}, {}).ok());
  EXPECT_EQ(to, (Labels{{"x.y", "1"}}));
  EXPECT_TRUE(ApplyLabelUpdate(to, {}, {"size"}).Is(Code::kInvalidArgument));
}

TEST(ContentTest, FiltersOverInfoAndStatus) {
  ContentInfo info;
  info.digest = "sha256:" + std::string(64, 'a');
  info.labels = {{"containerd.io/gc.root", "x"}, {"a", "b"}};
  auto match = [&](const std::string& expr) {
    auto f = filters::Parse(expr);
    EXPECT_TRUE(f.ok()) << expr;
    return f.ok() && f->Match(AdaptContentInfo(info));
  };
  EXPECT_TRUE(match("labels.a==b"));
  EXPECT_TRUE(match("labels.\"containerd.io/gc.root\""));
  EXPECT_FALSE(match("labels.a!=b"));
  EXPECT_TRUE(match("digest~=^sha256:a+$"));
  EXPECT_FALSE(match("labels.missing"));

  IngestStatus st;
  st.ref = "layer-1";
  auto f = filters::Parse("ref~=layer");
  ASSERT_TRUE(f.ok());
  EXPECT_TRUE(f->Match(AdaptIngestStatus(st)));
}

}  // namespace
}  // namespace berth
