// Randomized differential test: the engine against a deliberately naive reference.
//
// Each round builds a random world (modules with implications, wildcards, platform-level
// and owner-only keys; a scope tree; users, service accounts and groups; custom roles with
// wildcards; time-bound bindings), then asks random checks, effective-permission and
// who-can queries of both and compares, before and after random incremental changes. The
// reference recomputes everything from plain lists on every query; it shares no code with
// the engine beyond the manifest text it is given. Old snapshots are re-checked against the
// reference state of their time to show that changes never touch a published snapshot.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>
#include <set>

#include "scaigrid/iam/engine.h"
#include "scaigrid/iam/mutation.h"

namespace scaigrid::iam {
namespace {

using Names = std::set<std::string>;

bool Matches(const std::string& pattern, const std::string& key) {
  if (pattern.size() >= 2 && pattern.ends_with(":*")) {
    std::string prefix = pattern.substr(0, pattern.size() - 1);
    return key.size() > prefix.size() && key.starts_with(prefix);
  }
  return pattern == key;
}

struct RefKey {
  std::string name;
  bool platform = false;
  std::string override_key;  // non-empty: owner-only
};

struct RefRole {
  enum Kind { kBuiltIn, kModule, kCustom } kind = kCustom;
  std::string ref;
  ScopeKind bind_kind = ScopeKind::kTenant;  // built-in and module roles
  std::string defined_at;                    // custom roles
  std::vector<std::string> patterns;
};

struct RefBinding {
  BindingId id;
  std::string subject, role, scope;
  Time nb = kTimeMin, exp = kTimeMax;
};

// The whole world as plain lists; every query recomputes from them.
struct Reference {
  std::vector<RefKey> keys;
  std::vector<std::pair<std::string, std::vector<std::string>>> implies;  // from → patterns
  std::vector<std::string> viewer_defaults, user_defaults;
  std::map<std::string, std::string> parent;  // scope → parent ("" for platform)
  std::map<std::string, RefRole> roles;
  std::vector<RefBinding> bindings;
  std::map<std::string, Names> members;  // group → members
  Names principals;

  const RefKey* Key(const std::string& k) const {
    for (const auto& x : keys)
      if (x.name == k) return &x;
    return nullptr;
  }
  bool IsPlatformKey(const std::string& k) const { return Key(k) && Key(k)->platform; }
  static ScopeKind KindOf(const std::string& scope) { return ScopeRef::Parse(scope)->kind; }
  bool IsAncestorOrSelf(const std::string& a, const std::string& s) const {
    for (std::string x = s; !x.empty(); x = parent.at(x))
      if (x == a) return true;
    return false;
  }
  Names Closure(Names start) const {
    std::vector<std::string> todo(start.begin(), start.end());
    while (!todo.empty()) {
      std::string k = todo.back();
      todo.pop_back();
      for (const auto& [from, tos] : implies) {
        if (from != k) continue;
        for (const auto& p : tos)
          for (const auto& key : keys)
            if (key.name != k && Matches(p, key.name) && start.insert(key.name).second) todo.push_back(key.name);
      }
    }
    return start;
  }
  Names Resolve(const std::vector<std::string>& patterns, bool allow_platform) const {
    Names seed;
    for (const auto& p : patterns)
      for (const auto& k : keys)
        if (Matches(p, k.name) && (allow_platform || !k.platform)) seed.insert(k.name);
    Names out = Closure(seed);
    if (!allow_platform) std::erase_if(out, [&](const std::string& k) { return IsPlatformKey(k); });
    return out;
  }
  Names RoleKeys(const std::string& ref) const {
    const RefRole& r = roles.at(ref);
    Names all;
    for (const auto& k : keys) all.insert(k.name);
    if (r.kind == RefRole::kBuiltIn) {
      if (ref == "super_admin") return all;
      if (ref == "partner_admin" || ref == "tenant_admin") {
        std::erase_if(all, [&](const std::string& k) { return IsPlatformKey(k); });
        return all;
      }
      return Resolve(ref == "tenant_user" ? user_defaults : viewer_defaults, false);
    }
    if (r.kind == RefRole::kModule) return Resolve(r.patterns, r.bind_kind == ScopeKind::kPlatform);
    return Resolve(r.patterns, r.defined_at == "platform");
  }
  bool Applies(const RefBinding& b, const std::string& p, const std::string& scope, Time now) const {
    bool subject = b.subject == p || (members.contains(b.subject) && members.at(b.subject).contains(p));
    return subject && b.nb <= now && now < b.exp && IsAncestorOrSelf(b.scope, scope);
  }
  // key → granting binding ids.
  std::map<std::string, std::set<BindingId>> Effective(const std::string& p, const std::string& scope, Time now,
                                                       const Names* restrict_keys, const std::string& restrict_scope) const {
    std::map<std::string, std::set<BindingId>> out;
    if (!restrict_scope.empty() && !IsAncestorOrSelf(restrict_scope, scope)) return out;
    for (const auto& b : bindings) {
      if (!Applies(b, p, scope, now)) continue;
      for (const auto& k : RoleKeys(b.role)) {
        if (IsPlatformKey(k) && scope != "platform") continue;
        if (restrict_keys && !restrict_keys->contains(k)) continue;
        out[k].insert(b.id);
      }
    }
    return out;
  }
  bool Holds(const std::string& p, const std::string& scope, const std::string& key, Time now,
             const Names* rk, const std::string& rs) const {
    return Effective(p, scope, now, rk, rs).contains(key);
  }
  bool Check(const std::string& p, const std::string& scope, const std::string& key, Time now, const Names* rk,
             const std::string& rs, bool has_resource, const std::string& owner) const {
    if (!Holds(p, scope, key, now, rk, rs)) return false;
    const RefKey* k = Key(key);
    if (!k->override_key.empty() && has_resource && owner != p) return Holds(p, scope, k->override_key, now, rk, rs);
    return true;
  }
};

class World {
 public:
  explicit World(std::uint32_t seed) : rng_(seed) {}

  std::mt19937& rng() { return rng_; }
  int Uniform(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng_); }
  bool Chance(double p) { return std::bernoulli_distribution(p)(rng_); }
  template <typename C>
  const auto& Pick(const C& c) {
    auto it = c.begin();
    std::advance(it, Uniform(0, static_cast<int>(c.size()) - 1));
    return *it;
  }

  // Random modules; returns their YAML and fills the reference's key vocabulary.
  std::vector<std::string> MakeManifests(Reference& ref) {
    std::vector<std::string> yamls;
    const char* segs[] = {"a", "b", "c"};
    int modules = Uniform(2, 3);
    for (int m = 0; m < modules; ++m) {
      std::string mod = "m" + std::to_string(module_counter_++);
      std::vector<RefKey> keys;
      Names seen;
      int n = Uniform(5, 12);
      while (static_cast<int>(keys.size()) < n) {
        std::string k = mod;
        int depth = Uniform(1, 3);
        for (int d = 0; d < depth; ++d) k += std::string(":") + segs[Uniform(0, 2)];
        if (!seen.insert(k).second) continue;
        keys.push_back({k, Chance(0.12), ""});
      }
      for (auto& k : keys)
        if (!k.platform && Chance(0.15)) {
          const RefKey& o = Pick(keys);
          if (o.name != k.name && !o.platform) k.override_key = o.name;
        }
      std::string y = "module: " + mod + "\ntitle: Module " + mod + "\npermissions:\n";
      for (const auto& k : keys) {
        y += "  - key: " + k.name + "\n    description: Key " + k.name + "\n";
        if (k.platform) y += "    level: platform\n";
        if (!k.override_key.empty()) y += "    owner_only: true\n    override: " + k.override_key + "\n";
      }
      // Implications along a random order, so the graph is acyclic.
      std::vector<int> order(keys.size());
      for (size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int>(i);
      std::shuffle(order.begin(), order.end(), rng_);
      std::map<std::string, int> rank;
      for (size_t i = 0; i < order.size(); ++i) rank[keys[order[i]].name] = static_cast<int>(i);
      std::vector<std::pair<std::string, std::vector<std::string>>> imp;
      for (size_t i = 0; i + 1 < order.size(); ++i) {
        if (!Chance(0.5)) continue;
        const std::string& from = keys[order[i]].name;
        std::vector<std::string> to;
        for (int e = Uniform(1, 2); e > 0; --e) to.push_back(keys[order[Uniform(static_cast<int>(i) + 1, static_cast<int>(order.size()) - 1)]].name);
        // Sometimes a wildcard, when everything it matches comes later in the order.
        std::string wild = std::string(KeyNamespace(from)) + ":" + segs[Uniform(0, 2)] + ":*";
        bool later = true, any = false;
        for (const auto& k : keys)
          if (k.name != from && Matches(wild, k.name)) {
            any = true;
            later = later && rank[k.name] > rank[from];
          }
        if (any && later && Chance(0.4)) to.push_back(wild);
        imp.push_back({from, to});
      }
      if (!imp.empty()) {
        y += "implies:\n";
        for (const auto& [from, to] : imp) {
          y += "  " + from + ": [";
          for (size_t i = 0; i < to.size(); ++i) y += (i ? ", \"" : "\"") + to[i] + "\"";
          y += "]\n";
        }
      }
      for (auto& k : keys) ref.keys.push_back(k);
      ref.implies.insert(ref.implies.end(), imp.begin(), imp.end());
      std::vector<std::string> viewer, user;
      for (const auto& k : keys) {
        if (k.platform) continue;
        if (Chance(0.3)) viewer.push_back(k.name);
        if (Chance(0.1)) user.push_back(k.name);
      }
      y += "defaults:\n  tenant_user: [" + Join(user) + "]\n  tenant_viewer: [" + Join(viewer) + "]\n";
      ref.viewer_defaults.insert(ref.viewer_defaults.end(), viewer.begin(), viewer.end());
      ref.user_defaults.insert(ref.user_defaults.end(), user.begin(), user.end());
      y += "roles:\n";
      for (int r = Uniform(1, 2); r > 0; --r) {
        RefRole role;
        role.kind = RefRole::kModule;
        role.bind_kind = static_cast<ScopeKind>(Uniform(0, 3));
        role.ref = mod + ".r" + std::to_string(r);
        role.patterns = RandomPatterns(ref, role.bind_kind == ScopeKind::kPlatform, mod);
        y += "  - name: r" + std::to_string(r) + "\n    scope: " + std::string(ScopeKindName(role.bind_kind)) +
             "\n    permissions: [" + Join(role.patterns) + "]\n";
        ref.roles[role.ref] = role;
      }
      yamls.push_back(y);
    }
    return yamls;
  }

  // Patterns that resolve to at least one key (platform keys only where allowed).
  std::vector<std::string> RandomPatterns(const Reference& ref, bool allow_platform, const std::string& only_module = "") {
    std::vector<std::string> out;
    for (int tries = 0; tries < 500 && (out.empty() || (tries < 8 && Chance(0.6))); ++tries) {
      const RefKey& k = Pick(ref.keys);
      if (!only_module.empty() && KeyNamespace(k.name) != only_module) continue;
      std::string p = k.name;
      if (Chance(0.3)) {  // wildcard over a prefix of k
        size_t cut = p.rfind(':');
        p = p.substr(0, cut) + ":*";
      }
      bool ok = false;
      for (const auto& key : ref.keys)
        if (Matches(p, key.name) && (allow_platform || !key.platform)) ok = true;
      if (!allow_platform && !IsWildcard(p) && k.platform) ok = false;
      if (ok && std::find(out.begin(), out.end(), p) == out.end()) out.push_back(p);
    }
    return out;
  }

  static std::string Join(const std::vector<std::string>& v) {
    std::string s;
    for (size_t i = 0; i < v.size(); ++i) s += (i ? ", \"" : "\"") + v[i] + "\"";
    return s;
  }

  Time RandomTime() { return Uniform(0, 100); }
  void RandomWindow(Time& nb, Time& exp) {
    nb = kTimeMin;
    exp = kTimeMax;
    if (Chance(0.2)) nb = RandomTime();
    if (Chance(0.25)) exp = std::max<Time>(nb == kTimeMin ? 0 : nb, RandomTime()) + 1;
  }

  // Roles valid for a binding at `scope`.
  std::vector<std::string> RolesFor(const Reference& ref, const std::string& scope) {
    std::vector<std::string> out;
    ScopeKind kind = Reference::KindOf(scope);
    for (const auto& [name, r] : ref.roles) {
      if (r.kind == RefRole::kCustom ? ref.IsAncestorOrSelf(r.defined_at, scope) : r.bind_kind == kind) out.push_back(name);
    }
    return out;
  }

  int module_counter_ = 0;
  int counter_ = 0;

 private:
  std::mt19937 rng_;
};

class DifferentialTest : public ::testing::Test {
 protected:
  // Applies one change to engine and reference together.
  void Change(const std::function<Status(Mutation&)>& engine_change, const std::function<void()>& ref_change) {
    auto r = engine_->Apply(engine_change);
    ASSERT_TRUE(r) << r.error().ToString();
    ref_change();
    ++changes_;
  }

  void RandomChange(World& w) {
    int kind = w.Uniform(0, 9);
    if (kind <= 3) {  // add a binding
      std::string scope = w.Pick(ref_.parent).first;
      auto roles = w.RolesFor(ref_, scope);
      if (roles.empty()) return;
      RefBinding b{next_binding_++, w.Pick(subjects_), w.Pick(roles), scope};
      w.RandomWindow(b.nb, b.exp);
      ref_.principals.insert(b.subject);
      Change([&](Mutation& m) { return m.AddBinding({b.id, b.subject, b.role, b.scope, b.nb, b.exp}); },
             [&] { ref_.bindings.push_back(b); });
    } else if (kind == 4 && !ref_.bindings.empty()) {  // remove a binding
      size_t i = static_cast<size_t>(w.Uniform(0, static_cast<int>(ref_.bindings.size()) - 1));
      RefBinding b = ref_.bindings[i];
      Change([&](Mutation& m) { return m.RemoveBinding(b.subject, b.id); },
             [&] { ref_.bindings.erase(ref_.bindings.begin() + static_cast<long>(i)); });
    } else if (kind == 5) {  // membership
      std::string g = w.Pick(groups_);
      std::string m = w.Pick(individuals_);
      bool present = ref_.members[g].contains(m);
      ref_.principals.insert(g);
      ref_.principals.insert(m);
      Change([&](Mutation& mu) { return present ? mu.RemoveMember(g, m) : mu.AddMember(g, m); },
             [&] { present ? (void)ref_.members[g].erase(m) : (void)ref_.members[g].insert(m); });
    } else if (kind == 6) {  // create or edit a custom role
      std::vector<std::string> customs;
      for (const auto& [n, r] : ref_.roles)
        if (r.kind == RefRole::kCustom) customs.push_back(n);
      RefRole role;
      if (!customs.empty() && w.Chance(0.6)) {
        role = ref_.roles[w.Pick(customs)];
      } else {
        role.ref = "cr" + std::to_string(w.counter_++);
        std::vector<std::string> where;
        for (const auto& [s, p] : ref_.parent)
          if (Reference::KindOf(s) != ScopeKind::kProject) where.push_back(s);
        role.defined_at = w.Pick(where);
      }
      role.patterns = w.RandomPatterns(ref_, role.defined_at == "platform");
      Change([&](Mutation& m) { return m.PutCustomRole({role.ref, "Role " + role.ref, "", role.defined_at, role.patterns}); },
             [&] { ref_.roles[role.ref] = role; });
    } else if (kind == 7) {  // a new project
      std::vector<std::string> tenants;
      for (const auto& [s, p] : ref_.parent)
        if (Reference::KindOf(s) == ScopeKind::kTenant) tenants.push_back(s);
      std::string t = w.Pick(tenants);
      std::string p = "project:n" + std::to_string(w.counter_++);
      Change([&](Mutation& m) { return m.AddScope(p, t); }, [&] { ref_.parent[p] = t; });
    } else if (kind == 8 && w.Chance(0.3)) {  // delete a group or service account
      std::string victim = w.Chance(0.5) ? w.Pick(groups_) : "service_account:s0";
      if (!ref_.principals.contains(victim)) return;
      Change([&](Mutation& m) { return m.RemovePrincipal(victim); },
             [&] {
               std::erase_if(ref_.bindings, [&](const RefBinding& b) { return b.subject == victim; });
               ref_.members.erase(victim);
               for (auto& [g, ms] : ref_.members) ms.erase(victim);
               ref_.principals.erase(victim);
             });
    } else if (kind == 9 && w.Chance(0.2)) {  // register another module
      Reference next = ref_;
      auto yamls = w.MakeManifests(next);
      manifests_.push_back(yamls[0]);
      // MakeManifests made 2-3 modules; register only the first, so drop the others' keys.
      std::string mod = "m" + std::to_string(w.module_counter_ - static_cast<int>(yamls.size()));
      next.keys.erase(std::remove_if(next.keys.begin() + static_cast<long>(ref_.keys.size()), next.keys.end(),
                                     [&](const RefKey& k) { return KeyNamespace(k.name) != mod; }),
                      next.keys.end());
      auto keep = [&](const std::string& k) { return next.Key(k) != nullptr; };
      std::erase_if(next.implies, [&](const auto& e) { return !keep(e.first); });
      std::erase_if(next.viewer_defaults, [&](const std::string& k) { return !keep(k); });
      std::erase_if(next.user_defaults, [&](const std::string& k) { return !keep(k); });
      std::erase_if(next.roles, [&](const auto& e) {
        return e.second.kind == RefRole::kModule && !ref_.roles.contains(e.first) && KeyNamespace(e.first.substr(0, e.first.find('.'))) != mod;
      });
      auto reg = BuildRegistry();
      ASSERT_TRUE(reg) << reg.error().ToString();
      Change([&](Mutation& m) { return m.SetRegistry(*reg); }, [&] { ref_ = next; });
    }
  }

  Result<std::shared_ptr<const Registry>> BuildRegistry() {
    std::vector<Manifest> ms;
    for (size_t i = 0; i < manifests_.size(); ++i) {
      auto m = ParseManifest(manifests_[i], "m" + std::to_string(i) + ".yaml");
      if (!m) return Err(m.error());
      ms.push_back(*m);
    }
    const Registry* previous = engine_ ? &engine_->snapshot()->registry() : nullptr;
    return Registry::Build(std::move(ms), previous);
  }

  void BuildWorld(World& w) {
    ref_ = Reference{};
    manifests_ = w.MakeManifests(ref_);
    auto reg = BuildRegistry();
    ASSERT_TRUE(reg) << reg.error().ToString() << "\n" << manifests_[0];
    engine_ = std::make_unique<Engine>(Snapshot::Empty(*reg));
    for (const char* b : {"super_admin", "partner_admin", "tenant_admin", "tenant_user", "tenant_viewer"}) {
      RefRole r;
      r.kind = RefRole::kBuiltIn;
      r.ref = b;
      r.bind_kind = std::string(b) == "super_admin" ? ScopeKind::kPlatform
                    : std::string(b) == "partner_admin" ? ScopeKind::kPartner
                                                        : ScopeKind::kTenant;
      ref_.roles[b] = r;
    }
    ref_.parent["platform"] = "";
    int partners = w.Uniform(1, 3), tenants = w.Uniform(3, 7);
    std::vector<std::pair<std::string, std::string>> scopes;
    for (int i = 0; i < partners; ++i) scopes.push_back({"partner:p" + std::to_string(i), "platform"});
    for (int i = 0; i < tenants; ++i) {
      std::string parent = w.Chance(0.3) ? "platform" : "partner:p" + std::to_string(w.Uniform(0, partners - 1));
      scopes.push_back({"tenant:t" + std::to_string(i), parent});
      for (int j = w.Uniform(0, 2); j > 0; --j) scopes.push_back({"project:t" + std::to_string(i) + "_" + std::to_string(j), "tenant:t" + std::to_string(i)});
    }
    individuals_.clear();
    groups_.clear();
    for (int i = w.Uniform(6, 12); i > 0; --i) individuals_.push_back("user:u" + std::to_string(i));
    for (int i = w.Uniform(1, 3); i > 0; --i) individuals_.push_back("service_account:s" + std::to_string(i - 1));
    for (int i = w.Uniform(2, 4); i > 0; --i) groups_.push_back("group:g" + std::to_string(i));
    subjects_ = individuals_;
    subjects_.insert(subjects_.end(), groups_.begin(), groups_.end());
    for (const auto& [s, p] : scopes) {
      Change([&](Mutation& m) { return m.AddScope(s, p); }, [&] { ref_.parent[s] = p; });
    }
    for (int i = w.Uniform(2, 6); i > 0; --i) {
      RefRole role;
      role.ref = "cr" + std::to_string(w.counter_++);
      std::vector<std::string> where;
      for (const auto& [s, p] : ref_.parent)
        if (Reference::KindOf(s) != ScopeKind::kProject) where.push_back(s);
      role.defined_at = w.Pick(where);
      role.patterns = w.RandomPatterns(ref_, role.defined_at == "platform");
      Change([&](Mutation& m) { return m.PutCustomRole({role.ref, "Role", "", role.defined_at, role.patterns}); },
             [&] { ref_.roles[role.ref] = role; });
    }
    for (const auto& g : groups_)
      for (const auto& u : individuals_)
        if (w.Chance(0.3)) {
          Change([&](Mutation& m) { return m.AddMember(g, u); }, [&] { ref_.members[g].insert(u); });
          ref_.principals.insert(g);
          ref_.principals.insert(u);
        }
    // The initial bindings go in one bulk Mutation (the load path).
    Mutation bulk(*engine_->snapshot());
    for (int i = w.Uniform(30, 120); i > 0; --i) {
      std::string scope = w.Pick(ref_.parent).first;
      auto roles = w.RolesFor(ref_, scope);
      if (roles.empty()) continue;
      RefBinding b{next_binding_++, w.Pick(subjects_), w.Pick(roles), scope};
      w.RandomWindow(b.nb, b.exp);
      ASSERT_TRUE(bulk.AddBinding({b.id, b.subject, b.role, b.scope, b.nb, b.exp}).ok());
      ref_.bindings.push_back(b);
      ref_.principals.insert(b.subject);
    }
    engine_->Publish(bulk.Finish());
  }

  // One random query of each snapshot/reference pair; counts toward queries_.
  void RandomQuery(World& w, const Snapshot& s, const Reference& ref) {
    Time now = w.RandomTime();
    std::string scope = w.Pick(ref.parent).first;
    const RefKey& key = w.Pick(ref.keys);
    std::string subject = w.Chance(0.05) ? "user:ghost" : w.Pick(individuals_);
    // A restriction, sometimes.
    std::optional<Restriction> restriction;
    Names rkeys;
    std::string rscope;
    bool limit_keys = false;
    if (w.Chance(0.2)) {
      std::vector<std::string> patterns;
      if (w.Chance(0.7)) {
        patterns = w.RandomPatterns(ref, true);
        rkeys = ref.Resolve(patterns, true);
        limit_keys = true;
      }
      if (w.Chance(0.5)) rscope = w.Pick(ref.parent).first;
      auto r = s.MakeRestriction(patterns, rscope);
      ASSERT_TRUE(r) << r.error().ToString();
      restriction = *r;
    }
    const Names* rk = limit_keys ? &rkeys : nullptr;
    const Restriction* rp = restriction ? &*restriction : nullptr;
    int what = w.Uniform(0, 99);
    ++queries_;
    if (what < 80) {
      bool has_resource = w.Chance(0.5);
      std::string owner = !has_resource ? "" : w.Chance(0.5) ? subject : w.Pick(individuals_);
      auto d = s.Check(CheckInput{subject, scope, key.name, rp, has_resource, owner}, now);
      ASSERT_TRUE(d) << d.error().ToString();
      bool expected = ref.Check(subject, scope, key.name, now, rk, rscope, has_resource, owner);
      (expected ? allowed_ : denied_)++;
      ASSERT_EQ(d->allowed, expected) << "check " << subject << " " << key.name << " at " << scope << " now=" << now
                                      << " resource_owner=" << owner << " seed=" << seed_;
    } else if (what < 95) {
      auto expected = ref.Effective(subject, scope, now, rk, rscope);
      std::map<std::string, std::set<BindingId>> got;
      if (auto p = s.FindPrincipal(subject)) {
        for (const auto& e : s.EffectivePermissions(*p, *s.FindScope(scope), now, rp))
          for (const auto& r : e.reasons) got[s.registry().key(e.key).key].insert(r.binding);
      }
      ASSERT_EQ(got, expected) << "effective " << subject << " at " << scope << " now=" << now << " seed=" << seed_;
    } else {
      Names expected;
      Names everyone(individuals_.begin(), individuals_.end());
      for (const auto& p : everyone)
        if (ref.Holds(p, scope, key.name, now, nullptr, "")) expected.insert(p);
      Names got;
      std::string cursor;
      size_t limit = static_cast<size_t>(w.Uniform(1, 5));
      do {
        WhoCanPage page = s.WhoCan(*s.FindKey(key.name), *s.FindScope(scope), now, cursor, limit);
        ASSERT_LE(page.entries.size(), limit);
        for (const auto& e : page.entries) ASSERT_TRUE(got.insert(s.PrincipalName(e.principal)).second) << "duplicate across pages";
        cursor = page.next_cursor;
      } while (!cursor.empty());
      ASSERT_EQ(got, expected) << "who-can " << key.name << " at " << scope << " now=" << now << " seed=" << seed_;
    }
  }

  Reference ref_;
  std::vector<std::string> manifests_;
  std::unique_ptr<Engine> engine_;
  std::vector<std::string> individuals_, groups_, subjects_;
  BindingId next_binding_ = 1;
  std::uint32_t seed_ = 0;
  long queries_ = 0;
  long changes_ = 0;
  long allowed_ = 0;
  long denied_ = 0;
};

TEST_F(DifferentialTest, EngineAgreesWithNaiveReference) {
  constexpr int kWorlds = 12;
  constexpr int kInitialQueries = 1500;
  constexpr int kBatches = 10;
  constexpr int kChangesPerBatch = 12;
  constexpr int kQueriesPerBatch = 800;
  long incremental_changes = 0;
  for (int round = 0; round < kWorlds; ++round) {
    seed_ = 1000u + static_cast<std::uint32_t>(round);
    World w(seed_);
    BuildWorld(w);
    if (HasFatalFailure()) return;
    for (int i = 0; i < kInitialQueries; ++i) {
      RandomQuery(w, *engine_->snapshot(), ref_);
      if (HasFatalFailure()) return;
    }
    for (int b = 0; b < kBatches; ++b) {
      auto old_snapshot = engine_->snapshot();
      Reference old_ref = ref_;
      long before = changes_;
      for (int c = 0; c < kChangesPerBatch; ++c) {
        RandomChange(w);
        if (HasFatalFailure()) return;
      }
      incremental_changes += changes_ - before;
      for (int i = 0; i < kQueriesPerBatch; ++i) {
        RandomQuery(w, *engine_->snapshot(), ref_);
        if (HasFatalFailure()) return;
      }
      // The snapshot from before the batch still answers as the world was then.
      for (int i = 0; i < 50; ++i) {
        RandomQuery(w, *old_snapshot, old_ref);
        if (HasFatalFailure()) return;
      }
    }
  }
  RecordProperty("queries", std::to_string(queries_));
  RecordProperty("incremental_changes", std::to_string(incremental_changes));
  std::printf("differential: %ld queries (checks: %ld allowed, %ld denied), %ld incremental changes\n",
              queries_, allowed_, denied_, incremental_changes);
  // Both outcomes must be common, or the comparison proves little.
  EXPECT_GE(allowed_, queries_ / 10);
  EXPECT_GE(denied_, queries_ / 10);
  EXPECT_GE(queries_, 100000);
  EXPECT_GE(incremental_changes, 1000);
}

}  // namespace
}  // namespace scaigrid::iam
