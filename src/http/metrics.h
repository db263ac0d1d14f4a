// Metrics: the process's Prometheus metrics. HttpServer records one sample per answered
// request; the service adds its own gauges and counters. RenderPrometheus() produces the text
// exposition format 0.0.4 served at /metrics.
//
// Built-in families:
//   scaigrid_http_requests_total{route,method,status}          counter
//   scaigrid_http_request_duration_seconds{route,le}            histogram (_bucket/_sum/_count)
// Methods outside GET HEAD POST PUT PATCH DELETE OPTIONS are counted as "OTHER", and at most
// kMaxRoutes distinct routes are kept (later ones count under "other"), so clients cannot
// grow the label space.
//
// Thread-safety: all methods may be called concurrently. RecordRequest takes a shared lock
// for the route lookup (exclusive only the first time a route is seen) plus a short per-route
// lock; histogram updates are atomic.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace scaigrid::iam::http {

class Metrics {
 public:
  static constexpr std::size_t kMaxRoutes = 1024;

  Metrics();
  ~Metrics();
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  // Counts one answered request. `route` is the handler's route template ("unmatched" when
  // none matched); `duration` is from the request fully read to the response written.
  void RecordRequest(std::string_view route, std::string_view method, int status,
                     std::chrono::nanoseconds duration);

  // Sets gauge `name` to `value`. `name` may carry labels the way the exposition format
  // writes them, e.g. `scaigrid_snapshot_objects{kind="role"}`; samples are grouped under one
  // HELP/TYPE by the name before '{'. `help` is used when the family is first seen.
  // Ignored (a caller bug): a malformed name, a name starting with "scaigrid_http_", or a
  // family already used as a counter.
  void SetGauge(std::string name, std::string help, double value);

  // Adds `delta` (should be >= 0) to counter `name`, created at 0. Same naming rules as
  // SetGauge, e.g. `scaigrid_checks_total{decision="allowed"}`. Ignored: as for SetGauge,
  // with "counter" and "gauge" swapped.
  void AddCounter(std::string name, std::string help, double delta);

  // Sets counter `name` to `value`: for a monotonic count kept elsewhere (e.g. the audit
  // writer's), copied in when /metrics is rendered. Same rules as AddCounter.
  void SetCounter(std::string name, std::string help, double value);

  // Returns every family in Prometheus text format 0.0.4 (families sorted by name, each with
  // its # HELP and # TYPE lines; histogram buckets cumulative).
  std::string RenderPrometheus() const;

 private:
  struct RouteStats;  // defined in metrics.cc
  struct Family {
    std::string help;
    bool counter = false;
    std::map<std::string, double> samples;  // full name with labels -> value
  };
  struct StringHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };

  RouteStats& StatsFor(std::string_view route);
  void Update(std::string name, std::string help, bool counter, double value, bool add);

  mutable std::shared_mutex routes_mu_;
  std::unordered_map<std::string, std::unique_ptr<RouteStats>, StringHash, std::equal_to<>> routes_;
  mutable std::mutex families_mu_;
  std::map<std::string, Family> families_;  // base name -> family
};

}  // namespace scaigrid::iam::http
