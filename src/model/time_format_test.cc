// RFC 3339 and bare dates in, RFC 3339 UTC out; every malformed text is named in the error.
#include "scaigrid/iam/time_format.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace scaigrid::iam {
namespace {

using ::testing::HasSubstr;

constexpr Time k20260501 = 1777593600;  // 2026-05-01T00:00:00Z

Time Parsed(std::string_view text) {
  auto t = ParseTime(text);
  EXPECT_TRUE(t) << text << ": " << t.error().ToString();
  return t ? *t : kTimeMin;
}

std::string Error(std::string_view text) {
  auto t = ParseTime(text);
  EXPECT_FALSE(t) << text << " parsed as " << (t ? FormatTime(*t) : "");
  if (t) return "";
  EXPECT_EQ(t.error().code(), StatusCode::kInvalidArgument);
  return t.error().message();
}

TEST(TimeFormatTest, ParsesBareDatesAsTheirStartInUtc) {
  EXPECT_EQ(Parsed("1970-01-01"), 0);
  EXPECT_EQ(Parsed("2026-05-01"), k20260501);
  EXPECT_EQ(Parsed("2024-02-29"), 1709164800);
  EXPECT_EQ(Parsed("1969-12-31"), -86400);
  EXPECT_EQ(Parsed("0000-01-01"), -62167219200);
  EXPECT_EQ(Parsed("9999-12-31"), 253402214400);
}

TEST(TimeFormatTest, ParsesRfc3339) {
  EXPECT_EQ(Parsed("2026-05-01T12:00:00Z"), k20260501 + 12 * 3600);
  EXPECT_EQ(Parsed("2026-05-01t12:00:00z"), k20260501 + 12 * 3600);
  EXPECT_EQ(Parsed("2026-05-01T23:59:59Z"), k20260501 + 86399);
  EXPECT_EQ(Parsed("1970-01-01T00:00:01Z"), 1);
}

TEST(TimeFormatTest, TruncatesFractionalSeconds) {
  EXPECT_EQ(Parsed("2026-05-01T12:00:00.5Z"), k20260501 + 12 * 3600);
  EXPECT_EQ(Parsed("2026-05-01T12:00:07.999999999Z"), k20260501 + 12 * 3600 + 7);
  EXPECT_EQ(Parsed("2026-05-01T12:00:00.250+02:00"), k20260501 + 10 * 3600);
}

TEST(TimeFormatTest, AppliesOffsets) {
  EXPECT_EQ(Parsed("2026-05-01T14:00:00+02:00"), k20260501 + 12 * 3600);
  EXPECT_EQ(Parsed("2026-05-01T07:30:00-04:30"), k20260501 + 12 * 3600);
  EXPECT_EQ(Parsed("2026-05-01T12:00:00-00:00"), k20260501 + 12 * 3600);
  EXPECT_EQ(Parsed("2026-05-01T12:00:00+00:00"), k20260501 + 12 * 3600);
  // An offset can move the instant to another day.
  EXPECT_EQ(Parsed("2026-05-01T01:00:00+02:00"), k20260501 - 3600);
  EXPECT_EQ(Parsed("2026-04-30T23:00:00-01:00"), k20260501);
}

TEST(TimeFormatTest, RejectsBadCalendarValues) {
  EXPECT_THAT(Error("2026-13-01"),
              HasSubstr("invalid time '2026-13-01': month 13 is out of range"));
  EXPECT_THAT(Error("2026-00-10"), HasSubstr("month 00 is out of range"));
  EXPECT_THAT(Error("2026-04-31"),
              HasSubstr("invalid time '2026-04-31': day 31 is out of range for 2026-04"));
  EXPECT_THAT(Error("2026-02-29"), HasSubstr("day 29 is out of range for 2026-02"));
  EXPECT_THAT(Error("2026-05-00"), HasSubstr("day 00 is out of range"));
  EXPECT_THAT(Error("2026-05-01T24:00:00Z"), HasSubstr("hour 24 is out of range"));
  EXPECT_THAT(Error("2026-05-01T12:60:00Z"), HasSubstr("minute 60 is out of range"));
  EXPECT_THAT(Error("2026-06-30T23:59:60Z"), HasSubstr("second 60 is out of range"));
  EXPECT_THAT(Error("2026-05-01T12:00:00+24:00"), HasSubstr("offset +24:00 is out of range"));
  EXPECT_THAT(Error("2026-05-01T12:00:00+02:60"), HasSubstr("offset +02:60 is out of range"));
}

TEST(TimeFormatTest, RejectsGarbageAndTrailingJunk) {
  EXPECT_THAT(Error(""), HasSubstr("invalid time '': it is empty"));
  EXPECT_THAT(Error("yesterday"),
              HasSubstr("invalid time 'yesterday': expected a date YYYY-MM-DD"));
  EXPECT_THAT(Error("2026-5-1"), HasSubstr("expected a date YYYY-MM-DD"));
  EXPECT_THAT(Error("26-05-01"), HasSubstr("expected a date YYYY-MM-DD"));
  EXPECT_THAT(Error("2026/05/01"), HasSubstr("expected a date YYYY-MM-DD"));
  EXPECT_THAT(Error("+2026-05-01"), HasSubstr("expected a date YYYY-MM-DD"));
  EXPECT_THAT(Error("2026-05-01x"),
              HasSubstr("expected 'T' and a time HH:MM:SS after the date, found 'x'"));
  EXPECT_THAT(Error("2026-05-01 12:00:00Z"), HasSubstr("expected 'T'"));
  EXPECT_THAT(Error("2026-05-01T12:00Z"), HasSubstr("expected a time HH:MM:SS"));
  EXPECT_THAT(Error("2026-05-01T12:00:00"), HasSubstr("expected 'Z' or an offset like +02:00"));
  EXPECT_THAT(Error("2026-05-01T12:00:00.Z"), HasSubstr("expected digits after '.'"));
  EXPECT_THAT(Error("2026-05-01T12:00:00+0200"),
              HasSubstr("expected an offset like +02:00 after '+'"));
  EXPECT_THAT(Error("2026-05-01T12:00:00Zjunk"),
              HasSubstr("unexpected trailing characters 'junk'"));
  EXPECT_THAT(Error("2026-05-01T12:00:00Z "), HasSubstr("unexpected trailing characters ' '"));
  EXPECT_THAT(Error(" 2026-05-01"), HasSubstr("expected a date"));
  // Every message says what is accepted.
  EXPECT_THAT(Error("nope"),
              HasSubstr("expected RFC 3339 like 2026-05-01T12:00:00Z or a date like 2026-05-01"));
}

TEST(TimeFormatTest, FormatsUtcWithZ) {
  EXPECT_EQ(FormatTime(0), "1970-01-01T00:00:00Z");
  EXPECT_EQ(FormatTime(k20260501 + 12 * 3600 + 34 * 60 + 56), "2026-05-01T12:34:56Z");
  EXPECT_EQ(FormatTime(-1), "1969-12-31T23:59:59Z");
  EXPECT_EQ(FormatTime(1709164800), "2024-02-29T00:00:00Z");
  EXPECT_EQ(FormatTime(253402300799), "9999-12-31T23:59:59Z");
  EXPECT_EQ(FormatTime(-62167219200), "0000-01-01T00:00:00Z");
}

TEST(TimeFormatTest, FormatsTheExtremesWithoutOverflow) {
  EXPECT_EQ(FormatTime(kTimeMax), "+292277026596-12-04T15:30:07Z");
  EXPECT_EQ(FormatTime(kTimeMin), "-292277022657-01-27T08:29:52Z");
  EXPECT_EQ(FormatTime(-62167219201), "-0001-12-31T23:59:59Z");
}

TEST(TimeFormatTest, RoundTrips) {
  for (Time t : {Time{0}, Time{1}, Time{-1}, k20260501, k20260501 + 86399, Time{951782400},
                 Time{4102444800}, Time{-2208988800}}) {
    EXPECT_EQ(Parsed(FormatTime(t)), t) << FormatTime(t);
  }
  for (Time day = -800000; day < 3000000; day += 997) {  // years ~ -220 … 10183, all valid ones
    Time t = day * 86400 + 3723;
    std::string text = FormatTime(t);
    if (text[0] == '+' || text[0] == '-') continue;
    ASSERT_EQ(Parsed(text), t) << text;
  }
}

}  // namespace
}  // namespace scaigrid::iam

namespace scaigrid::iam {
namespace {

TEST(TimeFormatMicrosTest, KeepsSixFractionDigits) {
  EXPECT_EQ(*ParseTimeMicros("1970-01-01T00:00:01.5Z"), 1500000);
  EXPECT_EQ(*ParseTimeMicros("1970-01-01T00:00:01.123456789Z"), 1123456);
  EXPECT_EQ(*ParseTimeMicros("1970-01-01T01:00:00.000001+01:00"), 1);
  EXPECT_EQ(*ParseTimeMicros("1970-01-02"), 86400LL * 1000000);
  EXPECT_FALSE(ParseTimeMicros("1970-01-01T00:00:01.Z"));
}

}  // namespace
}  // namespace scaigrid::iam
