// Feeds: a policy file (YAML: scopes, groups, custom roles, bindings) applied by
// ApplyPolicyDocument to an empty snapshot of the shipped manifests/.
// Asserts: when it applies, the snapshot it finishes answers consistently: for every principal
// and scope (the first 8 of each) and every key that is not owner-only, the string-form Check
// allows exactly the keys EffectiveKeys lists, and the handle-form Check agrees with it.
#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>

#include "fuzz_check.h"
#include "policy/policy_file.h"
#include "scaigrid/iam/manifest.h"
#include "scaigrid/iam/mutation.h"
#include "scaigrid/iam/registry.h"
#include "scaigrid/iam/snapshot.h"

namespace {

using namespace scaigrid::iam;

const std::shared_ptr<const Snapshot>& EmptySnapshot() {
  static const std::shared_ptr<const Snapshot> empty = [] {
    auto manifests = LoadManifestDir(SCAIGRID_SOURCE_DIR "/manifests");
    FUZZ_CHECK(manifests.has_value(), "cannot load the shipped manifests");
    auto registry = Registry::Build(std::move(*manifests));
    FUZZ_CHECK(registry.has_value(), "the shipped manifests do not build");
    return Snapshot::Empty(*registry);
  }();
  return empty;
}

// 2026-06-01T00:00:00Z: fixed, so that a crash reproduces whatever the date.
constexpr Time kNow = 1780272000;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::shared_ptr<const Snapshot>& base = EmptySnapshot();
  Mutation m(*base);
  if (Status s = ApplyPolicyDocument(fuzz::AsText(data, size), "fuzz.yaml", m); !s.ok()) return 0;
  const std::shared_ptr<const Snapshot> snapshot = m.Finish();
  const Registry& registry = snapshot->registry();

  const std::uint32_t principals = static_cast<std::uint32_t>(std::min<std::size_t>(snapshot->principal_count(), 8));
  const std::uint32_t scopes = static_cast<std::uint32_t>(std::min<std::size_t>(snapshot->scope_count(), 8));
  for (std::uint32_t p = 0; p < principals; ++p) {
    const PrincipalId principal(p);
    const std::string& principal_name = snapshot->PrincipalName(principal);
    for (std::uint32_t s = 0; s < scopes; ++s) {
      const ScopeId scope(s);
      const std::string& scope_name = snapshot->ScopeName(scope);
      const KeySet effective = snapshot->EffectiveKeys(principal, scope, kNow);
      for (KeyId k = 0; k < registry.key_count(); ++k) {
        const KeyInfo& info = registry.key(k);
        if (info.removed || info.owner_only) continue;
        auto decision = snapshot->Check(CheckInput{.subject = principal_name, .scope = scope_name, .key = info.key}, kNow);
        FUZZ_CHECK(decision.has_value(), principal_name + " " + scope_name + " " + info.key);
        FUZZ_CHECK(decision->allowed == effective.Test(k),
                   principal_name + " at " + scope_name + " key " + info.key + ": Check says " +
                       std::string(DecisionCodeName(decision->code)));
        auto request = snapshot->Resolve(CheckInput{.subject = principal_name, .scope = scope_name, .key = info.key});
        FUZZ_CHECK(request.has_value(), info.key);
        FUZZ_CHECK(snapshot->Check(*request, kNow).allowed == decision->allowed, info.key);
      }
    }
  }
  return 0;
}
