"""Identity-provider tokens (docs/identity-tokens.md) against the real server: JWT access
tokens made in the test with the openssl command line (Ed25519 and RS256 keys generated per
run) are accepted as bearer credentials with the grants of user:<sub>, and every way a token
can be wrong is a 401 that says what is wrong."""

import json
import os
import tempfile
import time
import unittest

import harness
import jose_util
from jose_util import b64url, b64url_decode

ISSUER = "https://login.example.test/realms/scaigrid"
AUDIENCE = "scaigrid-iam"


class Key(jose_util.Key):
    """A signing key made with openssl that makes identity-provider access tokens."""

    def token(self, claims=None, header=None, **overrides):
        now = int(time.time())
        payload = {"iss": ISSUER, "aud": AUDIENCE, "sub": "alice", "iat": now, "exp": now + 300}
        payload.update(claims or {})
        for k, v in overrides.items():
            if v is None:
                payload.pop(k, None)
            else:
                payload[k] = v
        head = {"alg": self.kind, "kid": self.kid, "typ": "JWT"}
        head.update(header or {})
        return self.jws(head, payload)


class IdentityTokenTest(harness.ApiTestCase):

    @classmethod
    def setUpClass(cls):
        cls._keys_dir = tempfile.TemporaryDirectory(prefix="scaigrid-jwks-")
        cls.addClassCleanup(cls._keys_dir.cleanup)
        folder = cls._keys_dir.name
        cls.ed = Key(folder, "EdDSA", "ed-1")
        cls.rsa = Key(folder, "RS256", "rsa-1")
        cls.stranger = Key(folder, "EdDSA", "ed-1")  # same kid, not in the JWKS
        with open(os.path.join(folder, "idp.jwks.json"), "w") as f:
            json.dump({"keys": [cls.ed.jwk, cls.rsa.jwk]}, f)
        config = os.path.join(folder, "oidc.yaml")
        with open(config, "w") as f:
            f.write(f"issuers:\n  - issuer: {ISSUER}\n    audiences: [{AUDIENCE}]\n    jwks_file: idp.jwks.json\n")
        cls.server = harness.Server()
        cls.addClassCleanup(cls.server.close)
        cls.server.extra_args = ["--oidc-config", config]
        cls.server.start()
        s = cls.server
        s.call("POST", "/v1/iam/tenants", body={"id": "idp"})
        s.call("POST", "/v1/iam/bindings", body={"subject": "user:alice", "role": "tenant_viewer", "scope": "tenant:idp"})

    def my_permissions(self, token):
        return self.call("GET", "/v1/iam/me/permissions?scope=tenant:idp", key=token)

    def test_valid_tokens_carry_the_users_grants(self):
        for key in (self.ed, self.rsa):
            with self.subTest(alg=key.kind):
                status, resp, _ = self.my_permissions(key.token())
                self.assertEqual(status, 200, resp)
                self.assertEqual(resp["principal"], "user:alice")
                perms = {p["permission"] for p in resp["permissions"]}
                self.assertIn("scaibot:bots:read", perms)  # tenant_viewer's
                self.assertNotIn("scaibot:bots:create", perms)
        # The same user, checked through the check endpoint with its own token.
        resp = self.expect(200, "POST", "/v1/iam/check", {"permission": "scaibot:bots:read", "scope": "tenant:idp"},
                           key=self.ed.token())
        self.assertTrue(resp["allowed"])
        self.assertEqual(resp["subject"], "user:alice")
        resp = self.expect(200, "POST", "/v1/iam/check", {"permission": "scaibot:bots:delete", "scope": "tenant:idp"},
                           key=self.rsa.token())
        self.assertFalse(resp["allowed"])
        # A module asks about its end user by passing the user's own token.
        resp = self.expect(200, "POST", "/v1/iam/check", {"token": self.rsa.token(), "permission": "scaibot:bots:read",
                                                           "scope": "tenant:idp"})
        self.assertTrue(resp["allowed"])
        self.assertEqual(resp["subject"], "user:alice")
        status, resp, _ = self.call("POST", "/v1/iam/check", {"token": self.rsa.token(exp=1, iat=0),
                                                               "permission": "scaibot:bots:read", "scope": "tenant:idp"})
        self.assertEqual(status, 400, resp)
        self.assertError(resp, code="invalid_token", mentions=["'token'", "expired"])
        # A user without bindings is authenticated but holds nothing, and sees no tenant: its
        # own permissions there answer like a missing scope's (docs/engine.md, "Seeing a scope").
        status, resp, _ = self.my_permissions(self.ed.token(sub="bob"))
        self.assertEqual(status, 404, resp)
        self.assertError(resp, code="not_found", mentions=["no scope 'tenant:idp'"])
        self.bind("user:bob", "tenant_user", "tenant:idp")
        status, resp, _ = self.my_permissions(self.ed.token(sub="bob"))
        self.assertEqual(status, 200, resp)
        self.assertEqual(resp["permissions"], [])

    def test_bad_tokens_are_401_saying_why(self):
        now = int(time.time())
        ed = self.ed
        unsigned = ed.token().rsplit(".", 2)
        none_token = (b64url(json.dumps({"alg": "none", "typ": "JWT"}).encode()) + "." + unsigned[1] + ".")
        payload = json.loads(b64url_decode(unsigned[1]))
        payload["sub"] = "mallory"
        tampered = unsigned[0] + "." + b64url(json.dumps(payload).encode()) + "." + ed.token().rsplit(".", 1)[1]
        cases = [
            ("wrong issuer", ed.token(iss="https://evil.example.test/"), "unknown issuer"),
            ("wrong audience", ed.token(aud="someone-else"), "audience"),
            ("wrong signature", tampered, "signature"),
            ("another key with the same kid", self.stranger.token(), "signature"),
            ("alg none", none_token, "'none'"),
            ("expired", ed.token(exp=now - 3600, iat=now - 7200), "expired"),
            ("no sub", ed.token(sub=None), "sub"),
            ("garbage", "a.b.c", "malformed"),
        ]
        for name, token, mention in cases:
            with self.subTest(name):
                status, resp, hdrs = self.my_permissions(token)
                self.assertEqual(status, 401, resp)
                self.assertError(resp, code="invalid_token", mentions=[mention])
                self.assertEqual(hdrs.get("WWW-Authenticate"), "Bearer")
        # Neither an API key nor a JWT.
        status, resp, _ = self.my_permissions("not-a-credential")
        self.assertEqual(status, 401, resp)
        self.assertError(resp, mentions=["neither an API key"])

    def test_changes_are_audited_with_the_token_user(self):
        # A token user with rights acts as itself; the audit log names the issuer as credential.
        self.expect(201, "POST", "/v1/iam/bindings", {"subject": "user:carol", "role": "tenant_admin",
                                                       "scope": "tenant:idp", "justification": "idp test"})
        self.expect(201, "POST", "/v1/iam/projects", {"id": "idp-p", "tenant": "idp"},
                    key=self.rsa.token(sub="carol", jti="tok-42"))
        events = self.expect(200, "GET", "/v1/audit/events?action=iam.scope.create&order=desc&limit=1")["items"]
        self.assertEqual(events[0]["actor_user_id"], "user:carol")
        self.assertEqual(events[0]["credential_id"], f"jwt:{ISSUER}#tok-42")


class OidcConfigErrorTest(unittest.TestCase):

    def test_bad_config_stops_the_server_with_a_clear_error(self):
        with tempfile.TemporaryDirectory(prefix="scaigrid-oidc-") as folder:
            config = os.path.join(folder, "oidc.yaml")
            with open(config, "w") as f:
                f.write(f"issuers:\n  - issuer: {ISSUER}\n    audiences: [{AUDIENCE}]\n    jwks_file: missing.json\n")
            server = harness.Server()
            try:
                server.extra_args = ["--oidc-config", config]
                with self.assertRaises(RuntimeError) as cm:
                    server.start()
                self.assertIn("missing.json", str(cm.exception))
            finally:
                server.close()


if __name__ == "__main__":
    harness.main()
