"""Regression tests for what a hostile tenant found, one class of test per finding, and the
grant rule on every path that can give anyone anything (docs/engine.md, "The grant rule").

World: tenants acme and globex. alice is tenant_admin of acme, gary of globex; dora is
tenant_admin of acme and tenant_viewer of globex; eve holds only iam:groups:manage at acme.
Each test uses its own objects, so they run in any order on one server."""

import json

import harness
from harness import quote


class SecurityTest(harness.ApiTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        s = cls.server

        def ok(status, body, what):
            if status not in (200, 201):
                raise RuntimeError(f"{what}: {status} {body}")
            return body

        for t in ("acme", "globex"):
            ok(*s.call("POST", "/v1/iam/tenants", {"id": t})[:2], f"tenant {t}")
        ok(*s.call("POST", "/v1/iam/projects", {"id": "acme-web", "tenant": "acme"})[:2], "project")

        def bind(subject, role, scope):
            ok(*s.call("POST", "/v1/iam/bindings", {"subject": subject, "role": role, "scope": scope,
                                                    "justification": "security test"})[:2], f"bind {subject}")

        def key(owner, **kw):
            return ok(*s.call("POST", "/v1/iam/api-keys", {"owner": owner, "name": "sec", **kw})[:2], f"key {owner}")

        bind("user:alice", "tenant_admin", "tenant:acme")
        bind("user:gary", "tenant_admin", "tenant:globex")
        bind("user:dora", "tenant_admin", "tenant:acme")
        bind("user:dora", "tenant_viewer", "tenant:globex")
        groups_only = ok(*s.call("POST", "/v1/iam/custom-roles", {
            "name": "group keepers", "module_permissions": ["iam:groups:manage"], "scope": "tenant:acme"})[:2], "role")
        bind("user:eve", groups_only["id"], "tenant:acme")
        cls.alice = key("user:alice", scope="tenant:acme")["key"]
        cls.alice_unscoped = key("user:alice")["key"]
        cls.gary = key("user:gary", scope="tenant:globex")
        cls.dora = key("user:dora", scope="tenant:acme")["key"]
        cls.dora_unscoped = key("user:dora")["key"]
        cls.eve = key("user:eve", scope="tenant:acme")["key"]

    # ---- helpers ----

    def events(self, tenant):
        body = self.expect(200, "GET", f"/v1/audit/events?tenant={tenant}&limit=1000")
        return body["items"]

    def assertLikeMissing(self, method, path_fmt, body_fmt, key, foreign, missing, status=404):
        """The request naming `foreign` answers exactly as the one naming `missing` does (the
        names themselves aside), with `status` (404 unless said)."""
        def run(name):
            path = path_fmt.format(name)
            body = json.loads(json.dumps(body_fmt).replace("{}", name)) if body_fmt is not None else None
            status, resp, _ = self.call(method, path, body, key=key)
            return status, json.dumps(resp, sort_keys=True).replace(name, "<NAME>")
        got_foreign, got_missing = run(foreign), run(missing)
        self.assertEqual(got_foreign[0], status, f"{method} {path_fmt} with {foreign}: {got_foreign}")
        self.assertEqual(got_foreign, got_missing, f"{method} {path_fmt}: {foreign} is told apart from {missing}")

    # ---- finding 1: cross-tenant account takeover through API keys ----

    def test_finding1_no_key_for_another_tenants_user(self):
        # gary has no binding in or around acme: to alice he is as missing as a stranger.
        self.assertLikeMissing("POST", "/v1/iam/api-keys", {"owner": "user:{}", "name": "x", "scope": "tenant:acme"},
                               self.alice, "gary", "nobody-at-all")
        resp = self.expect(403, "POST", "/v1/iam/api-keys", {"owner": "user:gary", "name": "x"}, key=self.alice_unscoped)
        self.assertNotIn("globex", json.dumps(resp))

    def test_finding1_key_for_a_user_of_two_tenants_cannot_grow(self):
        # paul is a viewer at acme and admin of globex: to alice he is not wholly acme's, so she
        # cannot mint him a key at all (he answers like a missing user)…
        self.bind("user:paul", "tenant_viewer", "tenant:acme")
        self.bind("user:paul", "tenant_admin", "tenant:globex", justification="globex admin")
        self.assertLikeMissing("POST", "/v1/iam/api-keys", {"owner": "user:{}", "name": "x", "scope": "tenant:acme"},
                               self.alice, "paul", "nobody-at-all")
        # …and his own acme-scoped key can never mint a broader one, nor see his globex keys.
        paul = self.make_key("user:paul")
        paul_globex = self.expect(201, "POST", "/v1/iam/api-keys",
                                  {"owner": "user:paul", "name": "own", "scope": "tenant:globex"}, key=paul)
        k1 = self.expect(201, "POST", "/v1/iam/api-keys",
                         {"owner": "user:paul", "name": "x", "scope": "tenant:acme"}, key=paul)["key"]
        resp = self.expect(403, "POST", "/v1/iam/api-keys",
                           {"owner": "user:paul", "name": "y", "scope": "platform"}, key=k1)
        self.assertError(resp, "escalation", mentions=["tenant:acme"])
        self.expect(404, "POST", "/v1/iam/api-keys", {"owner": "user:paul", "name": "y", "scope": "tenant:globex"}, key=k1)
        self.expect(404, "POST", "/v1/iam/groups", {"id": "pwned", "tenant": "globex"}, key=k1)
        listed = self.expect(200, "GET", "/v1/iam/api-keys", key=k1)
        self.assertNotIn(paul_globex["id"], json.dumps(listed))
        self.assertNotIn("globex", json.dumps(listed))
        self.expect(404, "DELETE", f"/v1/iam/api-keys/{paul_globex['id']}", key=k1)
        self.expect(200, "GET", "/v1/iam/me/permissions?scope=tenant:globex", key=paul_globex["key"])
        k1_id = next(k["id"] for k in listed["items"] if k["scope"] == "tenant:acme" and k["name"] == "x")
        self.assertFalse([e for e in self.events("globex") if e.get("credential_id") == k1_id])

    def test_no_key_for_an_administrator_above_the_scope(self):
        # The platform's super_admin is bound above acme: alice cannot mint a key acting as it
        # (it would outlive her own role there and sign acme's log with its name).
        self.assertLikeMissing("POST", "/v1/iam/api-keys", {"owner": "user:{}", "name": "x", "scope": "tenant:acme"},
                               self.alice, "admin", "nobody-at-all")

    def test_a_key_never_outlives_the_key_that_made_it(self):
        short = self.expect(201, "POST", "/v1/iam/api-keys", {"owner": "user:dora", "name": "short",
                                                              "expires_at": "2099-01-01"}, key=self.dora_unscoped)
        child = self.expect(201, "POST", "/v1/iam/api-keys", {"owner": "user:dora", "name": "child"}, key=short["key"])
        self.assertEqual(child["expires_at"], short["expires_at"])
        resp = self.expect(403, "POST", "/v1/iam/api-keys", {"owner": "user:dora", "name": "longer",
                                                             "expires_at": "2100-01-01"}, key=short["key"])
        self.assertError(resp, "escalation", mentions=["outlives"])

    def test_a_binding_that_starts_later_counts_for_a_key_made_now(self):
        # kim manages acme's keys and reads nothing; vic will hold bot keys in an acme project
        # from tomorrow. A key for vic made today would hold them tomorrow: refused now.
        keys_only = self.make_role("key makers", ["iam:api_keys:manage"], "tenant:acme")
        self.bind("user:kim2", keys_only["id"], "tenant:acme")
        kim = self.make_key("user:kim2", scope="tenant:acme")
        bots = self.make_role("bot admins", ["scaibot:*"], "tenant:acme")
        self.expect(201, "POST", "/v1/iam/bindings", {"subject": "user:vic", "role": bots["id"],
                                                      "scope": "project:acme-web", "not_before": "2099-01-01"})
        resp = self.expect(403, "POST", "/v1/iam/api-keys", {"owner": "user:vic", "name": "later"}, key=kim)
        self.assertError(resp, "escalation", mentions=["scaibot:bots:delete", "project:acme-web"])

    def test_a_check_through_another_tenants_capability_token_is_hidden(self):
        gary = self.gary["key"]
        token = self.expect(201, "POST", "/v1/iam/capability-tokens",
                            {"capability": "scaibot:chat", "resource": "bot:b1", "scope": "tenant:globex"}, key=gary)
        before = len(self.events("globex"))
        resp = self.expect(404, "POST", "/v1/iam/check",
                           {"token": token["token"], "permission": "scaibot:chat", "scope": "tenant:acme",
                            "resource": {"id": "ALICE-WAS-HERE"}, "audit": True}, key=self.alice)
        self.assertNotIn("globex", json.dumps(resp))
        self.assertEqual(len(self.events("globex")), before)
        # gary's own tenant may ask, and log it.
        resp = self.expect(200, "POST", "/v1/iam/check",
                           {"token": token["token"], "permission": "scaibot:chat", "resource": {"id": "bot:b1"},
                            "audit": True}, key=gary)
        self.assertTrue(resp["allowed"], resp)

    def test_explanations_name_the_subject_as_asked(self):
        # An existing principal of another tenant reads exactly like a missing one.
        self.expect(201, "POST", "/v1/iam/service-accounts", {"id": "globex-ci", "tenant": "globex"})
        self.assertLikeMissing("POST", "/v1/iam/check",
                               {"subject": "service_account:{}", "permission": "scaibot:bots:read", "scope": "tenant:acme"},
                               self.alice, "globex-ci", "nosuch-ci", status=200)

    def test_finding1_key_for_another_user_needs_all_they_hold_where_it_reaches(self):
        # An unscoped key for gary would carry gary's globex grants.
        resp = self.expect(403, "POST", "/v1/iam/api-keys", {"owner": "user:gary", "name": "z"}, key=self.alice_unscoped)
        self.assertNotIn("globex", json.dumps(resp), "the refusal names another tenant")
        # kim may manage acme's keys but reads no bots; hank reads bots in one acme project. A
        # key for hank at tenant:acme holds nothing at the tenant itself, but in that project it
        # would read bots: kim cannot make it.
        keys_only = self.make_role("key keepers", ["iam:api_keys:manage"], "tenant:acme")
        self.bind("user:kim", keys_only["id"], "tenant:acme")
        readers = self.make_role("bot readers", ["scaibot:bots:read"], "tenant:acme")
        self.bind("user:hank", readers["id"], "project:acme-web")
        kim = self.make_key("user:kim", scope="tenant:acme")
        resp = self.expect(403, "POST", "/v1/iam/api-keys", {"owner": "user:hank", "name": "z"}, key=kim)
        self.assertError(resp, "escalation", mentions=["scaibot:bots:read", "project:acme-web"])
        # Restricted to keys kim holds (and hank does not), it is fine: it holds nothing kim lacks.
        self.expect(201, "POST", "/v1/iam/api-keys",
                    {"owner": "user:hank", "name": "z", "permissions": ["iam:api_keys:manage"]}, key=kim)
        # Nobody names keys it lacks, even for a key that would hold none of them.
        resp = self.expect(403, "POST", "/v1/iam/api-keys",
                           {"owner": "user:hank", "name": "z", "permissions": ["scaibot:chat"]}, key=kim)
        self.assertError(resp, "escalation", mentions=["scaibot:chat"])
        # And a key at a tenant alice cannot see is as if the tenant did not exist.
        self.assertLikeMissing("POST", "/v1/iam/api-keys", {"owner": "user:gary", "name": "z", "scope": "tenant:{}"},
                               self.alice_unscoped, "globex", "no-such-tenant")

    # ---- finding 2: a scope-restricted key escapes its scope ----

    def test_finding2_restricted_key_mints_nothing_broader(self):
        resp = self.expect(403, "POST", "/v1/iam/api-keys", {"owner": "user:dora", "name": "up", "scope": "platform"},
                           key=self.dora)
        self.assertError(resp, "escalation", mentions=["tenant:acme"])
        self.expect(404, "POST", "/v1/iam/api-keys", {"owner": "user:dora", "name": "up", "scope": "tenant:globex"},
                    key=self.dora)
        self.expect(404, "GET", "/v1/iam/groups?tenant=globex", key=self.dora)
        # Narrower is fine: a project of acme, and fewer keys.
        narrow = self.expect(201, "POST", "/v1/iam/api-keys",
                             {"owner": "user:dora", "name": "web", "scope": "project:acme-web",
                              "permissions": ["scaibot:bots:read"]}, key=self.dora)
        # A key-restricted key cannot add keys, nor drop its restriction.
        for perms in (["scaibot:bots:read", "scaibot:bots:update"], ["scaibot:*"]):
            resp = self.expect(403, "POST", "/v1/iam/api-keys",
                               {"owner": "user:dora", "name": "more", "permissions": perms}, key=narrow["key"])
            self.assertError(resp, "escalation", mentions=["scaibot:bots:update"])
        # Capability tokens: never broader than the minting credential either.
        self.expect(404, "POST", "/v1/iam/capability-tokens",
                    {"capability": "scaibot:chat", "resource": "bot:b1", "scope": "tenant:globex"}, key=self.dora)

    def test_finding2_unrestricted_caller_may_restrict_itself_anywhere_it_can_see(self):
        self.expect(201, "POST", "/v1/iam/api-keys", {"owner": "user:dora", "name": "g", "scope": "tenant:globex"},
                    key=self.dora_unscoped)

    # ---- finding 3: use after free of a check's resource owner ----

    def test_finding3_long_resource_owner(self):
        owner = "user:alice.smith@example.com"
        role = self.make_role("runners", ["scaibunker:execute"], "tenant:acme")
        self.bind(owner, role["id"], "tenant:acme")
        for _ in range(20):  # a freed buffer is reused quickly: ask often
            resp = self.expect(200, "POST", "/v1/iam/check", {
                "subject": owner, "permission": "scaibunker:execute", "scope": "tenant:acme",
                "resource": {"id": "bunker:b1", "owner": owner}})
            self.assertTrue(resp["allowed"], resp)
            resp = self.expect(200, "POST", "/v1/iam/check", {
                "subject": owner, "permission": "scaibunker:execute", "scope": "tenant:acme",
                "resource": {"id": "bunker:b2", "owner": "user:bob.jones.the.other.owner@example.com"}})
            self.assertFalse(resp["allowed"], resp)
            self.assertEqual(resp["reason"]["code"], "not_owner", resp)

    # ---- finding 4: events in another tenant's audit log ----

    def test_finding4_no_event_in_a_log_its_actor_cannot_see(self):
        before = len(self.events("globex"))
        self.expect(404, "POST", "/v1/iam/check",
                    {"permission": "scaibot:bots:read", "scope": "tenant:globex", "audit": True}, key=self.alice_unscoped)
        # audit: always keys are logged unasked: still nothing for a scope one cannot see.
        self.expect(404, "POST", "/v1/iam/check",
                    {"permission": "scaibunker:l2_transparency", "scope": "tenant:globex"}, key=self.alice_unscoped)
        self.expect(404, "POST", "/v1/iam/api-keys", {"owner": "user:alice", "name": "g", "scope": "tenant:globex"},
                    key=self.alice_unscoped)
        after = self.events("globex")
        self.assertEqual(len(after), before, [e for e in after if e.get("actor_user_id") == "user:alice"])
        # dora can see globex: her own audited check there is hers to log.
        resp = self.expect(200, "POST", "/v1/iam/check",
                           {"permission": "scaibot:bots:read", "scope": "tenant:globex", "audit": True},
                           key=self.dora_unscoped)
        self.assertTrue(resp.get("audited"), resp)

    # ---- finding 5: existence oracles ----

    def test_finding5_foreign_scopes_answer_like_missing_ones(self):
        k = self.alice_unscoped
        self.assertLikeMissing("GET", "/v1/iam/me/permissions?scope=tenant:{}", None, k, "globex", "nope")
        self.assertLikeMissing("GET", "/v1/iam/principals/user:alice/permissions?scope=tenant:{}", None, k, "globex", "nope")
        self.assertLikeMissing("POST", "/v1/iam/check", {"permission": "scaibot:bots:read", "scope": "tenant:{}"},
                               k, "globex", "nope")
        self.assertLikeMissing("POST", "/v1/iam/check",
                               {"permission": "scaibot:bots:read", "scope": "tenant:{}", "subject": "user:gary"},
                               k, "globex", "nope")
        self.assertLikeMissing("POST", "/v1/iam/api-keys", {"owner": "user:alice", "name": "n", "scope": "tenant:{}"},
                               k, "globex", "nope")
        # The scope-restricted key: its own tenant's project is fine, another tenant is missing.
        self.assertLikeMissing("GET", "/v1/iam/me/permissions?scope=tenant:{}", None, self.alice, "globex", "nope")
        self.expect(200, "GET", "/v1/iam/me/permissions?scope=project:acme-web", key=self.alice)

    def test_a_key_restricted_to_platform_sees_no_more_than_its_owner(self):
        # Anyone may restrict a key of its own to 'platform'; that must not open other tenants
        # (found by the attacker: such a key made keys and audited checks in foreign tenants).
        wide = self.expect(201, "POST", "/v1/iam/api-keys", {"owner": "user:alice", "name": "p", "scope": "platform"},
                           key=self.alice_unscoped)["key"]
        self.assertLikeMissing("POST", "/v1/iam/check", {"permission": "scaibot:bots:read", "scope": "tenant:{}",
                                                         "audit": True}, wide, "globex", "nope")
        self.assertLikeMissing("POST", "/v1/iam/api-keys", {"owner": "user:alice", "name": "q", "scope": "tenant:{}"},
                               wide, "globex", "nope")
        self.assertLikeMissing("GET", "/v1/iam/me/permissions?scope=tenant:{}", None, wide, "globex", "nope")

    def test_a_service_account_sees_its_own_tenant(self):
        self.expect(201, "POST", "/v1/iam/service-accounts", {"id": "acme-bot", "tenant": "acme"})
        sa = self.make_key("service_account:acme-bot", key=self.alice)
        resp = self.expect(200, "POST", "/v1/iam/check", {"permission": "scaibot:bots:read"}, key=sa)
        self.assertFalse(resp["allowed"])
        self.expect(200, "GET", "/v1/iam/me/permissions?scope=project:acme-web", key=sa)
        self.assertLikeMissing("GET", "/v1/iam/me/permissions?scope=tenant:{}", None, sa, "globex", "nope")

    # ---- finding 6: group membership escapes the grant rule ----

    def test_finding6_joining_a_group_is_a_grant(self):
        self.expect(201, "POST", "/v1/iam/groups", {"id": "acme-admins", "tenant": "acme"})
        self.bind("group:acme-admins", "tenant_admin", "tenant:acme", justification="admins")
        resp = self.expect(403, "PUT", "/v1/iam/groups/acme-admins/members/user:eve", key=self.eve)
        self.assertError(resp, "escalation", mentions=["iam:roles:escalate"])
        self.assertFalse(self.check("user:eve", "iam:roles:escalate", "tenant:acme"))
        got = self.expect(200, "GET", "/v1/iam/groups/acme-admins")
        self.assertEqual(got["members"], [])
        # A group whose bindings give only what eve holds: joining it is fine.
        self.expect(201, "POST", "/v1/iam/groups", {"id": "keepers", "tenant": "acme"})
        role = [r for r in self.expect(200, "GET", "/v1/iam/roles?scope=tenant:acme")["items"]
                if r["name"] == "group keepers"][0]
        self.bind("group:keepers", role["role"], "tenant:acme")
        self.expect(200, "PUT", "/v1/iam/groups/keepers/members/user:eve", key=self.eve)
        self.expect(200, "PUT", "/v1/iam/groups/keepers/members/user:frank", key=self.eve)

    # ---- hostile spellings ----

    def test_duplicate_json_keys_are_refused_and_change_nothing(self):
        before = self.server.revision()
        status, resp, _ = self.call("POST", "/v1/iam/api-keys", key=self.dora,
                                    raw_body='{"owner":"user:dora","name":"d","scope":"tenant:acme","scope":"platform"}',
                                    headers={"Content-Type": "application/json"})
        self.assertEqual(status, 400, resp)
        self.assertError(resp, "malformed_json", mentions=["'scope' appears twice"])
        status, resp, _ = self.call("POST", "/v1/iam/check", key=self.dora,
                                    raw_body='{"checks":[{"permission":"scaibot:bots:read","scope":"tenant:acme",'
                                             '"scope":"tenant:globex"}]}')
        self.assertEqual(status, 400, resp)
        self.assertEqual(self.server.revision(), before)

    # ---- the rest of the rule ----

    def test_registering_a_module_needs_escalate(self):
        role = self.make_role("module keepers", ["iam:modules:manage"], "platform")
        self.bind("user:mo", role["id"], "platform")
        mo = self.make_key("user:mo")
        manifest = "module: sneaky\ntitle: Sneaky\nversion: 1\npermissions:\n  - key: sneaky:do\n    description: x\n" \
                   "defaults:\n  tenant_user: [sneaky:do]\n"
        status, resp, _ = self.call("PUT", "/v1/iam/modules/sneaky", raw_body=manifest, key=mo,
                                    headers={"Content-Type": "application/yaml"})
        self.assertEqual(status, 403, resp)
        self.assertError(resp, "escalation", mentions=["iam:roles:escalate"])

    def test_custom_role_and_binding_are_still_checked(self):
        role = self.make_role("role keepers", ["iam:roles:manage", "iam:bindings:manage"], "tenant:acme")
        self.bind("user:rob", role["id"], "tenant:acme")
        rob = self.make_key("user:rob", scope="tenant:acme")
        resp = self.expect(403, "POST", "/v1/iam/custom-roles",
                           {"name": "more", "module_permissions": ["scaibot:bots:read"]}, key=rob)
        self.assertError(resp, "escalation", mentions=["scaibot:bots:read"])
        resp = self.expect(403, "POST", "/v1/iam/bindings",
                           {"subject": "user:rob", "role": "tenant_admin", "scope": "tenant:acme"}, key=rob)
        self.assertError(resp, "escalation", mentions=["iam:roles:escalate"])
        # Its own keys it may hand out, and edit a role within them.
        mine = self.expect(201, "POST", "/v1/iam/custom-roles",
                           {"name": "binders", "module_permissions": ["iam:bindings:read"]}, key=rob)
        resp = self.expect(403, "PATCH", f"/v1/iam/custom-roles/{mine['id']}",
                           {"module_permissions": ["iam:bindings:read", "iam:groups:manage"]}, key=rob)
        self.assertError(resp, "escalation", mentions=["iam:groups:manage"])


if __name__ == "__main__":
    harness.main()
