#include "berth/filters.h"

#include <map>
#include <ostream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace berth::filters {
namespace {

// An object with a name, a kind and labels, seen through an Adaptor the way
// containerd's image and container adaptors see theirs.
struct Object {
  std::string name;
  std::string kind;
  std::map<std::string, std::string> labels;
};

Adaptor AdaptorFor(const Object& o) {
  return [&o](const std::vector<std::string>& path) -> std::optional<std::string> {
    if (path.empty()) return std::nullopt;
    if (path[0] == "name" && path.size() == 1) return o.name;
    if (path[0] == "kind" && path.size() == 1) {
      if (o.kind.empty()) return std::nullopt;
      return o.kind;
    }
    if (path[0] == "labels" && path.size() >= 2) {
      std::string key = path[1];
      for (size_t i = 2; i < path.size(); ++i) key += "." + path[i];
      auto it = o.labels.find(key);
      if (it == o.labels.end()) return std::nullopt;
      return it->second;
    }
    return std::nullopt;
  };
}

const std::vector<Object>& Corpus() {
  static const std::vector<Object> objects = {
      {"foo", "active", {{"a.b", "c"}, {"x", "1"}}},
      {"foobar", "inactive", {{"a.b", "d"}, {"com.example/owner", "me"}}},
      {"bar", "", {{"x", "2"}, {"space", "with space"}}},
      {"baz", "active", {}},
  };
  return objects;
}

// Names of the corpus objects `expr` matches.
std::vector<std::string> Matching(const Filter& f) {
  std::vector<std::string> names;
  for (const Object& o : Corpus()) {
    if (f.Match(AdaptorFor(o))) names.push_back(o.name);
  }
  return names;
}

std::vector<std::string> MatchingExpr(const std::string& expr) {
  Result<Filter> f = Parse(expr);
  EXPECT_TRUE(f.ok()) << expr << ": " << f.status().ToString();
  if (!f.ok()) return {"<parse error>"};
  return Matching(*f);
}

using Names = std::vector<std::string>;

TEST(FiltersTest, EmptyMatchesEverything) {
  EXPECT_EQ(MatchingExpr(""), (Names{"foo", "foobar", "bar", "baz"}));
  EXPECT_EQ(Matching(Filter()), (Names{"foo", "foobar", "bar", "baz"}));
}

TEST(FiltersTest, Equality) {
  EXPECT_EQ(MatchingExpr("name==foo"), (Names{"foo"}));
  EXPECT_EQ(MatchingExpr("kind==active"), (Names{"foo", "baz"}));
  EXPECT_EQ(MatchingExpr("name==nothing"), Names{});
}

TEST(FiltersTest, NotEqualTreatsAbsentAsEmpty) {
  EXPECT_EQ(MatchingExpr("kind!=active"), (Names{"foobar", "bar"}));
  EXPECT_EQ(MatchingExpr("kind!=\"\""), (Names{"foo", "foobar", "baz"}));
}

TEST(FiltersTest, QuotedFieldPathComponentHoldsDots) {
  EXPECT_EQ(MatchingExpr(R"(labels."a.b"==c)"), (Names{"foo"}));
  EXPECT_EQ(MatchingExpr(R"(labels."com.example/owner"==me)"),
            (Names{"foobar"}));
}

TEST(FiltersTest, BareFieldPathTestsPresence) {
  EXPECT_EQ(MatchingExpr("labels.x"), (Names{"foo", "bar"}));
  EXPECT_EQ(MatchingExpr("kind"), (Names{"foo", "foobar", "baz"}));
  EXPECT_EQ(MatchingExpr("labels.x,kind"), (Names{"foo"}));
}

TEST(FiltersTest, RegexMatchesAnywhereUnlessAnchored) {
  EXPECT_EQ(MatchingExpr("name~=^foo"), (Names{"foo", "foobar"}));
  EXPECT_EQ(MatchingExpr("name~=ba"), (Names{"foobar", "bar", "baz"}));
  EXPECT_EQ(MatchingExpr("name~=^ba[rz]$"), (Names{"bar", "baz"}));
  EXPECT_EQ(MatchingExpr("name~=/^fo+$/"), (Names{"foo"}));
  EXPECT_EQ(MatchingExpr("name~=|^foo|"), (Names{"foo", "foobar"}));
  EXPECT_EQ(MatchingExpr(R"(name~="bar$")"), (Names{"foobar", "bar"}));
}

TEST(FiltersTest, SelectorsAreAnded) {
  EXPECT_EQ(MatchingExpr("name~=^foo,kind==active"), (Names{"foo"}));
  EXPECT_EQ(MatchingExpr(R"(kind==active,labels."a.b"==c,name==foo)"),
            (Names{"foo"}));
  EXPECT_EQ(MatchingExpr("name==foo,name==bar"), Names{});
}

TEST(FiltersTest, QuotedValuesAndEscapes) {
  EXPECT_EQ(MatchingExpr(R"(labels.space=="with space")"), (Names{"bar"}));
  EXPECT_EQ(MatchingExpr(R"(name=="\x66oo")"), (Names{"foo"}));
  EXPECT_EQ(MatchingExpr(R"(name=="\u0066\157o")"), (Names{"foo"}));
}

TEST(FiltersTest, WhitespaceAroundOperatorsAndSeparators) {
  EXPECT_EQ(MatchingExpr("name == foo"), (Names{"foo"}));
  EXPECT_EQ(MatchingExpr("  kind==active , name~=z"), (Names{"baz"}));
}

TEST(FiltersTest, ValuesMayHoldPunctuation) {
  Object o{"sha256:ab.cd/ef=gh", "", {}};
  Result<Filter> f = Parse("name==sha256:ab.cd/ef=gh");
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  EXPECT_TRUE(f->Match(AdaptorFor(o)));
}

TEST(FiltersTest, ParseAllOrsFilters) {
  Result<Filter> f = ParseAll({"name==foo", "labels.x==2"});
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  EXPECT_EQ(Matching(*f), (Names{"foo", "bar"}));

  Result<Filter> g = ParseAll({"kind==active,name~=z", "name==foobar"});
  ASSERT_TRUE(g.ok());
  EXPECT_EQ(Matching(*g), (Names{"foobar", "baz"}));
}

TEST(FiltersTest, ParseAllWithNothingOrAnEmptyFilterMatchesAll) {
  Result<Filter> none = ParseAll({});
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(Matching(*none).size(), 4u);
  Result<Filter> empty = ParseAll({"name==foo", ""});
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(Matching(*empty).size(), 4u);
}

TEST(FiltersTest, ParseAllReportsTheBadFilter) {
  Result<Filter> f = ParseAll({"name==foo", "name=="});
  ASSERT_FALSE(f.ok());
  EXPECT_EQ(f.status().code(), Code::kInvalidArgument);
  EXPECT_NE(f.status().message().find("expected value"), std::string::npos)
      << f.status().message();
}

// Each bad input, the byte offset the error must name, and words it must say.
struct BadInput {
  std::string expr;
  size_t pos;
  std::string says;
};

void PrintTo(const BadInput& bad, std::ostream* os) { *os << bad.expr; }

class FiltersParseErrorTest : public ::testing::TestWithParam<BadInput> {};

TEST_P(FiltersParseErrorTest, NamesPositionAndReason) {
  const BadInput& bad = GetParam();
  Result<Filter> f = Parse(bad.expr);
  ASSERT_FALSE(f.ok()) << bad.expr;
  EXPECT_EQ(f.status().code(), Code::kInvalidArgument);
  const std::string m = f.status().message();
  EXPECT_EQ(m.rfind("filters: parse error: [", 0), 0u) << m;
  EXPECT_NE(m.find("] at " + std::to_string(bad.pos) + ": "), std::string::npos)
      << m;
  EXPECT_NE(m.find(bad.says), std::string::npos) << m;
}

INSTANTIATE_TEST_SUITE_P(
    Cases, FiltersParseErrorTest,
    ::testing::Values(
        BadInput{"name==", 6, "expected value or quoted"},
        BadInput{"name==,kind", 6, "expected value or quoted"},
        BadInput{"name=foo", 4, "unsupported operator \"=\""},
        BadInput{"name===foo", 4, "unsupported operator"},
        BadInput{"name foo", 5, "expected an operator"},
        BadInput{",name", 0, "expected field or quoted"},
        BadInput{"name==foo,", 10, "expected field or quoted"},
        BadInput{"labels.", 7, "expected field or quoted"},
        BadInput{"labels.\"a.b", 7, "quoted literal not terminated"},
        BadInput{"labels./a/==b", 7, "invalid quote encountered"},
        BadInput{"name==/foo/", 6, "invalid quote encountered"},
        BadInput{R"(name=="a\qb")", 6, "unquoting failed"},
        BadInput{"name==foo bar", 10, "unexpected input: bar"},
        BadInput{"name~=(a", 6, "invalid regular expression"},
        BadInput{"-name", 0, "expected field or quoted"},
        BadInput{"  ", 2, "expected field or quoted"}));

TEST(FiltersTest, ErrorMarksTheOffendingCharacter) {
  Result<Filter> f = Parse("name==foo bar");
  ASSERT_FALSE(f.ok());
  EXPECT_NE(f.status().message().find("[name==foo  >|b|< ar]"),
            std::string::npos)
      << f.status().message();
}

TEST(FiltersTest, FiltersAreCopyableAndShareTheirTree) {
  Result<Filter> f = Parse("name~=^foo$");
  ASSERT_TRUE(f.ok());
  Filter copy = *f;
  EXPECT_EQ(Matching(copy), (Names{"foo"}));
  EXPECT_EQ(Matching(*f), (Names{"foo"}));
}

}  // namespace
}  // namespace berth::filters
