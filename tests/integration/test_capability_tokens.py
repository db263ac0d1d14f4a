"""Capability tokens (docs/capability-tokens.md) against the real server: the signing key made
at first start and published as a JWKS; minting with its rules; a token as a check credential
that allows its one action on its one resource and denies everything else saying why; expiry,
tampering, unknown keys, revocation of one token or of a resource, and an issuer that loses
the right; key rotation; and all of it kept across a restart."""

import datetime
import json
import os
import sqlite3
import tempfile
import time
import unittest

import harness
import jose_util
from jose_util import b64url, b64url_decode

CHAT = "scaibot:chat"
ISSUE = "scaibot:embed:issue"
REVOKE = "scaibot:embed:revoke"


def claims_of(token):
    return json.loads(b64url_decode(token[len("sgc_"):].split(".")[1]))


class SigningKeyTest(harness.ApiTestCase):

    def test_public_keys_are_published_without_credentials(self):
        status, resp, hdrs = self.call("GET", "/v1/iam/capability-tokens/keys", key=None)
        self.assertEqual(status, 200, resp)
        self.assertEqual(hdrs.get("Cache-Control"), "max-age=300")
        self.assertEqual(len(resp["keys"]), 1, resp)
        jwk = resp["keys"][0]
        self.assertEqual({k: jwk[k] for k in ("kty", "crv", "alg", "use")},
                         {"kty": "OKP", "crv": "Ed25519", "alg": "EdDSA", "use": "sig"})
        self.assertRegex(jwk["kid"], r"^capk_[0-9a-f]{16}$")
        self.assertEqual(len(b64url_decode(jwk["x"])), 32)
        self.assertEqual(set(jwk), {"kty", "crv", "alg", "use", "kid", "x"})  # no secret part

    def test_the_key_survives_a_restart_and_its_creation_is_logged_without_its_secret(self):
        s = self.server
        kid = self.expect(200, "GET", "/v1/iam/capability-tokens/keys")["keys"][0]["kid"]
        self.assertEqual(s.stop(), 0)
        s.start()
        again = self.expect(200, "GET", "/v1/iam/capability-tokens/keys")["keys"]
        self.assertEqual([k["kid"] for k in again], [kid])
        events = self.expect(200, "GET", "/v1/audit/events?action=iam.signing_key.create")["items"]
        self.assertEqual(len(events), 1, events)
        e = events[0]
        self.assertEqual((e["actor_user_id"], e["resource_id"], e["request_id"]), ("system", kid, "signing-key"))
        self.assertEqual(e["details"]["after"]["kid"], kid)
        self.assertNotIn("secret_key", json.dumps(e))


class CapabilityTokenTest(harness.ApiTestCase):
    """Tenant acme: an issuer (issue + chat), a revoker, a viewer; tenant globex with its own
    admin. The module asks with the platform admin's key, as ScaiBot would with its own."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._tmp = tempfile.TemporaryDirectory(prefix="scaigrid-cap-")
        cls.addClassCleanup(cls._tmp.cleanup)
        t = cls("run")  # an instance, for the fixture helpers
        t.expect(201, "POST", "/v1/iam/partners", {"id": "resellers"})
        t.make_tenant("acme", partner="resellers")
        t.make_tenant("globex")
        t.expect(201, "POST", "/v1/iam/projects", {"id": "acme-web", "tenant": "acme"})
        issuers = t.make_role("embed issuers", [ISSUE, CHAT], "tenant:acme")
        revokers = t.make_role("embed revokers", [REVOKE], "tenant:acme")
        issue_only = t.make_role("issue without chat", [ISSUE], "tenant:acme")
        t.bind("user:issuer", issuers["id"], "tenant:acme")
        t.bind("user:revoker", revokers["id"], "tenant:acme")
        t.bind("user:half", issue_only["id"], "tenant:acme")
        t.bind("user:viewer", "tenant_viewer", "tenant:acme")
        cls.issuer = t.make_key("user:issuer", scope="tenant:acme")
        cls.revoker = t.make_key("user:revoker", scope="tenant:acme")
        cls.half = t.make_key("user:half", scope="tenant:acme")
        cls.viewer = t.make_key("user:viewer", scope="tenant:acme")
        cls.globex = t.make_tenant_admin("globex", "user:globex-admin")
        cls.acme_admin = t.make_tenant_admin("acme", "user:acme-admin")

    def mint(self, resource="bot:b-42", key=None, status=201, **fields):
        body = {"capability": CHAT, "resource": resource, "scope": "tenant:acme", **fields}
        return self.expect(status, "POST", "/v1/iam/capability-tokens", body, key=key or self.issuer)

    def ask(self, token, permission=CHAT, resource="bot:b-42", scope=None, **extra):
        """The module's check with the token in 'token'."""
        body = {"token": token, "permission": permission, **extra}
        if resource is not None:
            body["resource"] = {"id": resource}
        if scope is not None:
            body["scope"] = scope
        return self.expect(200, "POST", "/v1/iam/check", body)

    def assertDenied(self, resp, code, *mentions):
        self.assertFalse(resp["allowed"], resp)
        self.assertEqual(resp["reason"]["code"], code, resp)
        for m in mentions:
            self.assertIn(m, resp["reason"]["summary"], resp)

    def test_minted_token_chats_with_its_bot_and_nothing_else(self):
        minted = self.mint(visitor="visitor:v-7", ttl_seconds=600)
        token = minted["token"]
        self.assertTrue(token.startswith("sgc_"), minted)
        self.assertRegex(minted["id"], r"^cap_[0-9a-f]{20}$")
        self.assertEqual((minted["capability"], minted["permission"], minted["resource"], minted["scope"],
                          minted["visitor"], minted["issued_by"]),
                         (CHAT, CHAT, "bot:b-42", "tenant:acme", "visitor:v-7", "user:issuer"))
        claims = claims_of(token)
        self.assertEqual((claims["jti"], claims["res"], claims["perm"], claims["sub"]),
                         (minted["id"], "bot:b-42", CHAT, "visitor:v-7"))
        self.assertEqual(claims["exp"] - claims["iat"], 600)
        # Verifiable offline with the published key (by openssl, not by our code).
        jwks = self.expect(200, "GET", "/v1/iam/capability-tokens/keys", key=None)["keys"]
        jwk = next(k for k in jwks if k["kid"] == minted["kid"])
        self.assertTrue(jose_util.verify_ed25519_jws(token[len("sgc_"):], jwk, self._tmp.name))

        ok = self.ask(token)
        self.assertTrue(ok["allowed"], ok)
        self.assertEqual((ok["subject"], ok["scope"], ok["reason"]["code"]), ("visitor:v-7", "tenant:acme", "allowed"))
        self.assertEqual(ok["capability_token"]["id"], minted["id"])
        self.assertTrue(self.ask(token, scope="tenant:acme")["allowed"])
        self.assertTrue(self.ask(token, scope="project:acme-web")["allowed"], "a scope below the token's")
        self.assertDenied(self.ask(token, scope="partner:resellers"), "outside_capability", "not at partner:resellers")

        self.assertDenied(self.ask(token, permission="scaibot:bots:read"), "outside_capability",
                          "allows only scaibot:chat on bot:b-42", "not scaibot:bots:read")
        self.assertDenied(self.ask(token, resource="bot:b-43"), "outside_capability", "not on bot:b-43")
        self.assertDenied(self.ask(token, permission="scaibot:conversations:read"), "outside_capability")
        self.assertDenied(self.ask(token, permission="iam:roles:manage"), "outside_capability")
        self.assertDenied(self.ask(token, resource=None), "outside_capability", "names no resource")
        self.assertDenied(self.ask(token, scope="tenant:globex"), "outside_capability", "not at tenant:globex")

        # As the bearer: the check endpoint only, and only about itself.
        body = {"permission": CHAT, "resource": {"id": "bot:b-42"}}
        self.assertTrue(self.expect(200, "POST", "/v1/iam/check", body, key=token)["allowed"])
        listing = self.expect(200, "POST", "/v1/iam/check", {"permission": "scaibot:bots:read"}, key=token)
        self.assertDenied(listing, "outside_capability")
        for method, path, b in (("GET", "/v1/iam/modules", None),
                                ("GET", "/v1/iam/me/permissions?scope=tenant:acme", None),
                                ("POST", "/v1/iam/capability-tokens", {"capability": CHAT, "resource": "bot:b-42"})):
            self.assertError(self.expect(403, method, path, b, key=token), "permission_denied",
                             ["accepted only by POST /v1/iam/check"])
        self.assertError(self.expect(403, "POST", "/v1/iam/check", {**body, "subject": "user:issuer"}, key=token),
                         "permission_denied", ["its own action"])
        self.assertError(self.expect(403, "POST", "/v1/iam/check", {"checks": [body, body]}, key=token),
                         "permission_denied", ["one check at a time"])
        # The bearer (a visitor's browser) cannot fill the audit log: 'audit' is the module's to ask.
        before = len(self.expect(200, "GET", "/v1/audit/events?module=scaibot&limit=1000")["items"])
        self.assertNotIn("audited", self.expect(200, "POST", "/v1/iam/check", {**body, "audit": True}, key=token))
        self.assertEqual(len(self.expect(200, "GET", "/v1/audit/events?module=scaibot&limit=1000")["items"]), before)

        # An audited decision names the token.
        audited = self.ask(token, audit=True)
        self.assertTrue(audited["audited"])
        events = self.expect(200, "GET", "/v1/audit/events?module=scaibot&resource=bot:b-42&order=desc&limit=1")["items"]
        e = events[0]
        self.assertEqual((e["actor_user_id"], e["actor_type"], e["credential_id"], e["decision"], e["tenant"]),
                         ("visitor:v-7", "capability_token", minted["id"], "allowed", "tenant:acme"))
        self.assertEqual(e["details"]["capability_token"]["issued_by"], "user:issuer")
        # Filed under the token's tenant, whatever scope the asker names.
        self.assertTrue(self.ask(token, scope="tenant:globex", audit=True)["audited"])
        e = self.expect(200, "GET", "/v1/audit/events?module=scaibot&resource=bot:b-42&order=desc&limit=1")["items"][0]
        self.assertEqual((e["decision"], e["tenant"], e["details"]["scope"]), ("denied", "tenant:acme", "tenant:globex"))
        self.assertEqual(self.expect(200, "GET", "/v1/audit/events?module=scaibot", key=self.globex)["items"], [])

    def test_expired_tampered_and_wrong_key_tokens_are_denied_saying_why(self):
        short = self.mint(ttl_seconds=1)
        token = self.mint()["token"]
        # Tampered: another bot in the payload, the signature kept.
        head, payload, sig = token[len("sgc_"):].split(".")
        forged_claims = claims_of(token)
        forged_claims["res"] = "bot:b-43"
        tampered = "sgc_" + head + "." + b64url(json.dumps(forged_claims).encode()) + "." + sig
        self.assertDenied(self.ask(tampered, resource="bot:b-43"), "token_invalid", "signature verification failed")
        # Signed by a key that is not the server's, under the server's kid and under its own.
        kid = json.loads(b64url_decode(head))["kid"]
        impostor = jose_util.Key(self._tmp.name, "EdDSA", kid)
        header = {"alg": "EdDSA", "kid": kid, "typ": "scaigrid-cap+jwt"}
        self.assertDenied(self.ask("sgc_" + impostor.jws(header, claims_of(token))), "token_invalid",
                          "signature verification failed")
        stranger = jose_util.Key(self._tmp.name, "EdDSA", "capk_0000000000000000")
        self.assertDenied(self.ask("sgc_" + stranger.jws({**header, "kid": stranger.kid}, claims_of(token))),
                          "token_invalid", "unknown signing key")
        self.assertDenied(self.ask("sgc_not-a-token"), "token_invalid")
        # Signed with the real key (read from the store, as a thief would), but never minted:
        # a new id, or a minted id with other claims, does nothing.
        db = sqlite3.connect(f"file:{os.path.join(self.server.data, 'scaigrid.db')}?mode=ro", uri=True)
        secret = db.execute("SELECT secret_key FROM signing_keys WHERE kid = ?", (kid,)).fetchone()[0]
        db.close()
        thief = jose_util.Key.ed25519_from_seed(self._tmp.name, b64url_decode(secret)[:32], kid)
        genuine = claims_of(token)
        self.assertTrue(self.ask("sgc_" + thief.jws(header, genuine))["allowed"], "the stolen key signs like ours")
        self.assertDenied(self.ask("sgc_" + thief.jws(header, {**genuine, "jti": "cap_" + "0" * 20})),
                          "token_unknown", "was not minted by this service")
        self.assertDenied(self.ask("sgc_" + thief.jws(header, {**genuine, "res": "bot:b-43"}), resource="bot:b-43"),
                          "token_invalid", "does not match the token minted as")
        self.assertDenied(self.ask("sgc_" + thief.jws(header, {**genuine, "exp": genuine["exp"] + 10**6})),
                          "token_invalid", "does not match")
        # As the bearer, a token that does not verify is no credential at all.
        status, resp, _ = self.call("POST", "/v1/iam/check", {"permission": CHAT, "resource": {"id": "bot:b-43"}},
                                    key=tampered)
        self.assertEqual(status, 401, resp)
        self.assertError(resp, "invalid_token", ["signature verification failed"])

        time.sleep(max(0.0, claims_of(short["token"])["exp"] - time.time()) + 1.1)
        self.assertDenied(self.ask(short["token"]), "token_expired", "expired at")
        self.expect(404, "GET", f"/v1/iam/capability-tokens/{short['id']}")
        self.expect(404, "DELETE", f"/v1/iam/capability-tokens/{short['id']}")
        self.assertDenied(self.expect(200, "POST", "/v1/iam/check", {"permission": CHAT, "resource": {"id": "bot:b-42"}},
                                      key=short["token"]), "token_expired")

    def test_revoking_one_token_or_every_token_of_a_resource(self):
        one, two = self.mint("bot:b-50"), self.mint("bot:b-50")
        other_bot = self.mint("bot:b-51")
        # Nobody without the revoke key; another tenant cannot even see it.
        self.assertError(self.expect(403, "DELETE", f"/v1/iam/capability-tokens/{one['id']}", key=self.issuer),
                         "permission_denied", [REVOKE])
        self.expect(404, "DELETE", f"/v1/iam/capability-tokens/{one['id']}", key=self.globex)
        self.expect(404, "DELETE", "/v1/iam/capability-tokens/cap_00000000000000000000", key=self.revoker)
        self.assertTrue(self.ask(one["token"], resource="bot:b-50")["allowed"])

        revoked = self.expect(200, "DELETE", f"/v1/iam/capability-tokens/{one['id']}", key=self.revoker)
        self.assertIsNotNone(revoked["revoked_at"])
        self.assertDenied(self.ask(one["token"], resource="bot:b-50"), "token_revoked", "was revoked at")
        self.assertTrue(self.ask(two["token"], resource="bot:b-50")["allowed"])
        again = self.expect(200, "DELETE", f"/v1/iam/capability-tokens/{one['id']}", key=self.revoker)
        self.assertEqual(again["revoked_at"], revoked["revoked_at"], "revoking twice changes nothing")

        # Every token of bot:b-50 at acme: not another tenant's business.
        body = {"capability": CHAT, "resource": "bot:b-50", "scope": "tenant:acme"}
        self.expect(404, "POST", "/v1/iam/capability-tokens:revoke-resource", body, key=self.globex)
        self.assertError(self.expect(403, "POST", "/v1/iam/capability-tokens:revoke-resource", body, key=self.issuer),
                         "permission_denied", [REVOKE])
        self.expect(200, "POST", "/v1/iam/capability-tokens:revoke-resource",
                    {**body, "scope": "tenant:globex"}, key=self.globex)  # globex's own: no effect on acme
        self.assertTrue(self.ask(two["token"], resource="bot:b-50")["allowed"])
        done = self.expect(200, "POST", "/v1/iam/capability-tokens:revoke-resource", body, key=self.revoker)
        self.assertEqual(done["effective_revision"], done["revision"])
        self.assertDenied(self.ask(two["token"], resource="bot:b-50"), "token_resource_revoked",
                          "every scaibot:chat token of bot:b-50 at tenant:acme")
        self.assertTrue(self.ask(other_bot["token"], resource="bot:b-51")["allowed"])
        # A token minted right after, within the same second, is not touched: the order is by
        # revision, not by clock. (Retried until revocation and mint share a second.)
        for _ in range(10):
            done = self.expect(200, "POST", "/v1/iam/capability-tokens:revoke-resource", body, key=self.revoker)
            fresh = self.mint("bot:b-50")
            revoked_s = datetime.datetime.fromisoformat(done["revoked_at"].replace("Z", "+00:00")).timestamp()
            if claims_of(fresh["token"])["iat"] == int(revoked_s):
                break
        else:
            self.fail("could not mint within the second of a revocation in 10 tries")
        self.assertTrue(self.ask(fresh["token"], resource="bot:b-50")["allowed"])
        # A revocation at the partner covers its tenants' tokens; one at a project below does not.
        at_project = self.mint("bot:b-52")
        self.expect(200, "POST", "/v1/iam/capability-tokens:revoke-resource",
                    {**body, "resource": "bot:b-52", "scope": "project:acme-web"})
        self.assertTrue(self.ask(at_project["token"], resource="bot:b-52")["allowed"])
        self.expect(200, "POST", "/v1/iam/capability-tokens:revoke-resource",
                    {**body, "resource": "bot:b-52", "scope": "partner:resellers"})
        self.assertDenied(self.ask(at_project["token"], resource="bot:b-52"), "token_resource_revoked",
                          "at partner:resellers")
        self.assertError(self.expect(400, "POST", "/v1/iam/capability-tokens:revoke-resource",
                                     {**body, "resource": "conversation:c-1"}, key=self.revoker),
                         "invalid_argument", ["'bot:<id>'"])

        # Logged, and filed under the tenant: its own admin reads them, another tenant's does not.
        events = self.expect(200, "GET", "/v1/audit/events?module=iam&actor=user:revoker&order=asc",
                             key=self.acme_admin)["items"]
        self.assertEqual([(e["action"], e["tenant"]) for e in events][:2],
                         [("iam.capability_token.revoke", "tenant:acme"),
                          ("iam.capability_token.revoke_resource", "tenant:acme")])
        self.assertEqual(events[0]["details"]["before"]["revoked_at"], 0)
        self.assertEqual(self.expect(200, "GET", "/v1/audit/events?module=iam&actor=user:revoker",
                                     key=self.globex)["items"], [])
        mints = self.expect(200, "GET", f"/v1/audit/events?action=iam.capability_token.mint&resource={fresh['id']}")
        self.assertEqual(len(mints["items"]), 1)
        self.assertNotIn(fresh["token"], json.dumps(mints), "the token text is never logged")

    def test_a_token_dies_when_its_issuer_loses_the_right_to_issue_it(self):
        role = self.make_role("fickle issuers", [ISSUE, CHAT], "tenant:acme")
        binding = self.bind("user:fickle", role["id"], "tenant:acme")
        key = self.make_key("user:fickle", scope="tenant:acme")
        token = self.mint(key=key)["token"]
        self.assertTrue(self.ask(token)["allowed"])
        self.expect(200, "PATCH", f"/v1/iam/custom-roles/{role['id']}", {"module_permissions": [CHAT]})
        self.assertDenied(self.ask(token), "token_issuer_lost_right", "user:fickle", ISSUE)
        self.expect(200, "PATCH", f"/v1/iam/custom-roles/{role['id']}", {"module_permissions": [ISSUE, CHAT]})
        self.assertTrue(self.ask(token)["allowed"], "the right is back before the token expired")
        self.expect(200, "DELETE", f"/v1/iam/bindings/{binding['id']}")
        self.assertDenied(self.ask(token), "token_issuer_lost_right")

    def test_a_token_dies_with_the_api_key_that_minted_it(self):
        created = self.expect(201, "POST", "/v1/iam/api-keys", {"owner": "user:issuer", "name": "widget backend",
                                                                 "scope": "tenant:acme"})
        minted = self.mint(key=created["key"])
        other = self.mint()  # another key of the same issuer
        self.assertTrue(self.ask(minted["token"])["allowed"])
        self.expect(200, "DELETE", f"/v1/iam/api-keys/{created['id']}")
        self.assertDenied(self.ask(minted["token"]), "token_issuer_lost_right", created["id"], "since revoked")
        self.assertTrue(self.ask(other["token"])["allowed"])

    def test_minting_rules(self):
        before = self.server.revision()
        self.assertError(self.mint(key=self.viewer, status=403), "permission_denied", [ISSUE])
        self.assertError(self.mint(key=self.half, status=403), "permission_denied", [CHAT])
        self.assertError(self.mint(ttl_seconds=86401, status=400), "ttl_too_long",
                         ["ttl_seconds 86401", "maximum of 86400"])
        self.assertError(self.mint(ttl_seconds=0, status=400), "invalid_argument", ["ttl_seconds"])
        self.assertError(self.expect(400, "POST", "/v1/iam/capability-tokens",
                                     {"capability": "scaibot:teleport", "resource": "bot:b-1", "scope": "tenant:acme"},
                                     key=self.issuer), "unknown_capability", ["unknown capability", "scaibot:chat"])
        self.assertError(self.mint("conversation:c-1", status=400), "invalid_argument", ["'bot:<id>'"])
        self.assertError(self.mint("bot:", status=400), "invalid_argument", ["'bot:<id>'"])
        self.assertError(self.mint("bot:has space", status=400), "invalid_argument", ["resource"])
        for visitor in ("", "alice", "user:alice", "visitor:", "visitor:has space"):
            self.assertError(self.mint(visitor=visitor, status=400), "invalid_argument", ["'visitor:<id>'"])
        self.assertError(self.mint(colour="blue", status=400), "invalid_argument", ["colour"])
        self.assertError(self.mint(scope="tenant:globex", key=self.acme_admin, status=404), "not_found")
        self.assertError(self.mint(scope="tenant:nowhere", key=self.acme_admin, status=404), "not_found")
        self.assertEqual(self.server.revision(), before, "refused mints change nothing")
        # The scope defaults to the credential's; the TTL to an hour.
        minted = self.expect(201, "POST", "/v1/iam/capability-tokens", {"capability": CHAT, "resource": "bot:b-9"},
                             key=self.issuer)
        self.assertEqual(minted["scope"], "tenant:acme")
        claims = claims_of(minted["token"])
        self.assertEqual(claims["exp"] - claims["iat"], 3600)
        self.assertNotIn("sub", claims)
        self.assertEqual(self.ask(minted["token"], resource="bot:b-9")["subject"], f"capability_token:{minted['id']}")

    def test_tokens_can_be_read_and_listed_within_the_tenant(self):
        minted = self.mint("bot:b-70", visitor="visitor:listed")
        got = self.expect(200, "GET", f"/v1/iam/capability-tokens/{minted['id']}", key=self.acme_admin)
        self.assertEqual((got["resource"], got["visitor"], got["revoked_at"]), ("bot:b-70", "visitor:listed", None))
        self.assertNotIn("token", got)
        self.expect(404, "GET", f"/v1/iam/capability-tokens/{minted['id']}", key=self.globex)
        listed = self.expect(200, "GET", "/v1/iam/capability-tokens?resource=bot:b-70", key=self.acme_admin)
        self.assertEqual([t["id"] for t in listed["items"]], [minted["id"]])
        # Revoked tokens are listed with their revocation; pages of one follow the cursor.
        more = [self.mint("bot:b-70") for _ in range(2)]
        self.expect(200, "DELETE", f"/v1/iam/capability-tokens/{more[0]['id']}", key=self.revoker)
        seen, cursor = [], ""
        for _ in range(5):
            page = self.expect(200, "GET", f"/v1/iam/capability-tokens?resource=bot:b-70&limit=1&cursor={cursor}",
                               key=self.acme_admin)
            seen += page["items"]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        self.assertEqual([t["id"] for t in seen], sorted([minted["id"]] + [m["id"] for m in more]))
        self.assertEqual([t["revoked_at"] is not None for t in seen if t["id"] == more[0]["id"]], [True])
        self.expect(404, "GET", "/v1/iam/capability-tokens?scope=tenant:acme", key=self.globex)
        self.assertEqual(self.expect(200, "GET", "/v1/iam/capability-tokens?resource=bot:b-70",
                                     key=self.globex)["items"], [])

    def test_rotation_keeps_live_tokens_working(self):
        old = self.mint("bot:b-80")
        self.assertError(self.expect(403, "POST", "/v1/iam/capability-tokens/keys:rotate", key=self.acme_admin),
                         "permission_denied", ["iam:signing_keys:manage"])
        rotated = self.expect(200, "POST", "/v1/iam/capability-tokens/keys:rotate")
        self.assertIn(old["kid"], rotated["retired"])
        self.assertNotEqual(rotated["kid"], old["kid"])
        kids = [k["kid"] for k in self.expect(200, "GET", "/v1/iam/capability-tokens/keys", key=None)["keys"]]
        self.assertIn(old["kid"], kids, "a retired key stays published while its tokens may live")
        self.assertIn(rotated["kid"], kids)
        new = self.mint("bot:b-80")
        self.assertEqual(new["kid"], rotated["kid"])
        self.assertTrue(self.ask(old["token"], resource="bot:b-80")["allowed"])
        self.assertTrue(self.ask(new["token"], resource="bot:b-80")["allowed"])
        retire = self.expect(200, "GET", f"/v1/audit/events?action=iam.signing_key.retire&resource={old['kid']}")
        self.assertEqual(len(retire["items"]), 1)

    def test_tokens_and_revocations_survive_a_restart(self):
        kept, dropped = self.mint("bot:b-90"), self.mint("bot:b-90")
        self.expect(200, "DELETE", f"/v1/iam/capability-tokens/{dropped['id']}", key=self.revoker)
        gone = self.mint("bot:b-91")
        self.expect(200, "POST", "/v1/iam/capability-tokens:revoke-resource",
                    {"capability": CHAT, "resource": "bot:b-91"}, key=self.revoker)
        after = self.mint("bot:b-91")
        self.server.restart()
        self.assertTrue(self.ask(after["token"], resource="bot:b-91")["allowed"], "minted after the revocation")
        self.assertTrue(self.ask(kept["token"], resource="bot:b-90")["allowed"])
        self.assertDenied(self.ask(dropped["token"], resource="bot:b-90"), "token_revoked")
        self.assertDenied(self.ask(gone["token"], resource="bot:b-91"), "token_resource_revoked")
        self.assertTrue(self.ask(self.mint("bot:b-91")["token"], resource="bot:b-91")["allowed"])


if __name__ == "__main__":
    harness.main()
