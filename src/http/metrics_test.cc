#include "http/metrics.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace scaigrid::iam::http {
namespace {

using std::chrono::microseconds;
using std::chrono::milliseconds;
using testing::HasSubstr;
using testing::Not;

struct Sample {
  std::string name;    // without labels
  std::string labels;  // "{...}" or empty
  double value = 0;
};

// Checks the exposition-format rules the scraper relies on and returns the samples: each
// family has one HELP and one TYPE line before its samples, and its samples are contiguous.
std::vector<Sample> ParseExposition(const std::string& text) {
  std::vector<Sample> samples;
  std::set<std::string> typed_families;
  std::set<std::string> closed_families;
  std::string current_family;
  std::istringstream in(text);
  std::string line;
  EXPECT_TRUE(text.empty() || text.back() == '\n');
  while (std::getline(in, line)) {
    EXPECT_FALSE(line.empty()) << "blank line";
    if (line.starts_with("# HELP ") || line.starts_with("# TYPE ")) {
      std::istringstream words(line.substr(7));
      std::string family;
      words >> family;
      if (line.starts_with("# TYPE ")) {
        std::string type;
        words >> type;
        EXPECT_TRUE(type == "counter" || type == "gauge" || type == "histogram") << line;
        EXPECT_TRUE(typed_families.insert(family).second) << "TYPE twice: " << line;
      }
      if (family != current_family) {
        EXPECT_FALSE(closed_families.contains(family)) << "family split: " << family;
        if (!current_family.empty()) closed_families.insert(current_family);
        current_family = family;
      }
      continue;
    }
    Sample s;
    const std::size_t space = line.rfind(' ');
    EXPECT_NE(space, std::string::npos) << line;
    std::string series = line.substr(0, space);
    const std::string value = line.substr(space + 1);
    char* end = nullptr;
    s.value = std::strtod(value.c_str(), &end);
    EXPECT_EQ(*end, '\0') << "bad value in: " << line;
    const std::size_t brace = series.find('{');
    s.name = series.substr(0, brace);
    if (brace != std::string::npos) s.labels = series.substr(brace);
    std::string family = s.name;
    for (const char* suffix : {"_bucket", "_sum", "_count"}) {
      if (!typed_families.contains(family) && family.ends_with(suffix)) {
        family = family.substr(0, family.size() - std::string_view(suffix).size());
      }
    }
    EXPECT_EQ(family, current_family) << "sample outside its family: " << line;
    samples.push_back(s);
  }
  return samples;
}

TEST(MetricsTest, EmptyRenderIsValid) {
  Metrics metrics;
  const std::string text = metrics.RenderPrometheus();
  ParseExposition(text);
  EXPECT_THAT(text, HasSubstr("# TYPE scaigrid_http_requests_total counter\n"));
  EXPECT_THAT(text, HasSubstr("# TYPE scaigrid_http_request_duration_seconds histogram\n"));
}

TEST(MetricsTest, CountsRequestsByRouteMethodStatus) {
  Metrics metrics;
  metrics.RecordRequest("/v1/roles", "GET", 200, microseconds(50));
  metrics.RecordRequest("/v1/roles", "GET", 200, microseconds(700));
  metrics.RecordRequest("/v1/roles", "POST", 409, milliseconds(3));
  metrics.RecordRequest("unmatched", "BREW", 404, milliseconds(5000));
  const std::string text = metrics.RenderPrometheus();
  ParseExposition(text);
  EXPECT_THAT(
      text,
      HasSubstr(
          "scaigrid_http_requests_total{route=\"/v1/roles\",method=\"GET\",status=\"200\"} 2\n"));
  EXPECT_THAT(
      text,
      HasSubstr(
          "scaigrid_http_requests_total{route=\"/v1/roles\",method=\"POST\",status=\"409\"} 1\n"));
  EXPECT_THAT(
      text,
      HasSubstr(
          "scaigrid_http_requests_total{route=\"unmatched\",method=\"OTHER\",status=\"404\"} 1\n"));
  EXPECT_THAT(text, Not(HasSubstr("BREW")));
}

TEST(MetricsTest, HistogramBucketsAreCumulativeAndEndWithCount) {
  Metrics metrics;
  metrics.RecordRequest("/r", "GET", 200, microseconds(50));    // <= 0.0001
  metrics.RecordRequest("/r", "GET", 200, microseconds(100));   // exactly 0.0001 (le)
  metrics.RecordRequest("/r", "GET", 200, microseconds(700));   // <= 0.001
  metrics.RecordRequest("/r", "GET", 200, milliseconds(30));    // <= 0.05
  metrics.RecordRequest("/r", "GET", 200, milliseconds(9000));  // +Inf only
  const std::string text = metrics.RenderPrometheus();
  const std::vector<Sample> samples = ParseExposition(text);
  std::vector<std::pair<std::string, double>> buckets;
  double sum = -1, count = -1;
  for (const Sample& s : samples) {
    if (s.name == "scaigrid_http_request_duration_seconds_bucket") {
      EXPECT_THAT(s.labels, testing::StartsWith("{route=\"/r\",le=\""));
      buckets.emplace_back(s.labels, s.value);
    } else if (s.name == "scaigrid_http_request_duration_seconds_sum") {
      sum = s.value;
    } else if (s.name == "scaigrid_http_request_duration_seconds_count") {
      count = s.value;
    }
  }
  ASSERT_EQ(buckets.size(), 15u);
  for (std::size_t i = 1; i < buckets.size(); ++i) {
    EXPECT_GE(buckets[i].second, buckets[i - 1].second) << buckets[i].first;
  }
  EXPECT_EQ(buckets.front().first, "{route=\"/r\",le=\"0.0001\"}");
  EXPECT_EQ(buckets.front().second, 2);
  EXPECT_EQ(buckets[3].first, "{route=\"/r\",le=\"0.001\"}");
  EXPECT_EQ(buckets[3].second, 3);
  EXPECT_EQ(buckets[13].first, "{route=\"/r\",le=\"2.5\"}");
  EXPECT_EQ(buckets[13].second, 4);
  EXPECT_EQ(buckets.back().first, "{route=\"/r\",le=\"+Inf\"}");
  EXPECT_EQ(buckets.back().second, 5);
  EXPECT_EQ(count, 5);
  EXPECT_NEAR(sum, 9.03085, 1e-9);
}

TEST(MetricsTest, GaugesAndCountersGroupedByBaseName) {
  Metrics metrics;
  metrics.AddCounter("scaigrid_checks_total{decision=\"allowed\"}", "Checks by decision.", 2);
  metrics.AddCounter("scaigrid_checks_total{decision=\"denied\"}", "ignored help", 1);
  metrics.AddCounter("scaigrid_checks_total{decision=\"allowed\"}", "", 3);
  metrics.AddCounter("scaigrid_checks_total_extra", "Another family.", 1);
  metrics.SetCounter("scaigrid_audit_batches_total", "Kept elsewhere.", 40);
  metrics.SetCounter("scaigrid_audit_batches_total", "", 42);  // replaced, not added
  metrics.SetGauge("scaigrid_snapshot_version", "Current snapshot.", 7);
  metrics.SetGauge("scaigrid_snapshot_version", "", 8);
  metrics.SetGauge("scaigrid_checks_total", "wrong type: ignored", 1);
  metrics.SetGauge("9bad name", "malformed: ignored", 1);
  metrics.SetGauge("scaigrid_http_requests_total", "reserved: ignored", 1);
  const std::string text = metrics.RenderPrometheus();
  ParseExposition(text);
  EXPECT_THAT(text, HasSubstr("# HELP scaigrid_checks_total Checks by decision.\n"
                              "# TYPE scaigrid_checks_total counter\n"
                              "scaigrid_checks_total{decision=\"allowed\"} 5\n"
                              "scaigrid_checks_total{decision=\"denied\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("# TYPE scaigrid_audit_batches_total counter\n"
                              "scaigrid_audit_batches_total 42\n"));
  EXPECT_THAT(text, HasSubstr("# TYPE scaigrid_snapshot_version gauge\n"
                              "scaigrid_snapshot_version 8\n"));
  EXPECT_THAT(text, Not(HasSubstr("ignored")));
  EXPECT_THAT(text, Not(HasSubstr("9bad")));
}

TEST(MetricsTest, EscapesRouteLabelValues) {
  Metrics metrics;
  metrics.RecordRequest("/a\"b\\c\nd", "GET", 200, microseconds(1));
  const std::string text = metrics.RenderPrometheus();
  ParseExposition(text);
  EXPECT_THAT(text, HasSubstr("route=\"/a\\\"b\\\\c\\nd\""));
}

TEST(MetricsTest, ConcurrentRecordsAreAllCounted) {
  Metrics metrics;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&metrics, t] {
      for (int i = 0; i < 1000; ++i) {
        metrics.RecordRequest(i % 2 == 0 ? "/even" : "/odd", "GET", 200, microseconds(t));
        if (i % 100 == 0) (void)metrics.RenderPrometheus();
      }
    });
  }
  for (auto& t : threads) t.join();
  const std::string text = metrics.RenderPrometheus();
  EXPECT_THAT(
      text,
      HasSubstr(
          "scaigrid_http_requests_total{route=\"/even\",method=\"GET\",status=\"200\"} 2000\n"));
  EXPECT_THAT(text,
              HasSubstr("scaigrid_http_request_duration_seconds_count{route=\"/odd\"} 2000\n"));
}

}  // namespace
}  // namespace scaigrid::iam::http
