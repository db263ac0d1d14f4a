"""Every endpoint of SPEC §7 at least once, on its happy path, against the real server."""

import json
import re

import harness
from harness import quote

DEMO_MANIFEST = """\
module: demo
title: Demo module registered at run time
version: 1
permissions:
  - key: demo:widgets:read
    description: "Read widgets."
  - key: demo:widgets:write
    description: "Create and change widgets."
implies:
  demo:widgets:write: [demo:widgets:read]
defaults:
  tenant_user: []
  tenant_viewer: [demo:widgets:read]
"""


class EndpointsTest(harness.ApiTestCase):

    def assertRevision(self, resp):
        self.assertIsInstance(resp.get("revision"), int, resp)
        self.assertGreater(resp["revision"], 0, resp)

    # ---- scopes ----

    def test_partners_crud(self):
        created = self.expect(201, "POST", "/v1/iam/partners", {"id": "ep-partner", "name": "EP Partner"})
        self.assertEqual(created["id"], "ep-partner")
        self.assertEqual(created["scope"], "partner:ep-partner")
        self.assertEqual(created["name"], "EP Partner")
        self.assertEqual(created["parent"], "platform")
        self.assertRevision(created)
        listed = self.expect(200, "GET", "/v1/iam/partners")
        self.assertIn("partner:ep-partner", [p["scope"] for p in listed["items"]])
        self.assertRevision(listed)
        got = self.expect(200, "GET", "/v1/iam/partners/ep-partner")
        self.assertEqual(got["scope"], "partner:ep-partner")
        self.assertEqual(got["name"], "EP Partner")
        deleted = self.expect(200, "DELETE", "/v1/iam/partners/ep-partner")
        self.assertGreater(deleted["revision"], created["revision"])
        self.assertError(self.expect(404, "GET", "/v1/iam/partners/ep-partner"), mentions=["ep-partner"])
        listed = self.expect(200, "GET", "/v1/iam/partners")
        self.assertNotIn("partner:ep-partner", [p["scope"] for p in listed["items"]])

    def test_tenants_with_partner_and_projects_crud(self):
        self.expect(201, "POST", "/v1/iam/partners", {"id": "ep-p2"})
        tenant = self.make_tenant("ep-t2", partner="ep-p2")
        self.assertEqual(tenant["scope"], "tenant:ep-t2")
        self.assertEqual(tenant["parent"], "partner:ep-p2")
        self.assertRevision(tenant)
        self.assertIn("tenant:ep-t2", [t["scope"] for t in self.expect(200, "GET", "/v1/iam/tenants")["items"]])
        got = self.expect(200, "GET", "/v1/iam/tenants/ep-t2")
        self.assertEqual(got["parent"], "partner:ep-p2")

        project = self.expect(201, "POST", "/v1/iam/projects", {"id": "ep-proj", "tenant": "ep-t2", "name": "Proj"})
        self.assertEqual(project["scope"], "project:ep-proj")
        self.assertEqual(project["parent"], "tenant:ep-t2")
        self.assertRevision(project)
        self.assertIn("project:ep-proj", [p["scope"] for p in self.expect(200, "GET", "/v1/iam/projects")["items"]])
        self.assertEqual(self.expect(200, "GET", "/v1/iam/projects/ep-proj")["parent"], "tenant:ep-t2")

        # A grant at the partner holds at its tenant's project, not at another partner's.
        role = self.make_role("Partner bot readers", ["scaibot:bots:read"], "partner:ep-p2")
        self.bind("user:ep-partner-reader", role["id"], "partner:ep-p2")
        self.assertTrue(self.check("user:ep-partner-reader", "scaibot:bots:read", "project:ep-proj"))
        self.make_tenant("ep-t3")
        self.assertFalse(self.check("user:ep-partner-reader", "scaibot:bots:read", "tenant:ep-t3"))

        # Bottom-up deletion.
        self.expect(200, "DELETE", "/v1/iam/projects/ep-proj")
        self.expect(404, "GET", "/v1/iam/projects/ep-proj")
        self.expect(200, "DELETE", "/v1/iam/tenants/ep-t2")
        self.expect(404, "GET", "/v1/iam/tenants/ep-t2")

    # ---- modules and roles ----

    def test_modules_list_get_put_and_use_new_key(self):
        listed = self.expect(200, "GET", "/v1/iam/modules")
        names = [m["module"] for m in listed["items"]]
        for m in ("iam", "scaiecho", "scaibot", "scaiskills", "scaibunker"):
            self.assertIn(m, names)
        echo = self.expect(200, "GET", "/v1/iam/modules/scaiecho")
        keys = {p["key"]: p for p in echo["permissions"]}
        self.assertEqual(set(keys), {"scaiecho:transcribe", "scaiecho:diarize", "scaiecho:enroll", "scaiecho:admin"})
        self.assertTrue(keys["scaiecho:enroll"].get("sensitive"))

        put = self.expect(200, "PUT", "/v1/iam/modules/demo", raw_body=DEMO_MANIFEST,
                          headers={"Content-Type": "application/yaml"})
        self.assertEqual(put["module"], "demo")
        self.assertEqual(put["version"], 1)
        self.assertEqual(put["keys"], 2)
        self.assertRevision(put)
        demo = self.expect(200, "GET", "/v1/iam/modules/demo")
        self.assertEqual({p["key"] for p in demo["permissions"]}, {"demo:widgets:read", "demo:widgets:write"})
        self.assertIn("demo", [m["module"] for m in self.expect(200, "GET", "/v1/iam/modules")["items"]])

        # A custom role using the new key works in a binding, with its implication.
        self.make_tenant("ep-demo")
        role = self.make_role("Widget writers", ["demo:widgets:write"], "tenant:ep-demo")
        self.assertEqual(set(role["resolved_permissions"]), {"demo:widgets:write", "demo:widgets:read"})
        self.bind("user:widget-writer", role["id"], "tenant:ep-demo")
        self.assertTrue(self.check("user:widget-writer", "demo:widgets:write", "tenant:ep-demo"))
        self.assertTrue(self.check("user:widget-writer", "demo:widgets:read", "tenant:ep-demo"))
        self.assertFalse(self.check("user:someone-else", "demo:widgets:read", "tenant:ep-demo"))

    def test_roles_at_scope(self):
        self.make_tenant("ep-roles")
        role = self.make_role("EP viewers", ["scaibot:bots:read"], "tenant:ep-roles")
        resp = self.expect(200, "GET", "/v1/iam/roles?scope=tenant:ep-roles")
        self.assertEqual(resp["scope"], "tenant:ep-roles")
        self.assertRevision(resp)
        by_ref = {r["role"]: r for r in resp["items"]}
        for builtin in ("tenant_admin", "tenant_user", "tenant_viewer"):
            self.assertIn(builtin, by_ref)
            self.assertEqual(by_ref[builtin]["kind"], "built_in")
        self.assertIn("scaiecho:transcribe", by_ref["tenant_viewer"]["permissions"])
        self.assertNotIn("scaiecho:enroll", by_ref["tenant_viewer"]["permissions"])
        self.assertIn("scaiecho:enroll", by_ref["tenant_admin"]["permissions"])
        self.assertNotIn("scaibunker:admin:platform", by_ref["tenant_admin"]["permissions"])
        self.assertIn(role["id"], by_ref)
        self.assertEqual(by_ref[role["id"]]["kind"], "custom")
        self.assertEqual(by_ref[role["id"]]["permissions"], ["scaibot:bots:read"])

    # ---- custom roles ----

    def test_custom_role_crud_with_etag(self):
        self.make_tenant("ep-cr")
        body = {"name": "Bot readers", "module_permissions": ["scaibot:bots:read"],
                "description": "read bots", "scope": "tenant:ep-cr"}
        status, created, headers = self.call("POST", "/v1/iam/custom-roles", body)
        self.assertEqual(status, 201, created)
        rid = created["id"]
        self.assertTrue(rid)
        self.assertEqual(created["name"], "Bot readers")
        self.assertEqual(created["scope"], "tenant:ep-cr")
        self.assertEqual(created["module_permissions"], ["scaibot:bots:read"])
        self.assertRevision(created)
        etag1 = headers.get("ETag")
        self.assertTrue(etag1, f"no ETag header on the 201: {dict(headers)}")

        status, got, headers = self.call("GET", f"/v1/iam/custom-roles/{quote(rid)}")
        self.assertEqual(status, 200, got)
        self.assertEqual(got["description"], "read bots")
        self.assertEqual(headers.get("ETag"), etag1)

        patched = self.expect(200, "PATCH", f"/v1/iam/custom-roles/{quote(rid)}",
                              {"module_permissions": ["scaibot:bots:read", "scaibot:conversations:read"]},
                              headers={"If-Match": etag1})
        self.assertEqual(patched["module_permissions"], ["scaibot:bots:read", "scaibot:conversations:read"])
        self.assertNotEqual(patched["etag"], etag1)
        self.assertGreater(patched["revision"], created["revision"])

        # The old etag is stale now: 409 stale_etag, nothing changed.
        rev = self.server.revision()
        stale = self.expect(409, "PATCH", f"/v1/iam/custom-roles/{quote(rid)}", {"name": "Renamed"},
                            headers={"If-Match": etag1})
        self.assertError(stale, "stale_etag", mentions=[rid])
        self.assertEqual(self.server.revision(), rev)
        self.assertEqual(self.expect(200, "GET", f"/v1/iam/custom-roles/{quote(rid)}")["name"], "Bot readers")

        deleted = self.expect(200, "DELETE", f"/v1/iam/custom-roles/{quote(rid)}")
        self.assertRevision(deleted)
        self.expect(404, "GET", f"/v1/iam/custom-roles/{quote(rid)}")

    # ---- groups, service accounts, bindings ----

    def test_groups_and_members(self):
        self.make_tenant("ep-grp")
        group = self.expect(201, "POST", "/v1/iam/groups", {"id": "ep-readers", "tenant": "ep-grp", "name": "Readers"})
        self.assertEqual(group["principal"], "group:ep-readers")
        self.assertEqual(group["tenant"], "tenant:ep-grp")
        self.assertRevision(group)
        self.bind("group:ep-readers", "tenant_viewer", "tenant:ep-grp")
        self.assertFalse(self.check("user:gm", "scaibot:bots:read", "tenant:ep-grp"))
        added = self.expect(200, "PUT", f"/v1/iam/groups/ep-readers/members/{quote('user:gm')}")
        self.assertRevision(added)
        resp = self.expect(200, "POST", "/v1/iam/check",
                           {"subject": "user:gm", "permission": "scaibot:bots:read", "scope": "tenant:ep-grp"})
        self.assertTrue(resp["allowed"], resp)
        self.assertEqual(resp["reason"].get("via_group"), "group:ep-readers", resp)
        removed = self.expect(200, "DELETE", f"/v1/iam/groups/ep-readers/members/{quote('user:gm')}")
        self.assertGreater(removed["revision"], added["revision"])
        self.assertFalse(self.check("user:gm", "scaibot:bots:read", "tenant:ep-grp"))

    def test_service_accounts(self):
        self.make_tenant("ep-sa")
        sa = self.expect(201, "POST", "/v1/iam/service-accounts", {"id": "ep-bot", "tenant": "ep-sa", "name": "Pipeline"})
        self.assertEqual(sa["principal"], "service_account:ep-bot")
        self.assertEqual(sa["tenant"], "tenant:ep-sa")
        self.assertEqual(sa["name"], "Pipeline")
        self.assertRevision(sa)
        self.expect(409, "POST", "/v1/iam/service-accounts", {"id": "ep-bot", "tenant": "ep-sa"})
        role = self.make_role("Transcribers", ["scaiecho:transcribe"], "tenant:ep-sa")
        self.bind("service_account:ep-bot", role["id"], "tenant:ep-sa")
        key = self.make_key("service_account:ep-bot")
        me = self.expect(200, "GET", "/v1/iam/me/permissions?scope=tenant:ep-sa", key=key)
        self.assertEqual(me["principal"], "service_account:ep-bot")
        self.assertEqual([p["permission"] for p in me["permissions"]], ["scaiecho:transcribe"])

    def test_list_groups_and_service_accounts_of_a_tenant(self):
        self.make_tenant("ep-lst")
        self.make_tenant("ep-lst-other")
        self.expect(201, "POST", "/v1/iam/groups", {"id": "ep-lst-g2", "tenant": "ep-lst", "name": "Second"})
        self.expect(201, "POST", "/v1/iam/groups", {"id": "ep-lst-g1", "tenant": "ep-lst", "name": "First"})
        self.expect(201, "POST", "/v1/iam/service-accounts", {"id": "ep-lst-sa", "tenant": "ep-lst", "name": "Bot"})
        self.expect(201, "POST", "/v1/iam/groups", {"id": "ep-lst-elsewhere", "tenant": "ep-lst-other"})

        groups = self.expect(200, "GET", "/v1/iam/groups?tenant=ep-lst")
        self.assertEqual(groups["tenant"], "tenant:ep-lst")
        self.assertRevision(groups)
        self.assertEqual([(g["principal"], g["name"]) for g in groups["items"]],
                         [("group:ep-lst-g1", "First"), ("group:ep-lst-g2", "Second")])
        for g in groups["items"]:
            self.assertIsInstance(g["created_at"], str, g)
        sas = self.expect(200, "GET", "/v1/iam/service-accounts?tenant=ep-lst")
        self.assertEqual(sas["tenant"], "tenant:ep-lst")
        self.assertRevision(sas)
        self.assertEqual([(s["principal"], s["name"]) for s in sas["items"]], [("service_account:ep-lst-sa", "Bot")])
        self.assertIsInstance(sas["items"][0]["created_at"], str)

        # No tenant: the key's scope; an unrestricted key has none (400).
        own_admin = self.make_tenant_admin("ep-lst", "user:ep-lst-admin")
        by_default = self.expect(200, "GET", "/v1/iam/groups", key=own_admin)
        self.assertEqual(by_default["tenant"], "tenant:ep-lst")
        self.assertEqual([g["principal"] for g in by_default["items"]], ["group:ep-lst-g1", "group:ep-lst-g2"])
        self.assertEqual([s["principal"] for s in self.expect(200, "GET", "/v1/iam/service-accounts", key=own_admin)["items"]],
                         ["service_account:ep-lst-sa"])
        self.assertError(self.expect(400, "GET", "/v1/iam/groups"), "invalid_argument", mentions=["tenant"])
        self.assertError(self.expect(400, "GET", "/v1/iam/service-accounts"), "invalid_argument", mentions=["tenant"])

        # Another tenant's admin: the tenant and its groups and service accounts are 404, like missing ones.
        other_admin = self.make_tenant_admin("ep-lst-other", "user:ep-lst-other-admin")
        for path in ("/v1/iam/groups?tenant=ep-lst", "/v1/iam/service-accounts?tenant=ep-lst",
                     "/v1/iam/groups/ep-lst-g1", "/v1/iam/service-accounts/ep-lst-sa"):
            self.assertError(self.expect(404, "GET", path, key=other_admin), "not_found")
        rev = self.server.revision()
        self.assertError(self.expect(404, "DELETE", "/v1/iam/groups/ep-lst-g1", key=other_admin), "not_found")
        self.assertError(self.expect(404, "DELETE", "/v1/iam/service-accounts/ep-lst-sa", key=other_admin), "not_found")
        self.assertEqual(self.server.revision(), rev)
        mine = self.expect(200, "GET", "/v1/iam/groups", key=other_admin)
        self.assertEqual(mine["tenant"], "tenant:ep-lst-other")
        self.assertEqual([g["principal"] for g in mine["items"]], ["group:ep-lst-elsewhere"])
        self.assertEqual(len(self.expect(200, "GET", "/v1/iam/groups?tenant=ep-lst")["items"]), 2)

    def test_get_group_and_service_account_show_memberships(self):
        self.make_tenant("ep-gget")
        group = self.expect(201, "POST", "/v1/iam/groups", {"id": "ep-gget-g", "tenant": "ep-gget", "name": "Readers"})
        self.expect(201, "POST", "/v1/iam/service-accounts", {"id": "ep-gget-sa", "tenant": "ep-gget", "name": "Bot"})
        empty = self.expect(200, "GET", "/v1/iam/groups/ep-gget-g")
        self.assertEqual(empty["members"], [])
        self.expect(200, "PUT", f"/v1/iam/groups/ep-gget-g/members/{quote('user:ep-gget-u')}")
        self.expect(200, "PUT", f"/v1/iam/groups/ep-gget-g/members/{quote('service_account:ep-gget-sa')}")

        got = self.expect(200, "GET", "/v1/iam/groups/ep-gget-g")
        self.assertEqual((got["id"], got["principal"], got["tenant"], got["name"]),
                         ("ep-gget-g", "group:ep-gget-g", "tenant:ep-gget", "Readers"))
        self.assertIsInstance(got["created_at"], str, got)
        self.assertEqual(sorted(got["members"]), ["service_account:ep-gget-sa", "user:ep-gget-u"])
        self.assertNotIn("groups", got)
        self.assertGreaterEqual(got["revision"], group["revision"])

        sa = self.expect(200, "GET", "/v1/iam/service-accounts/ep-gget-sa")
        self.assertEqual((sa["id"], sa["principal"], sa["tenant"], sa["name"]),
                         ("ep-gget-sa", "service_account:ep-gget-sa", "tenant:ep-gget", "Bot"))
        self.assertIsInstance(sa["created_at"], str, sa)
        self.assertEqual(sa["groups"], ["group:ep-gget-g"])
        self.assertNotIn("members", sa)
        self.assertRevision(sa)

        self.expect(200, "DELETE", f"/v1/iam/groups/ep-gget-g/members/{quote('user:ep-gget-u')}")
        self.assertEqual(self.expect(200, "GET", "/v1/iam/groups/ep-gget-g")["members"], ["service_account:ep-gget-sa"])
        # The kinds do not mix, and unknown ids are 404.
        self.expect(404, "GET", "/v1/iam/service-accounts/ep-gget-g")
        self.expect(404, "GET", "/v1/iam/groups/ep-gget-sa")
        self.expect(404, "GET", "/v1/iam/groups/ep-gget-missing")

    def test_delete_group_removes_what_members_held_through_it(self):
        self.make_tenant("ep-gdel")
        self.expect(201, "POST", "/v1/iam/groups", {"id": "ep-gdel-g", "tenant": "ep-gdel"})
        self.expect(201, "POST", "/v1/iam/service-accounts", {"id": "ep-gdel-sa", "tenant": "ep-gdel"})
        b = self.bind("group:ep-gdel-g", "tenant_viewer", "tenant:ep-gdel")
        self.expect(200, "PUT", f"/v1/iam/groups/ep-gdel-g/members/{quote('user:ep-gdel-u')}")
        self.expect(200, "PUT", f"/v1/iam/groups/ep-gdel-g/members/{quote('service_account:ep-gdel-sa')}")
        self.assertTrue(self.check("user:ep-gdel-u", "scaiecho:transcribe", "tenant:ep-gdel"))
        self.assertIn(b["id"], [x["id"] for x in self.expect(200, "GET", "/v1/iam/bindings?scope=tenant:ep-gdel")["items"]])

        # A tenant viewer can read the group but not delete it: 403, nothing changes.
        viewer = self.make_key("user:ep-gdel-u", scope="tenant:ep-gdel")
        self.assertEqual(self.expect(200, "GET", "/v1/iam/groups/ep-gdel-g", key=viewer)["principal"], "group:ep-gdel-g")
        rev = self.server.revision()
        self.assertError(self.expect(403, "DELETE", "/v1/iam/groups/ep-gdel-g", key=viewer),
                         "permission_denied", mentions=["iam:groups:manage"])
        self.assertEqual(self.server.revision(), rev)

        deleted = self.expect(200, "DELETE", "/v1/iam/groups/ep-gdel-g")
        self.assertEqual(deleted["deleted"], "group:ep-gdel-g")
        self.assertGreater(deleted["revision"], rev)
        self.assertFalse(self.check("user:ep-gdel-u", "scaiecho:transcribe", "tenant:ep-gdel"))
        self.assertNotIn(b["id"], [x["id"] for x in self.expect(200, "GET", "/v1/iam/bindings?scope=tenant:ep-gdel")["items"]])
        self.assertEqual(self.expect(200, "GET", f"/v1/iam/bindings?subject={quote('group:ep-gdel-g')}")["items"], [])
        self.expect(404, "GET", "/v1/iam/groups/ep-gdel-g")
        self.assertNotIn("group:ep-gdel-g", [g["principal"] for g in self.expect(200, "GET", "/v1/iam/groups?tenant=ep-gdel")["items"]])
        self.assertEqual(self.expect(200, "GET", "/v1/iam/service-accounts/ep-gdel-sa")["groups"], [])
        self.expect(404, "DELETE", "/v1/iam/groups/ep-gdel-g")
        self.expect(404, "DELETE", f"/v1/iam/bindings/{b['id']}")

    def test_delete_group_refused_while_bound_where_the_caller_cannot_manage(self):
        # The platform admin binds a tenant's group at the tenant's partner; the tenant admin
        # may not delete the group, since that would remove a binding it cannot manage.
        self.expect(201, "POST", "/v1/iam/partners", {"id": "ep-reach-p"})
        self.expect(201, "POST", "/v1/iam/tenants", {"id": "ep-reach", "partner": "ep-reach-p"})
        self.expect(201, "POST", "/v1/iam/groups", {"id": "ep-reach-g", "tenant": "ep-reach"})
        self.bind("group:ep-reach-g", "partner_admin", "partner:ep-reach-p", justification="partner operations")
        self.bind("user:ep-reach-admin", "tenant_admin", "tenant:ep-reach", justification="tenant IT")
        admin = self.make_key("user:ep-reach-admin", scope="tenant:ep-reach")
        rev = self.server.revision()
        body = self.expect(409, "DELETE", "/v1/iam/groups/ep-reach-g", key=admin)
        self.assertError(body, "in_use", mentions=["1 binding(s)"])
        self.assertNotIn("ep-reach-p", str(body), "the partner's name must not leak")
        self.assertEqual(self.server.revision(), rev)
        self.expect(200, "DELETE", "/v1/iam/groups/ep-reach-g")  # the platform admin may

    def test_delete_service_account_revokes_its_keys(self):
        self.make_tenant("ep-sadel")
        self.expect(201, "POST", "/v1/iam/service-accounts", {"id": "ep-sadel-sa", "tenant": "ep-sadel"})
        b = self.bind("service_account:ep-sadel-sa", "tenant_viewer", "tenant:ep-sadel")
        created = self.expect(201, "POST", "/v1/iam/api-keys", {"owner": "service_account:ep-sadel-sa", "name": "pipeline"})
        secret = created["key"]
        me = self.expect(200, "GET", "/v1/iam/me/permissions?scope=tenant:ep-sadel", key=secret)
        self.assertEqual(me["principal"], "service_account:ep-sadel-sa")

        deleted = self.expect(200, "DELETE", "/v1/iam/service-accounts/ep-sadel-sa")
        self.assertEqual(deleted["deleted"], "service_account:ep-sadel-sa")
        self.assertGreater(deleted["revision"], created["revision"])
        status, body, headers = self.call("GET", "/v1/iam/me/permissions?scope=tenant:ep-sadel", key=secret)
        self.assertEqual(status, 401, body)
        self.assertError(body, "unauthenticated")
        self.assertIn("Bearer", headers.get("WWW-Authenticate", ""))
        self.expect(404, "GET", "/v1/iam/service-accounts/ep-sadel-sa")
        self.assertEqual(self.expect(200, "GET", "/v1/iam/service-accounts?tenant=ep-sadel")["items"], [])
        self.assertNotIn(b["id"], [x["id"] for x in self.expect(200, "GET", "/v1/iam/bindings?scope=tenant:ep-sadel")["items"]])
        self.assertFalse(self.check("service_account:ep-sadel-sa", "scaiecho:transcribe", "tenant:ep-sadel"))
        keys = self.expect(200, "GET", f"/v1/iam/api-keys?owner={quote('service_account:ep-sadel-sa')}")
        self.assertEqual([k["id"] for k in keys["items"]], [created["id"]])
        self.assertIsInstance(keys["items"][0]["revoked_at"], str, keys)
        self.expect(404, "DELETE", "/v1/iam/service-accounts/ep-sadel-sa")

    def test_bindings_crud(self):
        self.make_tenant("ep-bind")
        b = self.bind("user:ep-viewer", "tenant_viewer", "tenant:ep-bind")
        bid = b["id"]
        self.assertTrue(bid)
        self.assertEqual((b["subject"], b["role"], b["scope"]), ("user:ep-viewer", "tenant_viewer", "tenant:ep-bind"))
        self.assertRevision(b)
        by_scope = self.expect(200, "GET", "/v1/iam/bindings?scope=tenant:ep-bind")
        self.assertIn(bid, [x["id"] for x in by_scope["items"]])
        self.assertRevision(by_scope)
        by_subject = self.expect(200, "GET", f"/v1/iam/bindings?subject={quote('user:ep-viewer')}")
        self.assertEqual([x["id"] for x in by_subject["items"]], [bid])
        self.assertTrue(self.check("user:ep-viewer", "scaiecho:transcribe", "tenant:ep-bind"))
        deleted = self.expect(200, "DELETE", f"/v1/iam/bindings/{bid}")
        self.assertGreater(deleted["revision"], b["revision"])
        self.assertNotIn(bid, [x["id"] for x in self.expect(200, "GET", "/v1/iam/bindings?scope=tenant:ep-bind")["items"]])
        self.assertFalse(self.check("user:ep-viewer", "scaiecho:transcribe", "tenant:ep-bind"))
        self.expect(404, "DELETE", f"/v1/iam/bindings/{bid}")

    # ---- API keys ----

    def test_api_key_create_use_revoke(self):
        self.make_tenant("ep-key")
        self.bind("user:ep-keyowner", "tenant_viewer", "tenant:ep-key")
        created = self.expect(201, "POST", "/v1/iam/api-keys",
                              {"owner": "user:ep-keyowner", "name": "ci", "scope": "tenant:ep-key"})
        secret, kid = created["key"], created["id"]
        self.assertTrue(secret and kid)
        self.assertNotIn(secret, kid)
        self.assertEqual(created["owner"], "user:ep-keyowner")
        self.assertEqual(created["scope"], "tenant:ep-key")
        self.assertRevision(created)
        # It works as a bearer, defaulting to its scope.
        me = self.expect(200, "GET", "/v1/iam/me/permissions", key=secret)
        self.assertEqual(me["principal"], "user:ep-keyowner")
        self.assertEqual(me["scope"], "tenant:ep-key")
        self.assertIn("scaiecho:transcribe", [p["permission"] for p in me["permissions"]])
        # Shown once: no later response carries the secret.
        for path in ("/v1/iam/bindings?scope=tenant:ep-key", f"/v1/iam/bindings?subject={quote('user:ep-keyowner')}"):
            _, body, _ = self.call("GET", path)
            self.assertNotIn(secret, json.dumps(body))
        revoked = self.expect(200, "DELETE", f"/v1/iam/api-keys/{quote(kid)}")
        self.assertGreater(revoked["revision"], created["revision"])
        status, body, headers = self.call("GET", "/v1/iam/me/permissions", key=secret)
        self.assertEqual(status, 401, body)
        self.assertError(body, "unauthenticated")
        self.assertIn("Bearer", headers.get("WWW-Authenticate", ""))

    def test_api_keys_list_without_secrets_and_with_revoked_at(self):
        self.make_tenant("ep-klist")
        self.make_tenant("ep-klist-other")
        self.bind("user:ep-klist", "tenant_viewer", "tenant:ep-klist")
        first = self.expect(201, "POST", "/v1/iam/api-keys",
                            {"owner": "user:ep-klist", "name": "laptop", "scope": "tenant:ep-klist",
                             "expires_at": "2099-01-01"})
        second = self.expect(201, "POST", "/v1/iam/api-keys",
                             {"owner": "user:ep-klist", "name": "ci", "scope": "tenant:ep-klist",
                              "permissions": ["scaiecho:transcribe"]})
        secrets = [first["key"], second["key"]]

        # The caller's own keys (the default owner), with no secret text anywhere.
        status, listed, _ = self.call("GET", "/v1/iam/api-keys", key=second["key"])
        self.assertEqual(status, 200, listed)
        text = json.dumps(listed)
        self.assertNotIn("sgk_", text)
        for s in secrets:
            self.assertNotIn(s, text)
        self.assertEqual(listed["owner"], "user:ep-klist")
        self.assertRevision(listed)
        by_id = {k["id"]: k for k in listed["items"]}
        self.assertEqual(set(by_id), {first["id"], second["id"]})
        for k in listed["items"]:
            self.assertEqual(set(k), {"id", "owner", "name", "permissions", "scope", "expires_at", "created_at", "revoked_at"}, k)
            self.assertEqual(k["owner"], "user:ep-klist")
            self.assertEqual(k["scope"], "tenant:ep-klist")
            self.assertIsInstance(k["created_at"], str, k)
            self.assertIsNone(k["revoked_at"], k)
        self.assertEqual(by_id[first["id"]]["name"], "laptop")
        self.assertEqual(by_id[first["id"]]["permissions"], [])
        self.assertTrue(by_id[first["id"]]["expires_at"].startswith("2099-01-01"), by_id[first["id"]])
        self.assertEqual(by_id[second["id"]]["permissions"], ["scaiecho:transcribe"])
        self.assertIsNone(by_id[second["id"]]["expires_at"])

        # After a revoke the key is listed with its revoked_at; the other one is untouched.
        self.expect(200, "DELETE", f"/v1/iam/api-keys/{quote(first['id'])}", key=second["key"])
        after = self.expect(200, "GET", f"/v1/iam/api-keys?owner={quote('user:ep-klist')}")
        self.assertNotIn("sgk_", json.dumps(after))
        by_id = {k["id"]: k for k in after["items"]}
        self.assertEqual(set(by_id), {first["id"], second["id"]})
        self.assertIsInstance(by_id[first["id"]]["revoked_at"], str, after)
        self.assertIsNone(by_id[second["id"]]["revoked_at"], after)
        self.expect(401, "GET", "/v1/iam/me/permissions", key=first["key"])

        # Other owners' keys: only with iam:api_keys:read where they are; left out otherwise.
        admins = self.expect(200, "GET", f"/v1/iam/api-keys?owner={quote('user:admin')}", key=second["key"])
        self.assertEqual((admins["owner"], admins["items"]), ("user:admin", []))
        other_admin = self.make_tenant_admin("ep-klist-other", "user:ep-klist-other-admin")
        self.assertEqual(self.expect(200, "GET", f"/v1/iam/api-keys?owner={quote('user:ep-klist')}", key=other_admin)["items"], [])
        own_admin = self.make_tenant_admin("ep-klist", "user:ep-klist-admin")
        seen = self.expect(200, "GET", f"/v1/iam/api-keys?owner={quote('user:ep-klist')}", key=own_admin)
        self.assertEqual({k["id"] for k in seen["items"]}, {first["id"], second["id"]})
        self.assertError(self.expect(400, "GET", "/v1/iam/api-keys?owner=nobody"), "invalid_argument")

    # ---- decisions ----

    def test_check_single_batch_and_min_revision(self):
        self.make_tenant("ep-chk")
        b = self.bind("user:ep-checked", "tenant_viewer", "tenant:ep-chk")
        one = self.expect(200, "POST", "/v1/iam/check",
                          {"subject": "user:ep-checked", "permission": "scaiecho:transcribe", "scope": "tenant:ep-chk"})
        self.assertTrue(one["allowed"], one)
        self.assertEqual(one["reason"]["code"], "allowed", one)
        self.assertEqual(one["reason"]["binding"], b["id"], one)
        self.assertEqual(one["reason"]["role"], "tenant_viewer", one)
        self.assertIsInstance(one["revision"], int)
        self.assertGreaterEqual(one["revision"], b["revision"])

        denied = self.expect(200, "POST", "/v1/iam/check",
                             {"subject": "user:ep-checked", "permission": "scaiecho:enroll", "scope": "tenant:ep-chk"})
        self.assertFalse(denied["allowed"])
        self.assertTrue(denied["reason"]["code"], denied)
        self.assertIn("revision", denied)

        batch = self.expect(200, "POST", "/v1/iam/check", {"checks": [
            {"subject": "user:ep-checked", "permission": "scaiecho:transcribe", "scope": "tenant:ep-chk"},
            {"subject": "user:ep-checked", "permission": "scaiecho:enroll", "scope": "tenant:ep-chk"},
            {"subject": "user:nobody", "permission": "scaiecho:transcribe", "scope": "tenant:ep-chk"},
        ]})
        self.assertEqual([r["allowed"] for r in batch["results"]], [True, False, False])
        self.assertIsInstance(batch["revision"], int)
        for r in batch["results"]:
            self.assertIsInstance(r.get("revision"), int, r)

        current = self.server.revision()
        ok = self.expect(200, "POST", "/v1/iam/check", {"subject": "user:ep-checked", "permission": "scaiecho:transcribe",
                                                          "scope": "tenant:ep-chk", "min_revision": current})
        self.assertTrue(ok["allowed"])
        too_new = self.expect(503, "POST", "/v1/iam/check", {"subject": "user:ep-checked", "permission": "scaiecho:transcribe",
                                                               "scope": "tenant:ep-chk", "min_revision": current + 1000})
        self.assertError(too_new, mentions=["min_revision"])

    def test_principal_permissions(self):
        self.make_tenant("ep-pp")
        b = self.bind("user:ep-pp", "tenant_viewer", "tenant:ep-pp")
        resp = self.expect(200, "GET", f"/v1/iam/principals/{quote('user:ep-pp')}/permissions?scope=tenant:ep-pp")
        self.assertEqual(resp["principal"], "user:ep-pp")
        self.assertEqual(resp["scope"], "tenant:ep-pp")
        self.assertRevision(resp)
        perms = {p["permission"]: p for p in resp["permissions"]}
        self.assertIn("scaiecho:transcribe", perms)
        self.assertNotIn("scaiecho:enroll", perms)
        why = perms["scaiecho:transcribe"]["granted_by"]
        self.assertEqual(why[0]["binding"], b["id"])
        self.assertEqual(why[0]["role"], "tenant_viewer")

    def test_who_can_paginates(self):
        self.make_tenant("ep-who")
        role = self.make_role("Diarizers", ["scaiecho:diarize"], "tenant:ep-who")
        users = {f"user:ep-who-{i}" for i in range(3)}
        for u in sorted(users):
            self.bind(u, role["id"], "tenant:ep-who")
        seen, cursor, pages = [], None, 0
        while True:
            path = "/v1/iam/who-can?permission=scaiecho:diarize&scope=tenant:ep-who&limit=1"
            if cursor:
                path += "&cursor=" + quote(cursor)
            page = self.expect(200, "GET", path)
            self.assertRevision(page)
            self.assertLessEqual(len(page["items"]), 1, page)
            seen += [i["principal"] for i in page["items"]]
            pages += 1
            self.assertLess(pages, 20, f"pagination does not end: {seen}")
            cursor = page.get("next_cursor")
            if not cursor:
                break
        self.assertEqual(len(seen), len(set(seen)), f"duplicates across pages: {seen}")
        self.assertTrue(users <= set(seen), seen)
        self.assertGreaterEqual(pages, 3)
        # Nobody without the key: the platform's super_admin may be listed, nobody else.
        self.assertTrue(set(seen) - users <= {"user:admin"}, seen)

    def test_me_permissions(self):
        me = self.expect(200, "GET", "/v1/iam/me/permissions?scope=platform")
        self.assertEqual(me["principal"], "user:admin")
        perms = {p["permission"] for p in me["permissions"]}
        self.assertIn("iam:modules:manage", perms)
        self.assertIn("scaibunker:admin:platform", perms)
        self.assertRevision(me)

    # ---- operations ----

    def test_health_ready_metrics_openapi(self):
        body = self.expect(200, "GET", "/healthz", key=None)
        self.assertEqual(body.get("status"), "ok")
        ready = self.expect(200, "GET", "/readyz", key=None)
        self.assertIsInstance(ready.get("revision"), int)
        self.call("GET", "/v1/iam/modules")  # at least one API request counted
        status, text, headers = self.call("GET", "/metrics", key=None)
        self.assertEqual(status, 200)
        self.assertIn("text/plain", headers.get("Content-Type", ""))
        self.assertIsInstance(text, str)
        self.assertRegex(text, re.compile(r"^scaigrid_http_requests_total\{.*\} \d", re.M))
        self.assertIn("# TYPE scaigrid_http_requests_total counter", text)
        status, doc, _ = self.call("GET", "/openapi.json", key=None)
        self.assertEqual(status, 200)
        self.assertIsInstance(doc, dict, f"/openapi.json is not a JSON object: {doc!r:.300}")
        self.assertIn("openapi", doc)
        self.assertIn("paths", doc)


if __name__ == "__main__":
    harness.main()
