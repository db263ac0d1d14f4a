// Audit append rate on a fresh SqliteStore (synchronous=FULL, every index and trigger): how
// many events per second the log takes (docs/storage.md, "Audit events"; figures and commands
// in bench/RESULTS.md).
//
//   audit_append_bench [google benchmark flags]
//   SCAIGRID_BENCH_DIR=/path audit_append_bench   (default: a new directory under /tmp)
//   SCAIGRID_BENCH_BACKEND=postgres SCAIGRID_PG_URL=postgresql://… audit_append_bench
//       the same on PostgresStore: each run on a new database of that server (bench/nodes_bench.sh
//       starts a throwaway cluster and runs this)
//
// Each run appends kRunEvents events of bench/audit_bench_events.h to a new store file:
// - BM_StoreAppend/B: SqliteStore::AppendAudit in batches of B events (one transaction and
//   one fsync each), the events made beforehand.
// - BM_WriterAppend/T: the server's path: T threads Submit events to an AuditWriter, which
//   seals them into the hash chain and commits them in batches (group commit); the run ends
//   when the last event is durable.
// The rate at 10,000,000 events is in audit_query_bench (BM_AppendBatch).
#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "audit/writer.h"
#include "audit_bench_events.h"
#include "store/postgres/postgres_store.h"
#include "store/sqlite/sqlite_store.h"
#include "postgres_test_db.h"

namespace scaigrid::iam::store {
namespace {

using namespace bench;

constexpr std::uint64_t kRunEvents = 500'000;

void Die(const std::string& what, const Status& status) {
  std::fprintf(stderr, "audit_append_bench: %s: %s\n", what.c_str(), status.ToString().c_str());
  std::exit(1);
}

std::string g_dir;

bool UsePostgres() {
  const char* backend = std::getenv("SCAIGRID_BENCH_BACKEND");
  return backend != nullptr && std::string_view(backend) == "postgres";
}

// A new, empty store for one run: a file, or a database on the PostgreSQL server.
std::unique_ptr<Store> FreshStore() {
  static int n = 0;
  ++n;
  if (UsePostgres()) {
    Result<std::string> url = FreshPostgresDatabase("scaigrid_bench_append_" + std::to_string(n));
    if (!url) Die("creating a database", url.error());
    Result<std::unique_ptr<PostgresStore>> store = PostgresStore::Open(*url);
    if (!store) Die("opening " + *url, store.error());
    return *std::move(store);
  }
  const std::string path = g_dir + "/append-" + std::to_string(n) + ".db";
  for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path + suffix);
  Result<std::unique_ptr<SqliteStore>> store = SqliteStore::Open(path);
  if (!store) Die("opening " + path, store.error());
  return *std::move(store);
}

void RemoveStores() {
  for (const auto& entry : std::filesystem::directory_iterator(g_dir)) {
    if (entry.path().filename().string().starts_with("append-")) std::filesystem::remove(entry);
  }
}

void BM_StoreAppend(benchmark::State& state) {
  const auto batch_size = static_cast<std::uint64_t>(state.range(0));
  const std::vector<AuditEvent> events = MakeEvents(1, kRunEvents);
  for (auto _ : state) {
    state.PauseTiming();
    std::unique_ptr<Store> store = FreshStore();
    std::vector<std::vector<AuditEvent>> batches;
    for (std::uint64_t i = 0; i < kRunEvents; i += batch_size) {
      batches.emplace_back(events.begin() + static_cast<std::ptrdiff_t>(i),
                           events.begin() + static_cast<std::ptrdiff_t>(std::min(i + batch_size, kRunEvents)));
    }
    state.ResumeTiming();
    for (const auto& batch : batches) {
      if (Status s = store->AppendAudit(batch); !s.ok()) Die("appending", s);
    }
    state.PauseTiming();
    store.reset();
    RemoveStores();
    state.ResumeTiming();
  }
  state.counters["events_per_s"] = benchmark::Counter(
      static_cast<double>(kRunEvents) * static_cast<double>(state.iterations()),
      benchmark::Counter::kIsRate);
}
BENCHMARK(BM_StoreAppend)->Arg(16)->Arg(256)->Arg(4096)->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(1);

void BM_WriterAppend(benchmark::State& state) {
  const int threads = static_cast<int>(state.range(0));
  const std::vector<AuditEvent> events = MakeEvents(1, kRunEvents);
  for (auto _ : state) {
    state.PauseTiming();
    std::unique_ptr<Store> store = FreshStore();
    audit::AuditWriter writer(*store, {});
    if (Status s = writer.Start(); !s.ok()) Die("starting the writer", s);
    state.ResumeTiming();
    std::vector<std::thread> submitters;
    for (int t = 0; t < threads; ++t) {
      submitters.emplace_back([&, t] {
        for (std::uint64_t i = static_cast<std::uint64_t>(t); i < kRunEvents; i += static_cast<std::uint64_t>(threads)) {
          if (auto ticket = writer.Submit(events[i]); !ticket) Die("submitting", ticket.error());
        }
      });
    }
    for (auto& s : submitters) s.join();
    writer.Stop();  // returns once every accepted event is committed
    state.PauseTiming();
    if (writer.counters().committed != kRunEvents) Die("counting", Status::Internal("events missing"));
    store.reset();
    RemoveStores();
    state.ResumeTiming();
  }
  state.counters["events_per_s"] = benchmark::Counter(
      static_cast<double>(kRunEvents) * static_cast<double>(state.iterations()),
      benchmark::Counter::kIsRate);
}
BENCHMARK(BM_WriterAppend)->Arg(1)->Arg(4)->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(1);

}  // namespace
}  // namespace scaigrid::iam::store

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  using scaigrid::iam::store::g_dir;
  const char* env = std::getenv("SCAIGRID_BENCH_DIR");
  if (env != nullptr && *env != '\0') {
    g_dir = env;
    std::filesystem::create_directories(g_dir);
  } else {
    char tmpl[] = "/tmp/scaigrid-append-bench-XXXXXX";
    if (mkdtemp(tmpl) == nullptr) return 1;
    g_dir = tmpl;
  }
  benchmark::AddCustomContext("audit_events_per_run", std::to_string(scaigrid::iam::store::kRunEvents));
  benchmark::AddCustomContext("backend", scaigrid::iam::store::UsePostgres() ? "postgres" : "sqlite");
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  if (env == nullptr || *env == '\0') std::filesystem::remove_all(g_dir);
  return 0;
}
