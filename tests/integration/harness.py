"""Integration-test harness: runs the real `scaigrid-iam` binary and talks HTTP to it.

Standard library only. The binary is taken from the SCAIGRID_BIN environment variable (or
from the first command-line argument when a test file is run directly:
`python3 test_endpoints.py build/src/cli/scaigrid-iam`), the manifests from
SCAIGRID_MANIFESTS (default: the repository's manifests/).

    server = Server()          # temp data dir
    server.start()             # bootstrap (first time only), then serve on 127.0.0.1:0
    status, body, headers = server.call("GET", "/v1/iam/tenants")
    server.restart()           # SIGTERM, wait, serve again on the same data dir
    server.close()             # stop and delete the data dir (always: use addClassCleanup)
"""

import http.client
import json
import os
import re
import select
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))

_DEFAULT = object()  # "use the server's super_admin key"
_LISTEN_RE = re.compile(r"scaigrid-iam listening on (\S+):(\d+)")
_KEY_RE = re.compile(r"export SCAIGRID_API_KEY=(\S+)")


def binary_path():
    path = os.environ.get("SCAIGRID_BIN")
    if path:
        if not os.access(path, os.X_OK):
            raise RuntimeError(f"SCAIGRID_BIN={path!r} is not an executable")
        return path
    path = os.path.join(REPO, "build", "src", "cli", "scaigrid-iam")
    if not os.access(path, os.X_OK):
        raise unittest.SkipTest(f"scaigrid-iam binary not found at {path!r}: set SCAIGRID_BIN")
    return path


def manifests_dir():
    return os.environ.get("SCAIGRID_MANIFESTS") or os.path.join(REPO, "manifests")


def quote(segment):
    """Percent-encodes one path segment (principals contain ':')."""
    return urllib.parse.quote(segment, safe="")


class Server:
    """One scaigrid-iam server process on a private temporary data directory."""

    def __init__(self, start_timeout=20.0):
        self.bin = binary_path()
        self.manifests = os.path.abspath(manifests_dir())
        self._tmp = tempfile.TemporaryDirectory(prefix="scaigrid-it-")
        self.data = os.path.join(self._tmp.name, "data")
        self.start_timeout = start_timeout
        self.extra_args = []  # more `serve` flags, e.g. ["--oidc-config", path]
        self.database = None  # a postgresql:// URL: the store, instead of the data directory
        self.proc = None
        self.port = None
        self.admin_key = None
        self._log_index = 0
        self._stdout_path = None
        self._stderr_path = None

    # ---- process lifecycle ----

    def bootstrap(self):
        r = subprocess.run(
            [self.bin, "bootstrap", *self._store_args(), "--manifests", self.manifests],
            capture_output=True, text=True, timeout=60)
        if r.returncode != 0:
            raise RuntimeError(f"bootstrap failed ({r.returncode}): {r.stdout}\n{r.stderr}")
        m = _KEY_RE.search(r.stdout)
        if not m:
            raise RuntimeError(f"bootstrap printed no key: {r.stdout!r}")
        self.admin_key = m.group(1)
        return self.admin_key

    def _store_args(self):
        return ["--database", self.database] if self.database else ["--data", self.data]

    def start(self):
        if self.proc is not None:
            raise RuntimeError("server already running")
        if self.admin_key is None:
            self.bootstrap()
        self._log_index += 1
        self._stdout_path = os.path.join(self._tmp.name, f"serve{self._log_index}.out")
        self._stderr_path = os.path.join(self._tmp.name, f"serve{self._log_index}.err")
        with open(self._stdout_path, "wb") as out, open(self._stderr_path, "wb") as err:
            self.proc = subprocess.Popen(
                [self.bin, "serve", *self._store_args(), "--listen", "127.0.0.1:0",
                 "--manifests", self.manifests, "--threads", "2", *self.extra_args],
                stdout=out, stderr=err, stdin=subprocess.DEVNULL, cwd=REPO)
        deadline = time.monotonic() + self.start_timeout
        while True:
            text = self._read(self._stdout_path)
            m = _LISTEN_RE.search(text)
            if m:
                self.port = int(m.group(2))
                return self.port
            if self.proc.poll() is not None:
                code = self.proc.returncode
                self.proc = None
                raise RuntimeError(f"server exited with {code} before listening:\n{text}\n"
                                   f"{self._read(self._stderr_path)}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"server did not print its port within {self.start_timeout}s:\n{text}")
            time.sleep(0.02)

    def stop(self, timeout=15.0):
        """SIGTERM and wait; SIGKILL if it does not exit in time. Returns the exit code."""
        proc, self.proc = self.proc, None
        if proc is None:
            return None
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
                raise RuntimeError(f"server did not exit within {timeout}s of SIGTERM")
        return proc.returncode

    def restart(self):
        code = self.stop()
        if code != 0:
            raise RuntimeError(f"server exited with {code} on SIGTERM:\n{self.logs()}")
        return self.start()

    def close(self):
        try:
            if self.proc is not None and self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
            self.proc = None
        finally:
            self._tmp.cleanup()

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    @staticmethod
    def _read(path):
        try:
            with open(path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def logs(self):
        return (self._read(self._stdout_path) if self._stdout_path else "") + \
               (self._read(self._stderr_path) if self._stderr_path else "")

    # ---- HTTP ----

    def call(self, method, path, body=None, key=_DEFAULT, raw_body=None, headers=None, timeout=30.0):
        """One request on a fresh connection. `body` is JSON-encoded; `raw_body` (bytes or str)
        is sent as is. key=None sends no Authorization header. Returns
        (status, parsed JSON or text, headers) — headers is case-insensitive (.get)."""
        hdrs = {}
        if key is _DEFAULT:
            key = self.admin_key
        if key is not None:
            hdrs["Authorization"] = f"Bearer {key}"
        data = None
        if raw_body is not None:
            data = raw_body.encode("utf-8") if isinstance(raw_body, str) else raw_body
        elif body is not None:
            data = json.dumps(body).encode("utf-8")
            hdrs["Content-Type"] = "application/json"
        if headers:
            hdrs.update(headers)
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            conn.request(method, path, body=data, headers=hdrs)
            resp = conn.getresponse()
            payload = resp.read()
            text = payload.decode("utf-8", "replace")
            ctype = resp.getheader("Content-Type", "")
            parsed = text
            if "json" in ctype or (text[:1] in ("{", "[")):
                try:
                    parsed = json.loads(text)
                except ValueError:
                    parsed = text
            return resp.status, parsed, resp.headers
        finally:
            conn.close()

    def connect(self, timeout=5.0):
        """A raw TCP socket to the server."""
        return socket.create_connection(("127.0.0.1", self.port), timeout=timeout)

    def send_large_body(self, method, path, size, key=_DEFAULT, deadline_s=20.0):
        """Announces a `size`-byte body and streams it while watching for an early answer.
        Returns (status or None, head, body bytes, bytes of body sent, how the stream ended)."""
        if key is _DEFAULT:
            key = self.admin_key
        head = (f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {size}\r\n")
        if key is not None:
            head += f"Authorization: Bearer {key}\r\n"
        head += "\r\n"
        deadline = time.monotonic() + deadline_s
        sock = self.connect()
        sent, ended = 0, "complete"
        try:
            sock.sendall(head.encode())
            chunk = b"{" + b" " * (64 * 1024 - 1)
            while sent < size and time.monotonic() < deadline:
                readable, writable, _ = select.select([sock], [sock], [], 0.5)
                if readable:
                    ended = "server answered early"
                    break
                if writable:
                    n = min(len(chunk), size - sent)
                    try:
                        sent += sock.send(chunk[:n])
                    except (BrokenPipeError, ConnectionResetError) as e:
                        ended = f"send failed: {e.__class__.__name__}"
                        break
            status, text, body = read_http_response(sock, deadline)
            return status, text, body, sent, ended
        finally:
            sock.close()

    def revision(self):
        status, body, _ = self.call("GET", "/readyz", key=None)
        if status != 200:
            raise AssertionError(f"/readyz -> {status} {body}")
        return body["revision"]


def read_http_response(sock, deadline):
    """Reads one HTTP response (head + Content-Length body) from a raw socket, or what
    arrives before EOF / the deadline. Returns (status or None, head text, body bytes)."""
    data = b""
    while time.monotonic() < deadline:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            chunk = sock.recv(65536)
        except (socket.timeout, ConnectionResetError):
            break
        if not chunk:
            break
        data += chunk
        head, sep, rest = data.partition(b"\r\n\r\n")
        if sep:
            m = re.search(rb"(?i)\r\ncontent-length:\s*(\d+)", head)
            if m and len(rest) >= int(m.group(1)):
                break
    head, _, rest = data.partition(b"\r\n\r\n")
    m = re.match(rb"HTTP/1\.[01] (\d{3})", head)
    return (int(m.group(1)) if m else None), head.decode("latin-1"), rest


class ApiTestCase(unittest.TestCase):
    """A TestCase sharing one server per class, with assertion helpers."""

    server = None
    maxDiff = None

    @classmethod
    def setUpClass(cls):
        cls.server = Server()
        cls.addClassCleanup(cls.server.close)
        cls.server.start()

    def call(self, method, path, body=None, key=_DEFAULT, raw_body=None, headers=None):
        return self.server.call(method, path, body=body, key=key, raw_body=raw_body, headers=headers)

    # Expect a status; return the body. The failure message shows the whole exchange.
    def expect(self, status, method, path, body=None, key=_DEFAULT, raw_body=None, headers=None):
        got, resp, hdrs = self.call(method, path, body=body, key=key, raw_body=raw_body, headers=headers)
        self.assertEqual(got, status, f"{method} {path} {json.dumps(body) if body is not None else ''}"
                                      f"\n-> {got} {resp}")
        return resp

    def assertError(self, resp, code=None, mentions=()):
        """resp is an error body: {"error": {"code", "message", "details"?}}; `code` must
        match; each entry of `mentions` (a string, or a tuple of alternatives) must appear in
        the message or the details."""
        self.assertIsInstance(resp, dict, f"error body is not JSON: {resp!r}")
        self.assertIn("error", resp, resp)
        err = resp["error"]
        self.assertIsInstance(err.get("code"), str, resp)
        self.assertIsInstance(err.get("message"), str, resp)
        self.assertTrue(err["message"], resp)
        if code is not None:
            self.assertEqual(err["code"], code, resp)
        text = err["message"] + "\n" + "\n".join(str(d) for d in (err.get("details") or []))
        for m in mentions:
            alts = m if isinstance(m, tuple) else (m,)
            self.assertTrue(any(a in text for a in alts), f"error does not mention {alts}: {resp}")
        return err

    # ---- common fixtures ----

    def make_tenant(self, tenant_id, partner=None):
        body = {"id": tenant_id, "name": f"Tenant {tenant_id}"}
        if partner:
            body["partner"] = partner
        return self.expect(201, "POST", "/v1/iam/tenants", body)

    def bind(self, subject, role, scope, key=_DEFAULT, justification=None, status=201):
        body = {"subject": subject, "role": role, "scope": scope}
        if justification:
            body["justification"] = justification
        return self.expect(status, "POST", "/v1/iam/bindings", body, key=key)

    def make_key(self, owner, scope=None, permissions=None, key=_DEFAULT, name="it"):
        body = {"owner": owner, "name": name}
        if scope:
            body["scope"] = scope
        if permissions is not None:
            body["permissions"] = permissions
        return self.expect(201, "POST", "/v1/iam/api-keys", body, key=key)["key"]

    def make_tenant_admin(self, tenant, user):
        """Binds `user` tenant_admin at tenant:<tenant> (with a justification: the catch-all
        holds the sensitive scaiecho:enroll) and returns an API key restricted to that tenant."""
        self.bind(user, "tenant_admin", f"tenant:{tenant}", justification="integration test tenant admin")
        return self.make_key(user, scope=f"tenant:{tenant}")

    def make_role(self, name, perms, scope, key=_DEFAULT):
        return self.expect(201, "POST", "/v1/iam/custom-roles",
                           {"name": name, "module_permissions": perms, "scope": scope}, key=key)

    def check(self, subject, permission, scope, key=_DEFAULT):
        resp = self.expect(200, "POST", "/v1/iam/check",
                           {"subject": subject, "permission": permission, "scope": scope}, key=key)
        self.assertIn("revision", resp)
        return resp["allowed"]


def main():
    """`python3 test_x.py [path/to/scaigrid-iam] [unittest args]`."""
    if len(sys.argv) > 1 and not sys.argv[1].startswith("-") and os.path.isfile(sys.argv[1]):
        os.environ["SCAIGRID_BIN"] = os.path.abspath(sys.argv.pop(1))
    unittest.main(module="__main__", verbosity=2)
