// Decision-engine benchmarks at two sizes (see bench/RESULTS.md for figures and commands).
//
//   engine_bench --size=small   100 tenants,     1,000 users,        ~10,000 bindings
//   engine_bench --size=large   100,000 tenants, 1,000,000 users, 10,000,000 bindings
//
// The world: the shipped manifests; partners of 100 tenants; 2 projects per tenant;
// 10 users and 2 groups (5 members each) per tenant; 3 custom roles per tenant (with
// wildcards) plus one platform-wide custom role bound 100,000 times (at large); every user
// has 9 bindings and every group 5, some of them time-bound.
#include <benchmark/benchmark.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <random>
#include <string>

#include "scaigrid/iam/engine.h"
#include "scaigrid/iam/mutation.h"

namespace scaigrid::iam {
namespace {

struct Size {
  int tenants;
  int users_per_tenant;
};
Size g_size{100, 10};

struct World {
  std::unique_ptr<Engine> engine;
  double build_seconds = 0;
  long bindings = 0;
  long rss_mb = 0;
  long peak_rss_mb = 0;
  int tenants = 0;
  int users = 0;
};

long ReadStatusKb(const char* field) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(field, 0) == 0) return std::stol(line.substr(std::strlen(field)));
  return 0;
}

void Must(Status s) {
  if (!s.ok()) {
    std::fprintf(stderr, "bench world: %s\n", s.ToString().c_str());
    std::abort();
  }
}

std::string T(int t) { return "tenant:t" + std::to_string(t); }
std::string P(int t, int j) { return "project:p" + std::to_string(t) + "_" + std::to_string(j); }
std::string U(int u) { return "user:u" + std::to_string(u); }
std::string G(int t, int j) { return "group:g" + std::to_string(t) + "_" + std::to_string(j); }
std::string CR(int t, int j) { return "cr" + std::to_string(t) + "_" + std::to_string(j); }

World& GetWorld() {
  static World* world = [] {
    auto* w = new World();
    auto manifests = LoadManifestDir(std::string(SCAIGRID_SOURCE_DIR) + "/manifests");
    if (!manifests) Must(manifests.error());
    auto registry = Registry::Build(std::move(*manifests));
    if (!registry) Must(registry.error());
    auto start = std::chrono::steady_clock::now();
    Mutation m(*Snapshot::Empty(*registry));
    const int tenants = g_size.tenants;
    const int upt = g_size.users_per_tenant;
    w->tenants = tenants;
    w->users = tenants * upt;
    Must(m.PutCustomRole({"cr_shared", "Shared operators", "", "platform", {"scaibunker:create", "scaibunker:read", "scaiskills:view"}}));
    BindingId id = 1;
    long shared_bound = 0;
    const long shared_target = std::min<long>(100000, w->users / 10);
    for (int t = 0; t < tenants; ++t) {
      std::string partner = "partner:p" + std::to_string(t / 100);
      if (t % 100 == 0) Must(m.AddScope(partner, "platform"));
      Must(m.AddScope(T(t), partner));
      Must(m.AddScope(P(t, 0), T(t)));
      Must(m.AddScope(P(t, 1), T(t)));
      Must(m.PutCustomRole({CR(t, 0), "Transcription users", "", T(t), {"scaiecho:transcribe", "scaiecho:diarize"}}));
      Must(m.PutCustomRole({CR(t, 1), "Bot maintainers", "", T(t), {"scaibot:*"}}));
      Must(m.PutCustomRole({CR(t, 2), "Bot operators", "", T(t),
                            {"scaibunker:create", "scaibunker:execute", "scaibunker:files", "scaibunker:shell", "scaibunker:network:registry"}}));
      for (int j = 0; j < upt; ++j) {
        int u = t * upt + j;
        std::string user = U(u);
        Must(m.AddBinding({id++, user, "tenant_user", T(t)}));
        Must(m.AddBinding({id++, user, CR(t, 0), T(t)}));
        Must(m.AddBinding({id++, user, CR(t, 1), T(t), kTimeMin, 4102444800 /* 2100-01-01 */}));
        Must(m.AddBinding({id++, user, CR(t, 2), P(t, 0)}));
        Must(m.AddBinding({id++, user, "tiers.member", P(t, 0)}));
        Must(m.AddBinding({id++, user, "tiers.admin", P(t, 1)}));
        Must(m.AddBinding({id++, user, "tenant_viewer", T(t), 0, 4102444800}));
        Must(m.AddBinding({id++, user, CR(t, 0), P(t, 1)}));
        if (shared_bound < shared_target && j == 0) {
          Must(m.AddBinding({id++, user, "cr_shared", T(t)}));
          ++shared_bound;
        } else {
          Must(m.AddBinding({id++, user, CR(t, 2), P(t, 1)}));
        }
      }
      for (int g = 0; g < 2; ++g) {
        std::string group = G(t, g);
        for (int k = 0; k < 5; ++k) Must(m.AddMember(group, U(t * upt + (g * 5 + k) % upt)));
        Must(m.AddBinding({id++, group, CR(t, 1), T(t)}));
        Must(m.AddBinding({id++, group, CR(t, 0), P(t, 0)}));
        Must(m.AddBinding({id++, group, CR(t, 2), P(t, 1)}));
        Must(m.AddBinding({id++, group, "tiers.owner", P(t, g)}));
        Must(m.AddBinding({id++, group, "tenant_viewer", T(t)}));
      }
    }
    Must(m.AddBinding({id++, "user:root", "super_admin", "platform"}));
    w->engine = std::make_unique<Engine>(m.Finish());
    w->build_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    w->bindings = static_cast<long>(id - 1);
    w->rss_mb = ReadStatusKb("VmRSS:") / 1024;
    w->peak_rss_mb = ReadStatusKb("VmHWM:") / 1024;
    return w;
  }();
  return *world;
}

// Pre-resolved queries: `allowed` asks a key the user holds at its project, `denied` one
// nobody below the platform holds (so every grant is scanned).
std::vector<CheckRequest> MakeQueries(bool allowed, size_t n, bool spread) {
  World& w = GetWorld();
  auto s = w.engine->snapshot();
  std::mt19937 rng(42);
  std::uniform_int_distribution<int> pick(0, spread ? w.users - 1 : std::min(w.users, 1024) - 1);
  KeyId key = *s->FindKey(allowed ? "scaibunker:execute" : "scaiskills:grant");
  std::vector<CheckRequest> out;
  for (size_t i = 0; i < n; ++i) {
    int u = pick(rng);
    int t = u / g_size.users_per_tenant;
    out.push_back({*s->FindPrincipal(U(u)), *s->FindScope(P(t, 0)), key});
  }
  return out;
}

void BM_WorldInfo(benchmark::State& state) {
  World& w = GetWorld();
  for (auto _ : state) benchmark::DoNotOptimize(w.engine->revision());
  state.counters["tenants"] = w.tenants;
  state.counters["users"] = w.users;
  state.counters["bindings"] = static_cast<double>(w.bindings);
  state.counters["build_s"] = w.build_seconds;
  state.counters["rss_mb"] = static_cast<double>(w.rss_mb);
  state.counters["peak_rss_mb"] = static_cast<double>(w.peak_rss_mb);
}
BENCHMARK(BM_WorldInfo)->Iterations(1);

// Check with handles, over 1,024 hot queries (warm caches).
void BM_CheckHandles(benchmark::State& state, bool allowed, bool spread) {
  static std::vector<CheckRequest> queries[2][2];
  auto& qs = queries[allowed][spread];
  if (state.thread_index() == 0 && qs.empty()) qs = MakeQueries(allowed, spread ? 1 << 20 : 1024, spread);
  Engine::Reader reader(*GetWorld().engine);
  size_t i = static_cast<size_t>(state.thread_index()) * 7919;
  bool expected = allowed;
  for (auto _ : state) {
    const Snapshot& s = reader.Get();
    Decision d = s.Check(qs[i++ & (qs.size() - 1)], 1700000000);
    if (d.allowed != expected) state.SkipWithError("unexpected decision");
    benchmark::DoNotOptimize(d);
  }
}
BENCHMARK_CAPTURE(BM_CheckHandles, allowed_warm, true, false)->Threads(1)->Threads(2);
BENCHMARK_CAPTURE(BM_CheckHandles, denied_warm, false, false)->Threads(1)->Threads(2);
BENCHMARK_CAPTURE(BM_CheckHandles, allowed_cold_random_user, true, true);

// Check from strings: subject, scope and key resolved on every call.
void BM_CheckStrings(benchmark::State& state, bool allowed) {
  World& w = GetWorld();
  std::vector<std::array<std::string, 3>> qs;
  std::mt19937 rng(7);
  std::uniform_int_distribution<int> pick(0, std::min(w.users, 1024) - 1);
  for (int i = 0; i < 1024; ++i) {
    int u = pick(rng);
    qs.push_back({U(u), P(u / g_size.users_per_tenant, 0), allowed ? "scaibunker:execute" : "scaiskills:grant"});
  }
  Engine::Reader reader(*w.engine);
  size_t i = 0;
  for (auto _ : state) {
    const auto& q = qs[i++ & 1023];
    auto d = reader.Get().Check(CheckInput{q[0], q[1], q[2]}, 1700000000);
    if (!d || d->allowed != allowed) state.SkipWithError("unexpected decision");
    benchmark::DoNotOptimize(d);
  }
}
BENCHMARK_CAPTURE(BM_CheckStrings, allowed_warm, true);
BENCHMARK_CAPTURE(BM_CheckStrings, denied_warm, false);

void BM_Explain(benchmark::State& state) {
  auto qs = MakeQueries(true, 1024, false);
  auto s = GetWorld().engine->snapshot();
  size_t i = 0;
  for (auto _ : state) {
    const CheckRequest& q = qs[i++ & 1023];
    Explanation e = s->Explain(q, s->Check(q, 1700000000), 1700000000);
    benchmark::DoNotOptimize(e);
  }
}
BENCHMARK(BM_Explain);

void BM_EffectivePermissions(benchmark::State& state) {
  auto qs = MakeQueries(true, 1024, false);
  auto s = GetWorld().engine->snapshot();
  size_t i = 0, keys = 0;
  for (auto _ : state) {
    const CheckRequest& q = qs[i++ & 1023];
    auto perms = s->EffectivePermissions(q.subject, q.scope, 1700000000);
    keys = perms.size();
    benchmark::DoNotOptimize(perms);
  }
  state.counters["keys"] = static_cast<double>(keys);
}
BENCHMARK(BM_EffectivePermissions)->Unit(benchmark::kMicrosecond);

void BM_WhoCan(benchmark::State& state) {
  World& w = GetWorld();
  auto s = w.engine->snapshot();
  KeyId key = *s->FindKey("scaibot:bots:read");
  std::mt19937 rng(3);
  std::uniform_int_distribution<int> pick(0, w.tenants - 1);
  size_t found = 0;
  for (auto _ : state) {
    ScopeId scope = *s->FindScope(P(pick(rng), 1));
    WhoCanPage page = s->WhoCan(key, scope, 1700000000, "", 1000);
    found = page.entries.size();
    benchmark::DoNotOptimize(page);
  }
  state.counters["principals"] = static_cast<double>(found);
}
BENCHMARK(BM_WhoCan)->Unit(benchmark::kMillisecond);

// One binding added (even iterations) or removed (odd) and published.
void BM_BindingChange(benchmark::State& state) {
  World& w = GetWorld();
  std::mt19937 rng(11);
  std::uniform_int_distribution<int> pick(0, w.users - 1);
  static BindingId id = 1'000'000'000;  // static: the function runs several times
  static std::string last_user;
  for (auto _ : state) {
    if (last_user.empty()) {
      int u = pick(rng);
      last_user = U(u);
      auto r = w.engine->Apply([&](Mutation& m) {
        return m.AddBinding({id, last_user, CR(u / g_size.users_per_tenant, 2), T(u / g_size.users_per_tenant)});
      });
      if (!r) state.SkipWithError(r.error().ToString().c_str());
    } else {
      auto r = w.engine->Apply([&](Mutation& m) { return m.RemoveBinding(last_user, id); });
      if (!r) state.SkipWithError(r.error().ToString().c_str());
      last_user.clear();
      ++id;
    }
  }
}
BENCHMARK(BM_BindingChange)->Unit(benchmark::kMicrosecond);

// Editing the platform custom role that 100,000 bindings use (at large).
void BM_CustomRoleEdit(benchmark::State& state) {
  World& w = GetWorld();
  bool flip = false;
  for (auto _ : state) {
    flip = !flip;
    std::vector<std::string> perms = {"scaibunker:create", "scaibunker:read", flip ? "scaiskills:publish" : "scaiskills:view"};
    auto r = w.engine->Apply([&](Mutation& m) { return m.PutCustomRole({"cr_shared", "Shared operators", "", "platform", perms}); });
    if (!r) state.SkipWithError(r.error().ToString().c_str());
  }
  auto s = w.engine->snapshot();
  state.counters["bound"] = static_cast<double>(s->role(*s->FindRole("cr_shared")).binding_count);
}
BENCHMARK(BM_CustomRoleEdit)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace scaigrid::iam

int main(int argc, char** argv) {
  // Our own flag first: --size=small|large.
  std::vector<char*> rest;
  for (int i = 0; i < argc; ++i) {
    if (std::strcmp(argv[i], "--size=large") == 0) {
      scaigrid::iam::g_size = {100000, 10};
    } else if (std::strcmp(argv[i], "--size=small") == 0) {
      scaigrid::iam::g_size = {100, 10};
    } else {
      rest.push_back(argv[i]);
    }
  }
  int n = static_cast<int>(rest.size());
  benchmark::Initialize(&n, rest.data());
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
