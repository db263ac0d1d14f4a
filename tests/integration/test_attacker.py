"""A seeded, bounded randomized attacker against the real server.

Root (the bootstrap super_admin key) builds a small world — two partners, four tenants (one
without a partner), projects, per tenant an admin, a viewer, a plain user, a user holding a
custom role with only a few `iam:*` keys, groups, service accounts, a user who is admin of
one tenant and viewer of another, a partner admin, and API keys for them (unrestricted,
restricted to the tenant, to a project, to a few keys). Every object of tenant T has an id
containing T's random marker (e.g. `kqzvt`), so that a leak is visible in any response.

Then, from `random.Random(seed)`, non-root credentials send hostile requests: other tenants'
objects by id, roles / bindings / memberships / API keys / capability tokens that would
escalate, audit reads and writes for other tenants, checks and permission listings at
foreign scopes, odd scope spellings, path tricks, huge numbers, duplicate JSON keys, long
names and unknown fields. API keys and capability tokens that a 2xx answer hands out join
the pool of credentials and are used later (chains such as "a key for another user, then
with it a key at the platform").

The test keeps its own model of the grants (from root's setup and from 2xx answers only),
with the registry read independently from manifests/*.yaml, and asserts:
  a. no 5xx, ever (and the server never dies);
  b. no body or header carries another tenant's marker, unless the request carried it (or a
     2xx change planted it where the credential can see);
  c. every 2xx change is allowed by THE RULE (see `Judge`), judged on the model before it;
     a scope-restricted credential lists and revokes only its owner's keys within its scope; a
     request about the caller itself at a scope it cannot see is `404 no scope '<scope>'`;
  d. at the end, root's batched checks of every key for every principal at every scope
     equal the model;
  e. `scaigrid-iam audit verify` succeeds, and no event landed in the log of a tenant its
     actor never had a binding at or around (root apart).

Seeds: 1,2,3 by default; SCAIGRID_ATTACK_SEEDS=20 (seeds 1..20) or =4,17,99;
SCAIGRID_ATTACK_REQUESTS (default 1500) and SCAIGRID_ATTACK_SECONDS (default 40) bound each
seed. A failing seed prints the seed, each violation with its request and credential, and
the shortest trace: the requests that created the credential (its lineage) and its last
requests. Standalone: `python3 test_attacker.py build/src/cli/scaigrid-iam`.
"""

import glob
import json
import os
import random
import re
import subprocess
import sys
import time
import unittest
import urllib.parse
from collections import defaultdict

import harness
from harness import quote

SENSITIVE_JUSTIFICATION = "attacker test"
FAR_FUTURE = "2999-01-01T00:00:00Z"


# =====================================================================================
# The registry, read independently from manifests/*.yaml
# =====================================================================================

def _strip_comment(line):
    out, quote_char = [], None
    for i, ch in enumerate(line):
        if quote_char:
            if ch == quote_char and not (quote_char == '"' and line[i - 1] == "\\"):
                quote_char = None
        elif ch in "\"'":
            quote_char = ch
        elif ch == "#" and (i == 0 or line[i - 1] in " \t"):
            break
        out.append(ch)
    return "".join(out).rstrip()


def _scalar(s):
    s = s.strip()
    if s.startswith('"'):
        return json.loads(s)
    if s.startswith("'"):
        return s[1:-1].replace("''", "'")
    return s


def _value(s):
    s = s.strip()
    if s.startswith("["):
        inner = s[1:-1].strip()
        return [_scalar(x) for x in inner.split(",")] if inner else []
    return _scalar(s)


def _entry(text):
    """'key: value' / 'key:' -> (key, value text) or None. Keys may contain ':' (implies)."""
    if text.startswith(("[", '"', "'")):
        return None
    if text.endswith(":"):
        return text[:-1], ""
    if ": " in text:
        k, _, v = text.partition(": ")
        return k, v
    return None


def parse_manifest(text):
    """The YAML subset the manifests use: block mappings and sequences, flow lists of scalars."""
    lines = []
    for raw in text.splitlines():
        line = _strip_comment(raw)
        if line.strip():
            lines.append([len(line) - len(line.lstrip(" ")), line.strip()])

    def block(i, indent):
        if lines[i][1].startswith("- "):
            seq = []
            while i < len(lines) and lines[i][0] == indent and lines[i][1].startswith("- "):
                rest = lines[i][1][2:].lstrip()
                if _entry(rest):
                    lines[i] = [indent + len(lines[i][1]) - len(rest), rest]
                    item, i = mapping(i, lines[i][0])
                else:
                    item, i = _value(rest), i + 1
                seq.append(item)
            return seq, i
        return mapping(i, indent)

    def mapping(i, indent):
        m = {}
        while i < len(lines) and lines[i][0] == indent and not lines[i][1].startswith("- "):
            k, v = _entry(lines[i][1])
            i += 1
            if v.strip():
                m[_scalar(k)] = _value(v)
            elif i < len(lines) and (lines[i][0] > indent or
                                     (lines[i][0] == indent and lines[i][1].startswith("- "))):
                m[_scalar(k)], i = block(i, lines[i][0])
            else:
                m[_scalar(k)] = None
        return m, i

    return block(0, lines[0][0])[0]


class Registry:
    """Keys, platform level, implications, defaults, module roles and capabilities."""

    def __init__(self, directory):
        self.platform = {}            # key -> platform-level?
        self.implies = {}             # key -> [patterns]
        self.defaults = {"tenant_user": [], "tenant_viewer": []}
        self.module_roles = {}        # "tiers.owner" -> (scope kind, [patterns])
        self.capabilities = {}        # "scaibot:chat" -> {permission, issue, revoke, ...}
        self.texts = {}               # module -> manifest text (for a no-op re-registration)
        for path in sorted(glob.glob(os.path.join(directory, "*.yaml"))):
            with open(path, encoding="utf-8") as f:
                text = f.read()
            m = parse_manifest(text)
            self.texts[m["module"]] = text
            for p in m.get("permissions") or []:
                self.platform[p["key"]] = p.get("level") == "platform"
            for k, targets in (m.get("implies") or {}).items():
                self.implies.setdefault(k, []).extend(targets)
            for role, keys in (m.get("defaults") or {}).items():
                self.defaults.setdefault(role, []).extend(keys or [])
            for r in m.get("roles") or []:
                self.module_roles[f"{m['module']}.{r['name']}"] = (r["scope"], r.get("permissions") or [])
            for c in m.get("capabilities") or []:
                self.capabilities[f"{m['module']}:{c['name']}"] = c
        self.all = frozenset(self.platform)
        self.platform_keys = frozenset(k for k, p in self.platform.items() if p)
        self.non_platform = self.all - self.platform_keys
        self._closure_cache = {}
        assert "iam:roles:escalate" in self.all and self.capabilities, "manifests not read"

    def expand(self, pattern, not_itself=None):
        if pattern.endswith(":*"):
            prefix = pattern[:-1]
            return {k for k in self.all if k.startswith(prefix) and k != not_itself}
        return {pattern} if pattern in self.all else set()

    def closure(self, patterns):
        """Keys named by the patterns (wildcards expanded), closed under `implies`."""
        key = tuple(sorted(patterns))
        if key not in self._closure_cache:
            out, todo = set(), []
            for p in patterns:
                todo.extend(self.expand(p))
            while todo:
                k = todo.pop()
                if k in out:
                    continue
                out.add(k)
                for t in self.implies.get(k, ()):
                    todo.extend(self.expand(t, not_itself=k))
            self._closure_cache[key] = frozenset(out)
        return self._closure_cache[key]

    def knows(self, patterns):
        return all(self.expand(p) for p in patterns)


# =====================================================================================
# The model of the grants
# =====================================================================================

class Cred:
    """A credential of the attacker's pool."""

    def __init__(self, label, secret, principal, rk=None, rs=None, kind="key", key_id=None,
                 origin=None, token_scope=None):
        self.label = label
        self.secret = secret
        self.principal = principal
        self.rk = tuple(rk) if rk else None     # restriction keys (patterns) or None
        self.rs = rs                            # restriction scope or None
        self.kind = kind                        # "key" | "cap" | "root"
        self.key_id = key_id
        self.origin = origin                    # index of the request that created it
        self.token_scope = token_scope          # capability tokens: where minted
        self.history = []                       # indices of the requests it sent

    def restricted(self):
        return self.rk is not None or self.rs is not None

    def __repr__(self):
        r = []
        if self.rk is not None:
            r.append(f"keys={list(self.rk)}")
        if self.rs is not None:
            r.append(f"scope={self.rs}")
        extra = (" " + " ".join(r)) if r else " unrestricted"
        what = "capability token" if self.kind == "cap" else (self.key_id or "key")
        return f"<{self.label}: {what} of {self.principal}{extra}>"


class Binding:
    def __init__(self, bid, subject, role, scope, active=True):
        self.id, self.subject, self.role, self.scope, self.active = bid, subject, role, scope, active

    def __repr__(self):
        return f"binding {self.id} ({self.subject} {self.role} at {self.scope}{'' if self.active else ', inactive'})"


class ApiKey:
    def __init__(self, kid, owner, rk, rs):
        self.id, self.owner, self.rk, self.rs, self.revoked = kid, owner, (tuple(rk) if rk else None), rs, False


class Model:
    """Scopes, principals, memberships, custom roles, bindings, API keys — as written."""

    def __init__(self, reg):
        self.reg = reg
        self.parent = {"platform": None}
        self.owner_tenant = {}              # group:/service_account: -> tenant:<id>
        self.members = defaultdict(set)     # group -> members
        self.custom_roles = {}              # id -> (scope, frozenset keys)
        self.bindings = {}                  # id -> Binding
        self.keys = {}                      # key id -> ApiKey
        self.tokens = {}                    # capability token id -> (capability, scope)
        self.users = set()
        self.ever_around = defaultdict(set)  # principal -> tenants it ever had a binding at or around

    # ---- scopes ----

    def exists(self, scope):
        return scope in self.parent

    def ancestors(self, scope):
        out = []
        while scope is not None:
            out.append(scope)
            scope = self.parent.get(scope)
        return out

    def at_or_below(self, x, y):
        return self.exists(x) and y in self.ancestors(x)

    def related(self, x, y):
        return self.at_or_below(x, y) or self.at_or_below(y, x)

    def tenant_of(self, scope):
        for s in self.ancestors(scope) if self.exists(scope) else ():
            if s.startswith("tenant:"):
                return s
        return None

    def tenants(self):
        return [s for s in self.parent if s.startswith("tenant:")]

    def below(self, scope):
        return [s for s in self.parent if self.at_or_below(s, scope)]

    # ---- principals and roles ----

    def groups_of(self, p):
        return {g for g, ms in self.members.items() if p in ms}

    def bindings_of(self, p, active_only=True):
        subjects = {p} | self.groups_of(p)
        return [b for b in self.bindings.values() if b.subject in subjects and (b.active or not active_only)]

    def role_keys(self, role):
        reg = self.reg
        if role == "super_admin":
            return reg.all
        if role in ("partner_admin", "tenant_admin"):
            return reg.non_platform
        if role in ("tenant_user", "tenant_viewer"):
            return reg.closure(reg.defaults.get(role, []))
        if role in reg.module_roles:
            return reg.closure(reg.module_roles[role][1])
        if role in self.custom_roles:
            return self.custom_roles[role][1]
        return frozenset()

    def grantable(self, role, scope):
        """keys(role) as a binding at `scope` hands them out: no platform keys below it."""
        keys = self.role_keys(role)
        return keys if scope == "platform" else keys - self.reg.platform_keys

    def principal_keys(self, p, scope, rk=None, rs=None):
        """held((p, rk, rs), scope) of THE RULE."""
        if not self.exists(scope):
            return frozenset()
        if rs is not None and not self.at_or_below(scope, rs):
            return frozenset()
        path = set(self.ancestors(scope))
        keys = set()
        for b in self.bindings_of(p):
            if b.scope in path:
                keys |= self.role_keys(b.role)
        if scope != "platform":
            keys -= self.reg.platform_keys
        if rk is not None:
            keys &= self.reg.closure(rk)
        return frozenset(keys)

    def held(self, cred, scope):
        if cred.kind == "cap":
            return frozenset()
        return self.principal_keys(cred.principal, scope, cred.rk, cred.rs)

    def can_grant(self, cred, keys, scope):
        h = self.held(cred, scope)
        return "iam:roles:escalate" in h or set(keys) <= h

    def visible(self, cred, scope):
        """THE RULE's visibility: the scope exists, is related to RS, and P is bound around it
        (or, for a service account, it lies in the account's tenant)."""
        if not self.exists(scope):
            return False
        if cred.kind == "cap":
            return cred.token_scope is not None and self.related(scope, cred.token_scope)
        if cred.rs is not None and not self.related(scope, cred.rs):
            return False
        home = self.owner_tenant.get(cred.principal)
        if home is not None and self.at_or_below(scope, home):
            return True  # a service account sees its own tenant and what lies below it
        return any(self.related(b.scope, scope) for b in self.bindings_of(cred.principal, active_only=False))

    def tenants_around(self, p):
        out = set()
        for b in self.bindings_of(p, active_only=False):
            for t in self.tenants():
                if self.related(b.scope, t):
                    out.add(t)
        return out

    def note_around(self, principals):
        for p in principals:
            self.ever_around[p] |= self.tenants_around(p)

    def in_scope_of(self, key_scope, cred):
        """An API key with scope key_scope lies within cred's scope restriction (if any)."""
        return cred.rs is None or (key_scope is not None and self.at_or_below(key_scope, cred.rs))

    def no_broader(self, key, cred):
        """An API key (or would-be key) with restriction (rk, rs) is no broader than cred."""
        rk, rs = key
        if cred.rs is not None and (rs is None or not self.at_or_below(rs, cred.rs)):
            return False
        if cred.rk is not None and (rk is None or not self.reg.closure(rk) <= self.reg.closure(cred.rk)):
            return False
        return True

    def principals(self):
        sas = {p for p in self.owner_tenant if p.startswith("service_account:")}
        return sorted(self.users | sas)


# =====================================================================================
# THE RULE: is a 2xx change allowed? Each judge returns the reasons it is not ([] = fine).
# =====================================================================================

class Judge:
    def __init__(self, model):
        self.m = model

    def _need(self, cred, key, scope, why=""):
        if scope is None or key not in self.m.held(cred, scope):
            return [f"{key} not held at {scope}{why}"]
        return []

    def _grant(self, cred, keys, scope, what):
        if self.m.can_grant(cred, keys, scope):
            return []
        missing = sorted(set(keys) - self.m.held(cred, scope))
        return [f"escalation: {what} hands out {len(missing)} key(s) not held at {scope}: {missing[:6]}"]

    def role_create(self, cred, scope, patterns):
        keys = self.m.reg.closure(patterns)
        return self._need(cred, "iam:roles:manage", scope) + self._grant(cred, keys, scope, "role")

    def role_edit(self, cred, role_id, patterns, name_only):
        scope, old = self.m.custom_roles[role_id]
        keys = old if name_only else self.m.reg.closure(patterns)
        what = "role edit (name only: the role's current keys)" if name_only else "role edit"
        return self._need(cred, "iam:roles:manage", scope) + self._grant(cred, keys, scope, what)

    def role_delete(self, cred, role_id):
        return self._need(cred, "iam:roles:manage", self.m.custom_roles[role_id][0])

    def binding_create(self, cred, subject, role, scope):
        r = self._need(cred, "iam:bindings:manage", scope)
        r += self._grant(cred, self.m.grantable(role, scope), scope, f"binding of {role}")
        if role in self.m.custom_roles and not self.m.at_or_below(scope, self.m.custom_roles[role][0]):
            r.append(f"custom role {role} of {self.m.custom_roles[role][0]} bound outside it")
        own = self.m.owner_tenant.get(subject)
        if own and not self.m.related(scope, own):
            r.append(f"{subject} of {own} bound at unrelated {scope}")
        return r

    def binding_delete(self, cred, b):
        return self._need(cred, "iam:bindings:manage", b.scope)

    def member_add(self, cred, group, member):
        tenant = self.m.owner_tenant[group]
        r = self._need(cred, "iam:groups:manage", tenant, " (the group's tenant)")
        for b in self.m.bindings.values():
            if b.subject == group:
                r += self._grant(cred, self.m.grantable(b.role, b.scope), b.scope,
                                 f"membership of {group} ({b})")
        own = self.m.owner_tenant.get(member)
        if own and own != tenant:
            r.append(f"{member} of {own} added to {group} of {tenant}")
        return r

    def member_remove(self, cred, group):
        return self._need(cred, "iam:groups:manage", self.m.owner_tenant[group], " (the group's tenant)")

    def api_key(self, cred, owner, pk, ks):
        m = self.m
        if cred.kind == "cap":
            return ["a capability token created an API key"]
        r = []
        if not m.no_broader((pk, ks), cred):
            r.append(f"key (permissions={list(pk) if pk else None}, scope={ks}) broader than the credential")
        if owner != cred.principal:
            gate = ks or m.owner_tenant.get(owner) or "platform"
            r += self._need(cred, "iam:api_keys:manage", gate, " (key for another owner)")
            zs = {ks or "platform"}
            for b in m.bindings_of(owner, active_only=False):
                if ks is None or m.at_or_below(b.scope, ks):
                    zs.add(b.scope)
            for z in sorted(zs):
                r += self._grant(cred, m.principal_keys(owner, z, pk, ks), z, f"key for {owner}")
        return r

    def key_revoke(self, cred, key):
        m = self.m
        if cred.kind == "cap":
            return ["a capability token revoked an API key"]
        if key.owner == cred.principal:
            if not m.in_scope_of(key.rs, cred):
                return [f"scope-restricted credential revoked its owner's key {key.id} outside its scope"]
            return []
        gate = key.rs or m.owner_tenant.get(key.owner) or "platform"
        return self._need(cred, "iam:api_keys:manage", gate, f" (revoking {key.owner}'s key)")

    def cap_mint(self, cred, capability, scope):
        cap = self.m.reg.capabilities.get(capability)
        if cap is None:
            return [f"minted unknown capability {capability}"]
        return self._need(cred, cap["issue"], scope) + self._need(cred, cap["permission"], scope)

    def cap_revoke(self, cred, capability, scope):
        cap = self.m.reg.capabilities.get(capability)
        return self._need(cred, cap["revoke"], scope) if cap else [f"unknown capability {capability}"]

    def owned_create(self, cred, kind, tenant):
        key = "iam:groups:manage" if kind == "group" else "iam:service_accounts:manage"
        return self._need(cred, key, tenant)

    def scope_create(self, cred, scope, parent):
        if scope.startswith("partner:"):
            return self._need(cred, "iam:partners:manage", "platform")
        return self._need(cred, "iam:scopes:manage", parent)

    def scope_delete(self, cred, scope):
        key = "iam:partners:manage" if scope.startswith("partner:") else "iam:scopes:manage"
        if key in self.m.held(cred, scope) or key in self.m.held(cred, self.m.parent.get(scope) or "platform"):
            return []
        return [f"{key} not held at {scope} nor its parent"]

    def audit_write(self, cred, tenant):
        return self._need(cred, "iam:audit:write", tenant or "platform")


# =====================================================================================
# Requests
# =====================================================================================

CHANGE_KINDS = {"role_create", "role_patch", "role_delete", "binding_create", "binding_delete",
                "member_add", "member_remove", "key_create", "key_revoke", "cap_mint", "cap_revoke",
                "cap_revoke_resource", "group_create", "sa_create", "group_delete", "sa_delete",
                "scope_create", "scope_delete", "audit_write", "rotate", "module_put"}


class Req:
    def __init__(self, kind, method, path, body=None, raw=None, **args):
        self.kind, self.method, self.path, self.body, self.raw, self.args = kind, method, path, body, raw, args
        self.self_scope = None   # a request about the caller at this canonical scope (404 rule)

    def text(self):
        if self.raw is not None:
            return self.path + " " + self.raw
        return self.path + ((" " + json.dumps(self.body)) if self.body is not None else "")

    def short(self, n=400):
        t = f"{self.method} {self.text()}"
        return t if len(t) <= n else t[:n] + f"... ({len(t)} chars)"


def q(v):
    return urllib.parse.quote(v, safe=":")


PERM_PATTERNS = ["iam:*", "iam:roles:escalate", "iam:bindings:manage", "iam:api_keys:manage",
                 "iam:groups:manage", "iam:roles:manage", "iam:check", "iam:audit:read", "iam:audit:write",
                 "iam:service_accounts:manage", "iam:scopes:manage", "iam:permissions:read",
                 "iam:signing_keys:manage", "iam:partners:manage", "iam:modules:manage",
                 "scaibot:*", "scaibot:bots:*", "scaibot:embed:issue", "scaibot:chat", "scaibot:bots:read",
                 "scaibunker:admin:platform", "scaibunker:*", "scaibunker:admin", "scaiecho:enroll",
                 "scaiecho:transcribe", "scaiskills:grant", "scaiskills:bind", "account:write",
                 "project:write", "members:*", "*:*", "*", "iam", "tiers:*", "IAM:ROLES:ESCALATE"]


# =====================================================================================
# The world and the attacker
# =====================================================================================

class Violation(Exception):
    pass


class Attack:
    """One seed: a server, a world, the hostile requests, and the assertions."""

    def __init__(self, server, seed, n_requests, seconds, log):
        self.server = server
        self.seed = seed
        self.rng = random.Random(seed)
        self.n_requests = n_requests
        self.seconds = seconds
        self.log = log
        self.reg = Registry(server.manifests)
        self.m = Model(self.reg)
        self.judge = Judge(self.m)
        self.pool = []
        self.requests = []            # (Req, cred, status, short response)
        self.violations = []
        self.markers = {}             # marker -> tenant scope
        self.planted = defaultdict(set)   # marker -> tenants where a 2xx change stored it
        self.revision = 0
        self.request_ids = {}         # X-Request-Id -> index of the request
        self.stats = defaultdict(lambda: defaultdict(int))
        self.root = None

    # ---------------------------------------------------------------- HTTP

    def send(self, cred, req):
        key = cred.secret
        hdrs = {"Content-Type": "application/json"} if req.raw is not None else None
        try:
            status, body, headers = self.server.call(req.method, req.path, body=req.body, key=key,
                                                     raw_body=req.raw, headers=hdrs)
        except Exception as e:  # a broken connection: the server may have died
            status, body, headers = None, f"transport error: {e!r}", {}
        return status, body, headers

    def root_call(self, method, path, body=None, expect=(200, 201)):
        status, resp, _ = self.server.call(method, path, body=body, key=self.root.secret)
        if status not in expect:
            raise AssertionError(f"setup: {method} {path} {body} -> {status} {resp}")
        if isinstance(resp, dict) and isinstance(resp.get("revision"), int):
            self.revision = max(self.revision, resp["revision"])
        return resp

    # ---------------------------------------------------------------- setup

    def marker(self):
        while True:
            m = "".join(self.rng.choice("ghjkmnpqrstvwxyz") for _ in range(5))
            if m not in self.markers and not any(m in x or x in m for x in self.markers):
                return m

    def setup(self):
        m, reg = self.m, self.reg
        self.root = Cred("root", self.server.admin_key, None, kind="root")
        mine = self.root_call("GET", "/v1/iam/api-keys")
        self.root.principal = mine["owner"]
        self.root.key_id = mine["items"][0]["id"] if mine.get("items") else None
        if self.root.key_id:
            m.keys[self.root.key_id] = ApiKey(self.root.key_id, self.root.principal, None, None)
        for b in self.root_call("GET", f"/v1/iam/bindings?subject={quote(self.root.principal)}")["items"]:
            m.bindings[b["id"]] = Binding(b["id"], b["subject"], b["role"], b["scope"])
        m.users.add(self.root.principal)

        for p in ("north", "south"):
            self.root_call("POST", "/v1/iam/partners", {"id": p, "name": p})
            m.parent[f"partner:{p}"] = "platform"
        self.tenant_info = []
        plans = [("north", ["iam:groups:manage"]),
                 ("north", ["iam:api_keys:manage", "iam:service_accounts:manage"]),
                 ("south", ["iam:bindings:manage", "scaibot:bots:read", "scaibot:chat", "scaibot:embed:issue"]),
                 (None, ["iam:roles:manage", "iam:bindings:manage", "scaiecho:transcribe", "scaiecho:diarize"])]
        for partner, custom_keys in plans:
            mk = self.marker()
            t = f"{mk}-corp"
            ts = f"tenant:{t}"
            self.markers[mk] = ts
            body = {"id": t, "name": f"{mk} corp"}
            if partner:
                body["partner"] = partner
            self.root_call("POST", "/v1/iam/tenants", body)
            m.parent[ts] = f"partner:{partner}" if partner else "platform"
            projects = [f"project:{mk}-p1", f"project:{mk}-p2"]
            for pr in projects:
                self.root_call("POST", "/v1/iam/projects", {"id": pr.split(":", 1)[1], "tenant": t})
                m.parent[pr] = ts
            role = self.root_call("POST", "/v1/iam/custom-roles",
                                  {"name": f"{mk} custom", "module_permissions": custom_keys, "scope": ts})
            m.custom_roles[role["id"]] = (ts, reg.closure(custom_keys))
            bots_role = self.root_call("POST", "/v1/iam/custom-roles",
                                       {"name": f"{mk} bots", "module_permissions": ["scaibot:*"], "scope": ts})
            m.custom_roles[bots_role["id"]] = (ts, reg.closure(["scaibot:*"]))
            for g in ("admins", "proj", "bots"):
                self.root_call("POST", "/v1/iam/groups", {"id": f"{mk}-{g}", "tenant": t})
                m.owner_tenant[f"group:{mk}-{g}"] = ts
            for s in ("sa1", "sa2"):
                self.root_call("POST", "/v1/iam/service-accounts", {"id": f"{mk}-{s}", "tenant": t})
                m.owner_tenant[f"service_account:{mk}-{s}"] = ts
            u = lambda n: f"user:{mk}-{n}"
            for subject, r, scope in ((u("admin"), "tenant_admin", ts), (u("viewer"), "tenant_viewer", ts),
                                      (u("user"), "tenant_user", ts), (u("custom"), role["id"], ts),
                                      (u("owner"), "tiers.owner", projects[0]),
                                      (f"group:{mk}-admins", "tenant_admin", ts),
                                      (f"group:{mk}-proj", "tiers.admin", projects[0]),
                                      (f"group:{mk}-bots", bots_role["id"], ts),
                                      (f"service_account:{mk}-sa2", "tenant_viewer", ts)):
                self.setup_bind(subject, r, scope)
            for g, member in (("admins", u("lead")), ("proj", f"service_account:{mk}-sa1"),
                              ("proj", u("member")), ("bots", u("member"))):
                self.root_call("PUT", f"/v1/iam/groups/{mk}-{g}/members/{quote(member)}")
                m.members[f"group:{mk}-{g}"].add(member)
                if member.startswith("user:"):
                    m.users.add(member)
            self.tenant_info.append((mk, ts, projects, role["id"], bots_role["id"]))
            for name in ("admin", "viewer", "user", "custom", "owner", "lead", "member"):
                self.setup_keys(u(name), ts, projects[0], f"{mk}-{name}")
            self.setup_key(f"service_account:{mk}-sa1", None, None, f"{mk}-sa1")
            self.setup_key(f"service_account:{mk}-sa2", None, ts, f"{mk}-sa2 tenant")
        (m0, t0, p0, _, _), _, (m2, t2, _, _, _), _ = self.tenant_info
        self.setup_bind("user:dual-ops", "tenant_admin", t0)
        self.setup_bind("user:dual-ops", "tenant_viewer", t2)
        self.setup_keys("user:dual-ops", t0, p0[0], "dual")
        self.setup_key("user:dual-ops", None, t2, "dual at viewer tenant")
        self.setup_bind("user:south-ops", "partner_admin", "partner:south")
        self.setup_key("user:south-ops", None, None, "south partner admin")
        self.setup_key("user:south-ops", None, "partner:south", "south partner admin, partner scope")
        self.setup_key("user:south-ops", ["iam:api_keys:manage", "iam:bindings:manage"], "partner:south",
                       "south partner admin, 2 keys")
        m.note_around(m.principals())

    def setup_bind(self, subject, role, scope):
        b = self.root_call("POST", "/v1/iam/bindings", {"subject": subject, "role": role, "scope": scope,
                                                         "justification": SENSITIVE_JUSTIFICATION})
        self.m.bindings[b["id"]] = Binding(b["id"], subject, role, scope)
        if subject.startswith("user:"):
            self.m.users.add(subject)

    def setup_keys(self, owner, tenant, project, label):
        self.setup_key(owner, None, None, label)
        self.setup_key(owner, None, tenant, label + " tenant")
        self.setup_key(owner, None, project, label + " project")
        rk = self.rng.choice([["scaibot:*"], ["iam:groups:manage", "iam:bindings:manage", "iam:api_keys:manage"],
                              ["iam:api_keys:manage"], ["scaibot:embed:issue", "scaibot:chat"]])
        self.setup_key(owner, rk, self.rng.choice([None, tenant]), label + " keys")

    def setup_key(self, owner, rk, rs, label):
        body = {"owner": owner, "name": label}
        if rk:
            body["permissions"] = rk
        if rs:
            body["scope"] = rs
        k = self.root_call("POST", "/v1/iam/api-keys", body)
        self.m.keys[k["id"]] = ApiKey(k["id"], owner, rk, rs)
        if owner.startswith("user:"):
            self.m.users.add(owner)
        self.pool.append(Cred(label, k["key"], owner, rk, rs, key_id=k["id"], origin=None))

    # ---------------------------------------------------------------- random choices

    def pick(self, seq):
        return self.rng.choice(list(seq))

    def chance(self, p):
        return self.rng.random() < p

    def home(self, cred, fixed=False):
        """Some scope the credential belongs to (for plausible requests)."""
        if cred.rs:
            return cred.rs
        bs = sorted(b.scope for b in self.m.bindings_of(cred.principal, active_only=False))
        if not bs:
            return "platform"
        return bs[0] if fixed else self.pick(bs)

    def odd_scope(self):
        mk, ts, projects, _, _ = self.pick(self.tenant_info)
        t = ts.split(":", 1)[1]
        return self.pick([f"tenant:{t.upper()}", f"tenant: {t}", f"tenant:{t}/", f"Tenant:{t}", "tenant:",
                          f"tenant:{t}%00", "tenant:" + "x" * 3000, f"tenant:{t}/../{t}", f"project:{t}",
                          f"tenant:{projects[0].split(':', 1)[1]}", "partner:", "platform:", "PLATFORM",
                          f"tenant:{t}\u0000", f"tenant:{t} ", "*", "tenant:*", f"{ts},platform"])

    def scope(self, cred, plausible=0.5):
        """A scope to act at: the credential's own, above, below, another tenant's, odd."""
        r = self.rng.random()
        if r < plausible:
            home = self.home(cred)
            below = self.m.below(home)
            return self.pick(below) if below and self.chance(0.5) else home
        if r < plausible + 0.1:
            return "platform"
        if r < plausible + 0.18:
            return self.pick(["partner:north", "partner:south"])
        if r < plausible + 0.5:
            return self.pick(list(self.m.parent))
        if r < plausible + 0.55:
            return self.pick(["tenant:nope", "project:nope", "partner:nope"])
        return self.odd_scope()

    def local_tenant(self, cred):
        return self.m.tenant_of(self.home(cred)) or self.pick(self.m.tenants())

    def local_principals(self, tenant):
        mk = next((k for k, t in self.markers.items() if t == tenant), None)
        return [p for p in sorted(self.m.users) if mk and mk in p] + \
               [p for p, t in self.m.owner_tenant.items() if t == tenant]

    def principal(self, cred, kinds=("user", "service_account", "group")):
        r = self.rng.random()
        if r < 0.3 and cred.principal and cred.principal.split(":")[0] in kinds:
            return cred.principal
        cands = [p for p in sorted(self.m.users) + list(self.m.owner_tenant) if p.split(":")[0] in kinds]
        if r < 0.6:
            local = [p for p in self.local_principals(self.local_tenant(cred)) if p.split(":")[0] in kinds]
            cands = local or cands
        if r < 0.9 and cands:
            return self.pick(cands)
        return self.pick(["user:" + "u" * 5000, "user:", "group:nope", "service_account:nope", "nobody",
                          "user:a/b", "user:..", "User:" + (cred.principal or "x").split(":")[-1],
                          "visitor:v-1", "system", "user:root"])

    def role(self, cred):
        r = self.rng.random()
        if r < 0.3:
            home = self.home(cred)
            local = [rid for rid, (sc, _) in self.m.custom_roles.items() if self.m.related(sc, home)]
            if local:
                return self.pick(local)
        r = self.rng.random()
        if r < 0.35:
            return self.pick(["super_admin", "partner_admin", "tenant_admin", "tenant_user", "tenant_viewer"])
        if r < 0.5:
            return self.pick(list(self.reg.module_roles))
        if r < 0.92 and self.m.custom_roles:
            return self.pick(list(self.m.custom_roles))
        return self.pick(["cr_nope", "tiers.nope", "SUPER_ADMIN", "", "../super_admin"])

    def perms(self, cred, scope):
        """Patterns: a subset of what the credential holds there (plausible) or hostile ones."""
        held = sorted(self.m.held(cred, scope) if self.m.exists(scope) else ())
        if held and self.chance(0.45):
            return self.rng.sample(held, min(len(held), self.rng.randint(1, 4)))
        return self.rng.sample(PERM_PATTERNS, self.rng.randint(1, 3))

    def some_group(self, cred):
        groups = [g for g in self.m.owner_tenant if g.startswith("group:")]
        if self.chance(0.5):
            t = self.local_tenant(cred)
            groups = [g for g in groups if self.m.owner_tenant[g] == t] or groups
        return self.pick(groups) if groups else "group:nope"

    # ---------------------------------------------------------------- request generators

    def gen(self, cred):
        gens = [(self.g_role_create, 7), (self.g_role_patch, 5), (self.g_role_delete, 1),
                (self.g_binding_create, 12), (self.g_binding_delete, 3), (self.g_member_add, 9),
                (self.g_member_remove, 2), (self.g_key_create, 16), (self.g_key_revoke, 3),
                (self.g_cap_mint, 5), (self.g_cap_revoke, 2), (self.g_owned_create, 3),
                (self.g_owned_delete, 1), (self.g_scope_create, 2), (self.g_scope_delete, 1),
                (self.g_audit_query, 4), (self.g_audit_write, 4), (self.g_check, 9),
                (self.g_permissions, 6), (self.g_read, 8), (self.g_list_keys, 3), (self.g_weird, 6),
                (self.g_misc_admin, 1)]
        fn = self.rng.choices([g for g, _ in gens], weights=[w for _, w in gens])[0]
        return fn(cred)

    def maybe_dup(self, kind, path, body, field, other):
        """Sometimes the body is raw text with a duplicate key (`"scope": a, "scope": b`)."""
        if field in body and self.chance(0.12):
            text = json.dumps(body)[:-1] + f", {json.dumps(field)}: {json.dumps(other)}}}"
            if self.chance(0.5):
                items = [f"{json.dumps(field)}: {json.dumps(other)}"] + \
                        [f"{json.dumps(k)}: {json.dumps(v)}" for k, v in body.items()]
                text = "{" + ", ".join(items) + "}"
            return Req(kind, "POST", path, raw=text)
        if self.chance(0.05):
            body = dict(body, unexpected_field=True)
        return Req(kind, "POST", path, body)

    def g_role_create(self, cred):
        scope = self.scope(cred)
        body = {"name": "r" + str(self.rng.randint(0, 999)), "module_permissions": self.perms(cred, scope)}
        if scope != cred.rs or self.chance(0.5):
            body["scope"] = scope
        return self.maybe_dup("role_create", "/v1/iam/custom-roles", body, "scope", "platform")

    def g_role_patch(self, cred):
        rid = self.pick(list(self.m.custom_roles)) if self.m.custom_roles else "cr_nope"
        scope = self.m.custom_roles[rid][0] if rid in self.m.custom_roles else "platform"
        body = {}
        if self.chance(0.8):
            body["module_permissions"] = self.perms(cred, scope)
        if self.chance(0.4) or not body:
            body["name"] = "renamed"
        return Req("role_patch", "PATCH", f"/v1/iam/custom-roles/{quote(rid)}", body, role_id=rid)

    def g_role_delete(self, cred):
        rid = self.pick(list(self.m.custom_roles)) if self.m.custom_roles else "cr_nope"
        return Req("role_delete", "DELETE", f"/v1/iam/custom-roles/{quote(rid)}", role_id=rid)

    def g_binding_create(self, cred):
        scope = self.scope(cred)
        body = {"subject": self.principal(cred), "role": self.role(cred), "scope": scope}
        if self.chance(0.8):
            body["justification"] = SENSITIVE_JUSTIFICATION
        if self.chance(0.1):
            body["expires_at"] = self.pick([FAR_FUTURE, "2001-01-01", "99999-01-01", "yesterday"])
        if self.chance(0.05):
            body["not_before"] = self.pick([FAR_FUTURE, "1970-01-01"])
        if self.chance(0.15):
            del body["scope"]
        return self.maybe_dup("binding_create", "/v1/iam/bindings", body, "scope", "platform")

    def g_binding_delete(self, cred):
        ids = list(self.m.bindings)
        bid = self.pick(ids) if ids and self.chance(0.9) else self.pick(["0", "18446744073709551616", "-1", "abc"])
        return Req("binding_delete", "DELETE", f"/v1/iam/bindings/{bid}", binding_id=bid)

    def g_member_add(self, cred):
        group = self.some_group(cred)
        member = cred.principal if self.chance(0.6) and cred.principal else self.principal(cred)
        return Req("member_add", "PUT", f"/v1/iam/groups/{quote(group.split(':', 1)[-1])}/members/{quote(member)}",
                   group=group, member=member)

    def g_member_remove(self, cred):
        group = self.some_group(cred)
        ms = sorted(self.m.members.get(group, ()))
        member = self.pick(ms) if ms else self.principal(cred)
        return Req("member_remove", "DELETE",
                   f"/v1/iam/groups/{quote(group.split(':', 1)[-1])}/members/{quote(member)}",
                   group=group, member=member)

    def g_key_create(self, cred):
        r = self.rng.random()
        if r < 0.5 and cred.principal:
            owner = cred.principal
        else:
            owner = self.principal(cred, kinds=("user", "service_account"))
        body = {"owner": owner, "name": "k" + str(self.rng.randint(0, 999))}
        if self.chance(0.6):
            body["scope"] = self.scope(cred, plausible=0.3)
        if self.chance(0.5):
            body["permissions"] = self.perms(cred, body.get("scope") or cred.rs or "platform")
        elif self.chance(0.1):
            body["permissions"] = []
        if self.chance(0.05):
            body["expires_at"] = self.pick([FAR_FUTURE, "2000-01-01", "1e308"])
        req = self.maybe_dup("key_create", "/v1/iam/api-keys", body, "scope", "platform")
        if req.raw is None and owner == cred.principal and "scope" in req.body \
                and set(req.body) <= {"owner", "name", "scope", "permissions"} \
                and self.reg.knows(req.body.get("permissions") or []):
            req.self_scope = body["scope"]
        return req

    def g_key_revoke(self, cred):
        ids = [k for k in self.m.keys if k != self.root.key_id]
        kid = self.pick(ids) if ids and self.chance(0.9) else self.pick(["key_0000000000000000", "key_x", self.root.key_id or "x"])
        return Req("key_revoke", "DELETE", f"/v1/iam/api-keys/{quote(kid)}", key_id=kid)

    def g_cap_mint(self, cred):
        scope = self.scope(cred)
        body = {"capability": self.pick(["scaibot:chat"] * 5 + ["scaibot:nope", "iam:chat"]),
                "resource": self.pick(["bot:b-1", "bot:" + "b" * 300, "user:x", "bot:"]), "scope": scope}
        if self.chance(0.3):
            body["ttl_seconds"] = self.pick([1, 60, 86400, 86401, 10 ** 308, 2 ** 64, -1, 0, 1e308])
        if self.chance(0.3):
            body["visitor"] = self.pick(["visitor:v-1", self.pick(sorted(self.m.users)), "visitor:"])
        if self.chance(0.15):
            del body["scope"]
        return self.maybe_dup("cap_mint", "/v1/iam/capability-tokens", body, "scope", "platform")

    def g_cap_revoke(self, cred):
        if self.chance(0.5) and self.m.tokens:
            tid = self.pick(list(self.m.tokens))
            return Req("cap_revoke", "DELETE", f"/v1/iam/capability-tokens/{quote(tid)}", token_id=tid)
        body = {"capability": "scaibot:chat", "resource": "bot:b-1", "scope": self.scope(cred)}
        return Req("cap_revoke_resource", "POST", "/v1/iam/capability-tokens:revoke-resource", body)

    def g_owned_create(self, cred):
        kind = self.pick(["group", "sa"])
        ts = self.scope(cred, plausible=0.5)
        t = self.m.tenant_of(ts) or ts
        tid = t.split(":", 1)[-1]
        mk = tid.split("-")[0]
        body = {"id": f"{mk}-{kind}{self.rng.randint(0, 9999)}", "tenant": tid}
        path = "/v1/iam/groups" if kind == "group" else "/v1/iam/service-accounts"
        return Req("group_create" if kind == "group" else "sa_create", "POST", path, body)

    def g_owned_delete(self, cred):
        p = self.pick(sorted(self.m.owner_tenant)) if self.m.owner_tenant else "group:nope"
        kind, pid = p.split(":", 1)
        path = f"/v1/iam/groups/{quote(pid)}" if kind == "group" else f"/v1/iam/service-accounts/{quote(pid)}"
        return Req("group_delete" if kind == "group" else "sa_delete", "DELETE", path, principal=p)

    def g_scope_create(self, cred):
        r = self.rng.random()
        n = self.rng.randint(0, 9999)
        if r < 0.2:
            return Req("scope_create", "POST", "/v1/iam/partners", {"id": f"evil{n}"})
        parent = self.scope(cred)
        if r < 0.6:
            body = {"id": f"newt{n}"}
            if parent.startswith("partner:"):
                body["partner"] = parent.split(":", 1)[1]
            return Req("scope_create", "POST", "/v1/iam/tenants", body)
        t = self.m.tenant_of(parent) or parent
        tid = t.split(":", 1)[-1]
        return Req("scope_create", "POST", "/v1/iam/projects", {"id": f"{tid.split('-')[0]}-np{n}", "tenant": tid})

    def g_scope_delete(self, cred):
        s = self.pick([x for x in self.m.parent if x != "platform"])
        kind, sid = s.split(":", 1)
        return Req("scope_delete", "DELETE", f"/v1/iam/{kind}s/{quote(sid)}", scope=s)

    def g_audit_query(self, cred):
        r = self.rng.random()
        params = []
        if r < 0.8:
            t = self.scope(cred, plausible=0.3)
            params.append(("tenant", t.split(":", 1)[1] if t.startswith("tenant:") else t))
        if self.chance(0.3):
            params.append(("limit", self.pick(["1000", "-1", "0", "18446744073709551616", "1e308"])))
        if self.chance(0.2):
            params.append(("actor", self.principal(cred)))
        if self.chance(0.1):
            params.append(("tenant", self.pick(list(self.markers.values())).split(":", 1)[1]))
        return Req("audit_query", "GET", "/v1/audit/events?" + urllib.parse.urlencode(params))

    def g_audit_write(self, cred):
        body = {"module": self.pick(["scaiecho", "scaiecho", "iam", "nope"]), "action": "attack:event"}
        if self.chance(0.8):
            t = self.scope(cred, plausible=0.4)
            t = self.m.tenant_of(t) or t
            body["tenant"] = t.split(":", 1)[1] if ":" in t else t
        if self.chance(0.3):
            body["actor_user_id"] = self.principal(cred)
        return self.maybe_dup("audit_write", "/v1/audit/events", body, "tenant", "platform")

    def g_check(self, cred):
        scope = self.scope(cred)
        body = {"permission": self.pick(sorted(self.reg.all)) if self.chance(0.9) else "nope:nope"}
        echo = ""
        who = self.rng.random()
        if who < 0.45:
            pass
        elif who < 0.85:
            body["subject"] = self.principal(cred)
        else:
            tc = self.pick(self.pool)
            body["token"] = tc.secret
            echo = f"{tc.principal} {tc.rs} {tc.token_scope}"
        if self.chance(0.85):
            body["scope"] = scope
        if self.chance(0.5):
            body["audit"] = True
        if self.chance(0.08):
            body["min_revision"] = self.pick([2 ** 64, -1, 1e308, "1"])
        if self.chance(0.1):
            body = {"checks": [body] * self.rng.randint(1, 3)}
        req = Req("check", "POST", "/v1/iam/check", body, echo=echo)
        if "subject" not in body and "token" not in body and "scope" in body and "min_revision" not in body \
                and body["permission"] in self.reg.all:
            req.self_scope = body["scope"]
        return req

    def g_permissions(self, cred):
        r = self.rng.random()
        scope = self.scope(cred)
        if r < 0.35:
            req = Req("me_perms", "GET", f"/v1/iam/me/permissions?scope={q(scope)}")
            req.self_scope = scope
            return req
        if r < 0.7:
            p = self.principal(cred)
            req = Req("principal_perms", "GET", f"/v1/iam/principals/{quote(p)}/permissions?scope={q(scope)}")
            if p == cred.principal:
                req.self_scope = scope
            return req
        perm = self.pick(sorted(self.reg.all))
        limit = self.pick(["", "&limit=-1", "&limit=1000", "&limit=18446744073709551616", "&limit=1"])
        return Req("who_can", "GET", f"/v1/iam/who-can?permission={q(perm)}&scope={q(scope)}{limit}")

    def g_read(self, cred):
        m = self.m
        choices = [
            lambda: f"/v1/iam/tenants/{quote(self.pick(m.tenants()).split(':', 1)[1])}",
            lambda: "/v1/iam/tenants", lambda: "/v1/iam/projects", lambda: "/v1/iam/partners",
            lambda: "/v1/iam/partners/" + self.pick(["north", "south"]),
            lambda: f"/v1/iam/groups/{quote(self.some_group(cred).split(':', 1)[1])}",
            lambda: f"/v1/iam/groups?tenant={q(self.pick(m.tenants()).split(':', 1)[1])}",
            lambda: f"/v1/iam/service-accounts?tenant={q(self.pick(m.tenants()).split(':', 1)[1])}",
            lambda: "/v1/iam/service-accounts/" + quote(self.pick(
                [p for p in m.owner_tenant if p.startswith("service_account:")] or ["service_account:x"]).split(":", 1)[1]),
            lambda: f"/v1/iam/custom-roles/{quote(self.pick(list(m.custom_roles)))}",
            lambda: f"/v1/iam/bindings?scope={q(self.scope(cred))}",
            lambda: f"/v1/iam/bindings?subject={quote(self.principal(cred))}",
            lambda: "/v1/iam/bindings",
            lambda: f"/v1/iam/roles?scope={q(self.scope(cred))}",
            lambda: "/v1/iam/groups", lambda: "/v1/iam/service-accounts",
            lambda: f"/v1/iam/capability-tokens?scope={q(self.scope(cred))}",
            lambda: f"/v1/iam/capability-tokens/{quote(self.pick(list(m.tokens) or ['cap_x']))}",
        ]
        return Req("read", "GET", self.pick(choices)())

    def g_list_keys(self, cred):
        if self.chance(0.5):
            return Req("list_keys", "GET", "/v1/iam/api-keys", owner=cred.principal)
        owner = self.principal(cred, kinds=("user", "service_account"))
        return Req("list_keys", "GET", f"/v1/iam/api-keys?owner={quote(owner)}", owner=owner)

    def g_weird(self, cred):
        mk, ts, projects, role_id, _ = self.pick(self.tenant_info)
        t = ts.split(":", 1)[1]
        g = f"{mk}-admins"
        me = quote(cred.principal or "user:x")
        add = dict(as_kind="member_add", group=f"group:{g}", member=cred.principal or "user:x")
        drop = dict(as_kind="role_delete", role_id=role_id)
        paths = [
            ("GET", f"/v1/iam/groups/..%2Fgroups%2F{g}", {}), ("GET", f"/v1/iam/groups/%2e%2e/tenants/{t}", {}),
            ("GET", f"/v1/iam//tenants/{t}", {}), ("GET", f"/v1/iam/tenants/{t}/../{t}", {}),
            ("GET", f"/v1/iam/tenants/{t}%2F..%2F{t}", {}), ("GET", f"//v1/iam/groups/{g}", {}),
            ("GET", f"/v1/iam/groups/{g}/", {}), ("GET", f"/v1/iam/groups/{g.upper()}", {}),
            ("GET", f"/v1/iam/custom-roles/{role_id}%00", {}), ("GET", f"/v1/iam/tenants/{t}?tenant={t}&tenant={t}", {}),
            ("PUT", f"/v1/iam/groups/{g}/members/{me}/../{me}", add), ("PUT", f"/v1/iam/groups/{g}%2Fmembers%2F{me}", add),
            ("PUT", f"/v1/iam/groups/./{g}/members/{me}", add), ("DELETE", f"/v1/iam//custom-roles/{role_id}", drop),
            ("PUT", f"/v1/iam/groups/{g}/members/{me}%00", add), ("PUT", f"/v1/iam/groups/{g}//members/{me}", add),
            ("PUT", f"/v1/iam/groups/{g}/members/{me.replace('%3A', ':')}", add),
            ("DELETE", f"/v1/iam/custom-roles/%2e%2e%2Fcustom-roles%2F{role_id}", drop),
            ("GET", "/v1/iam/api-keys?owner=" + quote(f"user:{mk}-admin") + "&owner=" + me, {}),
            ("GET", "/v1/iam/me/permissions?scope=" + q(ts) + "&scope=platform", {}),
            ("GET", "/v1/audit/events?tenant=" + t + "&tenant=" + t, {}),
            ("GET", "/v1/iam/../../etc/passwd", {}), ("GET", "/v1/iam/tenants/" + "a" * 20000, {}),
        ]
        method, path, args = self.pick(paths)
        return Req("weird", method, path, **args)

    def g_misc_admin(self, cred):
        if self.chance(0.5):
            return Req("rotate", "POST", "/v1/iam/capability-tokens/keys:rotate", {})
        mod = self.pick(sorted(self.reg.texts))
        return Req("module_put", "PUT", f"/v1/iam/modules/{mod}", raw=self.reg.texts[mod])

    # ---------------------------------------------------------------- one request

    def step(self, i):
        cred = self.choose_cred()
        req = self.gen(cred)
        visible_before = self.around(cred)
        status, resp, headers = self.send(cred, req)
        self.requests.append((req, cred, status, _short(resp)))
        rid = headers.get("X-Request-Id") if status is not None else None
        if rid:
            self.request_ids[rid] = i
        cred.history.append(i)
        self.stats[req.kind][status] += 1
        ctx = (i, req, cred, status, resp)

        if status is None or status >= 500:
            self.violate(ctx, "a", f"{status}: server error or broken connection")
            if not self.server.alive():
                raise Violation("the server died")
            return
        self.check_leaks(ctx, headers, visible_before)
        self.check_self_scope(ctx)
        key = self.m.keys.get(cred.key_id) if cred.kind == "key" else None
        if 200 <= status < 300 and key is not None and key.revoked and req.kind != "weird":
            self.violate(ctx, "c", f"revoked key {key.id} was accepted")
        if req.kind == "list_keys" and status == 200:
            self.check_key_listing(ctx)
        if 200 <= status < 300:
            if req.kind in CHANGE_KINDS:
                self.apply(ctx)
            elif req.kind == "weird" and req.method != "GET":
                # An odd spelling of a change was accepted: judge it as the change it spells.
                self.apply(ctx, kind=req.args["as_kind"])
            self.plant(req, cred, visible_before, resp)
        if isinstance(resp, dict) and isinstance(resp.get("revision"), int):
            self.revision = max(self.revision, resp["revision"])

    def choose_cred(self):
        """Newer credentials and those holding some iam:*:manage key are picked more often."""
        weights = []
        for c in self.pool:
            w = 3 if c.origin is not None else 1
            if c.kind == "key" and any(k.startswith("iam:") and k.endswith(":manage")
                                       for k in self.m.held(c, self.home(c, fixed=True))):
                w *= 3
            weights.append(w)
        return self.rng.choices(self.pool, weights=weights)[0]

    def violate(self, ctx, letter, why):
        i, req, cred, status, resp = ctx
        self.violations.append((letter, i, why, req, cred, status, _short(resp, 500)))

    # ---------------------------------------------------------------- (b) leaks

    def check_leaks(self, ctx, headers, visible_before):
        i, req, cred, status, resp = ctx
        text = resp if isinstance(resp, str) else json.dumps(resp)
        try:
            text += "\n" + "\n".join(f"{k}: {v}" for k, v in headers.items())
        except AttributeError:
            pass
        # The request, a credential's own restriction and owner, and a token's owner, are the
        # attacker's own input.
        sent = f"{req.text()} {req.args.get('echo', '')} {cred.rs} {cred.principal} {cred.token_scope}"
        visible = visible_before | self.around(cred)
        for mk, tenant in self.markers.items():
            if mk in text and mk not in sent and tenant not in visible \
                    and not (self.planted[mk] & visible):
                at = text.index(mk)
                self.violate(ctx, "b", f"response carries marker {mk} of {tenant}: "
                                       f"...{text[max(0, at - 120):at + 60]}...")

    def around(self, cred):
        """The tenants the credential's principal has a binding at or around (a token: its scope's)."""
        if cred.kind == "cap":
            return {t for t in self.m.tenants() if cred.token_scope and self.m.related(t, cred.token_scope)}
        return self.m.tenants_around(cred.principal)

    def plant(self, req, cred, visible_before, resp):
        """A 2xx request stored what it sent where its actor, and the principal it was about (a
        key's owner, a binding's subject, a new member), can see it."""
        sent = req.text() + " " + req.args.get("echo", "")
        body = resp if isinstance(resp, dict) else {}
        targets = {body.get("owner"), body.get("subject"), req.args.get("member")} - {None}
        where = visible_before | self.around(cred)
        for p in targets:
            where |= self.m.tenants_around(p)
        for mk in self.markers:
            if mk in sent:
                self.planted[mk] |= where

    # ---------------------------------------------------------------- the 404 rule

    def check_self_scope(self, ctx):
        i, req, cred, status, resp = ctx
        s = req.self_scope
        if s is None or cred.kind == "cap" or not _canonical_scope(s):
            return
        key = self.m.keys.get(cred.key_id) if cred.kind == "key" else None
        if (key is not None and key.revoked) or status == 401:
            return  # a credential that is no longer valid answers nothing about any scope
        if self.m.visible(cred, s):
            return
        msg = resp.get("error", {}).get("message") if isinstance(resp, dict) and isinstance(resp.get("error"), dict) else None
        if status != 404 or msg != f"no scope '{s}'":
            self.violate(ctx, "c", f"about itself at {s}, which it cannot see: want 404 \"no scope '{s}'\", "
                                   f"got {status} {msg!r}")

    def check_key_listing(self, ctx):
        i, req, cred, status, resp = ctx
        if not cred.restricted() or req.args.get("owner") != cred.principal or not isinstance(resp, dict):
            return
        outside = [f"{item.get('id')} (scope={item.get('scope')})"
                   for item in resp.get("items") or [] if not self.m.in_scope_of(item.get("scope"), cred)]
        if outside:
            self.violate(ctx, "c", f"scope-restricted credential lists {len(outside)} of its owner's keys "
                                   f"outside its scope: {'; '.join(outside[:4])}")

    # ---------------------------------------------------------------- (c) judge, then model

    def apply(self, ctx, kind=None):
        i, req, cred, status, resp = ctx
        m, j, a = self.m, self.judge, req.args
        kind = kind or req.kind
        body = resp if isinstance(resp, dict) else {}
        reasons = []
        if cred.kind == "cap":
            reasons.append("a capability token made a change")
        if kind == "role_create":
            scope, pats = body.get("scope"), body.get("module_permissions") or []
            reasons += j.role_create(cred, scope, pats)
            m.custom_roles[body["id"]] = (scope, self.reg.closure(pats))
        elif kind == "role_patch":
            rid = a["role_id"]
            sent = req.body or {}
            name_only = "module_permissions" not in sent
            pats = body.get("module_permissions") or []
            if rid not in m.custom_roles:
                reasons.append(f"edited unknown role {rid}")
            else:
                reasons += j.role_edit(cred, rid, pats, name_only)
                m.custom_roles[rid] = (m.custom_roles[rid][0], self.reg.closure(pats) if pats else m.custom_roles[rid][1])
        elif kind == "role_delete":
            rid = a["role_id"]
            if rid in m.custom_roles:
                reasons += j.role_delete(cred, rid)
                if any(b.role == rid for b in m.bindings.values()):
                    reasons.append(f"deleted custom role {rid} that bindings still use")
                del m.custom_roles[rid]
        elif kind == "binding_create":
            subject, role, scope = body.get("subject"), body.get("role"), body.get("scope")
            reasons += j.binding_create(cred, subject, role, scope)
            active = _active(body.get("not_before"), body.get("expires_at"))
            m.bindings[body["id"]] = Binding(body["id"], subject, role, scope, active)
            if subject and subject.startswith("user:"):
                m.users.add(subject)
            m.note_around(m.members.get(subject, ()) if subject.startswith("group:") else [subject])
        elif kind == "binding_delete":
            b = m.bindings.get(a["binding_id"])
            if b is None:
                reasons.append(f"deleted binding {a['binding_id']} the model does not know")
            else:
                reasons += j.binding_delete(cred, b)
                del m.bindings[b.id]
        elif kind == "member_add":
            g, member = a["group"], a["member"]
            if g not in m.owner_tenant:
                reasons.append(f"added a member to unknown {g}")
            else:
                reasons += j.member_add(cred, g, member)
                m.members[g].add(member)
                if member.startswith("user:"):
                    m.users.add(member)
                m.note_around([member])
        elif kind == "member_remove":
            g, member = a["group"], a["member"]
            if g in m.owner_tenant:
                reasons += j.member_remove(cred, g)
                m.members[g].discard(member)
        elif kind == "key_create":
            owner, pk, ks = body.get("owner"), body.get("permissions") or None, body.get("scope")
            reasons += j.api_key(cred, owner, pk, ks)
            if owner and owner.split(":")[0] not in ("user", "service_account"):
                reasons.append(f"API key for {owner}")
            m.keys[body["id"]] = ApiKey(body["id"], owner, pk, ks)
            if owner and owner.startswith("user:"):
                m.users.add(owner)
            self.pool.append(Cred(f"#{i} key by {cred.label}", body["key"], owner, pk, ks,
                                  key_id=body["id"], origin=i))
        elif kind == "key_revoke":
            k = m.keys.get(a["key_id"])
            if k is None:
                reasons.append(f"revoked unknown key {a['key_id']}")
            else:
                reasons += j.key_revoke(cred, k)
                k.revoked = True
        elif kind == "cap_mint":
            reasons += j.cap_mint(cred, body.get("capability"), body.get("scope"))
            m.tokens[body["id"]] = (body.get("capability"), body.get("scope"))
            self.pool.append(Cred(f"#{i} token by {cred.label}", body["token"], None, kind="cap",
                                  origin=i, token_scope=body.get("scope")))
        elif kind == "cap_revoke":
            tok = m.tokens.get(a["token_id"])
            if tok:
                reasons += j.cap_revoke(cred, tok[0], tok[1])
        elif kind == "cap_revoke_resource":
            sent = req.body or {}
            reasons += j.cap_revoke(cred, sent.get("capability"), body.get("scope") or sent.get("scope") or cred.rs)
        elif kind in ("group_create", "sa_create"):
            p, tenant = body.get("principal"), body.get("tenant")
            reasons += j.owned_create(cred, "group" if kind == "group_create" else "sa", tenant)
            m.owner_tenant[p] = tenant
        elif kind in ("group_delete", "sa_delete"):
            p = a["principal"]
            if p in m.owner_tenant:
                reasons += j.owned_create(cred, "group" if kind == "group_delete" else "sa", m.owner_tenant[p])
                self.forget_principal(p)
        elif kind == "scope_create":
            scope, parent = body.get("scope"), body.get("parent")
            reasons += j.scope_create(cred, scope, parent)
            m.parent[scope] = parent
        elif kind == "scope_delete":
            s = a["scope"]
            if m.exists(s):
                reasons += j.scope_delete(cred, s)
                self.forget_scope(s)
        elif kind == "audit_write":
            sent = req.body if req.body is not None else _last_wins(req.raw)
            t = sent.get("tenant")
            tenant = f"tenant:{t}" if t else m.tenant_of(cred.rs) if cred.rs else None
            reasons += j.audit_write(cred, tenant)
        elif kind == "rotate":
            reasons += j._need(cred, "iam:signing_keys:manage", "platform")
        elif kind == "module_put":
            reasons += j._need(cred, "iam:modules:manage", "platform")
        for r in reasons:
            self.violate(ctx, "c", r)

    def forget_principal(self, p):
        m = self.m
        for bid in [b.id for b in m.bindings.values() if b.subject == p]:
            del m.bindings[bid]
        m.members.pop(p, None)
        for ms in m.members.values():
            ms.discard(p)
        for k in m.keys.values():
            if k.owner == p:
                k.revoked = True
        del m.owner_tenant[p]

    def forget_scope(self, s):
        m = self.m
        gone = set(m.below(s))
        for bid in [b.id for b in m.bindings.values() if b.scope in gone]:
            del m.bindings[bid]
        for p in [p for p, t in m.owner_tenant.items() if t in gone]:
            self.forget_principal(p)
        for rid in [r for r, (sc, _) in m.custom_roles.items() if sc in gone]:
            del m.custom_roles[rid]
        for x in gone:
            del m.parent[x]

    # ---------------------------------------------------------------- (d) final checks

    def final_checks(self):
        m = self.m
        scopes = sorted(m.parent)
        keys = sorted(self.reg.all)
        principals = m.principals()
        mismatches = []
        batch, expected = [], []

        def flush():
            if not batch:
                return
            status, resp, _ = self.server.call("POST", "/v1/iam/check", {"checks": batch}, key=self.root.secret)
            if status != 200:
                mismatches.append(f"batch check -> {status} {_short(resp)}")
            else:
                for (p, k, s, want), got in zip(expected, resp["results"]):
                    if got["allowed"] != want:
                        mismatches.append(f"{p} {k} at {s}: service {got['allowed']}, model {want} "
                                          f"({got.get('reason', {}).get('summary', got.get('reason'))})")
            batch.clear()
            expected.clear()

        for p in principals:
            for s in scopes:
                held = m.principal_keys(p, s)
                for k in keys:
                    batch.append({"subject": p, "permission": k, "scope": s})
                    expected.append((p, k, s, k in held))
                    if len(batch) == 1000:
                        flush()
        flush()
        return mismatches, len(principals) * len(scopes) * len(keys)

    # ---------------------------------------------------------------- (e) audit

    def audit_checks(self):
        problems = []
        r = subprocess.run([self.server.bin, "audit", "verify", "--data", self.server.data],
                           capture_output=True, text=True, timeout=120)
        if r.returncode != 0:
            problems.append(f"audit verify exited {r.returncode}: {r.stdout}{r.stderr}")
        m = self.m
        owner_of_key = {k.id: k.owner for k in m.keys.values()}
        root_p = self.root.principal
        n = 0
        for t in m.tenants():
            cursor = None
            while True:
                qs = [("tenant", t.split(":", 1)[1]), ("limit", "1000")] + ([("cursor", cursor)] if cursor else [])
                status, page, _ = self.server.call("GET", "/v1/audit/events?" + urllib.parse.urlencode(qs),
                                                   key=self.root.secret)
                if status != 200:
                    problems.append(f"audit query of {t} -> {status} {_short(page)}")
                    break
                for e in page["items"]:
                    n += 1
                    if e.get("actor_type") == "system":
                        continue
                    cid = e.get("credential_id")
                    if e.get("actor_type") == "capability_token":
                        continue  # its tenant is the token's own scope's (minting was judged)
                    # The actor is who caused the event: the asker of a decision, the reporter of
                    # a module event, else the owner of the credential used.
                    d = e.get("details") if isinstance(e.get("details"), dict) else {}
                    actor = d.get("asked_by") or d.get("reported_by") or owner_of_key.get(cid) \
                        or e.get("actor_user_id")
                    if actor == root_p:
                        continue
                    around = m.ever_around[actor] | m.tenants_around(actor)
                    if t not in around:
                        idx = self.request_ids.get(e.get("request_id"))
                        sent = ""
                        if idx is not None:
                            req, cred, status, _ = self.requests[idx]
                            sent = f"; request #{idx} by {cred!r}: {req.short(300)} -> {status}"
                        problems.append(f"event {e.get('id')} {e.get('action')} in {t}'s log, actor {actor} "
                                        f"(credential {cid}) never bound at or around it{sent}; "
                                        f"event: {_short(e, 400)}")
                cursor = page.get("next_cursor")
                if not cursor:
                    break
        return problems, n

    # ---------------------------------------------------------------- run

    def run(self):
        t0 = time.monotonic()
        self.setup()
        t_setup = time.monotonic() - t0
        i = 0
        deadline = time.monotonic() + self.seconds
        try:
            while i < self.n_requests and time.monotonic() < deadline:
                self.step(i)
                i += 1
        except Violation:
            pass
        t_attack = time.monotonic() - t0 - t_setup
        mismatches, n_checks = ([], 0)
        audit_problems, n_events = ([], 0)
        if self.server.alive():
            mismatches, n_checks = self.final_checks()
            audit_problems, n_events = self.audit_checks()
        elapsed = time.monotonic() - t0
        self.log(f"seed {self.seed}: setup {t_setup:.1f}s, {i} requests in {t_attack:.1f}s, "
                 f"{n_checks} final checks, {n_events} tenant audit events, {elapsed:.1f}s in all; "
                 f"{len(self.pool)} credentials; {len(self.violations)} violation(s), "
                 f"{len(mismatches)} model mismatch(es), {len(audit_problems)} audit problem(s)")
        self.log("  2xx by kind: " + ", ".join(
            f"{k} {sum(v for s, v in st.items() if s and 200 <= s < 300)}/{sum(st.values())}"
            for k, st in sorted(self.stats.items())))
        return self.report(mismatches, audit_problems)

    def lineage(self, cred):
        out = []
        seen = set()
        while cred is not None and cred.origin is not None and cred.origin not in seen:
            seen.add(cred.origin)
            req, parent, status, resp = self.requests[cred.origin]
            out.append(f"    #{cred.origin} by {parent!r}: {req.short(300)} -> {status}")
            cred = parent
        return list(reversed(out))

    def report(self, mismatches, audit_problems):
        if not (self.violations or mismatches or audit_problems):
            return None
        lines = [f"SEED {self.seed} FAILED (replay: SCAIGRID_ATTACK_SEEDS={self.seed},"
                 f" SCAIGRID_ATTACK_REQUESTS={self.n_requests})"]
        by_why = defaultdict(list)
        for v in self.violations:
            by_why[(v[0], _category(v[2]))].append(v)
        lines.append(f"{len(self.violations)} violation(s) in {len(by_why)} kind(s):")
        for (letter, cat), vs in sorted(by_why.items(), key=lambda kv: kv[1][0][1]):
            lines.append(f"  ({letter}) {cat}: {len(vs)} time(s); first:")
            letter, i, why, req, cred, status, resp = vs[0]
            lines.append(f"    #{i} {why}")
            lines.append(f"    credential {cred!r}")
            lines.append(f"    request {req.short()} -> {status} {resp}")
            lin = self.lineage(cred)
            if lin:
                lines.append("    how the credential came to be:")
                lines.extend(lin)
            recent = [x for x in cred.history if x < i][-4:]
            if recent:
                lines.append("    its last requests before:")
                for x in recent:
                    r, _, st, _ = self.requests[x]
                    lines.append(f"      #{x} {r.short(200)} -> {st}")
        if mismatches:
            lines.append(f"(d) {len(mismatches)} final check(s) differ from the model; first 15:")
            lines.extend("    " + x for x in mismatches[:15])
        if audit_problems:
            lines.append(f"(e) {len(audit_problems)} audit problem(s); first 10:")
            lines.extend("    " + x for x in audit_problems[:10])
        return "\n".join(lines)


# =====================================================================================
# helpers
# =====================================================================================

def _short(x, n=240):
    t = x if isinstance(x, str) else json.dumps(x)
    return t if len(t) <= n else t[:n] + "..."


def _canonical_scope(s):
    if s == "platform":
        return True
    kind, _, sid = s.partition(":")
    return kind in ("partner", "tenant", "project") and 0 < len(sid) <= 128 and \
        all(c.isascii() and (c.isalnum() or c in "._-") for c in sid)


def _active(not_before, expires_at):
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    return (not not_before or not_before[:20] <= now) and (not expires_at or expires_at[:20] > now)


def _last_wins(raw):
    try:
        return json.loads(raw)
    except ValueError:
        return {}


def _category(why):
    """Groups violations: the reason without the varying parts."""
    why = why.split(" than itself:")[0]
    why = re.sub(r"\[[^\]]*\]|\{[^}]*\}", "[…]", why)
    return re.sub(r"(#\d+|\b\d+\b|[a-z]{5}-[\w.-]+|cr_\w+|key_\w+|evt_\w+)", "…", why)[:160]


def _seeds():
    v = os.environ.get("SCAIGRID_ATTACK_SEEDS", "3").strip()
    if "," in v:
        return [int(x) for x in v.split(",") if x.strip()]
    return list(range(1, int(v) + 1))


class ModelSelfTest(unittest.TestCase):
    """The model and THE RULE on known cases, without a server: evidence the judge can fail."""

    def setUp(self):
        self.m = m = Model(Registry(harness.manifests_dir()))
        self.j = Judge(m)
        m.parent.update({"partner:n": "platform", "tenant:a": "partner:n", "tenant:b": "platform",
                         "project:a1": "tenant:a"})
        m.custom_roles["cr_g"] = ("tenant:a", m.reg.closure(["iam:groups:manage"]))
        m.custom_roles["cr_k"] = ("tenant:a", m.reg.closure(["iam:api_keys:manage"]))
        m.custom_roles["cr_b"] = ("tenant:a", m.reg.closure(["iam:bindings:manage", "scaibot:bots:read",
                                                              "scaibot:chat", "scaibot:embed:issue"]))
        m.custom_roles["cr_r"] = ("tenant:a", m.reg.closure(["iam:roles:manage", "scaibot:bots:read"]))
        m.owner_tenant.update({"group:a-admins": "tenant:a", "service_account:b-sa": "tenant:b"})
        for i, (s, r, sc) in enumerate([("user:a-admin", "tenant_admin", "tenant:a"),
                                        ("user:a-viewer", "tenant_viewer", "tenant:a"),
                                        ("user:a-g", "cr_g", "tenant:a"), ("user:a-k", "cr_k", "tenant:a"),
                                        ("user:a-b", "cr_b", "tenant:a"), ("user:a-r", "cr_r", "tenant:a"),
                                        ("group:a-admins", "tenant_admin", "tenant:a"),
                                        ("user:dual", "tenant_admin", "tenant:a"),
                                        ("user:dual", "tenant_viewer", "tenant:b"),
                                        ("service_account:b-sa", "tenant_viewer", "tenant:b")]):
            m.bindings[str(i)] = Binding(str(i), s, r, sc)

    def cred(self, p, rk=None, rs=None):
        return Cred("t", "x", p, rk, rs)

    def test_rule(self):
        m, j, c = self.m, self.j, self.cred
        self.assertTrue(j.member_add(c("user:a-g"), "group:a-admins", "user:a-g"), "groups:manage joins admins")
        self.assertFalse(j.member_add(c("user:a-admin"), "group:a-admins", "user:x"))
        self.assertTrue(j.api_key(c("user:a-k"), "user:a-admin", None, "tenant:a"), "key for the admin")
        self.assertFalse(j.api_key(c("user:a-k"), "user:a-admin", ("iam:api_keys:manage",), "tenant:a"))
        self.assertTrue(j.api_key(c("user:a-k"), "user:a-admin", ("iam:api_keys:manage",), None),
                        "an unscoped key for a user needs api_keys:manage at platform")
        self.assertTrue(j.api_key(c("user:a-admin", rs="tenant:a"), "user:a-admin", None, "platform"),
                        "self key broader in scope")
        self.assertTrue(j.api_key(c("user:a-admin", rk=("scaibot:*",)), "user:a-admin", ("iam:*",), None),
                        "self key broader in keys")
        self.assertFalse(j.api_key(c("user:a-admin", rk=("scaibot:*",)), "user:a-admin", ("scaibot:chat",), None))
        self.assertFalse(j.api_key(c("user:a-admin"), "user:a-admin", None, None))
        self.assertTrue(j.binding_create(c("user:a-b"), "user:a-b", "tenant_admin", "tenant:a"))
        self.assertFalse(j.binding_create(c("user:a-b"), "user:z", "cr_b", "project:a1"))
        self.assertTrue(j.binding_create(c("user:a-admin"), "user:z", "super_admin", "platform"))
        self.assertFalse(j.role_create(c("user:a-admin"), "tenant:a", ["scaibot:*"]), "tenant_admin escalates")
        self.assertFalse(j.role_create(c("user:a-r"), "tenant:a", ["scaibot:bots:read"]))
        self.assertTrue(j.role_create(c("user:a-r"), "tenant:a", ["scaibot:*"]), "role with keys not held")
        self.assertTrue(j.role_create(c("user:a-r", rk=("scaibot:*",)), "tenant:a", ["scaibot:bots:read"]),
                        "a key restricted to scaibot:* does not hold iam:roles:manage")
        self.assertTrue(j.cap_mint(c("user:a-viewer"), "scaibot:chat", "tenant:a"))
        self.assertFalse(j.cap_mint(c("user:a-b"), "scaibot:chat", "project:a1"))
        self.assertTrue(j.cap_mint(c("user:a-b"), "scaibot:chat", "tenant:b"))
        self.assertTrue(j.cap_mint(c("user:a-b", rs="project:a1"), "scaibot:chat", "tenant:a"))
        self.assertNotIn("scaibunker:admin:platform", m.principal_keys("user:a-admin", "tenant:a"))
        self.assertNotIn("iam:check", m.principal_keys("user:a-admin", "platform"))
        self.assertIn("iam:groups:read", m.principal_keys("user:a-g", "project:a1"), "implication")
        self.assertEqual(m.principal_keys("user:a-admin", "tenant:a", rk=("scaibot:bots:*",)),
                         {k for k in m.reg.all if k.startswith("scaibot:bots:")})
        self.assertTrue(m.visible(c("user:dual"), "tenant:b"))
        self.assertFalse(m.visible(c("user:dual", rs="tenant:a"), "tenant:b"))
        self.assertTrue(m.visible(c("user:dual", rs="project:a1"), "partner:n"))
        self.assertFalse(m.visible(c("user:a-admin"), "tenant:b"))
        self.assertTrue(j.key_revoke(c("user:a-admin", rs="tenant:a"),
                                     ApiKey("k1", "user:a-admin", None, None)), "restricted revokes broader")


class AttackerTest(unittest.TestCase):

    def test_randomized_attacker(self):
        n = int(os.environ.get("SCAIGRID_ATTACK_REQUESTS", "1500"))
        seconds = float(os.environ.get("SCAIGRID_ATTACK_SECONDS", "40"))
        failures = []
        for seed in _seeds():
            server = harness.Server()
            try:
                server.start()
                attack = Attack(server, seed, n, seconds, log=lambda s: print(s, file=sys.stderr, flush=True))
                failure = attack.run()
                if failure:
                    print(failure, file=sys.stderr, flush=True)
                    failures.append(seed)
            finally:
                server.close()
        self.assertEqual(failures, [], f"failing seeds {failures}; the traces are above")


if __name__ == "__main__":
    harness.main()
