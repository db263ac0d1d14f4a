// YAML adapter for manifests: yaml-cpp throws, so every call into it stays in this file and
// its exceptions become Status values here.
#include "scaigrid/iam/manifest.h"

#include <yaml-cpp/yaml.h>

#include "model/yaml_reader.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <optional>
#include <set>
#include <sstream>

namespace scaigrid::iam {
namespace {

std::string Quote(std::string_view v) { return QuoteValue(v); }

// The offset of the first byte of `text` that does not belong to a well-formed UTF-8 sequence
// (RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF), or npos.
std::size_t FirstInvalidUtf8(std::string_view text) {
  const auto byte = [&](std::size_t i) { return static_cast<unsigned char>(text[i]); };
  for (std::size_t i = 0; i < text.size();) {
    const unsigned char c = byte(i);
    std::size_t n = 0;
    unsigned char lo = 0x80, hi = 0xBF;  // the range of the second byte
    if (c < 0x80) n = 1;
    else if (c >= 0xC2 && c <= 0xDF) n = 2;
    else if (c >= 0xE0 && c <= 0xEF) {
      n = 3;
      if (c == 0xE0) lo = 0xA0;  // overlong
      if (c == 0xED) hi = 0x9F;  // surrogates
    } else if (c >= 0xF0 && c <= 0xF4) {
      n = 4;
      if (c == 0xF0) lo = 0x90;  // overlong
      if (c == 0xF4) hi = 0x8F;  // above U+10FFFF
    } else {
      return i;
    }
    if (i + n > text.size()) return i;
    for (std::size_t k = 1; k < n; ++k) {
      const unsigned char b = byte(i + k);
      if (k == 1 ? (b < lo || b > hi) : (b < 0x80 || b > 0xBF)) return i;
    }
    i += n;
  }
  return std::string_view::npos;
}

// Collects "FILE:LINE: message" problems while walking one manifest.
class Parser : public YamlReader {
 public:
  using YamlReader::YamlReader;

  // A list of scalar strings (keys or patterns), each validated as a pattern.
  std::vector<Located> Patterns(const YAML::Node& n, std::string_view where, bool allow_wildcards) {
    std::vector<Located> out;
    if (!n || n.IsNull()) return out;
    if (!n.IsSequence()) {
      Error(n, std::string(where) + " must be a list of permission keys");
      return out;
    }
    for (const auto& item : n) {
      if (!item.IsScalar()) {
        Error(item, std::string(where) + " entries must be permission keys");
        continue;
      }
      const std::string& v = item.Scalar();
      Status s = allow_wildcards ? ValidatePattern(v) : ValidateKey(v);
      if (!s.ok()) {
        Error(item, s.message() + (allow_wildcards ? "" : " (no wildcards here)"));
        continue;
      }
      out.push_back({v, LineOf(item)});
    }
    return out;
  }

};

void ParsePermissions(Parser& p, const YAML::Node& root, Manifest& m) {
  YAML::Node perms = root["permissions"];
  if (!perms || !perms.IsSequence() || perms.size() == 0) {
    p.Error(perms ? perms : root, "'permissions' must be a non-empty list");
    return;
  }
  std::set<std::string> seen;
  for (const auto& item : perms) {
    if (!item.IsMap()) {
      p.Error(item, "each permission must be a map with 'key' and 'description'");
      continue;
    }
    p.OnlyFields(item,
                 {"key", "description", "level", "audit", "sensitive", "owner_only", "override"},
                 "permission");
    PermissionSpec spec;
    auto key = p.String(item, "key", true);
    auto desc = p.String(item, "description", true);
    if (!key) continue;
    spec.key = *key;
    if (desc) spec.description = desc->value;
    if (Status s = ValidateKey(key->value); !s.ok()) {
      p.Error(key->line, s.message());
      continue;
    }
    std::string_view ns = KeyNamespace(key->value);
    if (std::find(m.namespaces.begin(), m.namespaces.end(), ns) == m.namespaces.end()) {
      p.Error(key->line, "key " + Quote(key->value) + " is outside the module's namespaces");
    }
    if (!seen.insert(key->value).second) {
      p.Error(key->line, "duplicate permission key " + Quote(key->value));
    }
    if (auto level = p.String(item, "level", false)) {
      if (level->value == "platform") spec.platform_level = true;
      else if (level->value != "any") p.Error(level->line, "level must be platform or any, not " + Quote(level->value));
    }
    if (auto audit = p.String(item, "audit", false)) {
      if (audit->value == "always") spec.audit_always = true;
      else if (audit->value != "on_request") p.Error(audit->line, "audit must be always or on_request, not " + Quote(audit->value));
    }
    spec.sensitive = p.Bool(item, "sensitive");
    spec.owner_only = p.Bool(item, "owner_only");
    auto override_key = p.String(item, "override", false);
    if (spec.owner_only && !override_key) {
      p.Error(key->line, "owner_only key " + Quote(key->value) + " needs an 'override' key");
    } else if (!spec.owner_only && override_key) {
      p.Error(override_key->line, "'override' is only meaningful with owner_only: true");
    } else if (override_key) {
      if (Status s = ValidateKey(override_key->value); !s.ok()) p.Error(override_key->line, s.message());
      spec.override_key = *override_key;
    }
    m.permissions.push_back(std::move(spec));
  }
}

void ParseImplies(Parser& p, const YAML::Node& root, Manifest& m) {
  YAML::Node implies = root["implies"];
  if (!implies || implies.IsNull()) return;
  if (!implies.IsMap()) {
    p.Error(implies, "'implies' must map a key to the list of keys it implies");
    return;
  }
  for (const auto& kv : implies) {
    ImplicationSpec spec;
    spec.from = {kv.first.Scalar(), Parser::LineOf(kv.first)};
    if (Status s = ValidateKey(spec.from.value); !s.ok()) {
      p.Error(spec.from.line, s.message());
      continue;
    }
    spec.to = p.Patterns(kv.second, "implies of " + Quote(spec.from.value), true);
    m.implies.push_back(std::move(spec));
  }
}

void ParseRoles(Parser& p, const YAML::Node& root, Manifest& m) {
  YAML::Node roles = root["roles"];
  if (!roles || roles.IsNull()) return;
  if (!roles.IsSequence()) {
    p.Error(roles, "'roles' must be a list");
    return;
  }
  std::set<std::string> seen;
  for (const auto& item : roles) {
    if (!item.IsMap()) {
      p.Error(item, "each role must be a map");
      continue;
    }
    p.OnlyFields(item, {"name", "scope", "description", "permissions"}, "role");
    ModuleRoleSpec spec;
    auto name = p.String(item, "name", true);
    auto scope = p.String(item, "scope", true);
    if (!name || !scope) continue;
    spec.name = *name;
    bool name_ok = !name->value.empty() &&
                   std::all_of(name->value.begin(), name->value.end(), [](char c) {
                     return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
                   });
    if (!name_ok) p.Error(name->line, "role name " + Quote(name->value) + " must be [a-z0-9_]+");
    if (!seen.insert(name->value).second) p.Error(name->line, "duplicate role " + Quote(name->value));
    auto kind = ParseScopeKind(scope->value);
    if (!kind) p.Error(scope->line, kind.error().message());
    else spec.scope = *kind;
    if (auto d = p.String(item, "description", false)) spec.description = d->value;
    spec.permissions = p.Patterns(item["permissions"], "role permissions", true);
    if (spec.permissions.empty() && !p.failed()) {
      p.Error(name->line, "role " + Quote(name->value) + " has no permissions");
    }
    m.roles.push_back(std::move(spec));
  }
}

void ParseConstraints(Parser& p, const YAML::Node& root, Manifest& m) {
  YAML::Node cs = root["constraints"];
  if (!cs || cs.IsNull()) return;
  if (!cs.IsSequence()) {
    p.Error(cs, "'constraints' must be a list");
    return;
  }
  std::set<std::string> seen;
  for (const auto& item : cs) {
    if (!item.IsMap()) {
      p.Error(item, "each constraint must be a map");
      continue;
    }
    p.OnlyFields(item, {"name", "keys", "mode", "description"}, "constraint");
    ConstraintSpec spec;
    auto name = p.String(item, "name", true);
    if (!name) continue;
    spec.name = *name;
    if (!seen.insert(name->value).second) p.Error(name->line, "duplicate constraint " + Quote(name->value));
    spec.keys = p.Patterns(item["keys"], "constraint keys", false);
    if (spec.keys.size() != 2 || spec.keys[0].value == spec.keys[1].value) {
      p.Error(name->line, "constraint " + Quote(name->value) + " needs exactly two different keys");
    }
    if (auto mode = p.String(item, "mode", false)) {
      if (mode->value == "warn") spec.mode = ConstraintMode::kWarn;
      else if (mode->value != "enforce") p.Error(mode->line, "mode must be enforce or warn, not " + Quote(mode->value));
    }
    if (auto d = p.String(item, "description", false)) spec.description = d->value;
    m.constraints.push_back(std::move(spec));
  }
}

void ParseCapabilities(Parser& p, const YAML::Node& root, Manifest& m) {
  YAML::Node cs = root["capabilities"];
  if (!cs || cs.IsNull()) return;
  if (!cs.IsSequence()) {
    p.Error(cs, "'capabilities' must be a list");
    return;
  }
  std::set<std::string> seen;
  for (const auto& item : cs) {
    if (!item.IsMap()) {
      p.Error(item, "each capability must be a map");
      continue;
    }
    p.OnlyFields(item, {"name", "resource", "description", "permission", "issue", "revoke", "max_ttl"},
                 "capability");
    CapabilitySpec spec;
    auto name = p.String(item, "name", true);
    auto resource = p.String(item, "resource", true);
    auto issue = p.String(item, "issue", true);
    auto revoke = p.String(item, "revoke", true);
    auto permission = p.String(item, "permission", true);
    auto ttl = p.String(item, "max_ttl", true);
    if (!name || !resource || !issue || !revoke || !permission || !ttl) continue;
    spec.name = *name;
    if (!seen.insert(name->value).second) p.Error(name->line, "duplicate capability " + Quote(name->value));
    spec.resource = resource->value;
    if (!IsValidId(resource->value)) p.Error(resource->line, "resource type " + Quote(resource->value) + " must be an id");
    for (auto* k : {&*issue, &*revoke, &*permission})
      if (Status s = ValidateKey(k->value); !s.ok()) p.Error(k->line, s.message());
    spec.issue_key = *issue;
    spec.revoke_key = *revoke;
    spec.permission = *permission;
    try {
      spec.max_ttl_seconds = std::stoll(ttl->value);
    } catch (...) {
      spec.max_ttl_seconds = 0;
    }
    if (spec.max_ttl_seconds <= 0 || std::to_string(spec.max_ttl_seconds) != ttl->value) {
      p.Error(ttl->line, "max_ttl must be a positive number of seconds, not " + Quote(ttl->value));
    }
    if (auto d = p.String(item, "description", false)) spec.description = d->value;
    m.capabilities.push_back(std::move(spec));
  }
}

void ParseRoutes(Parser& p, const YAML::Node& root, Manifest& m) {
  YAML::Node rs = root["routes"];
  if (!rs || rs.IsNull()) return;
  if (!rs.IsSequence()) {
    p.Error(rs, "'routes' must be a list");
    return;
  }
  static const std::set<std::string> kMethods = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"};
  for (const auto& item : rs) {
    if (!item.IsMap()) {
      p.Error(item, "each route must be a map");
      continue;
    }
    p.OnlyFields(item, {"method", "path", "permission"}, "route");
    auto method = p.String(item, "method", true);
    auto path = p.String(item, "path", true);
    auto perm = p.String(item, "permission", true);
    if (!method || !path || !perm) continue;
    if (!kMethods.contains(method->value)) p.Error(method->line, "unknown HTTP method " + Quote(method->value));
    if (path->value.empty() || path->value[0] != '/') p.Error(path->line, "route path must start with '/': " + Quote(path->value));
    if (Status s = ValidateKey(perm->value); !s.ok()) p.Error(perm->line, s.message());
    m.routes.push_back({method->value, path->value, *perm});
  }
}

void ParseDocument(Parser& p, const YAML::Node& root, Manifest& m) {
  if (!root.IsMap()) {
    p.Error(root, "a manifest must be a YAML map");
    return;
  }
  p.OnlyFields(root,
               {"module", "title", "version", "namespaces", "permissions", "implies", "defaults",
                "roles", "constraints", "capabilities", "routes"},
               "manifest");
  auto module = p.String(root, "module", true);
  auto title = p.String(root, "title", true);
  if (!module) return;
  m.module = module->value;
  if (Status s = ValidatePattern(module->value + ":*"); !s.ok() || module->value.find(':') != std::string::npos) {
    p.Error(module->line, "module name " + Quote(module->value) + " must be [a-z0-9_]+");
  }
  if (title) m.title = title->value;
  if (auto v = p.String(root, "version", false)) {
    try {
      m.version = std::stoi(v->value);
    } catch (...) {
      m.version = 0;
    }
    if (m.version < 1 || std::to_string(m.version) != v->value) p.Error(v->line, "version must be an integer >= 1, not " + Quote(v->value));
  }
  if (YAML::Node ns = root["namespaces"]) {
    if (!ns.IsSequence() || ns.size() == 0) {
      p.Error(ns, "'namespaces' must be a non-empty list");
    } else {
      for (const auto& n : ns) {
        std::string v = n.IsScalar() ? n.Scalar() : "";
        if (!ValidatePattern(v + ":*").ok() || v.find(':') != std::string::npos) {
          p.Error(n, "namespace " + Quote(v) + " must be [a-z0-9_]+");
        } else if (std::find(m.namespaces.begin(), m.namespaces.end(), v) != m.namespaces.end()) {
          p.Error(n, "duplicate namespace " + Quote(v));
        } else {
          m.namespaces.push_back(v);
        }
      }
    }
  } else {
    m.namespaces.push_back(m.module);
  }
  ParsePermissions(p, root, m);
  ParseImplies(p, root, m);
  if (YAML::Node d = root["defaults"]; d && !d.IsNull()) {
    if (!d.IsMap()) {
      p.Error(d, "'defaults' must map tenant_user / tenant_viewer to lists of keys");
    } else {
      p.OnlyFields(d, {"tenant_user", "tenant_viewer"}, "defaults (only tenant_user and tenant_viewer take defaults; the other built-in roles are catch-alls)");
      m.tenant_user_defaults = p.Patterns(d["tenant_user"], "defaults.tenant_user", false);
      m.tenant_viewer_defaults = p.Patterns(d["tenant_viewer"], "defaults.tenant_viewer", false);
    }
  }
  ParseRoles(p, root, m);
  ParseConstraints(p, root, m);
  ParseCapabilities(p, root, m);
  ParseRoutes(p, root, m);
}

}  // namespace

Result<Manifest> ParseManifest(std::string_view yaml_text, std::string_view file) {
  Parser p(file);
  Manifest m;
  m.file = std::string(file);
  // YAML is Unicode text, and every string of a manifest ends up in JSON (the API, the change
  // log, the audit log), which cannot carry other bytes.
  if (const std::size_t bad = FirstInvalidUtf8(yaml_text); bad != std::string_view::npos) {
    const auto line = 1 + std::count(yaml_text.begin(), yaml_text.begin() + static_cast<std::ptrdiff_t>(bad), '\n');
    p.Error(static_cast<int>(line), "not valid UTF-8 (byte " + std::to_string(bad) + " of the file)");
    return Err(Status::InvalidArgument("invalid manifest " + std::string(file), std::move(p.errors())));
  }
  try {
    YAML::Node root = YAML::Load(std::string(yaml_text));
    ParseDocument(p, root, m);
  } catch (const YAML::Exception& e) {
    p.Error(e.mark.line + 1, "invalid YAML: " + e.msg);
  }
  if (p.failed()) {
    return Err(Status::InvalidArgument("invalid manifest " + std::string(file), std::move(p.errors())));
  }
  return m;
}

Result<Manifest> LoadManifestFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Err(Status::NotFound("cannot read manifest file '" + path + "'"));
  std::stringstream buf;
  buf << in.rdbuf();
  return ParseManifest(buf.str(), path);
}

Result<std::vector<Manifest>> LoadManifestDir(const std::string& dir) {
  std::error_code ec;
  std::vector<std::string> files;
  std::filesystem::directory_iterator it(dir, ec), end;
  for (; !ec && it != end; it.increment(ec)) {
    auto ext = it->path().extension();
    std::error_code type_ec;
    if (it->is_regular_file(type_ec) && (ext == ".yaml" || ext == ".yml")) files.push_back(it->path().string());
  }
  if (ec) return Err(Status::NotFound("cannot read manifest directory '" + dir + "': " + ec.message()));
  std::sort(files.begin(), files.end());
  std::vector<Manifest> out;
  std::vector<std::string> errors;
  for (const auto& f : files) {
    auto m = LoadManifestFile(f);
    if (!m) {
      auto& d = m.error().details();
      if (d.empty()) errors.push_back(m.error().message());
      errors.insert(errors.end(), d.begin(), d.end());
      continue;
    }
    out.push_back(std::move(*m));
  }
  if (!errors.empty()) return Err(Status::InvalidArgument("invalid manifests in " + dir, std::move(errors)));
  return out;
}

}  // namespace scaigrid::iam
