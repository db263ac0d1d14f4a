"""The audit log (SPEC §5, docs/audit.md) against the real server: acknowledged events survive
SIGKILL, `audit verify` catches a tampered row, the query API (filters, order, cursor
pagination, tenant isolation), bad input, and module events."""

import calendar
import datetime
import functools
import hashlib
import http.client
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.parse

import harness
from harness import quote


# ---- helpers ----

def must(server, status, method, path, body=None, **kw):
    """One call that must answer `status`; returns the parsed body."""
    got, resp, _ = server.call(method, path, body=body, **kw)
    if got != status:
        raise AssertionError(f"{method} {path} {json.dumps(body) if body is not None else ''}\n-> {got} {resp}")
    return resp


def kill_server(server):
    """SIGKILL the server process (no drain, no shutdown) and forget it."""
    proc = server.proc
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    server.proc = None
    return proc.returncode


def audit_verify(server):
    """`scaigrid-iam audit verify --data DIR`: (exit code, stdout + stderr)."""
    r = subprocess.run([server.bin, "audit", "verify", "--data", server.data],
                       capture_output=True, text=True, timeout=60)
    return r.returncode, r.stdout + r.stderr


def page_through(server, params, limit, **kw):
    """Every page of GET /v1/audit/events?<params>&limit=<limit>, following next_cursor with the
    same params. Returns (items, pages); checks each page's size against the limit."""
    items, pages, cursor = [], 0, None
    while True:
        q = list(params) + [("limit", str(limit))]
        if cursor is not None:
            q.append(("cursor", cursor))
        resp = must(server, 200, "GET", "/v1/audit/events?" + urllib.parse.urlencode(q), **kw)
        pages += 1
        page = resp["items"]
        cursor = resp["next_cursor"]
        if len(page) > limit:
            raise AssertionError(f"page of {len(page)} items with limit {limit}: {params}")
        if cursor is not None and len(page) != limit:
            raise AssertionError(f"short page ({len(page)} < {limit}) with a next_cursor: {params}")
        items.extend(page)
        if cursor is None:
            return items, pages
        if pages > 5000:
            raise AssertionError(f"cursor never ends: {params}")


def all_events(server, **kw):
    items, _ = page_through(server, [], 1000, **kw)
    return items


def event_count(server):
    """The seq of the newest event (the log has no gaps, so also the number of events)."""
    items = must(server, 200, "GET", "/v1/audit/events?order=desc&limit=1")["items"]
    return items[0]["seq"] if items else 0


def time_us(e):
    return _time_text_us(e["time"])


@functools.lru_cache(maxsize=None)
def _time_text_us(text):
    secs = calendar.timegm(time.strptime(text[:19], "%Y-%m-%dT%H:%M:%S"))
    return secs * 1000000 + int(text[20:26])


@functools.lru_cache(maxsize=None)
def param_us(text):
    """A since/until value (date, or RFC 3339 with or without a fraction) as microseconds."""
    if len(text) == 10:
        text += "T00:00:00Z"
    dt = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    epoch = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
    return (dt - epoch) // datetime.timedelta(microseconds=1)  # exact, fraction included


def rfc3339(secs, offset_minutes=0):
    tz = datetime.timezone(datetime.timedelta(minutes=offset_minutes))
    dt = datetime.datetime.fromtimestamp(secs, tz)
    s = dt.strftime("%Y-%m-%dT%H:%M:%S")
    return s + ("Z" if offset_minutes == 0 else dt.strftime("%z")[:3] + ":" + dt.strftime("%z")[3:])


def matches(e, params):
    """The reference filter: what GET /v1/audit/events?<params> must return."""
    for k, v in params:
        if k == "module" and e["module"] != v:
            return False
        if k == "tenant" and e["tenant"] != "tenant:" + v:
            return False
        if k == "decision" and e["decision"] != v:
            return False
        if k == "actor" and e["actor_user_id"] != v:
            return False
        if k == "action" and e["action"] != v:
            return False
        if k == "resource" and e["resource_id"] != v:
            return False
        if k == "since" and time_us(e) < param_us(v):
            return False
        if k == "until" and time_us(e) >= param_us(v):
            return False
    return True


_CHAIN_FIELDS = ["seq", "id", "time_us", "module", "action", "decision", "actor_user_id",
                 "actor_type", "credential_id", "tenant", "resource_id", "request_id",
                 "source_ip", "details", "prev_hash"]


def chain_hash(e):
    """docs/audit.md "Checking an export without ScaiGrid": the event's hash from its API form."""
    def text(f):
        if f == "time_us":
            return str(time_us(e))
        v = e.get(f)
        if v is None:
            return ""
        if f == "details" and not isinstance(v, str):
            return json.dumps(v, separators=(",", ":"), ensure_ascii=False)
        return str(v)

    def netstring(b):
        return str(len(b)).encode() + b":" + b + b","

    data = netstring(b"scaigrid-audit-v1")
    for f in _CHAIN_FIELDS:
        data += netstring(text(f).encode("utf-8"))
    return hashlib.blake2b(data, digest_size=32).hexdigest()


class AuditCase(harness.ApiTestCase):

    def assertChain(self, events):
        """The API's listing is one unbroken chain from seq 1, checked without our code."""
        prev = ""
        for i, e in enumerate(events, start=1):
            self.assertEqual(e["seq"], i, e)
            self.assertEqual(e["id"], "evt_%016d" % i, e)
            self.assertEqual(e["prev_hash"], prev, e)
            self.assertEqual(e["hash"], chain_hash(e), e)
            prev = e["hash"]

    def assertVerifyOk(self, expected_events):
        code, out = audit_verify(self.server)
        self.assertEqual(code, 0, out)
        self.assertIn(f"ok: {expected_events} event(s)", out)
        return out


# ---- 1. acknowledged events survive SIGKILL ----

class CrashTest(AuditCase):
    THREADS = 4
    KILL_AFTER = 300        # answered requests before the SIGKILL
    MAX_PER_THREAD = 2000   # bounds the stream if the kill never comes
    DEADLINE_S = 30.0

    def test_answered_requests_survive_sigkill(self):
        s = self.server
        self.make_tenant("crash")
        self.bind("user:crash-viewer", "tenant_viewer", "tenant:crash")
        check = {"subject": "user:crash-viewer", "scope": "tenant:crash"}
        lock = threading.Lock()
        answered = []       # (kind, request_id, response body, extra)
        refused = []        # non-2xx answers: none expected
        early_errors = []   # transport errors before the kill: none expected
        killed = threading.Event()
        deadline = time.monotonic() + self.DEADLINE_S

        def request(kind, tid, i):
            if kind == "allowed":  # tenant_viewer holds scaiskills:view
                return s.call("POST", "/v1/iam/check", dict(check, permission="scaiskills:view", audit=True), timeout=10), None
            if kind == "denied":
                return s.call("POST", "/v1/iam/check", dict(check, permission="scaiskills:publish", audit=True,
                                                             resource={"id": f"skill:{tid}-{i}"}), timeout=10), None
            if kind == "always":  # `audit: always` key, no audit flag
                return s.call("POST", "/v1/iam/check", dict(check, permission="scaibunker:l2_transparency"), timeout=10), None
            if kind == "project":
                pid = f"crash-p{tid}-{i}"
                return s.call("POST", "/v1/iam/projects", {"id": pid, "tenant": "crash"}, timeout=10), pid
            subject = f"user:crash-u{tid}-{i}"
            return s.call("POST", "/v1/iam/bindings", {"subject": subject, "role": "tenant_viewer",
                                                        "scope": "tenant:crash"}, timeout=10), subject

        kinds = ["allowed", "project", "denied", "binding", "always"]

        def worker(tid):
            for i in range(self.MAX_PER_THREAD):
                if time.monotonic() > deadline:
                    return
                kind = kinds[(i + tid) % len(kinds)]
                try:
                    (status, body, hdrs), extra = request(kind, tid, i)
                except (OSError, http.client.HTTPException) as e:
                    if not killed.is_set():
                        early_errors.append(repr(e))
                    return  # the server is gone
                with lock:
                    if 200 <= status < 300:
                        answered.append((kind, hdrs.get("X-Request-Id"), body, extra))
                    else:
                        refused.append((kind, status, body))

        threads = [threading.Thread(target=worker, args=(t,), daemon=True) for t in range(self.THREADS)]
        for t in threads:
            t.start()
        while time.monotonic() < deadline:
            with lock:
                if len(answered) >= self.KILL_AFTER:
                    break
            if not any(t.is_alive() for t in threads):
                break
            time.sleep(0.001)
        with lock:
            n_at_kill = len(answered)
        self.assertGreaterEqual(n_at_kill, self.KILL_AFTER,
                                f"stream stalled: refused={refused[:3]} errors={early_errors[:3]}\n{s.logs()}")
        killed.set()
        self.assertEqual(kill_server(s), -signal.SIGKILL)
        for t in threads:
            t.join(timeout=30)
            self.assertFalse(t.is_alive())
        self.assertEqual(early_errors, [])
        self.assertEqual(refused, [])
        for kind in kinds:
            self.assertTrue(any(a[0] == kind for a in answered), f"no answered {kind!r} request")

        s.start()  # same data dir
        events = all_events(s)
        self.assertChain(events)
        by_rid = {}
        for e in events:
            by_rid.setdefault(e["request_id"], []).append(e)
        store_revision = s.revision()
        print(f"\n  crash: SIGKILL after {n_at_kill} answered requests; {len(answered)} answered in all, "
              f"{len(events)} events after restart", file=sys.stderr, flush=True)
        max_answered_revision = 0
        missing, wrong = [], []
        for kind, rid, body, extra in answered:
            self.assertRegex(rid or "", r"^[A-Za-z0-9._-]{1,128}$")
            got = by_rid.get(rid, [])
            if len(got) != 1:
                missing.append((kind, rid, len(got)))
                continue
            e = got[0]
            if kind in ("allowed", "denied", "always"):
                self.assertTrue(body.get("audited"), body)
                expect = {"module": body["permission"].split(":")[0], "action": body["permission"],
                          "decision": "allowed" if body["allowed"] else "denied",
                          "actor_user_id": "user:crash-viewer", "tenant": "tenant:crash"}
            elif kind == "project":
                expect = {"module": "iam", "action": "iam.scope.create", "resource_id": f"project:{extra}",
                          "tenant": "tenant:crash", "decision": None}
            else:
                expect = {"module": "iam", "action": "iam.binding.create", "resource_id": body["id"],
                          "tenant": "tenant:crash", "decision": None}
            if kind in ("project", "binding"):
                max_answered_revision = max(max_answered_revision, body["revision"])
                if body["revision"] > store_revision or e["details"].get("revision") != body["revision"]:
                    wrong.append((kind, rid, body["revision"], store_revision, e["details"].get("revision")))
            for k, v in expect.items():
                if e[k] != v:
                    wrong.append((kind, rid, k, e[k], v))
        self.assertEqual(missing, [], f"{len(missing)} of {len(answered)} answered requests have no "
                                      f"(or several) audit events after SIGKILL + restart")
        self.assertEqual(wrong, [])
        self.assertEqual(sum(1 for a in answered if a[0] == "allowed"),
                         sum(1 for a in answered if a[0] == "allowed" and a[2]["allowed"]))
        self.assertTrue(all(not a[2]["allowed"] for a in answered if a[0] == "denied"))
        self.assertLessEqual(max_answered_revision, store_revision)
        # No change without its events: one committed just before the kill but never answered
        # is logged at restart from the change log.
        logged = {e["details"]["revision"] for e in events if e["module"] == "iam" and e["decision"] is None}
        self.assertEqual(sorted(set(range(1, store_revision + 1)) - logged), [])

        # The acknowledged changes themselves survived too.
        for kind, rid, body, extra in answered:
            if kind == "project":
                must(s, 200, "GET", f"/v1/iam/projects/{extra}")
            elif kind == "binding":
                listed = must(s, 200, "GET", f"/v1/iam/bindings?subject={quote(extra)}")["items"]
                self.assertIn(body["id"], [b["id"] for b in listed], extra)

        # The chain is intact, on the live store, and continues after the restart.
        self.assertVerifyOk(len(events))
        head = events[-1]
        must(s, 201, "POST", "/v1/iam/projects", {"id": "crash-after", "tenant": "crash"})
        after = all_events(s)
        self.assertEqual(len(after), len(events) + 1)
        self.assertEqual(after[-1]["prev_hash"], head["hash"])
        self.assertEqual(s.stop(), 0)
        self.assertVerifyOk(len(after))


# ---- 1b. a change committed but never logged is logged at the next start ----

class ChangeLogReconcileTest(AuditCase):

    def test_first_start_registration_is_logged(self):
        events = [e for e in all_events(self.server) if e["details"].get("revision") == 1]
        modules = sorted(e["resource_id"] for e in events)
        self.assertIn("scaibot", modules)
        self.assertIn("iam", modules)
        for e in events:
            self.assertEqual((e["module"], e["action"], e["actor_user_id"], e["actor_type"], e["request_id"]),
                             ("iam", "iam.module.register", "system", "system", "first-start"), e)
            self.assertIsNone(e["details"]["before"], e)
            self.assertEqual(e["details"]["after"]["module"], e["resource_id"], e)
            self.assertNotIn("recovered", e["details"])

    def test_change_without_events_is_logged_from_the_change_log(self):
        s = self.server
        self.make_tenant("recon")
        made = must(s, 201, "POST", "/v1/iam/projects", {"id": "recon-p", "tenant": "recon"})
        revision = made["revision"]
        events = all_events(s)
        lost = [e for e in events if e["details"].get("revision") == revision]
        self.assertEqual([e["action"] for e in lost], ["iam.scope.create"])
        self.assertEqual(events[-1]["seq"], lost[-1]["seq"], "the change's event should be the last one")
        self.assertEqual(s.stop(), 0)

        # What a crash between the change's commit and its audit batch leaves: the change is in
        # the store, its event is not (removed here behind the store's back).
        db = sqlite3.connect(os.path.join(s.data, "scaigrid.db"), isolation_level=None)
        try:
            (trigger_sql,) = db.execute("SELECT sql FROM sqlite_master WHERE name = 'audit_events_no_delete'").fetchone()
            db.execute("DROP TRIGGER audit_events_no_delete")
            db.execute("DELETE FROM audit_events WHERE seq >= ?", (lost[0]["seq"],))
            db.execute(trigger_sql)
        finally:
            db.close()
        self.assertVerifyOk(len(events) - len(lost))

        s.start()
        after = all_events(s)
        self.assertChain(after)
        self.assertEqual(len(after), len(events))
        got = after[-1]
        self.assertEqual((got["module"], got["action"], got["resource_id"], got["tenant"], got["actor_user_id"],
                          got["request_id"]),
                         ("iam", "iam.scope.create", "project:recon-p", "tenant:recon", lost[0]["actor_user_id"],
                          lost[0]["request_id"]))
        self.assertEqual(got["details"]["revision"], revision)
        self.assertEqual(got["details"]["after"], lost[0]["details"]["after"])
        self.assertIn("change log", got["details"]["recovered"])
        self.assertNotIn("before", got["details"])
        self.assertIn(f"change at revision {revision} had no audit events", s.logs())
        # A second start finds nothing missing.
        self.assertEqual(s.stop(), 0)
        s.start()
        self.assertEqual(len(all_events(s)), len(events))
        self.assertVerifyOk(len(events))


# ---- 1c. an export is checked byte for byte by the documented script ----

def documented_verifier():
    """The Python script of docs/audit.md, "Checking an export without ScaiGrid", verbatim."""
    with open(os.path.join(harness.REPO, "docs", "audit.md"), encoding="utf-8") as f:
        doc = f.read()
    section = doc[doc.index("### Checking an export without ScaiGrid"):]
    return section[section.index("```python\n") + len("```python\n"):section.index("```\n", section.index("```python"))]


class ExportTest(AuditCase):

    def export(self, *args):
        r = subprocess.run([self.server.bin, "audit", "export", "--data", self.server.data, *args],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        return r.stdout.splitlines()

    def verify(self, lines):
        r = subprocess.run([sys.executable, "-c", documented_verifier()], input="\n".join(lines) + "\n",
                           capture_output=True, text=True, timeout=60)
        return r.returncode, r.stdout + r.stderr

    def test_export_verifies_with_the_documented_script(self):
        s = self.server
        self.make_tenant("exp")
        # Floating-point numbers and non-ASCII text: the details a re-serialization may not
        # reproduce byte for byte; the export's details_text is the stored text itself.
        for i, score in enumerate((0.1, 1e300, -2.5e-7, 3.0)):
            must(s, 201, "POST", "/v1/audit/events", {"module": "scaiecho", "action": "speaker.scored", "tenant": "exp",
                                                      "resource_id": f"speaker:{i}",
                                                      "details": {"score": score, "name": "Zoë ✓", "i": i}})
        lines = self.export()
        events = all_events(s)
        self.assertEqual(len(lines), len(events))
        for line, e in zip(lines, events):
            got = json.loads(line)
            self.assertEqual(got["hash"], e["hash"])
            self.assertIsInstance(got["time_us"], int)
            self.assertEqual(json.loads(got["details_text"]), e["details"])
        code, out = self.verify(lines)
        self.assertEqual(code, 0, out)
        self.assertIn(f"events 1 to {len(events)}; before them: (start of the log); head: {events[-1]['hash']}", out)

        # A range: starts after the first event, linked to the one before it.
        target = events[-2]
        part = self.export("--since", target["time"])
        first = json.loads(part[0])
        self.assertTrue(1 < first["seq"] <= target["seq"], (first["seq"], target["seq"]))
        self.assertEqual(len(part), len(events) - first["seq"] + 1)
        self.assertEqual(first["prev_hash"], events[first["seq"] - 2]["hash"])
        code, out = self.verify(part)
        self.assertEqual(code, 0, out)
        self.assertIn(f"before them: {first['prev_hash']}", out)

        # One changed byte in the stored details is caught.
        bad = json.loads(lines[-1])
        bad["details_text"] = bad["details_text"].replace("Zo", "Zo ")
        code, out = self.verify(lines[:-1] + [json.dumps(bad)])
        self.assertEqual(code, 1, out)
        self.assertIn(f"event {bad['seq']} ({bad['id']}): hash does not match its contents", out)


# ---- 2. a tampered row breaks the chain ----

class TamperTest(AuditCase):

    def test_update_refused_and_tampering_detected(self):
        s = self.server
        self.make_tenant("tamper")
        for perm in ("scaiskills:view", "scaiskills:publish", "scaiecho:transcribe"):
            self.expect(200, "POST", "/v1/iam/check", {"subject": "user:tamper-u", "permission": perm,
                                                       "scope": "tenant:tamper", "audit": True})
        self.expect(201, "POST", "/v1/audit/events", {"module": "scaiecho", "action": "speaker.erased",
                                                      "tenant": "tamper", "resource_id": "speaker:7"})
        for i in range(3):
            self.expect(201, "POST", "/v1/iam/projects", {"id": f"tamper-p{i}", "tenant": "tamper"})
        events = all_events(s)
        target = next(e for e in events if e["resource_id"] == "speaker:7")
        seq = target["seq"]
        self.assertLess(seq, len(events), "the tampered event should not be the last one")
        self.assertEqual(s.stop(), 0)
        self.assertVerifyOk(len(events))

        db = sqlite3.connect(os.path.join(s.data, "scaigrid.db"), isolation_level=None)
        try:
            # With the triggers in place the store refuses to change or remove an event.
            for sql in ("UPDATE audit_events SET resource_id = 'speaker:8' WHERE seq = ?",
                        "DELETE FROM audit_events WHERE seq = ?"):
                with self.assertRaises(sqlite3.DatabaseError) as cm:
                    db.execute(sql, (seq,))
                self.assertIn("append-only", str(cm.exception))
            self.assertEqual(db.execute("SELECT resource_id FROM audit_events WHERE seq = ?", (seq,)).fetchone(),
                             ("speaker:7",))
            self.assertVerifyOk(len(events))

            # An operator with write access drops the update trigger(s) and rewrites the row.
            triggers = [name for name, sql in db.execute(
                "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'audit_events'")
                if "UPDATE" in sql.upper().split(" ON ")[0]]
            self.assertTrue(triggers)
            for name in triggers:
                db.execute(f'DROP TRIGGER "{name}"')
            db.execute("UPDATE audit_events SET resource_id = 'speaker:8' WHERE seq = ?", (seq,))
            self.assertEqual(db.execute("SELECT resource_id FROM audit_events WHERE seq = ?", (seq,)).fetchone(),
                             ("speaker:8",))
        finally:
            db.close()

        code, out = audit_verify(s)
        self.assertEqual(code, 1, out)
        self.assertIn(f"event {seq} ({target['id']})", out)
        self.assertIn(f"after {seq - 1} good event(s)", out)
        self.assertNotIn(f"event {seq + 1} ", out)


# ---- 3. query: filters, order, cursor, tenant isolation ----

TENANTS = {"qa": "Alpha Holdings", "qb": "Bravo Secret Corp", "qc": "Charlie Hidden Ltd"}


def next_second():
    """Sleeps into the next whole second (+20 ms), so the phases fall in distinct seconds."""
    time.sleep(1.02 - (time.time() % 1.0))


class QueryTest(AuditCase):
    """setUpClass writes every event; the tests only read, so the log is fixed while they run."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        s = cls.server
        cls.admin_keys, cls.viewer_keys = {}, {}
        for t, name in TENANTS.items():
            must(s, 201, "POST", "/v1/iam/tenants", {"id": t, "name": name})
            for who, role in (("viewer", "tenant_viewer"), ("admin", "tenant_admin")):
                must(s, 201, "POST", "/v1/iam/bindings", {"subject": f"user:{t}-{who}", "role": role,
                                                          "scope": f"tenant:{t}", "justification": "audit test"})
            cls.admin_keys[t] = must(s, 201, "POST", "/v1/iam/api-keys",
                                     {"owner": f"user:{t}-admin", "name": "a", "scope": f"tenant:{t}"})["key"]
            cls.viewer_keys[t] = must(s, 201, "POST", "/v1/iam/api-keys",
                                      {"owner": f"user:{t}-viewer", "name": "v", "scope": f"tenant:{t}"})["key"]
        cls.unscoped_admin_key = must(s, 201, "POST", "/v1/iam/api-keys", {"owner": "user:qa-admin", "name": "u"})["key"]
        perms = ["scaiskills:view", "scaiskills:publish", "scaiecho:transcribe", "scaiecho:enroll"]
        n = 0
        for phase in range(3):
            if phase:
                next_second()
            for t in TENANTS:
                checks = [{"subject": f"user:{t}-{who}", "permission": p, "scope": f"tenant:{t}", "audit": True}
                          for who in ("viewer", "admin", "nobody") for p in perms]
                checks += [{"subject": f"user:{t}-nobody", "permission": "scaiskills:grant", "scope": f"tenant:{t}",
                            "audit": True, "resource": {"id": "skill:summarize"}}]
                must(s, 200, "POST", "/v1/iam/check", {"checks": checks * 2}, key=cls.admin_keys[t])
                own = [{"permission": p, "audit": True} for p in ("scaiskills:view", "scaiecho:transcribe", "scaiskills:manage")]
                must(s, 200, "POST", "/v1/iam/check", {"checks": own * 2}, key=cls.viewer_keys[t])
                for i in range(4):
                    n += 1
                    must(s, 201, "POST", "/v1/audit/events",
                         {"module": "scaiskills", "action": "skill.published", "tenant": t, "resource_id": f"skill:{n}",
                          "actor_user_id": f"user:{t}-viewer", "details": {"version": i}})
                    must(s, 201, "POST", "/v1/audit/events",
                         {"module": "scaiecho", "action": "speaker.enrolled", "resource_id": f"speaker:{n}",
                          "details": {"consent": True}}, key=cls.admin_keys[t])
        cls.full = all_events(s)

    def run_combo(self, params, orders_limits=((None, 7), ("asc", 1), ("desc", 1), ("desc", 7),
                                               ("asc", 100), ("desc", 100)), key=None):
        kw = {} if key is None else {"key": key}
        expected = [e["id"] for e in self.full if matches(e, params)]
        for order, limit in orders_limits:
            q = list(params) + ([("order", order)] if order else [])
            items, pages = page_through(self.server, q, limit, **kw)
            want = expected[::-1] if order == "desc" else expected
            self.assertEqual([e["id"] for e in items], want, f"{q} limit={limit}")
            self.assertEqual(pages, max(1, -(-len(want) // limit)), f"{q} limit={limit}")
        return expected

    def test_log_is_a_chain(self):
        self.assertGreater(len(self.full), 300)
        self.assertChain(self.full)
        self.assertVerifyOk(len(self.full))

    def test_filter_combinations_match_reference(self):
        secs = sorted({time_us(e) // 1000000 for e in self.full})
        self.assertGreaterEqual(len(secs), 3, "the phases should span at least 3 seconds")
        today = datetime.datetime.fromtimestamp(secs[0], datetime.timezone.utc).date()
        combos = [
            [],
            [("module", "scaiskills")],
            [("module", "scaiecho"), ("tenant", "qb")],
            [("tenant", "qa"), ("decision", "denied")],
            [("decision", "allowed"), ("module", "scaiecho")],
            [("actor", "user:qc-viewer")],
            [("action", "scaiskills:view"), ("tenant", "qc")],
            [("action", "speaker.enrolled")],
            [("resource", "skill:summarize")],
            [("module", "iam")],
            [("since", rfc3339(secs[1]))],
            [("since", rfc3339(secs[1])), ("until", rfc3339(secs[-1])), ("module", "scaiskills")],
            [("until", rfc3339(secs[-1], offset_minutes=120)), ("tenant", "qa")],
            [("since", today.isoformat()), ("until", (today + datetime.timedelta(days=1)).isoformat())],
            [("module", "scaiskills"), ("tenant", "qa"), ("actor", "user:qa-viewer"), ("action", "skill.published")],
        ]
        everything = (combos[0], combos[13])
        for params in combos:
            with self.subTest(params=params):
                expected = self.run_combo(params)
                self.assertTrue(expected, f"{params} matches nothing: a weak test")
                if params not in everything:
                    self.assertLess(len(expected), len(self.full), f"{params} filters nothing")

    def test_empty_result(self):
        for params in ([("module", "scaibot")], [("actor", "user:nobody-at-all")],
                       [("since", "2099-01-01")], [("until", "2000-01-01")]):
            with self.subTest(params=params):
                resp = must(self.server, 200, "GET", "/v1/audit/events?" + urllib.parse.urlencode(params))
                self.assertEqual(resp["items"], [])
                self.assertIsNone(resp["next_cursor"])

    def test_since_with_fraction_is_exact(self):
        # RFC 3339 allows a fraction, and the API shows every event's time with six digits: an
        # event's own `time` as `since` must not return the events before it in the same second.
        for i in range(1, len(self.full)):
            if time_us(self.full[i - 1]) // 1000000 == time_us(self.full[i]) // 1000000 and \
                    time_us(self.full[i - 1]) < time_us(self.full[i]):
                break
        else:
            self.skipTest("no two events with different times in the same second")
        pivot = self.full[i]
        items, _ = page_through(self.server, [("since", pivot["time"])], 1000)
        self.assertEqual(items[0]["id"], pivot["id"],
                         f"since={pivot['time']} returned earlier events of that second first: "
                         f"{[e['time'] for e in items[:3]]}")
        items, _ = page_through(self.server, [("until", pivot["time"])], 1000)
        self.assertEqual(items[-1]["id"], self.full[i - 1]["id"])

    def test_seed_curl(self):
        # seed 002: curl "$SCAIGRID_HOST/v1/audit/events?module=scaiskills&since=2026-05-01"
        status, resp, _ = self.call("GET", "/v1/audit/events?module=scaiskills&since=2026-05-01")
        self.assertEqual(status, 200, resp)
        items = list(resp["items"])
        cursor = resp["next_cursor"]
        while cursor:
            resp = must(self.server, 200, "GET", "/v1/audit/events?module=scaiskills&since=2026-05-01&cursor="
                        + urllib.parse.quote(cursor))
            items += resp["items"]
            cursor = resp["next_cursor"]
        expected = [e["id"] for e in self.full if matches(e, [("module", "scaiskills"), ("since", "2026-05-01")])]
        self.assertEqual([e["id"] for e in items], expected)
        if time.time() >= param_us("2026-05-01") / 1e6:
            self.assertTrue(expected)
        for e in items:
            self.assertEqual(e["module"], "scaiskills")
            for f in ("id", "time", "module", "action", "decision", "actor_user_id", "actor_type", "credential_id",
                      "tenant", "resource_id", "request_id", "source_ip", "details"):
                self.assertIn(f, e)

    def test_cursor_survives_a_limit_change(self):
        params = [("module", "scaiecho")]
        first = must(self.server, 200, "GET", "/v1/audit/events?" + urllib.parse.urlencode(params + [("limit", "7")]))
        items = list(first["items"])
        cursor = first["next_cursor"]
        while cursor:
            resp = must(self.server, 200, "GET", "/v1/audit/events?" + urllib.parse.urlencode(
                params + [("limit", "100"), ("cursor", cursor)]))
            items += resp["items"]
            cursor = resp["next_cursor"]
        self.assertEqual([e["id"] for e in items], [e["id"] for e in self.full if matches(e, params)])

    def test_tenant_admin_sees_only_its_tenant(self):
        key = self.admin_keys["qa"]
        foreign = ["qb-", "qc-", "Bravo", "Charlie", "tenant:qb", "tenant:qc"]
        for params in ([], [("tenant", "qa")], [("module", "scaiecho")], [("decision", "denied")],
                       [("tenant", "qa"), ("module", "scaiskills"), ("since", "2026-01-01")]):
            with self.subTest(params=params):
                expected = [e for e in self.full if e["tenant"] == "tenant:qa" and matches(e, params)]
                self.assertTrue(expected)
                items, _ = page_through(self.server, params, 50, key=key)
                self.assertEqual([e["id"] for e in items], [e["id"] for e in expected])
                text = json.dumps(items)
                for name in foreign:
                    self.assertNotIn(name, text)
        # Filters naming another tenant's principals find nothing.
        for params in ([("actor", "user:qb-viewer")], [("action", "speaker.enrolled"), ("actor", "user:qc-admin")]):
            items, _ = page_through(self.server, params, 100, key=key)
            self.assertEqual(items, [], params)
        # Another tenant is 404, like one that does not exist, and the answer shows nothing of it.
        status, resp, _ = self.call("GET", "/v1/audit/events?tenant=qb", key=key)
        self.assertEqual(status, 404, resp)
        status2, resp2, _ = self.call("GET", "/v1/audit/events?tenant=qzz", key=key)
        self.assertEqual(status2, 404, resp2)
        self.assertEqual(json.dumps(resp).replace("qb", "X"), json.dumps(resp2).replace("qzz", "X"))
        for name in ("qb-", "Bravo", "viewer", "speaker"):
            self.assertNotIn(name, json.dumps(resp))
        status, resp, _ = self.call("GET", "/v1/audit/events?tenant=qb&module=scaiecho&limit=1000", key=key)
        self.assertEqual(status, 404, resp)

    def test_tenant_admin_key_without_scope(self):
        # No iam:audit:read at the platform and no key scope: the tenant must be named.
        key = self.unscoped_admin_key
        status, resp, _ = self.call("GET", "/v1/audit/events", key=key)
        self.assertEqual(status, 403, resp)
        self.assertError(resp, mentions=["iam:audit:read", "tenant"])
        items, _ = page_through(self.server, [("tenant", "qa")], 100, key=key)
        self.assertEqual([e["id"] for e in items], [e["id"] for e in self.full if e["tenant"] == "tenant:qa"])
        self.assertEqual(self.call("GET", "/v1/audit/events?tenant=qc", key=key)[0], 404)

    def test_tenant_viewer_without_audit_read_is_403(self):
        # A viewer sees its own tenant (GET /v1/iam/tenants/qa) but holds no iam:audit:read there:
        # 403 naming the key (SPEC §6), not a 404 pretending the tenant does not exist.
        key = self.viewer_keys["qa"]
        self.assertEqual(self.call("GET", "/v1/iam/tenants/qa", key=key)[0], 200)
        for path in ("/v1/audit/events", "/v1/audit/events?tenant=qa"):
            status, resp, _ = self.call("GET", path, key=key)
            self.assertEqual(status, 403, f"{path} -> {status} {resp}")
            self.assertError(resp, mentions=["iam:audit:read"])
        self.assertEqual(self.call("GET", "/v1/audit/events?tenant=qb", key=key)[0], 404)


# ---- 4. bad input: 400 naming the problem, nothing written ----

class LargeLogTest(AuditCase):
    """Over 100,000 events: random filter combinations, orders and page sizes return exactly the
    reference filter's events, for the platform admin and for tenant admins (never another
    tenant's). The log is written in setUpClass, mostly by batch checks (1,000 audited decisions
    per request), and read whole once as the reference."""

    TENANTS = ["la", "lb", "lc", "ld", "le"]
    PERMS = ["scaiskills:view", "scaiskills:publish", "scaiskills:grant", "scaiecho:transcribe",
             "scaibot:bots:read", "scaibot:bots:create", "scaibot:conversations:read"]
    CHECK_REQUESTS = 101
    MODULE_EVENTS = 150

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        s = cls.server
        rng = random.Random(4)
        cls.admin_keys = {}
        for t in cls.TENANTS:
            must(s, 201, "POST", "/v1/iam/tenants", {"id": t})
            for u in range(10):  # u0-u9 hold something, the rest nothing: both decisions are common
                must(s, 201, "POST", "/v1/iam/bindings", {"subject": f"user:{t}-u{u}",
                                                          "role": "tenant_viewer" if u < 6 else "tenant_user",
                                                          "scope": f"tenant:{t}"})
            must(s, 201, "POST", "/v1/iam/bindings", {"subject": f"user:{t}-admin", "role": "tenant_admin",
                                                      "scope": f"tenant:{t}", "justification": "audit test"})
            cls.admin_keys[t] = must(s, 201, "POST", "/v1/iam/api-keys",
                                     {"owner": f"user:{t}-admin", "name": "a", "scope": f"tenant:{t}"})["key"]
        for i in range(cls.CHECK_REQUESTS):
            checks = []
            for _ in range(1000):
                t = rng.choice(cls.TENANTS)
                check = {"subject": f"user:{t}-u{rng.randrange(40)}", "permission": rng.choice(cls.PERMS),
                         "scope": f"tenant:{t}", "audit": True}
                if rng.random() < 0.5:
                    check["resource"] = {"id": f"res:{rng.randrange(300)}"}
                checks.append(check)
            must(s, 200, "POST", "/v1/iam/check", {"checks": checks})
            if i % 20 == 0:
                time.sleep(0.05)  # distinct times to cut at with since/until
        for i in range(cls.MODULE_EVENTS):  # events without a decision, some platform-wide
            t = rng.choice(cls.TENANTS + [None])
            body = {"module": rng.choice(["scaiecho", "scaiskills"]), "action": rng.choice(["a.one", "a.two"]),
                    "resource_id": f"res:{rng.randrange(300)}", "actor_user_id": f"user:lx-u{rng.randrange(5)}"}
            if t:
                body["tenant"] = t
            must(s, 201, "POST", "/v1/audit/events", body)
        cls.full = all_events(s)

    def random_params(self, rng, tenant_admin=False):
        e = rng.choice(self.full)
        picks = {"module": e["module"], "tenant": (e["tenant"] or "")[len("tenant:"):],
                 "actor": e["actor_user_id"], "action": e["action"], "resource": e["resource_id"],
                 "decision": e["decision"]}
        names = [k for k, v in picks.items() if v and not (tenant_admin and k == "tenant")]
        params = [(k, picks[k]) for k in rng.sample(names, rng.randint(0, min(3, len(names))))]
        if rng.random() < 0.4:
            a, b = sorted(rng.sample(range(len(self.full)), 2))
            params.append(("since", self.full[a]["time"]))
            if rng.random() < 0.5:
                params.append(("until", self.full[b]["time"]))
        return params

    def compare(self, params, rng, key=None, tenant=None):
        kw = {} if key is None else {"key": key}
        want = [e["id"] for e in self.full if matches(e, params) and (tenant is None or e["tenant"] == tenant)]
        order = rng.choice(["asc", "desc"])
        limit = 1000 if len(want) > 20000 else rng.choice([1000, 997, 250, 61])
        items, pages = page_through(self.server, list(params) + [("order", order)], limit, **kw)
        if order == "desc":
            want.reverse()
        self.assertEqual([e["id"] for e in items], want, f"{params} order={order} limit={limit}")
        self.assertEqual(pages, max(1, -(-len(want) // limit)))
        if tenant is not None:
            self.assertEqual({e["tenant"] for e in items} - {tenant}, set())
        return len(want)

    def test_log_size_and_chain(self):
        self.assertGreaterEqual(len(self.full), 100000)
        self.assertChain(self.full)
        decisions = {d: sum(1 for e in self.full if e["decision"] == d) for d in ("allowed", "denied", None)}
        self.assertTrue(all(n > 100 for n in decisions.values()), decisions)

    def random_queries(self, rng, count, large, tenant=None):
        """`count` random filter sets of which at most `large` match over 20,000 events (paging
        through those is what costs the time)."""
        out = []
        while len(out) < count:
            params = self.random_params(rng, tenant_admin=tenant is not None)
            n = sum(1 for e in self.full if matches(e, params) and (tenant is None or e["tenant"] == tenant))
            if n > 20000:
                if large == 0:
                    continue
                large -= 1
            out.append(params)
        return out

    def test_random_filters_match_the_reference(self):
        rng = random.Random(7)
        sizes = []
        for params in self.random_queries(rng, 30, large=3):
            with self.subTest(params=params):
                sizes.append(self.compare(params, rng))
        self.assertGreater(max(sizes), 20000, "some query should match a large part of the log")
        self.assertGreater(sum(1 for n in sizes if 0 < n < 1000), 5, "some queries should be selective")

    def test_tenant_admins_see_exactly_their_tenant(self):
        rng = random.Random(11)
        for i, t in enumerate(self.TENANTS):
            tenant = f"tenant:{t}"
            for params in self.random_queries(rng, 4, large=0, tenant=tenant) + ([[]] if i < 2 else []):
                with self.subTest(tenant=t, params=params):
                    n = self.compare(params, rng, key=self.admin_keys[t], tenant=tenant)
                    if not params:
                        self.assertGreater(n, 15000)


class BadInputTest(AuditCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        s = cls.server
        must(s, 201, "POST", "/v1/iam/tenants", {"id": "bad"})
        must(s, 201, "POST", "/v1/iam/bindings", {"subject": "user:bad-viewer", "role": "tenant_viewer", "scope": "tenant:bad"})
        cls.viewer_key = must(s, 201, "POST", "/v1/iam/api-keys",
                              {"owner": "user:bad-viewer", "name": "v", "scope": "tenant:bad"})["key"]
        for module in ("scaiskills", "scaiecho", "scaiskills"):
            must(s, 201, "POST", "/v1/audit/events", {"module": module, "action": "x.y", "tenant": "bad"})

    def expect_400(self, method, path, body=None, mentions=(), raw_body=None):
        before = event_count(self.server)
        resp = self.expect(400, method, path, body, raw_body=raw_body)
        self.assertError(resp, mentions=mentions)
        self.assertEqual(event_count(self.server), before, f"{method} {path} wrote an event")
        return resp

    def test_bad_queries(self):
        cursor = must(self.server, 200, "GET", "/v1/audit/events?module=scaiskills&limit=1")["next_cursor"]
        self.assertIsNotNone(cursor)
        must(self.server, 200, "GET", "/v1/audit/events?module=scaiskills&limit=1&cursor=" + quote(cursor))
        cases = [
            ("colour=blue", ["'colour'"]),
            ("module=scaiskills&Module=iam", ["'Module'"]),
            ("since=yesterday", ["'since'"]),
            ("since=2026-13-01", ["'since'"]),
            ("until=2026-05-01T25:00:00Z", ["'until'"]),
            ("since=2026-05-02&until=2026-05-01", ["'until'"]),
            ("since=2026-05-01&until=2026-05-01", ["'until'"]),
            ("module=scaiecho&limit=1&cursor=" + quote(cursor), ["'cursor'"]),
            ("module=scaiskills&order=desc&limit=1&cursor=" + quote(cursor), ["'cursor'"]),
            ("cursor=garbage", ["'cursor'"]),
            ("limit=0", ["'limit'"]),
            ("limit=1001", ["'limit'"]),
            ("limit=x", ["'limit'"]),
            ("limit=-1", ["'limit'"]),
            ("limit=", ["'limit'"]),
            ("order=sideways", ["'order'"]),
            ("decision=maybe", ["'decision'"]),
            ("tenant=Not%20An%20Id", ["'tenant'"]),
            ("module=iam&module=scaiecho", ["'module'"]),
        ]
        for query, mentions in cases:
            with self.subTest(query=query):
                self.expect_400("GET", "/v1/audit/events?" + query, mentions=mentions)
        # Several problems at once: every one listed.
        resp = self.expect_400("GET", "/v1/audit/events?limit=x&order=sideways&since=nope")
        self.assertError(resp, mentions=["'limit'", "'order'", "'since'"])

    def test_bad_module_events(self):
        ok = {"module": "scaiecho", "action": "speaker.erased", "tenant": "bad"}
        cases = [
            (dict(ok, module="nosuchmodule"), ["'module'"]),
            (dict(ok, module="iam", action="iam.binding.create"), ["'module'", "written by the service"]),
            ({k: v for k, v in ok.items() if k != "action"}, ["'action'"]),
            (dict(ok, action=""), ["'action'"]),
            ({k: v for k, v in ok.items() if k != "module"}, ["'module'"]),
            (dict(ok, details=[1, 2]), ["'details'"]),
            (dict(ok, details="{}"), ["'details'"]),
            (dict(ok, details={"blob": "x" * (16 * 1024 + 1)}), ["'details'"]),
            (dict(ok, colour="blue"), ["'colour'"]),
            (dict(ok, actor_user_id="alice"), ["'actor_user_id'"]),
            (dict(ok, actor_user_id=5), ["'actor_user_id'"]),
            (dict(ok, decision="maybe"), ["'decision'"]),
            (dict(ok, tenant="Not An Id"), ["'tenant'"]),
        ]
        for body, mentions in cases:
            with self.subTest(body={k: (v if len(str(v)) < 40 else "…") for k, v in body.items()}):
                self.expect_400("POST", "/v1/audit/events", body, mentions=mentions)
        for raw in ("not json", "[1]", ""):
            with self.subTest(raw=raw):
                self.expect_400("POST", "/v1/audit/events", raw_body=raw)
        # Just under the details limit is accepted (the boundary is the limit, not something smaller).
        self.expect(201, "POST", "/v1/audit/events", dict(ok, details={"blob": "x" * (16 * 1024 - 100)}))

    def test_write_needs_audit_write(self):
        before = event_count(self.server)
        for body in ({"module": "scaiecho", "action": "speaker.erased"},
                     {"module": "scaiecho", "action": "speaker.erased", "tenant": "bad"}):
            with self.subTest(body=body):
                resp = self.expect(403, "POST", "/v1/audit/events", body, key=self.viewer_key)
                self.assertError(resp, mentions=["iam:audit:write"])
        self.expect(401, "POST", "/v1/audit/events", {"module": "scaiecho", "action": "x"}, key=None)
        self.expect(401, "GET", "/v1/audit/events", key=None)
        self.assertEqual(event_count(self.server), before)


# ---- 5. module events: the erasure record ----

class ModuleEventTest(AuditCase):

    def test_erasure_record_outlives_the_speaker(self):
        s = self.server
        self.make_tenant("echo")
        self.expect(201, "POST", "/v1/iam/service-accounts", {"id": "scaiecho-svc", "tenant": "echo"})
        role = self.make_role("Audit writer", ["iam:audit:write"], "tenant:echo")
        self.bind("service_account:scaiecho-svc", role["id"], "tenant:echo")
        created = self.expect(201, "POST", "/v1/iam/api-keys",
                              {"owner": "service_account:scaiecho-svc", "name": "echo", "scope": "tenant:echo"})
        key, key_id = created["key"], created["id"]
        # The speaker's owner, with the enroll grant the speaker profile lived under.
        enroll = self.make_role("Speaker enrollers", ["scaiecho:enroll"], "tenant:echo")
        owner_binding = self.bind("user:echo-owner", enroll["id"], "tenant:echo", justification="consent on file")

        details = {"speaker_id": 42, "erased": ["voiceprint", "enrollment_samples"],
                   "legal_basis": "GDPR art. 17", "request": {"ticket": "DSR-2026-0042", "at": "2026-05-01T09:00:00Z"}}
        resp = self.expect(201, "POST", "/v1/audit/events",
                           {"module": "scaiecho", "action": "speaker.erased", "resource_id": "speaker:42",
                            "actor_user_id": "user:echo-owner", "details": details}, key=key)
        self.assertTrue(resp["accepted"])

        def find():
            items, _ = page_through(s, [("module", "scaiecho"), ("resource", "speaker:42")], 100)
            return items

        items = find()
        self.assertEqual(len(items), 1, items)
        record = items[0]
        self.assertEqual(record["module"], "scaiecho")
        self.assertEqual(record["action"], "speaker.erased")
        self.assertEqual(record["resource_id"], "speaker:42")
        self.assertEqual(record["tenant"], "tenant:echo")
        self.assertEqual(record["actor_user_id"], "user:echo-owner")
        self.assertEqual(record["actor_type"], "user")
        self.assertEqual(record["credential_id"], key_id)
        self.assertIsNone(record["decision"])
        self.assertEqual(record["details"], dict(details, reported_by="service_account:scaiecho-svc"))
        self.assertEqual(record["hash"], chain_hash(record))
        # The module's own key can read it back? Only with iam:audit:read: it holds write only.
        self.assertIn(self.call("GET", "/v1/audit/events", key=key)[0], (403, 404))

        # The speaker is gone: its grant removed, the reporting service account and key too,
        # more events on top, a restart.
        self.expect(200, "DELETE", f"/v1/iam/bindings/{owner_binding['id']}")
        self.expect(200, "DELETE", f"/v1/iam/api-keys/{key_id}")
        for b in self.expect(200, "GET", "/v1/iam/bindings?subject=service_account:scaiecho-svc")["items"]:
            self.expect(200, "DELETE", f"/v1/iam/bindings/{b['id']}")
        self.expect(200, "DELETE", "/v1/iam/service-accounts/scaiecho-svc")
        for i in range(5):
            self.expect(200, "POST", "/v1/iam/check", {"subject": "user:echo-owner", "permission": "scaiecho:enroll",
                                                       "scope": "tenant:echo", "audit": True})
        # No API changes or removes it.
        self.assertEqual(self.call("DELETE", "/v1/audit/events")[0], 405)
        self.assertEqual(self.call("PUT", "/v1/audit/events", {"items": []})[0], 405)
        self.assertIn(self.call("DELETE", f"/v1/audit/events/{record['id']}")[0], (404, 405))
        self.assertIn(self.call("PATCH", f"/v1/audit/events/{record['id']}", {"resource_id": "x"})[0], (404, 405))
        s.restart()

        self.assertEqual(find(), [record])
        self.assertEqual(self.expect(200, "GET", "/v1/audit/events?resource=speaker:42")["items"], [record])
        all_ = all_events(s)
        self.assertChain(all_)
        self.assertVerifyOk(len(all_))
        # Its deletion-time checks were denied: the erasure came before them.
        later = [e for e in all_ if e["seq"] > record["seq"] and e["action"] == "scaiecho:enroll"]
        self.assertEqual([e["decision"] for e in later], ["denied"] * 5)


if __name__ == "__main__":
    harness.main()
