// Manifest: one module's declaration of its permission keys, as parsed from YAML.
//
// The format is documented in docs/manifests.md. ParseManifest checks everything that can
// be checked within one file (syntax, shapes, unknown fields, malformed and duplicate keys,
// namespaces); Registry::Build (registry.h) checks references between keys and modules.
// Every error names the file, the line and the offending value.
//
// Thread-safety: values; parsing is a pure function.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "scaigrid/iam/names.h"
#include "scaigrid/iam/status.h"

namespace scaigrid::iam {

// A string from the manifest with the 1-based line it was written on.
struct Located {
  std::string value;
  int line = 0;
};

struct PermissionSpec {
  Located key;
  std::string description;
  bool platform_level = false;  // level: platform
  bool audit_always = false;    // audit: always
  bool sensitive = false;
  bool owner_only = false;
  Located override_key;  // set iff owner_only
};

struct ImplicationSpec {
  Located from;
  std::vector<Located> to;  // keys or wildcards
};

struct ModuleRoleSpec {
  Located name;
  ScopeKind scope = ScopeKind::kProject;
  std::string description;
  std::vector<Located> permissions;  // keys or wildcards
};

enum class ConstraintMode { kEnforce, kWarn };

struct ConstraintSpec {
  Located name;
  std::vector<Located> keys;  // exactly two
  ConstraintMode mode = ConstraintMode::kEnforce;
  std::string description;
};

struct CapabilitySpec {
  Located name;
  std::string resource;  // resource type, tokens name "<resource>:<id>"
  std::string description;
  Located issue_key;
  Located revoke_key;
  // The one key a token of this capability allows, on its one resource. The minter must hold
  // it too (a token delegates part of its issuer's own rights, never more).
  Located permission;
  std::int64_t max_ttl_seconds = 0;
};

struct RouteSpec {
  std::string method;  // upper case
  std::string path;    // template, "{name}" matches one path segment
  Located permission;
};

struct Manifest {
  std::string file;  // where it came from, for messages
  std::string module;
  std::string title;
  int version = 1;
  std::vector<std::string> namespaces;  // defaults to {module}
  std::vector<PermissionSpec> permissions;
  std::vector<ImplicationSpec> implies;
  std::vector<Located> tenant_user_defaults;
  std::vector<Located> tenant_viewer_defaults;
  std::vector<ModuleRoleSpec> roles;
  std::vector<ConstraintSpec> constraints;
  std::vector<CapabilitySpec> capabilities;
  std::vector<RouteSpec> routes;
};

// Parses one manifest. `file` is used in messages only.
// Errors: kInvalidArgument with one detail per problem, each "FILE:LINE: message".
Result<Manifest> ParseManifest(std::string_view yaml_text, std::string_view file);

// Reads and parses a file. kNotFound when it cannot be read.
Result<Manifest> LoadManifestFile(const std::string& path);

// Loads every *.yaml / *.yml file of a directory, sorted by name.
Result<std::vector<Manifest>> LoadManifestDir(const std::string& dir);

}  // namespace scaigrid::iam
