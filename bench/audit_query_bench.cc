// Audit log benchmarks on a SqliteStore holding 10,000,000 events (see docs/storage.md,
// "Audit events", and bench/RESULTS.md for figures and commands).
//
//   audit_query_bench [google benchmark flags]
//   SCAIGRID_BENCH_DIR=/path audit_query_bench   (default /tmp/scaigrid-audit-bench)
//
// The store (SCAIGRID_BENCH_DIR/audit-10m.db) is built once and reused: events 1 … 10,000,000,
// over 8 modules and 1,000 tenants, times spread evenly over 30 days from 2026-04-01, appended
// through the real SqliteStore::AppendAudit in batches of 10,000 (one transaction each,
// synchronous=FULL, postings, index and triggers in place). A build that was interrupted
// resumes after the last stored event. The build's append rate (overall, and over the last
// million events) is kept in build.txt next to the file and reported by BM_BuildAppendRate
// (`cached` = 1: measured by an earlier run, possibly by an older binary). A store written by
// an older binary is migrated when opened: the time of SqliteStore::Open is printed and kept
// in the context as open_seconds.
//
// Then: the first page (limit 100) of module=X&since=<day 20>, ascending and descending; the
// first page of tenant=T&module=X; the first page of actor=U (a rare value: the slow end of
// a filtered query); and AppendAudit of 1,000-event batches after the last event (so the store
// grows by the appended events on every run). X, T and U rotate per iteration. Every query
// runs with the OS page cache warm (the file was just built or used).
#include <benchmark/benchmark.h>

#include <chrono>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "audit_bench_events.h"
#include "store/audit_types.h"
#include "store/sqlite/sqlite_store.h"

namespace scaigrid::iam::store {
namespace {

using namespace bench;

constexpr std::uint64_t kEvents = bench::kLogEvents;
constexpr std::uint64_t kBuildBatch = 10'000;
constexpr std::size_t kAppendBatch = 1'000;

void Die(const std::string& what, const Status& status) {
  std::fprintf(stderr, "audit_query_bench: %s: %s\n", what.c_str(), status.ToString().c_str());
  std::exit(1);
}

struct BuildStats {
  std::uint64_t events = 0;         // appended (and timed) by the build, over every run that built
  double seconds = 0;               // in AppendAudit, without making the events
  double last_million_seconds = 0;  // the last 1,000,000 events (9M to 10M), 0 if unknown
  bool cached = false;              // this run found the store complete

  // build.txt: "events seconds last_million_seconds", rewritten after every batch, so an
  // interrupted build resumes with its figures.
  void Read(const std::string& path) {
    std::ifstream in(path);
    in >> events >> seconds >> last_million_seconds;
    if (!in) *this = BuildStats{};
  }
  void Write(const std::string& path) const {
    std::ofstream(path) << events << " " << seconds << " " << last_million_seconds << "\n";
  }
};

std::string g_dir;
std::unique_ptr<SqliteStore> g_store;
BuildStats g_build;
double g_open_seconds = 0;  // SqliteStore::Open, migrations included

std::uint64_t LastSeq() {
  Result<std::optional<AuditEvent>> last = g_store->LastAuditEvent();
  if (!last) Die("reading the last event", last.error());
  return *last ? (*last)->seq : 0;
}

// Opens the cached store, building (or finishing) it first when it holds fewer than kEvents.
void EnsureStore() {
  const char* env = std::getenv("SCAIGRID_BENCH_DIR");
  g_dir = env != nullptr && *env != '\0' ? env : "/tmp/scaigrid-audit-bench";
  std::filesystem::create_directories(g_dir);
  const std::string path = g_dir + "/audit-10m.db";
  const std::string stats_path = g_dir + "/build.txt";
  // Open applies pending migrations: on a store built by an older binary this is the
  // migration's time (reported as open_seconds).
  const auto open_start = std::chrono::steady_clock::now();
  Result<std::unique_ptr<SqliteStore>> store = SqliteStore::Open(path);
  if (!store) Die("opening " + path, store.error());
  g_store = *std::move(store);
  g_open_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - open_start).count();
  std::fprintf(stderr, "opened %s in %.1f s\n", path.c_str(), g_open_seconds);

  g_build.Read(stats_path);
  std::uint64_t next = LastSeq() + 1;
  if (next > kEvents) {
    g_build.cached = true;
    return;
  }
  if (next == 1) g_build = BuildStats{};
  std::fprintf(stderr, "building %s: events %" PRIu64 " to %" PRIu64 " (batches of %" PRIu64 ")\n",
               path.c_str(), next, kEvents, kBuildBatch);
  const auto start = std::chrono::steady_clock::now();
  std::vector<double> batch_seconds;  // this run's, for the last million
  while (next <= kEvents) {
    const std::uint64_t count = std::min(kBuildBatch, kEvents - next + 1);
    const std::vector<AuditEvent> batch = MakeEvents(next, count);
    const auto before = std::chrono::steady_clock::now();
    const Status appended = g_store->AppendAudit(batch);
    const double took =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - before).count();
    if (!appended.ok()) Die("appending events from " + std::to_string(next), appended);
    batch_seconds.push_back(took);
    g_build.events += count;
    g_build.seconds += took;
    next += count;
    g_build.Write(stats_path);
    if ((next - 1) % 1'000'000 == 0) {
      const double s =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      double million = 0;
      const std::size_t batches = 1'000'000 / kBuildBatch;
      for (std::size_t i = batch_seconds.size() >= batches ? batch_seconds.size() - batches : 0;
           i < batch_seconds.size(); ++i) {
        million += batch_seconds[i];
      }
      std::fprintf(stderr,
                   "  %" PRIu64
                   " events, %.0f s this run, %.0f events/s appended overall, "
                   "%.0f events/s over the last million\n",
                   next - 1, s, static_cast<double>(g_build.events) / g_build.seconds,
                   batch_seconds.size() >= batches ? 1e6 / million : 0.0);
      if (next - 1 == kEvents && batch_seconds.size() >= batches) {
        g_build.last_million_seconds = million;
        g_build.Write(stats_path);
      }
    }
  }
}

// ---- Benchmarks

// The initial fill: events/s through AppendAudit (10,000 per call), measured when the store
// was built (possibly by an earlier run: see `cached`).
void BM_BuildAppendRate(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(g_build.events);
  state.counters["events"] = static_cast<double>(g_build.events);
  state.counters["seconds"] = g_build.seconds;
  state.counters["events_per_s"] =
      g_build.seconds > 0 ? static_cast<double>(g_build.events) / g_build.seconds : 0;
  state.counters["last_1M_events_per_s"] =
      g_build.last_million_seconds > 0 ? 1e6 / g_build.last_million_seconds : 0;
  state.counters["cached"] = g_build.cached ? 1 : 0;
}
BENCHMARK(BM_BuildAppendRate)->Iterations(1);

// Runs `query` once per iteration, after `vary(query, i)` (i = 0, 1, 2, …) picks its values.
template <typename Vary>
void RunQuery(benchmark::State& state, AuditQuery query, const Vary& vary) {
  std::uint64_t i = 0;
  std::size_t rows = 0;
  for (auto _ : state) {
    vary(query, i);
    ++i;
    Result<AuditPage> page = g_store->QueryAudit(query);
    if (!page) Die("query", page.error());
    if (page->events.size() != query.limit || !page->more) {
      state.SkipWithError("the page is not full");
      return;
    }
    rows += page->events.size();
    benchmark::DoNotOptimize(page->events.data());
  }
  state.counters["rows_per_page"] = static_cast<double>(rows) / static_cast<double>(i);
}

void RotateModule(AuditQuery& query, std::uint64_t i) { query.module = kModuleNames[i % kModules]; }

// GET /v1/audit/events?module=X&since=<day 20> (limit 100), the first page.
void BM_ModuleSinceFirstPage(benchmark::State& state) {
  RunQuery(state, {.since_us = kStartUs + 20 * kDayUs, .limit = 100}, RotateModule);
}
BENCHMARK(BM_ModuleSinceFirstPage)->Unit(benchmark::kMillisecond)->UseRealTime();

// The same, newest first.
void BM_ModuleSinceFirstPageDesc(benchmark::State& state) {
  RunQuery(state, {.since_us = kStartUs + 20 * kDayUs, .descending = true, .limit = 100},
           RotateModule);
}
BENCHMARK(BM_ModuleSinceFirstPageDesc)->Unit(benchmark::kMillisecond)->UseRealTime();

// A tenant admin's view: tenant=T&module=X (limit 100), the first page.
void BM_TenantModuleFirstPage(benchmark::State& state) {
  RunQuery(state, {.limit = 100}, [](AuditQuery& query, std::uint64_t i) {
    RotateModule(query, i);
    query.tenant = Tenant((i * 37) % kTenants);
  });
}
BENCHMARK(BM_TenantModuleFirstPage)->Unit(benchmark::kMillisecond)->UseRealTime();

// One user's events (actor=user:uN, limit 100), the first page: a rare value (about 160 events
// among 10M, a few per hundred segments), so the page takes probes of about half the
// segments of the log. The slow end of a filtered query.
void BM_ActorFirstPage(benchmark::State& state) {
  RunQuery(state, {.limit = 100}, [](AuditQuery& query, std::uint64_t i) {
    query.actor = "user:u" + std::to_string((i * 7919) % 50'000);
  });
}
BENCHMARK(BM_ActorFirstPage)->Unit(benchmark::kMillisecond)->UseRealTime();

// AppendAudit of 1,000 events after the last one (one transaction, one fsync).
void BM_AppendBatch1000(benchmark::State& state) {
  std::uint64_t appended = 0;
  for (auto _ : state) {
    state.PauseTiming();
    const std::vector<AuditEvent> batch = MakeEvents(LastSeq() + 1, kAppendBatch);
    state.ResumeTiming();
    const Status status = g_store->AppendAudit(batch);
    if (!status.ok()) Die("appending a batch", status);
    appended += batch.size();
  }
  state.counters["events_per_s"] =
      benchmark::Counter(static_cast<double>(appended), benchmark::Counter::kIsRate);
}
// At least 3 s per repetition: a batch takes a large fraction of a second at 10M events.
BENCHMARK(BM_AppendBatch1000)->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(3);

}  // namespace
}  // namespace scaigrid::iam::store

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  using namespace scaigrid::iam::store;
  EnsureStore();
  benchmark::AddCustomContext("audit_store", g_dir + "/audit-10m.db");
  benchmark::AddCustomContext("audit_events", std::to_string(LastSeq()));
  benchmark::AddCustomContext("open_seconds", std::to_string(g_open_seconds));
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
