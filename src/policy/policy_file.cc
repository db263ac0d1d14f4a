// YAML adapter for policy files: yaml-cpp throws, so every call into it stays in this file
// and its exceptions become Status values here. The document is read into plain structs
// (the shape pass), then applied to the Mutation (the apply pass).
#include "policy/policy_file.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <vector>

#include "scaigrid/iam/manifest.h"
#include "scaigrid/iam/names.h"
#include "scaigrid/iam/time_format.h"
#include "model/yaml_reader.h"

namespace scaigrid::iam {
namespace {

std::string Quote(std::string_view v) { return QuoteValue(v); }

struct ScopeEntry {
  Located id;
  Located parent;  // "platform" (at the id's line) when not written
};

struct GroupEntry {
  Located group;
  std::vector<Located> members;
};

struct RoleEntry {
  int line = 0;
  CustomRoleSpec spec;
  std::vector<Located> values;  // id, name, scope and every permission, for error lines
};

struct BindingEntry {
  int line = 0;
  BindingSpec spec;
  std::vector<Located> values;  // subject, role, scope, times, for error lines
};

struct PolicyDocument {
  std::vector<ScopeEntry> scopes;
  std::vector<GroupEntry> groups;
  std::vector<RoleEntry> roles;
  std::vector<BindingEntry> bindings;
};

// The shape pass: reads the YAML tree into a PolicyDocument, collecting every problem.
class ShapeReader : public YamlReader {
 public:
  using YamlReader::YamlReader;

  void Read(const YAML::Node& root, PolicyDocument& doc) {
    if (root.IsNull()) return;  // an empty document is an empty policy
    if (!root.IsMap()) {
      Error(root, "a policy file must be a YAML map with scopes, groups, custom_roles, bindings");
      return;
    }
    OnlyFields(root, {"scopes", "groups", "custom_roles", "bindings"}, "policy file");
    ReadScopes(root["scopes"], doc);
    ReadGroups(root["groups"], doc);
    ReadRoles(root["custom_roles"], doc);
    ReadBindings(root["bindings"], doc);
  }

 private:
  // A list section; false (after reporting) when present but not a list.
  bool IsList(const YAML::Node& n, std::string_view section) {
    if (!n || n.IsNull()) return false;
    if (n.IsSequence()) return true;
    Error(n, "'" + std::string(section) + "' must be a list");
    return false;
  }

  std::optional<Located> Scope(const YAML::Node& parent, const char* field, bool required,
                               std::string_view where) {
    auto v = String(parent, field, required, where);
    if (!v) return std::nullopt;
    if (auto ref = ScopeRef::Parse(v->value); !ref) {
      Error(v->line, ref.error().message());
      return std::nullopt;
    }
    return v;
  }

  std::optional<Located> Principal(const YAML::Node& n, std::string_view where) {
    if (!n.IsScalar()) {
      Error(n, std::string(where) + " must be a principal string");
      return std::nullopt;
    }
    if (auto ref = PrincipalRef::Parse(n.Scalar()); !ref) {
      Error(n, ref.error().message());
      return std::nullopt;
    }
    return Located{n.Scalar(), LineOf(n)};
  }

  void ReadScopes(const YAML::Node& list, PolicyDocument& doc) {
    if (!IsList(list, "scopes")) return;
    std::map<std::string, int> seen;
    for (const auto& item : list) {
      if (!item.IsMap()) {
        Error(item, "each scope must be a map like {id: \"tenant:acme\", parent: \"partner:p1\"}");
        continue;
      }
      OnlyFields(item, {"id", "parent"}, "scope");
      auto id = Scope(item, "id", true, "scope");
      auto parent = Scope(item, "parent", false, "scope");
      if (!id) continue;
      if (id->value == "platform") {
        Error(id->line, "the scope 'platform' always exists and cannot be listed");
        continue;
      }
      if (auto [it, fresh] = seen.emplace(id->value, id->line); !fresh) {
        Error(id->line, "duplicate scope " + Quote(id->value) + " (first listed on line " +
                            std::to_string(it->second) + ")");
        continue;
      }
      doc.scopes.push_back({*id, parent ? *parent : Located{"platform", id->line}});
    }
  }

  void ReadGroups(const YAML::Node& map, PolicyDocument& doc) {
    if (!map || map.IsNull()) return;
    if (!map.IsMap()) {
      Error(map, "'groups' must map each group:<id> to the list of its members");
      return;
    }
    std::set<std::string> seen_groups;
    for (const auto& kv : map) {
      auto group = Principal(kv.first, "a group name");
      if (!group) continue;
      if (PrincipalRef::Parse(group->value)->kind != PrincipalKind::kGroup) {
        Error(group->line, Quote(group->value) + " is not a group: expected group:<id>");
        continue;
      }
      if (!seen_groups.insert(group->value).second) {
        Error(group->line, "duplicate group " + Quote(group->value));
        continue;
      }
      GroupEntry entry{*group, {}};
      const YAML::Node members = kv.second;
      if (!members.IsNull() && !members.IsSequence()) {
        Error(members, "the members of " + Quote(group->value) + " must be a list");
        continue;
      }
      std::set<std::string> seen;
      for (const auto& m : members) {
        auto member = Principal(m, "a group member");
        if (!member) continue;
        if (PrincipalRef::Parse(member->value)->kind == PrincipalKind::kGroup) {
          Error(member->line, "groups cannot contain groups: " + Quote(member->value));
        } else if (!seen.insert(member->value).second) {
          Error(member->line,
                "duplicate member " + Quote(member->value) + " of " + Quote(group->value));
        } else {
          entry.members.push_back(*member);
        }
      }
      doc.groups.push_back(std::move(entry));
    }
  }

  void ReadRoles(const YAML::Node& list, PolicyDocument& doc) {
    if (!IsList(list, "custom_roles")) return;
    std::map<std::string, int> seen;
    for (const auto& item : list) {
      if (!item.IsMap()) {
        Error(item, "each custom role must be a map with id, name, scope and permissions");
        continue;
      }
      OnlyFields(item, {"id", "name", "scope", "description", "permissions"}, "custom role");
      RoleEntry entry;
      entry.line = LineOf(item);
      auto id = String(item, "id", true, "custom role");
      auto name = String(item, "name", true, "custom role");
      auto scope = Scope(item, "scope", true, "custom role");
      auto description = String(item, "description", false, "custom role");
      const YAML::Node perms = item["permissions"];
      bool ok = id && name && scope;
      if (!perms) {
        Error(item, "missing required field 'permissions' in custom role");
        ok = false;
      } else if (!perms.IsSequence() || perms.size() == 0) {
        Error(perms, "'permissions' must be a non-empty list of permission keys or wildcards");
        ok = false;
      } else {
        for (const auto& p : perms) {
          if (!p.IsScalar()) {
            Error(p, "permissions entries must be permission keys or wildcards");
            ok = false;
          } else if (Status s = ValidatePattern(p.Scalar()); !s.ok()) {
            Error(p, s.message());
            ok = false;
          } else {
            entry.spec.permissions.push_back(p.Scalar());
            entry.values.push_back({p.Scalar(), LineOf(p)});
          }
        }
      }
      if (id) {
        if (auto [it, fresh] = seen.emplace(id->value, id->line); !fresh) {
          Error(id->line, "duplicate custom role " + Quote(id->value) + " (first defined on line " +
                              std::to_string(it->second) + ")");
          ok = false;
        }
      }
      if (!ok) continue;
      entry.spec.id = id->value;
      entry.spec.name = name->value;
      entry.spec.scope = scope->value;
      if (description) entry.spec.description = description->value;
      entry.values.insert(entry.values.begin(), {*id, *name, *scope});
      doc.roles.push_back(std::move(entry));
    }
  }

  // An optional time field; `ok` is cleared when it is present but not a valid time.
  std::optional<std::pair<Time, Located>> TimeField(const YAML::Node& item, const char* field,
                                                    bool& ok) {
    auto v = String(item, field, false, "binding");
    if (!v) {
      if (item[field]) ok = false;
      return std::nullopt;
    }
    auto t = ParseTime(v->value);
    if (!t) {
      Error(v->line, std::string(field) + ": " + t.error().message());
      ok = false;
      return std::nullopt;
    }
    return std::make_pair(*t, *v);
  }

  void ReadBindings(const YAML::Node& list, PolicyDocument& doc) {
    if (!IsList(list, "bindings")) return;
    std::map<BindingId, int> seen;
    BindingId position = 0;
    for (const auto& item : list) {
      ++position;
      if (!item.IsMap()) {
        Error(item, "each binding must be a map with subject, role and scope");
        continue;
      }
      OnlyFields(item, {"id", "subject", "role", "scope", "not_before", "expires_at"}, "binding");
      BindingEntry entry;
      entry.line = LineOf(item);
      bool ok = true;
      auto subject = String(item, "subject", true, "binding");
      if (subject) {
        if (auto ref = PrincipalRef::Parse(subject->value); !ref) {
          Error(subject->line, ref.error().message());
          ok = false;
        }
      }
      auto role = String(item, "role", true, "binding");
      auto scope = Scope(item, "scope", true, "binding");
      ok = ok && subject && role && scope;
      entry.spec.id = position;
      int id_line = entry.line;
      if (auto id = String(item, "id", false, "binding")) {
        const std::string& v = id->value;
        BindingId parsed = 0;
        auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), parsed);
        if (v.empty() || ec != std::errc() || end != v.data() + v.size() || parsed == 0) {
          Error(id->line, "binding id " + Quote(v) + " must be a positive integer");
          ok = false;
        }
        entry.spec.id = parsed;
        id_line = id->line;
      } else if (item["id"]) {
        ok = false;
      }
      auto not_before = TimeField(item, "not_before", ok);
      auto expires_at = TimeField(item, "expires_at", ok);
      if (not_before && expires_at && expires_at->first <= not_before->first) {
        Error(expires_at->second.line, "expires_at " + Quote(expires_at->second.value) +
                                           " must be after not_before " +
                                           Quote(not_before->second.value));
        ok = false;
      }
      if (entry.spec.id != 0) {
        if (auto [it, fresh] = seen.emplace(entry.spec.id, id_line); !fresh) {
          Error(id_line, "duplicate binding id " + std::to_string(entry.spec.id) +
                             " (already used on line " + std::to_string(it->second) + ")");
          ok = false;
        }
      }
      if (!ok) continue;
      entry.spec.subject = subject->value;
      entry.spec.role = role->value;
      entry.spec.scope = scope->value;
      entry.values = {*subject, *role, *scope};
      if (not_before) {
        entry.spec.not_before = not_before->first;
        entry.values.push_back(not_before->second);
      }
      if (expires_at) {
        entry.spec.expires_at = expires_at->first;
        entry.values.push_back(expires_at->second);
      }
      doc.bindings.push_back(std::move(entry));
    }
  }
};

// The apply pass: engine errors become "FILE:LINE: message", at the line of the value the
// message names.
class Applier {
 public:
  Applier(std::string_view file, Mutation& m) : file_(file), m_(m) {}

  Status Apply(const PolicyDocument& doc) {
    for (const ScopeEntry& s : doc.scopes) {
      Status st = m_.AddScope(s.id.value, s.parent.value);
      if (!st.ok()) return Wrap(st, s.id.line, {s.id, s.parent});
    }
    for (const GroupEntry& g : doc.groups) {
      Status st = m_.AddPrincipal(g.group.value);
      if (!st.ok()) return Wrap(st, g.group.line, {g.group});
      for (const Located& member : g.members) {
        st = m_.AddMember(g.group.value, member.value);
        if (!st.ok()) return Wrap(st, member.line, {member});
      }
    }
    for (const RoleEntry& r : doc.roles) {
      Status st = m_.PutCustomRole(r.spec);
      if (!st.ok()) return Wrap(st, r.values.front().line, r.values);
    }
    for (const BindingEntry& b : doc.bindings) {
      Status st = m_.AddBinding(b.spec);
      if (!st.ok()) return Wrap(st, b.line, b.values);
    }
    return Status::Ok();
  }

 private:
  // The line of the first candidate whose quoted value `text` names, else `fallback`.
  static int LineFor(std::string_view text, int fallback, const std::vector<Located>& candidates) {
    for (const Located& c : candidates)
      if (text.find(Quote(c.value)) != std::string_view::npos) return c.line;
    return fallback;
  }

  Status Wrap(const Status& s, int fallback, const std::vector<Located>& candidates) const {
    int line = LineFor(s.message(), fallback, candidates);
    std::vector<std::string> details;
    for (const std::string& d : s.details()) {
      details.push_back(At(LineFor(d, line, candidates), d));
    }
    return Status(s.code(), At(line, s.message()), std::move(details));
  }

  std::string At(int line, const std::string& message) const {
    return file_ + ":" + std::to_string(line) + ": " + message;
  }

  std::string file_;
  Mutation& m_;
};

}  // namespace

Status ApplyPolicyDocument(std::string_view yaml, std::string_view file, Mutation& m) {
  ShapeReader reader(file);
  PolicyDocument doc;
  try {
    YAML::Node root = YAML::Load(std::string(yaml));
    reader.Read(root, doc);
  } catch (const YAML::Exception& e) {
    reader.Error(e.mark.line + 1, "invalid YAML: " + e.msg);
  } catch (const std::exception& e) {
    return Status::Internal("reading policy file " + std::string(file) + ": " + e.what());
  }
  if (!reader.errors().empty()) {
    std::vector<std::string>& errors = reader.errors();
    std::string summary = "invalid policy file " + std::string(file) + ": " +
                          std::to_string(errors.size()) + " problem(s)";
    return Status::InvalidArgument(std::move(summary), std::move(errors));
  }
  return Applier(file, m).Apply(doc);
}

Status LoadPolicyFile(const std::string& path, Mutation& m) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::NotFound("cannot read policy file '" + path + "'");
  std::stringstream buf;
  buf << in.rdbuf();
  return ApplyPolicyDocument(buf.str(), path, m);
}

}  // namespace scaigrid::iam
