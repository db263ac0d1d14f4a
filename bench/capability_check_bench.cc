// Checks with a capability token vs with an API key, in process: what one POST /v1/iam/check
// costs the service beyond HTTP — authenticating the bearer, then deciding (docs/capability-tokens.md;
// figures and commands in bench/RESULTS.md).
//
//   capability_check_bench [google benchmark flags]
//
// A fresh service on a SQLite store in a new temporary directory: tenant acme, user:alice
// holding scaibot:embed:issue and scaibot:chat there through a custom role, an API key of
// alice's restricted to tenant:acme, and a chat token alice minted for bot:b-42.
// - BM_Check/api_key: Authenticate(alice's API key) + Check {scaibot:chat on bot:b-42}.
// - BM_Check/capability_token: Authenticate(the token) + the same Check. The signature was
//   verified once (VerifiedTokenCache); each check still decides expiry, revocation of the
//   token and of its resource, and whether alice still holds both keys.
// - BM_VerifySignature: one Ed25519 verification of the token (what the cache saves).
// Nothing is audited (the keys are not `audit: always` and the checks do not ask).
#include <benchmark/benchmark.h>

#include <boost/json.hpp>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>

#include "auth/capability_token.h"
#include "auth/jwt.h"
#include "service/service.h"
#include "store/sqlite/sqlite_store.h"

namespace scaigrid::iam::service {
namespace {

namespace json = boost::json;

[[noreturn]] void Die(const std::string& what, const Status& s) {
  std::fprintf(stderr, "%s: %s\n", what.c_str(), s.message().c_str());
  std::exit(1);
}

template <typename T>
T Must(Result<T> r, const std::string& what) {
  if (!r) Die(what, r.error());
  return std::move(*r);
}

struct Fixture {
  std::filesystem::path dir;
  SystemClock clock;
  std::unique_ptr<IamService> service;
  std::string api_key, token, signing_public_key;

  Fixture() {
    dir = std::filesystem::temp_directory_path() / ("scaigrid-capbench-" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    auto store = Must(store::SqliteStore::Open((dir / "scaigrid.db").string()), "open store");
    service = Must(IamService::Open(std::move(store), ServiceOptions{SCAIGRID_SOURCE_DIR "/manifests"}, clock), "open service");
    const std::string admin_key = Must(service->Bootstrap("user:admin"), "bootstrap")["key"].as_string().c_str();
    const Caller admin = Must(service->Authenticate(admin_key), "admin");
    Must(service->CreateScope(admin, ScopeKind::kTenant, json::parse(R"({"id":"acme"})")), "tenant");
    auto role = Must(service->CreateCustomRole(admin, json::parse(R"({"name":"Embedders","scope":"tenant:acme",
        "module_permissions":["scaibot:embed:issue","scaibot:chat"]})")), "role");
    json::object binding{{"subject", "user:alice"}, {"role", role["id"]}, {"scope", "tenant:acme"}};
    Must(service->CreateBinding(admin, binding), "binding");
    api_key = Must(service->CreateApiKey(admin, json::parse(R"({"owner":"user:alice","name":"bench","scope":"tenant:acme"})")),
                   "api key")["key"].as_string().c_str();
    const Caller alice = Must(service->Authenticate(api_key), "alice");
    token = Must(service->MintCapabilityToken(alice, json::parse(R"({"capability":"scaibot:chat",
        "resource":"bot:b-42","visitor":"visitor:v-7","ttl_seconds":86400})")), "mint")["token"].as_string().c_str();
    signing_public_key = *auth::Base64UrlDecode(
        service->CapabilityKeys()["keys"].as_array()[0].as_object()["x"].as_string());
  }
  ~Fixture() {
    service.reset();
    std::filesystem::remove_all(dir);
  }
};

Fixture& TheFixture() {
  static Fixture f;
  return f;
}

const json::value kBody = json::parse(R"({"permission":"scaibot:chat","resource":{"id":"bot:b-42"}})");

void BM_Check(benchmark::State& state, bool capability) {
  Fixture& f = TheFixture();
  const std::string& bearer = capability ? f.token : f.api_key;
  for (auto _ : state) {
    auto caller = f.service->Authenticate(bearer);
    auto r = f.service->Check(*caller, kBody);
    if (!r || !(*r)["allowed"].as_bool()) {
      state.SkipWithError("the check was not allowed");
      break;
    }
    benchmark::DoNotOptimize(r);
  }
}
BENCHMARK_CAPTURE(BM_Check, api_key, false)->ThreadRange(1, 2)->UseRealTime();
BENCHMARK_CAPTURE(BM_Check, capability_token, true)->ThreadRange(1, 2)->UseRealTime();

void BM_VerifySignature(benchmark::State& state) {
  Fixture& f = TheFixture();
  const std::string token = f.token;
  for (auto _ : state) {
    auto claims = auth::VerifyCapabilityToken(token, [&](std::string_view) { return &f.signing_public_key; });
    if (!claims) {
      state.SkipWithError(claims.error().message().c_str());
      break;
    }
    benchmark::DoNotOptimize(claims);
  }
}
BENCHMARK(BM_VerifySignature);

}  // namespace
}  // namespace scaigrid::iam::service

BENCHMARK_MAIN();
