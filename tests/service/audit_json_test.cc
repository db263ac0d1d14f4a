// AuditEventToJson: how an event reads in the API and in exports, for every stored time.
#include <gtest/gtest.h>

#include <cstdint>
#include <limits>

#include "service/service.h"

namespace scaigrid::iam::service {
namespace {

std::string TimeOf(std::int64_t time_us) {
  store::AuditEvent e;
  e.time_us = time_us;
  return std::string(AuditEventToJson(e).at("time").as_string());
}

TEST(AuditEventToJsonTest, TimesToTheMicrosecond) {
  EXPECT_EQ(TimeOf(0), "1970-01-01T00:00:00.000000Z");
  EXPECT_EQ(TimeOf(1'700'000'000'123'456), "2023-11-14T22:13:20.123456Z");
  EXPECT_EQ(TimeOf(-1), "1969-12-31T23:59:59.999999Z");
  EXPECT_EQ(TimeOf(-1'000'000), "1969-12-31T23:59:59.000000Z");
}

TEST(AuditEventToJsonTest, ExtremeImportedTimesDoNotOverflow) {
  // Found by audit_line_fuzzer (fuzz/corpus/audit_line_fuzzer/regress-time-us-min): a time
  // within a second of INT64_MIN overflowed (signed overflow, UBSan) when formatted.
  const auto min = std::numeric_limits<std::int64_t>::min();
  const auto max = std::numeric_limits<std::int64_t>::max();
  for (std::int64_t t : {min, min + 1, min + 999'999, max, max - 1}) {
    std::string s = TimeOf(t);
    EXPECT_EQ(s.back(), 'Z') << s;
    EXPECT_NE(s.find('.'), std::string::npos) << s;
  }
  EXPECT_EQ(TimeOf(max).substr(TimeOf(max).size() - 8), ".775807Z");
  EXPECT_EQ(TimeOf(min).substr(TimeOf(min).size() - 8), ".224192Z");  // floor: -…854775808 = -…855 s + 224192 µs
}

TEST(AuditEventToJsonTest, DetailsThatWouldNotBeJsonAreShownAsText) {
  // Found by audit_line_fuzzer (fuzz/corpus/audit_line_fuzzer/regress-details-infinity): an
  // imported event's details "18407370951e315" read as infinity and came out as `Infinity`.
  store::AuditEvent e;
  e.details = "18407370951e315";
  EXPECT_EQ(AuditEventToJson(e).at("details"), boost::json::value("18407370951e315"));
  e.details = R"({"a":[1,{"b":-1e999}]})";
  EXPECT_EQ(AuditEventToJson(e).at("details"), boost::json::value(e.details));
  e.details = R"({"a":[1,{"b":2.5}]})";
  EXPECT_EQ(AuditEventToJson(e).at("details").at("a").at(1).at("b"), boost::json::value(2.5));
  e.details = "not json";
  EXPECT_EQ(AuditEventToJson(e).at("details"), boost::json::value("not json"));
}

}  // namespace
}  // namespace scaigrid::iam::service
