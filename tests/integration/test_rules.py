"""The service's rules end to end: seed 000's custom role with a tenant admin's scoped key,
groups, tenant isolation, escalation prevention, ScaiSkills separation of duties, sensitive
keys' justification, and persistence across a restart.

One server for the whole class; the tests use disjoint tenants and run in name order
(a..g), so that test_g_restart sees everything the others left behind."""

import json

import harness
from harness import quote

# Seed 000's curl body, byte for byte (`-d '...'`).
SEED_000_BODY = """{
    "name": "Transcription users",
    "module_permissions": ["scaiecho:transcribe", "scaiecho:diarize"]
  }"""


class RulesTest(harness.ApiTestCase):

    # State shared across the tests (class attributes), read back by test_g_restart.
    acme_key = None        # user:acme-admin, tenant_admin at tenant:acme, key scoped to it
    seed_role = None       # the seed 000 role created with acme_key
    keys = {}              # name -> secret of keys that must survive the restart
    revoked = []           # secrets of keys revoked before the restart
    custom_roles = []      # ids
    tenants = ["acme", "globex", "initech", "skillco", "echoco"]
    probe_checks = []      # (subject, permission, scope) asked before and after the restart
    probe_principals = []  # (principal, scope) whose effective permissions are compared

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        for t in cls.tenants:
            status, body, _ = cls.server.call("POST", "/v1/iam/tenants", {"id": t, "name": f"{t.title()} Inc"})
            if status != 201:
                raise RuntimeError(f"creating tenant {t}: {status} {body}")

    # ---- fixtures ----

    def acme_admin_key(self):
        """tenant_admin of acme with an API key restricted to tenant:acme."""
        cls = type(self)
        if cls.acme_key is None:
            cls.acme_key = self.make_tenant_admin("acme", "user:acme-admin")
            cls.keys["acme-admin"] = cls.acme_key
        return cls.acme_key

    def acme_seed_role(self):
        cls = type(self)
        if cls.seed_role is None:
            status, role, headers = self.call("POST", "/v1/iam/custom-roles", raw_body=SEED_000_BODY,
                                              key=self.acme_admin_key(),
                                              headers={"Content-Type": "application/json"})
            self.assertEqual(status, 201, f"seed 000 custom-role curl with the acme admin key -> {status} {role}")
            cls.seed_role = role
            cls.custom_roles.append(role["id"])
        return cls.seed_role

    def probe(self, subject, permission, scope, expected):
        """A check whose answer is asserted now and compared again after the restart."""
        type(self).probe_checks.append((subject, permission, scope))
        got = self.check(subject, permission, scope)
        self.assertEqual(got, expected, f"check {subject} {permission} {scope}")

    def assertUnchanged(self, revision_before, what):
        self.assertEqual(self.server.revision(), revision_before, f"{what} changed the revision")

    # ---- the catch-all roles can be bound at all ----

    def test_0_catch_all_admin_roles_are_bindable(self):
        # SPEC §2: tenant_admin / partner_admin are bound at a tenant / partner. They hold
        # every non-platform key, including both halves of scaiskills' bind/grant split.
        self.expect(201, "POST", "/v1/iam/partners", {"id": "rules-partner"})
        self.bind("user:partner-boss", "partner_admin", "partner:rules-partner", justification="partner admin")
        self.expect(201, "POST", "/v1/iam/tenants", {"id": "rules-catchall"})
        self.bind("user:tenant-boss", "tenant_admin", "tenant:rules-catchall", justification="tenant admin")
        self.assertTrue(self.check("user:tenant-boss", "scaiskills:grant", "tenant:rules-catchall"))

    # ---- (a) seed 000 with a tenant-scoped admin key ----

    def test_a_seed_000_custom_role_with_tenant_admin_key(self):
        acme = self.acme_admin_key()
        role = self.acme_seed_role()
        self.assertTrue(role["id"])
        self.assertEqual(role["name"], "Transcription users")
        self.assertEqual(role["scope"], "tenant:acme", "no scope in the body: the key's scope is used")
        self.assertEqual(sorted(role["resolved_permissions"]), ["scaiecho:diarize", "scaiecho:transcribe"])
        self.assertIsInstance(role["revision"], int)

        b = self.bind("user:acme-eng", role["id"], "tenant:acme", key=acme)
        self.assertEqual(b["scope"], "tenant:acme")
        eng_key = self.make_key("user:acme-eng", key=acme)
        self.bind("user:acme-other", "tenant_user", "tenant:acme", key=acme)  # in acme, holding nothing
        other_key = self.make_key("user:acme-other", key=acme)
        type(self).keys.update({"acme-eng": eng_key, "acme-other": other_key})

        # The caller's own decision (no subject), scope from the key.
        for key, expected in ((eng_key, True), (other_key, False)):
            for perm in ("scaiecho:transcribe", "scaiecho:diarize"):
                resp = self.expect(200, "POST", "/v1/iam/check", {"permission": perm}, key=key)
                self.assertEqual(resp["allowed"], expected, resp)
                self.assertEqual(resp["scope"], "tenant:acme", resp)
                self.assertIn("revision", resp)
            self.assertFalse(self.expect(200, "POST", "/v1/iam/check", {"permission": "scaiecho:enroll"}, key=key)["allowed"])
        # The admin asks about them.
        resp = self.expect(200, "POST", "/v1/iam/check", {"subject": "user:acme-eng", "permission": "scaiecho:diarize"}, key=acme)
        self.assertTrue(resp["allowed"], resp)
        self.assertEqual(resp["reason"]["role"], role["id"], resp)
        self.probe("user:acme-eng", "scaiecho:transcribe", "tenant:acme", True)
        self.probe("user:acme-other", "scaiecho:transcribe", "tenant:acme", False)
        self.probe("user:acme-eng", "scaiecho:transcribe", "tenant:globex", False)

    # ---- (b) a group bound to that role ----

    def test_b_group_grants_its_members(self):
        acme = self.acme_admin_key()
        role = self.acme_seed_role()
        g = self.expect(201, "POST", "/v1/iam/groups", {"id": "acme-transcribers", "tenant": "acme"}, key=acme)
        self.assertEqual(g["principal"], "group:acme-transcribers")
        self.bind("group:acme-transcribers", role["id"], "tenant:acme", key=acme)
        member = "user:acme-member"
        self.assertFalse(self.check(member, "scaiecho:transcribe", "tenant:acme", key=acme))
        self.expect(200, "PUT", f"/v1/iam/groups/acme-transcribers/members/{quote(member)}", key=acme)
        resp = self.expect(200, "POST", "/v1/iam/check",
                           {"subject": member, "permission": "scaiecho:diarize", "scope": "tenant:acme"}, key=acme)
        self.assertTrue(resp["allowed"], resp)
        self.assertEqual(resp["reason"].get("via_group"), "group:acme-transcribers", resp)
        self.assertFalse(self.check(member, "scaiecho:enroll", "tenant:acme", key=acme))
        self.expect(200, "DELETE", f"/v1/iam/groups/acme-transcribers/members/{quote(member)}", key=acme)
        self.assertFalse(self.check(member, "scaiecho:transcribe", "tenant:acme", key=acme))
        self.assertFalse(self.check(member, "scaiecho:diarize", "tenant:acme", key=acme))
        # A member that stays, for the restart test.
        self.expect(200, "PUT", f"/v1/iam/groups/acme-transcribers/members/{quote('user:acme-stays')}", key=acme)
        self.probe("user:acme-stays", "scaiecho:diarize", "tenant:acme", True)
        self.probe(member, "scaiecho:diarize", "tenant:acme", False)
        type(self).probe_principals.append(("user:acme-stays", "tenant:acme"))

    # ---- (c) tenant isolation ----

    def globex_objects(self):
        """Tenant B's objects, made by the super admin."""
        self.expect(201, "POST", "/v1/iam/groups", {"id": "globex-team", "tenant": "globex", "name": "Globex team"})
        self.expect(201, "POST", "/v1/iam/service-accounts", {"id": "globex-bot", "tenant": "globex", "name": "Globex bot"})
        role = self.make_role("Globex secret role", ["scaibot:bots:read"], "tenant:globex")
        type(self).custom_roles.append(role["id"])
        b = self.bind("user:globex-user", role["id"], "tenant:globex")
        self.bind("group:globex-team", role["id"], "tenant:globex")
        self.bind("service_account:globex-bot", "tenant_viewer", "tenant:globex")
        self.expect(200, "PUT", f"/v1/iam/groups/globex-team/members/{quote('user:globex-member')}")
        self.probe("user:globex-user", "scaibot:bots:read", "tenant:globex", True)
        self.probe("user:globex-member", "scaibot:bots:read", "tenant:globex", True)
        type(self).probe_principals.append(("user:globex-member", "tenant:globex"))
        return role["id"], b["id"]

    def test_c_tenant_isolation(self):
        globex_role, globex_binding = self.globex_objects()
        acme = self.acme_admin_key()
        before = self.server.revision()

        def hidden(method, path, body=None, mentions=()):
            status, resp, _ = self.call(method, path, body=body, key=acme)
            self.assertEqual(status, 404, f"acme admin: {method} {path} {body} -> {status} {resp}")
            self.assertError(resp, mentions=mentions)
            return resp

        hidden("GET", "/v1/iam/tenants/globex")
        hidden("DELETE", "/v1/iam/tenants/globex")
        hidden("GET", f"/v1/iam/custom-roles/{quote(globex_role)}")
        hidden("PATCH", f"/v1/iam/custom-roles/{quote(globex_role)}", {"name": "pwned"})
        hidden("DELETE", f"/v1/iam/custom-roles/{quote(globex_role)}")
        hidden("DELETE", f"/v1/iam/bindings/{globex_binding}")
        hidden("PUT", f"/v1/iam/groups/globex-team/members/{quote('user:acme-spy')}")
        hidden("DELETE", f"/v1/iam/groups/globex-team/members/{quote('user:globex-member')}")
        hidden("POST", "/v1/iam/api-keys", {"owner": "service_account:globex-bot", "name": "stolen"})
        hidden("POST", "/v1/iam/bindings", {"subject": "service_account:globex-bot", "role": "tenant_viewer", "scope": "tenant:acme"})
        hidden("POST", "/v1/iam/bindings", {"subject": "group:globex-team", "role": "tenant_viewer", "scope": "tenant:acme"})
        hidden("POST", "/v1/iam/bindings", {"subject": "user:acme-spy", "role": globex_role, "scope": "tenant:acme"})
        hidden("POST", "/v1/iam/bindings", {"subject": "user:acme-spy", "role": "tenant_viewer", "scope": "tenant:globex"})
        hidden("POST", "/v1/iam/custom-roles", {"name": "x", "module_permissions": ["scaibot:bots:read"], "scope": "tenant:globex"})
        hidden("POST", "/v1/iam/projects", {"id": "globex-proj", "tenant": "globex"})
        hidden("POST", "/v1/iam/groups", {"id": "acme-in-globex", "tenant": "globex"})
        hidden("GET", "/v1/iam/bindings?scope=tenant:globex")
        hidden("GET", "/v1/iam/roles?scope=tenant:globex")
        hidden("GET", "/v1/iam/who-can?permission=scaibot:bots:read&scope=tenant:globex")
        hidden("GET", f"/v1/iam/principals/{quote('user:globex-user')}/permissions?scope=tenant:globex")
        self.assertUnchanged(before, "acme admin's requests against globex")

        # Listings never mention tenant B.
        for path in ("/v1/iam/tenants", "/v1/iam/projects", "/v1/iam/partners",
                     "/v1/iam/bindings?scope=tenant:acme",
                     f"/v1/iam/bindings?subject={quote('user:globex-user')}",
                     f"/v1/iam/bindings?subject={quote('group:globex-team')}",
                     "/v1/iam/roles?scope=tenant:acme",
                     "/v1/iam/who-can?permission=scaibot:bots:read&scope=tenant:acme",
                     "/v1/iam/me/permissions"):
            status, resp, _ = self.call("GET", path, key=acme)
            self.assertEqual(status, 200, f"GET {path} -> {status} {resp}")
            self.assertNotIn("globex", json.dumps(resp).lower(), f"GET {path} leaks tenant B: {resp}")
        tenants = self.expect(200, "GET", "/v1/iam/tenants", key=acme)
        self.assertEqual([t["scope"] for t in tenants["items"]], ["tenant:acme"])

        # Tenant B is intact, seen by the super admin.
        self.expect(200, "GET", "/v1/iam/tenants/globex")
        self.assertEqual(self.expect(200, "GET", f"/v1/iam/custom-roles/{quote(globex_role)}")["name"], "Globex secret role")
        self.assertIn(globex_binding, [b["id"] for b in self.expect(200, "GET", "/v1/iam/bindings?scope=tenant:globex")["items"]])
        self.assertTrue(self.check("user:globex-member", "scaibot:bots:read", "tenant:globex"))
        self.assertFalse(self.check("user:acme-spy", "scaibot:bots:read", "tenant:globex"))

    def test_c_tenant_existence_does_not_leak(self):
        # Asking about tenant B answers like asking about a tenant that does not exist.
        acme = self.acme_admin_key()
        for path in ("/v1/iam/tenants/{}", "/v1/iam/bindings?scope=tenant:{}", "/v1/iam/roles?scope=tenant:{}",
                     "/v1/iam/who-can?permission=scaibot:bots:read&scope=tenant:{}"):
            s1, r1, _ = self.call("GET", path.format("globex"), key=acme)
            s2, r2, _ = self.call("GET", path.format("no-such-tenant"), key=acme)
            self.assertEqual(s1, s2, f"{path}: globex -> {s1} {r1}; missing -> {s2} {r2}")
        s1, r1, _ = self.call("POST", "/v1/iam/check",
                              {"subject": "user:globex-user", "permission": "scaibot:bots:read", "scope": "tenant:globex"}, key=acme)
        s2, r2, _ = self.call("POST", "/v1/iam/check",
                              {"subject": "user:globex-user", "permission": "scaibot:bots:read", "scope": "tenant:no-such-tenant"}, key=acme)
        self.assertGreaterEqual(s1, 400, f"acme admin checked a globex subject at tenant:globex: {s1} {r1}")
        self.assertEqual(s1, s2, f"check at tenant:globex -> {s1} {r1}; at a missing tenant -> {s2} {r2}")

    def test_c_listing_bindings_defaults_to_key_scope(self):
        # SPEC §7: "Where a body or query has no scope, the caller's API key scope is used".
        acme = self.acme_admin_key()
        status, resp, _ = self.call("GET", "/v1/iam/bindings", key=acme)
        self.assertEqual(status, 200, f"GET /v1/iam/bindings with a tenant-scoped key -> {status} {resp}")
        self.assertTrue(all(b["scope"] == "tenant:acme" for b in resp["items"]), resp)
        self.assertNotIn("globex", json.dumps(resp))

    # ---- (d) escalation ----

    def test_d_escalation_is_refused(self):
        delegate_perms = ["iam:roles:manage", "iam:roles:read", "iam:bindings:manage", "iam:bindings:read",
                          "iam:api_keys:manage", "scaiecho:transcribe"]
        role = self.make_role("IAM delegate", delegate_perms, "tenant:initech")
        type(self).custom_roles.append(role["id"])
        self.bind("user:delegate", role["id"], "tenant:initech")
        key = self.make_key("user:delegate", scope="tenant:initech")
        type(self).keys["delegate"] = key
        self.bind("user:delegate-friend", "tenant_user", "tenant:initech")  # a member of initech holding nothing
        before = self.server.revision()

        def refused(method, path, body, keyname):
            status, resp, _ = self.call(method, path, body=body, key=key)
            self.assertEqual(status, 403, f"delegate: {method} {path} {body} -> {status} {resp}")
            self.assertError(resp, "escalation", mentions=[keyname])

        refused("POST", "/v1/iam/custom-roles",
                {"name": "Speaker custodians", "module_permissions": ["scaiecho:enroll"]}, "scaiecho:enroll")
        refused("POST", "/v1/iam/custom-roles",
                {"name": "Everything echo", "module_permissions": ["scaiecho:*"], "scope": "tenant:initech"}, "scaiecho:enroll")
        refused("POST", "/v1/iam/bindings",
                {"subject": "user:delegate-friend", "role": "tenant_admin", "scope": "tenant:initech",
                 "justification": "please"}, "scaiecho:enroll")
        refused("POST", "/v1/iam/bindings",
                {"subject": "user:delegate", "role": "tenant_admin", "scope": "tenant:initech",
                 "justification": "please"}, "iam:scopes:manage")
        refused("POST", "/v1/iam/api-keys",
                {"owner": "user:delegate", "name": "admin", "permissions": ["scaiecho:admin"]}, "scaiecho:admin")
        refused("POST", "/v1/iam/api-keys",
                {"owner": "user:delegate-friend", "name": "admin", "permissions": ["scaiecho:admin"],
                 "scope": "tenant:initech"}, "scaiecho:admin")
        self.assertUnchanged(before, "refused escalations")
        subjects = [b["subject"] + "/" + b["role"] for b in self.expect(200, "GET", "/v1/iam/bindings?scope=tenant:initech")["items"]]
        self.assertNotIn("user:delegate-friend/tenant_admin", subjects)
        self.assertNotIn("user:delegate/tenant_admin", subjects)

        # What it holds, it may hand out (the refusals above are not blanket 403s).
        own = self.expect(201, "POST", "/v1/iam/custom-roles",
                          {"name": "Transcribers", "module_permissions": ["scaiecho:transcribe"]}, key=key)
        self.assertEqual(own["scope"], "tenant:initech")
        type(self).custom_roles.append(own["id"])
        self.bind("user:delegate-friend", own["id"], "tenant:initech", key=key)
        self.make_key("user:delegate-friend", permissions=["scaiecho:transcribe"], key=key)
        self.probe("user:delegate-friend", "scaiecho:transcribe", "tenant:initech", True)
        self.probe("user:delegate-friend", "scaiecho:enroll", "tenant:initech", False)

        # Editing its role to add a key it lacks is refused too.
        before = self.server.revision()
        status, resp, _ = self.call("PATCH", f"/v1/iam/custom-roles/{quote(own['id'])}",
                                    {"module_permissions": ["scaiecho:transcribe", "scaiecho:enroll"]}, key=key)
        self.assertEqual(status, 403, resp)
        self.assertError(resp, "escalation", mentions=["scaiecho:enroll"])
        self.assertUnchanged(before, "a refused role edit")

    # ---- (e) ScaiSkills separation of duties ----

    def test_e_separation_of_duties(self):
        binders = self.make_role("Skill operators", ["scaiskills:view", "scaiskills:publish", "scaiskills:bind"], "tenant:skillco")
        granters = self.make_role("Skill approvers", ["scaiskills:grant", "scaiskills:manage"], "tenant:skillco")
        viewers = self.make_role("Skill viewers", ["scaiskills:view"], "tenant:skillco")
        type(self).custom_roles += [binders["id"], granters["id"], viewers["id"]]
        scope = "tenant:skillco"

        def conflict(method, path, body, principal):
            before = self.server.revision()
            status, resp, _ = self.call(method, path, body=body)
            self.assertEqual(status, 409, f"{method} {path} {body} -> {status} {resp}")
            self.assertError(resp, "separation_of_duties", mentions=["scaiskills:bind", "scaiskills:grant", principal])
            self.assertUnchanged(before, f"refused {method} {path}")

        # Directly: two bindings to one user.
        self.bind("user:sod-direct", binders["id"], scope)
        conflict("POST", "/v1/iam/bindings", {"subject": "user:sod-direct", "role": granters["id"], "scope": scope},
                 "user:sod-direct")
        self.assertEqual([b["role"] for b in self.expect(200, "GET", f"/v1/iam/bindings?subject={quote('user:sod-direct')}")["items"]],
                         [binders["id"]])
        self.probe("user:sod-direct", "scaiskills:bind", scope, True)
        self.probe("user:sod-direct", "scaiskills:grant", scope, False)

        # Via a group: the group holds grant, the user holds bind.
        self.expect(201, "POST", "/v1/iam/groups", {"id": "skill-approvers", "tenant": "skillco"})
        self.bind("group:skill-approvers", granters["id"], scope)
        conflict("PUT", f"/v1/iam/groups/skill-approvers/members/{quote('user:sod-direct')}", None, "user:sod-direct")
        self.assertFalse(self.check("user:sod-direct", "scaiskills:grant", scope))
        # ... and the other way round: a member of the binders' group gets grant directly.
        self.expect(201, "POST", "/v1/iam/groups", {"id": "skill-operators", "tenant": "skillco"})
        self.bind("group:skill-operators", binders["id"], scope)
        self.expect(200, "PUT", f"/v1/iam/groups/skill-operators/members/{quote('user:sod-member')}")
        conflict("POST", "/v1/iam/bindings", {"subject": "user:sod-member", "role": granters["id"], "scope": scope},
                 "user:sod-member")
        # ... and binding grant to a group one of whose members holds bind.
        self.expect(201, "POST", "/v1/iam/groups", {"id": "skill-mixed", "tenant": "skillco"})
        self.expect(200, "PUT", f"/v1/iam/groups/skill-mixed/members/{quote('user:sod-direct')}")
        conflict("POST", "/v1/iam/bindings", {"subject": "group:skill-mixed", "role": granters["id"], "scope": scope},
                 "user:sod-direct")
        # A role edit that would give a bound user both.
        self.bind("user:sod-direct", viewers["id"], scope)
        conflict("PATCH", f"/v1/iam/custom-roles/{quote(viewers['id'])}",
                 {"module_permissions": ["scaiskills:view", "scaiskills:grant"]}, "user:sod-direct")
        # Different people: fine.
        self.bind("user:sod-approver", granters["id"], scope)
        self.probe("user:sod-approver", "scaiskills:grant", scope, True)

    # ---- (f) sensitive keys need a justification ----

    def test_f_sensitive_binding_needs_justification(self):
        role = self.make_role("Speaker custodians", ["scaiecho:enroll"], "tenant:echoco")
        type(self).custom_roles.append(role["id"])
        before = self.server.revision()
        status, resp, _ = self.call("POST", "/v1/iam/bindings",
                                    {"subject": "user:custodian", "role": role["id"], "scope": "tenant:echoco"})
        self.assertEqual(status, 400, resp)
        self.assertError(resp, "justification_required", mentions=["justification", "scaiecho:enroll"])
        self.assertUnchanged(before, "a binding refused for lack of justification")
        self.assertFalse(self.check("user:custodian", "scaiecho:enroll", "tenant:echoco"))
        status, resp, _ = self.call("POST", "/v1/iam/bindings",
                                    {"subject": "user:custodian", "role": role["id"], "scope": "tenant:echoco",
                                     "justification": ""})
        self.assertEqual(status, 400, f"empty justification accepted: {resp}")

        b = self.bind("user:custodian", role["id"], "tenant:echoco", justification="DPO-approved consent custodian, ticket SEC-42")
        self.assertEqual(b["justification"], "DPO-approved consent custodian, ticket SEC-42")
        listed = self.expect(200, "GET", "/v1/iam/bindings?scope=tenant:echoco")["items"]
        self.assertIn("DPO-approved consent custodian, ticket SEC-42", [x.get("justification") for x in listed])
        self.probe("user:custodian", "scaiecho:enroll", "tenant:echoco", True)

    # ---- (g) everything survives a restart ----

    def snapshot(self):
        """Everything observable, as (what -> response) pairs."""
        cls = type(self)
        out = {"revision": self.server.revision()}
        for path in ["/v1/iam/tenants", "/v1/iam/partners", "/v1/iam/projects", "/v1/iam/modules",
                     "/v1/iam/me/permissions?scope=platform"] + \
                    [f"/v1/iam/roles?scope=tenant:{t}" for t in cls.tenants] + \
                    [f"/v1/iam/bindings?scope=tenant:{t}" for t in cls.tenants] + \
                    [f"/v1/iam/custom-roles/{quote(r)}" for r in cls.custom_roles] + \
                    [f"/v1/iam/principals/{quote(p)}/permissions?scope={s}" for p, s in cls.probe_principals] + \
                    ["/v1/iam/who-can?permission=scaiecho:transcribe&scope=tenant:acme"]:
            out[path] = self.call("GET", path)[:2]
        if cls.probe_checks:
            status, resp, _ = self.call("POST", "/v1/iam/check", {"checks": [
                {"subject": s, "permission": p, "scope": sc} for s, p, sc in cls.probe_checks]})
            # The answer: allowed, and the reason's code, binding, role, scope and group
            # (not the prose summary).
            out["checks"] = (status, resp if status != 200 else [
                (r["subject"], r["permission"], r["scope"], r["allowed"],
                 {k: v for k, v in r["reason"].items() if k != "summary"}) for r in resp["results"]], resp.get("revision"))
        for name, key in sorted(cls.keys.items()):
            out[f"key {name}"] = self.call("GET", "/v1/iam/me/permissions", key=key)[:2]
        for i, key in enumerate(cls.revoked):
            out[f"revoked {i}"] = self.call("GET", "/v1/iam/me/permissions?scope=platform", key=key)[0]
        return out

    def test_g_restart_preserves_state(self):
        cls = type(self)
        # A revoked key and an extra key made just before the restart.
        self.bind("user:restart-user", "tenant_viewer", "tenant:echoco")
        live = self.make_key("user:restart-user", scope="tenant:echoco")
        dead = self.expect(201, "POST", "/v1/iam/api-keys", {"owner": "user:restart-user", "name": "dead"})
        self.expect(200, "DELETE", f"/v1/iam/api-keys/{quote(dead['id'])}")
        cls.keys["restart-user"] = live
        cls.revoked.append(dead["key"])
        self.probe("user:restart-user", "scaiecho:transcribe", "tenant:echoco", True)

        before = self.snapshot()
        self.assertEqual(before["key restart-user"][0], 200)
        self.assertEqual(before["revoked 0"], 401)
        for path, value in before.items():
            if path.startswith("/v1/"):
                self.assertEqual(value[0], 200, f"GET {path} before the restart -> {value}")
        self.server.restart()
        after = self.snapshot()
        self.assertEqual(after["revision"], before["revision"], "the revision changed across the restart")
        for what in before:
            self.assertEqual(after[what], before[what], f"{what} differs after the restart")
        # And the server still takes changes, numbering on from where it was.
        b = self.bind("user:after-restart", "tenant_viewer", "tenant:echoco")
        self.assertEqual(b["revision"], before["revision"] + 1)


if __name__ == "__main__":
    harness.main()
