#include "http/query.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace scaigrid::iam::http {
namespace {

using testing::ElementsAre;
using testing::HasSubstr;
using testing::Pair;

TEST(ParseQueryTest, EmptyQueryHasNoParams) {
  auto params = ParseQuery("");
  ASSERT_TRUE(params.has_value());
  EXPECT_TRUE(params->empty());
}

TEST(ParseQueryTest, KeepsOrderRepeatsAndDecodes) {
  auto params = ParseQuery("b=2&a=x%20y&a=z+w&flag&empty=&%41%62=%2F%26%3d");
  ASSERT_TRUE(params.has_value()) << params.error().ToString();
  EXPECT_THAT(*params, ElementsAre(Pair("b", "2"), Pair("a", "x y"), Pair("a", "z w"),
                                   Pair("flag", ""), Pair("empty", ""), Pair("Ab", "/&=")));
  ASSERT_NE(FindParam(*params, "a"), nullptr);
  EXPECT_EQ(*FindParam(*params, "a"), "x y");
  EXPECT_EQ(FindParam(*params, "missing"), nullptr);
}

TEST(ParseQueryTest, SkipsEmptyPairsAndSplitsAtFirstEquals) {
  auto params = ParseQuery("&a=1&&b=c=d&");
  ASSERT_TRUE(params.has_value());
  EXPECT_THAT(*params, ElementsAre(Pair("a", "1"), Pair("b", "c=d")));
}

TEST(ParseQueryTest, DecodesBytesVerbatim) {
  auto params = ParseQuery("n=%C3%A9%00%ff");
  ASSERT_TRUE(params.has_value());
  EXPECT_EQ((*params)[0].second, std::string("\xC3\xA9\0\xff", 4));
}

TEST(ParseQueryTest, MalformedEscapesAreInvalidArgument) {
  for (const char* raw : {"a=%", "a=%4", "a=%zz", "%g1=b", "a=1&b=%2", "a=%%41"}) {
    auto params = ParseQuery(raw);
    ASSERT_FALSE(params.has_value()) << raw;
    EXPECT_EQ(params.error().code(), StatusCode::kInvalidArgument);
    EXPECT_THAT(params.error().message(), HasSubstr("percent-escape"));
  }
  auto params = ParseQuery("ok=1&bad=%x1");
  ASSERT_FALSE(params.has_value());
  EXPECT_THAT(params.error().message(), HasSubstr("offset 9"));
}

TEST(PercentDecodeSegmentTest, DecodesButKeepsPlus) {
  auto s = PercentDecodeSegment("role%2Fadmin+x%20y");
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(*s, "role/admin+x y");
  EXPECT_EQ(PercentDecodeSegment("").value(), "");
}

TEST(PercentDecodeSegmentTest, MalformedEscapeIsInvalidArgument) {
  auto s = PercentDecodeSegment("abc%2");
  ASSERT_FALSE(s.has_value());
  EXPECT_EQ(s.error().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(s.error().message(), HasSubstr("path segment"));
}

}  // namespace
}  // namespace scaigrid::iam::http
