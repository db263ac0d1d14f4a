"""Capability tokens (docs/capability-tokens.md) against the real server: the signing key made
at first start, published as a JWKS without credentials, kept across restarts, and logged."""

import base64
import json
import unittest

import harness


def b64url_decode(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


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


if __name__ == "__main__":
    harness.main()
