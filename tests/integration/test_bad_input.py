"""Bad input against the three write-ish endpoints (bindings, custom roles, check) and the
transport: every refusal is a 4xx with a JSON error naming what is wrong, and changes
nothing."""

import json
import socket
import time

import harness

ENDPOINTS = ("/v1/iam/bindings", "/v1/iam/custom-roles", "/v1/iam/check")
LONG = "a" * 10000


class BadInputTest(harness.ApiTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        s = cls.server
        for method, path, body in (
                ("POST", "/v1/iam/tenants", {"id": "bad"}),
                ("POST", "/v1/iam/custom-roles", {"name": "Baseline", "module_permissions": ["scaibot:bots:read"], "scope": "tenant:bad"}),
                ("POST", "/v1/iam/bindings", {"subject": "user:baseline", "role": "tenant_viewer", "scope": "tenant:bad"})):
            status, resp, _ = s.call(method, path, body)
            if status != 201:
                raise RuntimeError(f"fixture {method} {path}: {status} {resp}")

    def tearDown(self):
        self.assertTrue(self.server.alive(), f"the server died:\n{self.server.logs()[-3000:]}")

    # ---- helpers ----

    def state(self):
        """What must not change: the revision and the listings the refused requests touch."""
        return (self.server.revision(),
                self.call("GET", "/v1/iam/bindings?scope=tenant:bad")[:2],
                self.call("GET", "/v1/iam/bindings?scope=platform")[:2],
                self.call("GET", "/v1/iam/roles?scope=tenant:bad")[:2])

    def refused(self, path, status, code=None, mentions=(), body=None, raw_body=None, headers=None,
                key=harness._DEFAULT, method="POST", what=""):
        before = self.state()
        got, resp, hdrs = self.call(method, path, body=body, raw_body=raw_body, headers=headers, key=key)
        shown = body if body is not None else raw_body
        if isinstance(shown, (bytes, str)) and len(shown) > 200:
            shown = shown[:200] + (b"..." if isinstance(shown, bytes) else "...")
        self.assertEqual(got, status, f"{what}: {method} {path} {shown!r}\n-> {got} {resp}")
        err = self.assertError(resp, code, mentions)
        self.assertLess(len(json.dumps(resp)), 4000, f"{what}: the error echoes the whole input: {len(json.dumps(resp))} chars")
        self.assertEqual(self.state(), before, f"{what}: {method} {path} changed state")
        return err, hdrs

    # ---- JSON syntax ----

    def test_malformed_json(self):
        for path in ENDPOINTS:
            for raw in ('{"subject": "user:x", ', "{'single': 'quotes'}", "not json at all", '{"a":1}}', "{\"a\":1,}"):
                with self.subTest(path=path, raw=raw):
                    self.refused(path, 400, "malformed_json", ["JSON"], raw_body=raw,
                                 headers={"Content-Type": "application/json"}, what="malformed JSON")

    def test_empty_body(self):
        for path in ENDPOINTS:
            with self.subTest(path=path):
                self.refused(path, 400, None, ["body"], raw_body=b"", what="empty body")

    def test_json_array_instead_of_object(self):
        bodies = {
            "/v1/iam/bindings": [{"subject": "user:x", "role": "tenant_viewer", "scope": "tenant:bad"}],
            "/v1/iam/custom-roles": [{"name": "x", "module_permissions": ["scaibot:bots:read"], "scope": "tenant:bad"}],
            "/v1/iam/check": [{"subject": "user:x", "permission": "scaibot:bots:read", "scope": "tenant:bad"}],
        }
        for path, body in bodies.items():
            with self.subTest(path=path):
                self.refused(path, 400, "invalid_argument", ["object"], body=body, what="JSON array")
        for path in ENDPOINTS:
            for raw in ('"a string"', "42", "null", "true"):
                with self.subTest(path=path, raw=raw):
                    self.refused(path, 400, None, [("object", "body")], raw_body=raw,
                                 headers={"Content-Type": "application/json"}, what="JSON scalar")

    def test_deeply_nested_json(self):
        for path in ENDPOINTS:
            with self.subTest(path=path):
                self.refused(path, 400, None, [("JSON", "depth", "deep", "nest")], raw_body="[" * 5000 + "]" * 5000,
                             headers={"Content-Type": "application/json"}, what="5000-deep JSON")

    # ---- fields ----

    def test_wrong_types(self):
        cases = {
            "/v1/iam/bindings": ({"subject": 42, "role": ["tenant_viewer"], "scope": {"tenant": "bad"},
                                  "expires_at": 5, "justification": False},
                                 ["'subject'", "'role'", "'scope'", "'expires_at'", "'justification'"]),
            "/v1/iam/custom-roles": ({"name": 7, "module_permissions": "scaibot:bots:read", "description": [],
                                      "scope": 1},
                                     ["'name'", "'module_permissions'", "'description'", "'scope'"]),
            "/v1/iam/check": ({"subject": 5, "permission": True, "scope": [], "min_revision": "x", "audit": "yes"},
                              ["'subject'", "'permission'", "'scope'", "'min_revision'", "'audit'"]),
        }
        for path, (body, mentions) in cases.items():
            with self.subTest(path=path):
                self.refused(path, 400, "invalid_argument", mentions, body=body, what="wrong types")
        # Lists of the wrong things, a negative revision, a batch that is not a list.
        for path, body, mentions in (
                ("/v1/iam/custom-roles", {"name": "x", "module_permissions": [1, 2], "scope": "tenant:bad"}, ["'module_permissions'"]),
                ("/v1/iam/check", {"subject": "user:x", "permission": "scaibot:bots:read", "scope": "tenant:bad", "min_revision": -1}, ["'min_revision'"]),
                ("/v1/iam/check", {"subject": "user:x", "permission": "scaibot:bots:read", "scope": "tenant:bad", "min_revision": 1.5}, ["'min_revision'"]),
                ("/v1/iam/check", {"checks": "all of them"}, ["'checks'"]),
                ("/v1/iam/check", {"checks": []}, ["'checks'"]),
                ("/v1/iam/check", {"checks": [{"subject": "user:x", "permission": 5, "scope": "tenant:bad"}]}, ["'permission'"]),
                ("/v1/iam/bindings", {"subject": "user:x", "role": "tenant_viewer", "scope": "tenant:bad", "expires_at": "next tuesday"}, ["'expires_at'"])):
            with self.subTest(path=path, body=body):
                self.refused(path, 400, None, mentions, body=body, what="wrong element types")

    def test_missing_required_fields(self):
        for path, body, mentions in (
                ("/v1/iam/bindings", {"scope": "tenant:bad"}, ["'subject'", "'role'"]),
                ("/v1/iam/custom-roles", {"scope": "tenant:bad"}, ["'name'", "'module_permissions'"]),
                ("/v1/iam/check", {"subject": "user:x", "scope": "tenant:bad"}, ["'permission'"]),
                ("/v1/iam/check", {"subject": "user:x", "permission": "scaibot:bots:read"}, ["'scope'"]),
                ("/v1/iam/bindings", {"subject": "user:x", "role": "tenant_viewer"}, ["'scope'"])):
            with self.subTest(path=path, body=body):
                self.refused(path, 400, "invalid_argument", mentions, body=body, what="missing fields")

    def test_unknown_fields(self):
        cases = {
            "/v1/iam/bindings": {"subject": "user:x", "role": "tenant_viewer", "scope": "tenant:bad", "colour": "red"},
            "/v1/iam/custom-roles": {"name": "x", "module_permissions": ["scaibot:bots:read"], "scope": "tenant:bad", "colour": "red"},
            "/v1/iam/check": {"subject": "user:x", "permission": "scaibot:bots:read", "scope": "tenant:bad", "colour": "red"},
        }
        for path, body in cases.items():
            with self.subTest(path=path):
                self.refused(path, 400, "invalid_argument", ["'colour'"], body=body, what="unknown field")
        # A typo of a real field is caught, not ignored.
        self.refused("/v1/iam/bindings", 400, "invalid_argument", ["'expires'"],
                     body={"subject": "user:x", "role": "tenant_viewer", "scope": "tenant:bad", "expires": "2030-01-01"},
                     what="misspelt field")

    def test_invalid_scope_strings(self):
        for bad in ("galaxy:far-away", "tenant:", "tenant", "tenant:has space", "tenant:bad/../x", "Platform", "tenant:é"):
            cases = {
                "/v1/iam/bindings": {"subject": "user:x", "role": "tenant_viewer", "scope": bad},
                "/v1/iam/custom-roles": {"name": "x", "module_permissions": ["scaibot:bots:read"], "scope": bad},
                "/v1/iam/check": {"subject": "user:x", "permission": "scaibot:bots:read", "scope": bad},
            }
            for path, body in cases.items():
                with self.subTest(path=path, scope=bad):
                    self.refused(path, 400, "invalid_argument", ["scope"], body=body, what="invalid scope")

    def test_invalid_principal_strings(self):
        for bad in ("alice", "user:", "robot:r2d2", "group:", "group:has space", "service_account:a/b", ":x"):
            with self.subTest(principal=bad, path="/v1/iam/bindings"):
                self.refused("/v1/iam/bindings", 400, "invalid_argument", [("'subject'", "principal")],
                             body={"subject": bad, "role": "tenant_viewer", "scope": "tenant:bad"}, what="invalid principal")
            with self.subTest(principal=bad, path="/v1/iam/check"):
                self.refused("/v1/iam/check", 400, "invalid_argument", [("'subject'", "principal")],
                             body={"subject": bad, "permission": "scaibot:bots:read", "scope": "tenant:bad"}, what="invalid principal")

    def test_invalid_permission_keys(self):
        self.refused("/v1/iam/custom-roles", 400, "invalid_argument", ["'Not A Key'", "'scaiecho:nope'", "scaibunker:admin:platform"],
                     body={"name": "x", "module_permissions": ["Not A Key", "scaiecho:nope", "scaibunker:admin:platform"],
                           "scope": "tenant:bad"}, what="bad permission keys")
        self.refused("/v1/iam/check", 400, "unknown_permission", ["scaiecho:nope"],
                     body={"subject": "user:x", "permission": "scaiecho:nope", "scope": "tenant:bad"}, what="unknown key")
        self.refused("/v1/iam/check", 400, None, ["NOT:valid key"],
                     body={"subject": "user:x", "permission": "NOT:valid key", "scope": "tenant:bad"}, what="malformed key")
        self.refused("/v1/iam/bindings", 404, None, ["no-such-role"],
                     body={"subject": "user:x", "role": "no-such-role", "scope": "tenant:bad"}, what="unknown role")

    def test_overlong_ids(self):
        for path, body, mentions in (
                ("/v1/iam/bindings", {"subject": "user:" + LONG, "role": "tenant_viewer", "scope": "tenant:bad"}, ["'subject'"]),
                ("/v1/iam/bindings", {"subject": "user:x", "role": LONG, "scope": "tenant:bad"}, ["'role'"]),
                ("/v1/iam/bindings", {"subject": "user:x", "role": "tenant_viewer", "scope": "tenant:" + LONG}, ["'scope'"]),
                ("/v1/iam/bindings", {"subject": "group:" + LONG, "role": "tenant_viewer", "scope": "tenant:bad"}, ["'subject'"]),
                ("/v1/iam/custom-roles", {"name": LONG, "module_permissions": ["scaibot:bots:read"], "scope": "tenant:bad"}, ["'name'"]),
                ("/v1/iam/custom-roles", {"name": "x", "module_permissions": ["scaibot:" + LONG], "scope": "tenant:bad"}, ["module_permissions"]),
                ("/v1/iam/custom-roles", {"name": "x", "module_permissions": ["scaibot:bots:read"], "scope": "tenant:" + LONG}, ["'scope'"]),
                ("/v1/iam/check", {"subject": "user:" + LONG, "permission": "scaibot:bots:read", "scope": "tenant:bad"}, ["'subject'"]),
                ("/v1/iam/check", {"subject": "user:x", "permission": "scaibot:" + LONG, "scope": "tenant:bad"}, ["'permission'"]),
                ("/v1/iam/check", {"subject": "user:x", "permission": "scaibot:bots:read", "scope": "tenant:" + LONG}, ["'scope'"])):
            with self.subTest(path=path, fields=[k for k, v in body.items() if LONG in json.dumps(v)]):
                self.refused(path, 400, "invalid_argument", mentions, body=body, what="10,000-character id")
        # An id at the documented limit (128) passes validation; 129 does not.
        self.refused("/v1/iam/bindings", 404, None, [],
                     body={"subject": "user:x", "role": "tenant_viewer", "scope": "tenant:" + "b" * 128}, what="128-char tenant id")
        self.refused("/v1/iam/bindings", 400, "invalid_argument", ["scope"],
                     body={"subject": "user:x", "role": "tenant_viewer", "scope": "tenant:" + "b" * 129}, what="129-char tenant id")

    def test_invalid_utf8(self):
        bodies = {
            "/v1/iam/bindings": b'{"subject": "user:\xff\xfe", "role": "tenant_viewer", "scope": "tenant:bad"}',
            "/v1/iam/custom-roles": b'{"name": "caf\xc3\x28", "module_permissions": ["scaibot:bots:read"], "scope": "tenant:bad"}',
            "/v1/iam/check": b'{"subject": "user:x", "permission": "scaibot:bots:read\xed\xa0\x80", "scope": "tenant:bad"}',
        }
        for path, raw in bodies.items():
            with self.subTest(path=path):
                self.refused(path, 400, "malformed_json", ["UTF-8"], raw_body=raw,
                             headers={"Content-Type": "application/json"}, what="invalid UTF-8")
        # A lone surrogate written as a JSON escape is not valid Unicode either.
        for path, raw in (("/v1/iam/bindings", '{"subject": "user:\\ud800", "role": "tenant_viewer", "scope": "tenant:bad"}'),
                          ("/v1/iam/custom-roles", '{"name": "\\udc00", "module_permissions": ["scaibot:bots:read"], "scope": "tenant:bad"}')):
            with self.subTest(path=path, escape=True):
                self.refused(path, 400, None, [], raw_body=raw, headers={"Content-Type": "application/json"},
                             what="lone surrogate escape")

    def test_ten_megabyte_body(self):
        for path in ENDPOINTS:
            with self.subTest(path=path):
                before = self.state()
                status, head, body, sent, ended = self.server.send_large_body("POST", path, 10 * 1024 * 1024)
                self.assertEqual(status, 413, f"10 MB body to {path}: {ended} after {sent} bytes; got {head!r} {body[:300]!r}")
                err = self.assertError(json.loads(body), "payload_too_large")
                self.assertIn("limit", err["message"])
                self.assertEqual(self.state(), before)

    # ---- credentials, methods, paths ----

    def test_missing_or_bad_authorization(self):
        valid = {
            "/v1/iam/bindings": {"subject": "user:x", "role": "tenant_viewer", "scope": "tenant:bad"},
            "/v1/iam/custom-roles": {"name": "x", "module_permissions": ["scaibot:bots:read"], "scope": "tenant:bad"},
            "/v1/iam/check": {"subject": "user:x", "permission": "scaibot:bots:read", "scope": "tenant:bad"},
        }
        bad_headers = [
            ("no header", None),
            ("empty bearer", {"Authorization": "Bearer "}),
            ("basic auth", {"Authorization": "Basic YWRtaW46YWRtaW4="}),
            ("garbage token", {"Authorization": "Bearer not-a-key"}),
            ("unknown key", {"Authorization": "Bearer sgk_" + "A" * 43}),
            ("key without scheme", {"Authorization": self.server.admin_key}),
            ("key with a suffix", {"Authorization": f"Bearer {self.server.admin_key}x"}),
        ]
        for path, body in valid.items():
            for label, headers in bad_headers:
                with self.subTest(path=path, auth=label):
                    _, hdrs = self.refused(path, 401, "unauthenticated", [], body=body, headers=headers, key=None,
                                           what=f"auth: {label}")
                    self.assertIn("Bearer", hdrs.get("WWW-Authenticate", ""))
        # 401 wins over a malformed body: nothing is parsed for an unknown caller.
        self.refused("/v1/iam/bindings", 401, "unauthenticated", [], raw_body="{", key=None, what="no auth, bad body")

    def test_wrong_method(self):
        for method, path in (("GET", "/v1/iam/check"), ("PUT", "/v1/iam/check"), ("DELETE", "/v1/iam/check"),
                             ("GET", "/v1/iam/custom-roles"), ("PUT", "/v1/iam/bindings"), ("PATCH", "/v1/iam/bindings"),
                             ("POST", "/v1/iam/bindings/123")):
            with self.subTest(method=method, path=path):
                self.refused(path, 405, "method_not_allowed", [method], method=method,
                             body={} if method != "GET" else None, what="wrong method")

    def test_wrong_method_names_allowed_methods(self):
        # RFC 9110 §15.5.6: a 405 response MUST carry an Allow header.
        status, body, headers = self.call("GET", "/v1/iam/check")
        self.assertEqual(status, 405, body)
        self.assertIn("POST", headers.get("Allow", ""), f"405 without Allow: {dict(headers)}")

    def test_unknown_path(self):
        for method, path in (("GET", "/v1/iam/nope"), ("POST", "/v1/iam/check/extra"), ("GET", "/v2/iam/check"),
                             ("POST", "/v1/iam/bindingz"), ("GET", "/"), ("GET", "/v1/iam/tenants/a/b/c")):
            with self.subTest(method=method, path=path):
                self.refused(path, 404, "not_found", [], method=method, body={} if method != "GET" else None,
                             what="unknown path")
        # Also without a credential: a 404, not a 401.
        self.refused("/v1/iam/nope", 404, "not_found", [], method="GET", key=None, what="unknown path, no auth")

    # ---- slow client ----

    def test_slow_client_is_cut_off(self):
        """Half a header block, then silence: the server closes the connection (header timeout
        10 s) well within 15 s. The socket timeout is the deadline."""
        sock = self.server.connect()
        try:
            sock.sendall(f"POST /v1/iam/check HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                         f"Authorization: Bearer {self.server.admin_key}\r\nContent-Ty".encode())
            start = time.monotonic()
            sock.settimeout(15.0)
            received = b""
            outcome = None
            while outcome is None:
                try:
                    chunk = sock.recv(4096)
                except socket.timeout:
                    self.fail(f"the server kept a half-sent request open for 15 s (received {received!r})")
                except ConnectionResetError:
                    outcome = "reset"
                    break
                if not chunk:
                    outcome = "eof"
                    break
                received += chunk
            elapsed = time.monotonic() - start
        finally:
            sock.close()
        # Anything sent before closing may only be an error, never an answer to the request.
        if received:
            self.assertRegex(received, rb"^HTTP/1\.[01] (408|4\d\d) ", received[:200])
        self.assertGreater(elapsed, 2.0, f"closed after {elapsed:.1f}s: too early to be the header timeout ({outcome})")
        # The server is fine and serves others.
        self.assertEqual(self.call("GET", "/healthz", key=None)[0], 200)


if __name__ == "__main__":
    harness.main()
