#include "http/metrics.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <utility>
#include <vector>

namespace scaigrid::iam::http {
namespace {

constexpr std::array<std::int64_t, 14> kBucketBoundsNs = {
    100'000,    250'000,    500'000,     1'000'000,   2'500'000,   5'000'000,     10'000'000,
    25'000'000, 50'000'000, 100'000'000, 250'000'000, 500'000'000, 1'000'000'000, 2'500'000'000};
constexpr std::array<std::string_view, 14> kBucketLabels = {
    "0.0001", "0.00025", "0.0005", "0.001", "0.0025", "0.005", "0.01",
    "0.025",  "0.05",    "0.1",    "0.25",  "0.5",    "1",     "2.5"};

constexpr std::array<std::string_view, 8> kMethods = {"DELETE", "GET",  "HEAD", "OPTIONS",
                                                      "PATCH",  "POST", "PUT",  "OTHER"};

std::size_t MethodIndex(std::string_view method) {
  for (std::size_t i = 0; i + 1 < kMethods.size(); ++i) {
    if (kMethods[i] == method) return i;
  }
  return kMethods.size() - 1;
}

// Label values: backslash, double quote and newline are escaped.
std::string EscapeLabel(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

// HELP text: backslash and newline are escaped.
std::string EscapeHelp(std::string_view v) {
  std::string out;
  for (char c : v) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string FormatValue(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[64];
  const auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), v);  // shortest round-trip
  return ec == std::errc() ? std::string(buf, end) : "NaN";
}

bool IsNameStart(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
}
bool IsNameChar(char c) { return IsNameStart(c) || (c >= '0' && c <= '9'); }

// Returns the base name of `name` ("x{a=\"b\"}" -> "x"), or empty when malformed.
std::string_view BaseName(std::string_view name) {
  const std::size_t brace = name.find('{');
  const std::string_view base = name.substr(0, brace);
  if (base.empty() || !IsNameStart(base[0])) return {};
  if (!std::all_of(base.begin(), base.end(), IsNameChar)) return {};
  if (brace != std::string_view::npos && (name.back() != '}' || name.find('\n') != name.npos)) {
    return {};
  }
  return base;
}

}  // namespace

struct Metrics::RouteStats {
  std::array<std::atomic<std::uint64_t>, kBucketBoundsNs.size() + 1> buckets{};  // last: +Inf
  std::atomic<std::uint64_t> sum_ns{0};
  std::mutex mu;
  std::map<std::pair<std::size_t, int>, std::uint64_t> requests;  // (method index, status)
};

Metrics::Metrics() = default;
Metrics::~Metrics() = default;

Metrics::RouteStats& Metrics::StatsFor(std::string_view route) {
  {
    std::shared_lock lock(routes_mu_);
    auto it = routes_.find(route);
    if (it != routes_.end()) return *it->second;
  }
  std::unique_lock lock(routes_mu_);
  if (routes_.size() >= kMaxRoutes && !routes_.contains(route)) route = "other";
  auto [it, inserted] = routes_.try_emplace(std::string(route));
  if (inserted) it->second = std::make_unique<RouteStats>();
  return *it->second;
}

void Metrics::RecordRequest(std::string_view route, std::string_view method, int status,
                            std::chrono::nanoseconds duration) {
  RouteStats& stats = StatsFor(route);
  const std::int64_t ns = std::max<std::int64_t>(0, duration.count());
  const auto bucket = static_cast<std::size_t>(
      std::lower_bound(kBucketBoundsNs.begin(), kBucketBoundsNs.end(), ns) -
      kBucketBoundsNs.begin());
  stats.buckets[bucket].fetch_add(1, std::memory_order_relaxed);
  stats.sum_ns.fetch_add(static_cast<std::uint64_t>(ns), std::memory_order_relaxed);
  std::lock_guard lock(stats.mu);
  ++stats.requests[{MethodIndex(method), status}];
}

void Metrics::SetGauge(std::string name, std::string help, double value) {
  Update(std::move(name), std::move(help), /*counter=*/false, value, /*add=*/false);
}

void Metrics::AddCounter(std::string name, std::string help, double delta) {
  Update(std::move(name), std::move(help), /*counter=*/true, delta, /*add=*/true);
}

void Metrics::SetCounter(std::string name, std::string help, double value) {
  Update(std::move(name), std::move(help), /*counter=*/true, value, /*add=*/false);
}

void Metrics::Update(std::string name, std::string help, bool counter, double value, bool add) {
  const std::string_view base = BaseName(name);
  if (base.empty() || base.starts_with("scaigrid_http_")) return;
  std::lock_guard lock(families_mu_);
  auto [it, inserted] = families_.try_emplace(std::string(base));
  Family& family = it->second;
  if (inserted) {
    family.counter = counter;
    family.help = std::move(help);
  } else if (family.counter != counter) {
    return;
  } else if (family.help.empty()) {
    family.help = std::move(help);
  }
  double& sample = family.samples[std::move(name)];
  sample = add ? sample + value : value;
}

std::string Metrics::RenderPrometheus() const {
  struct RouteSnapshot {
    std::string route;
    std::array<std::uint64_t, kBucketBoundsNs.size() + 1> buckets{};
    std::uint64_t sum_ns = 0;
    std::map<std::pair<std::size_t, int>, std::uint64_t> requests;
  };
  std::vector<RouteSnapshot> routes;
  {
    std::shared_lock lock(routes_mu_);
    routes.reserve(routes_.size());
    for (const auto& [route, stats] : routes_) {
      RouteSnapshot& snap = routes.emplace_back();
      snap.route = route;
      for (std::size_t i = 0; i < snap.buckets.size(); ++i) {
        snap.buckets[i] = stats->buckets[i].load(std::memory_order_relaxed);
      }
      snap.sum_ns = stats->sum_ns.load(std::memory_order_relaxed);
      std::lock_guard stats_lock(stats->mu);
      snap.requests = stats->requests;
    }
  }
  std::sort(routes.begin(), routes.end(),
            [](const RouteSnapshot& a, const RouteSnapshot& b) { return a.route < b.route; });

  std::string out;
  out +=
      "# HELP scaigrid_http_request_duration_seconds Time from request read to response "
      "written, by route template.\n"
      "# TYPE scaigrid_http_request_duration_seconds histogram\n";
  for (const RouteSnapshot& r : routes) {
    const std::string route = "{route=\"" + EscapeLabel(r.route) + "\"";
    std::uint64_t cumulative = 0;
    for (std::size_t i = 0; i <= kBucketLabels.size(); ++i) {
      cumulative += r.buckets[i];
      out += "scaigrid_http_request_duration_seconds_bucket";
      out += route;
      out += ",le=\"";
      out += i < kBucketLabels.size() ? kBucketLabels[i] : std::string_view("+Inf");
      out += "\"} ";
      out += std::to_string(cumulative);
      out += '\n';
    }
    out += "scaigrid_http_request_duration_seconds_sum" + route + "} " +
           FormatValue(static_cast<double>(r.sum_ns) / 1e9) + "\n";
    out += "scaigrid_http_request_duration_seconds_count" + route + "} " +
           std::to_string(cumulative) + "\n";
  }
  out +=
      "# HELP scaigrid_http_requests_total HTTP requests answered, by route template, method "
      "and status.\n"
      "# TYPE scaigrid_http_requests_total counter\n";
  for (const RouteSnapshot& r : routes) {
    const std::string route = "{route=\"" + EscapeLabel(r.route) + "\"";
    for (const auto& [key, count] : r.requests) {
      out += "scaigrid_http_requests_total" + route + ",method=\"";
      out += kMethods[key.first];
      out += "\",status=\"" + std::to_string(key.second) + "\"} " + std::to_string(count) + "\n";
    }
  }

  std::lock_guard lock(families_mu_);
  for (const auto& [base, family] : families_) {
    out += "# HELP " + base + " " + EscapeHelp(family.help) + "\n";
    out += "# TYPE " + base + (family.counter ? " counter\n" : " gauge\n");
    for (const auto& [name, value] : family.samples) {
      out += name + " " + FormatValue(value) + "\n";
    }
  }
  return out;
}

}  // namespace scaigrid::iam::http
