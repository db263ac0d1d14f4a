// Feeds: one module manifest as YAML (ParseManifest), then the parsed manifest together with
// the shipped manifests/ into Registry::Build.
// Asserts: every key a parsed manifest declares is a valid key and lives in one of its
// namespaces; every located value has a line >= 1; when the registry builds, each declared
// key is found in it, belongs to the module and its implication closure contains itself.
#include <cstdint>
#include <string>
#include <vector>

#include "fuzz_check.h"
#include "scaigrid/iam/manifest.h"
#include "scaigrid/iam/registry.h"

namespace {

const std::vector<scaigrid::iam::Manifest>& ShippedManifests() {
  static const std::vector<scaigrid::iam::Manifest> manifests = [] {
    auto loaded = scaigrid::iam::LoadManifestDir(SCAIGRID_SOURCE_DIR "/manifests");
    FUZZ_CHECK(loaded.has_value(), "cannot load the shipped manifests");
    return *loaded;
  }();
  return manifests;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace scaigrid::iam;
  auto manifest = ParseManifest(fuzz::AsText(data, size), "fuzz.yaml");
  if (!manifest) {
    FUZZ_CHECK(!manifest.error().ok(), "an error without a code");
    return 0;
  }
  for (const PermissionSpec& p : manifest->permissions) {
    FUZZ_CHECK(ValidateKey(p.key.value).ok(), p.key.value);
    FUZZ_CHECK(p.key.line >= 1, p.key.value);
    bool in_namespace = false;
    for (const std::string& ns : manifest->namespaces) {
      in_namespace = in_namespace || p.key.value.starts_with(ns + ":");
    }
    FUZZ_CHECK(in_namespace, p.key.value);
  }

  // The shipped manifests minus the one of the same module, plus this one.
  std::vector<Manifest> all;
  for (const Manifest& m : ShippedManifests()) {
    if (m.module != manifest->module) all.push_back(m);
  }
  all.push_back(*manifest);
  auto registry = Registry::Build(std::move(all));
  if (!registry) return 0;
  for (const PermissionSpec& p : manifest->permissions) {
    auto id = (*registry)->FindKey(p.key.value);
    FUZZ_CHECK(id.has_value(), p.key.value);
    FUZZ_CHECK((*registry)->key(*id).module == manifest->module, p.key.value);
    FUZZ_CHECK((*registry)->Closure(*id).Test(*id), p.key.value);
  }
  return 0;
}
