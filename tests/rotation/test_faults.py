"""Randomized fault schedules (hypothesis stateful): one secret under rotation while faults strike between
and inside the steps, with the invariants checked after every event.

Events: start a rotation (refused while one is in flight), the next step with a fault (Lambda killed
before the handler, after it, or right after its n-th Secrets Manager call), the next steps without one, the service's reattempt
from createSecret, duplicate invocations of any step (also of older rotations), two concurrent
invocations, the database unreachable (at once or after k more connections, so mid-step), password
changes refused by the server, an operator's PutSecretValue, grants changed and tables created by the
live user (alternating), clock jumps (generic).

Invariants after every event: every consumer view of AWSCURRENT logs in (the database secret carries
`url` and `dsn` beside the parts; the views are tests/rotation/consumers.py's: an ExternalSecret mapping
the URL, one mapping the DSN, a client reading the parts), each view naming the parts' server (single
user: the database holds the views' password of AWSCURRENT or of the in-flight AWSPENDING, and of
AWSCURRENT whenever nothing is in flight; a real pg8000 login of every view after each completed
rotation); alternating: the previous user's views log in too while nothing is in flight, and the clone
equals the original after every completed setSecret; generic (rotating `jwt_secret`, its overlap in
`jwt_secret_previous`): every value is accepted through its overlap; one version per label; no version
that was ever current lost or changed; no secret value in any log line or error. At the end the faults
stop and the rotation must complete.

Default run: 300 generic + 150 single-user + 100 alternating schedules; `-m slow` runs five times more.
"""

from __future__ import annotations

import json
import secrets
import string
import uuid
from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule, run_state_machine_as_test

from rotation import contract, generic, postgres_alternating, postgres_single
from tests.rotation import consumers, pgstate
from tests.rotation.conftest import INITIAL, MASTER, Clock
from tests.rotation.driver import CURRENT, PENDING, PREVIOUS, STEPS, Driver, RotationInProgress, _LOCK

OVERLAP = 3600
FAULTS = st.sampled_from([None, None, None, "before", "after"]) | st.tuples(st.just("kill-after-call"), st.integers(1, 6))
HANDLERS = {"single": postgres_single.handler, "alternating": postgres_alternating.handler, "generic": generic.handler}
KINDS = {"single": "postgres-single", "alternating": "postgres-alternating"}
PROP, OVERLAP_KEY = "jwt_secret", contract.overlap_key("jwt_secret")  # the generic schedules rotate a named property


def fresh(length: int = 32) -> str:
    return "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(length))


@dataclass
class Env:
    aws: object
    db: object
    clock: Clock
    caplog: object


class Schedule(RuleBasedStateMachine):
    env: Env
    kind: str

    def __init__(self):
        super().__init__()
        env, self.name = self.env, f"{self.kind}-{uuid.uuid4().hex[:12]}"
        if self.kind == "generic":
            first = {PROP: fresh(48), "issuer": "schedule"}
        else:
            consumers.check_declared(KINDS[self.kind])
            env.db.reset() if self.kind == "alternating" else self._reset_single()
            first = consumers.with_strings(env.db.secret(**({"masterarn": "master"} if self.kind == "alternating" else {})))
        env.aws.create_secret(Name=self.name, SecretString=json.dumps(first))
        self.driver = Driver(env.aws, self.name, HANDLERS[self.kind])
        if self.kind == "alternating":  # steady state: the clone exists, one rotation behind us
            self.driver.start()
            assert self.driver.complete() is None
        self.ever_current: dict[str, str] = {}
        self.replaced: dict[str, float] = {}  # generic: value -> when it stopped being current
        self.last_value = first.get(PROP)
        self.logged_in: str | None = None  # the AWSCURRENT version whose views last logged in for real
        self.log_mark = len(env.caplog.records)
        self.errors_mark = 0
        self.refusing = False

    def _reset_single(self):
        admin = self.env.db.admin()
        admin.run(f"ALTER ROLE app PASSWORD '{INITIAL}'")
        admin.run("ALTER ROLE app RESET default_transaction_read_only")
        self.env.db.proxy.up()

    # -- reading the service's state directly (no API call, no log line) --------------------------------
    def version(self, label: str) -> tuple[str | None, dict | None]:
        with _LOCK:
            for vid, ver in self.driver.secret.versions.items():
                if label in ver["version_stages"]:
                    raw = ver.get("secret_string")
                    return vid, (json.loads(raw) if raw else None)
        return None, None

    # -- the rotation ------------------------------------------------------------------------------------
    @rule()
    def rotate(self):
        if self.driver.in_flight():
            with pytest.raises(RotationInProgress):
                self.driver.start()
        else:
            self.driver.start()

    # Preconditions read only what the rule sequence decides (never outcomes, which threads and the
    # database may vary), so hypothesis can replay and shrink a schedule.
    @precondition(lambda self: self.driver.token is not None)
    @rule(fault=FAULTS)
    def step(self, fault):
        if self.driver.done:
            return
        name = STEPS[self.driver.next]
        if self.driver.step(fault) is None and name == "setSecret" and self.kind == "alternating":
            self.check_mirror()

    @precondition(lambda self: self.driver.token is not None)
    @rule(steps=st.integers(1, 4))
    def proceed(self, steps):
        """The service running the next steps without a fault: schedules reach deep states sooner."""
        for _ in range(steps):
            if self.driver.done:
                return
            name = STEPS[self.driver.next]
            if self.driver.step() is not None:
                return
            if name == "setSecret" and self.kind == "alternating":
                self.check_mirror()

    @precondition(lambda self: self.driver.token is not None)
    @rule()
    def reattempt(self):
        self.driver.reattempt()

    @precondition(lambda self: self.driver.token is not None)
    @rule(step=st.sampled_from(STEPS), which=st.integers(0, 50))
    def duplicate(self, step, which):
        tokens = list(dict.fromkeys([i.token for i in self.driver.log] + [self.driver.token]))
        self.driver.invoke(step, token=tokens[which % len(tokens)])

    @precondition(lambda self: self.driver.token is not None)
    @rule()
    def concurrent(self):
        """Two stray invocations of the next step at once, beside the service's own."""
        if not self.driver.done:
            self.driver.concurrently(STEPS[self.driver.next])

    @rule()
    def operator_puts_a_value(self):
        _, current = self.version(CURRENT)
        if self.kind == "generic":
            now = self.env.clock.now
            kept = [e for e in current.get(OVERLAP_KEY, []) if e["expires_at"] > now]
            new = {**current, PROP: fresh(48), OVERLAP_KEY: kept + [{"value": current[PROP], "expires_at": int(now) + OVERLAP}]}
        else:  # the operator changes the live user's password, then records it with its URL and DSN
            new = consumers.with_strings({**current, "password": fresh()})
            self.env.db.admin().run(f"ALTER ROLE {current['username']} PASSWORD '{new['password']}'")
        self.env.aws.put_secret_value(SecretId=self.name, SecretString=json.dumps(new))

    # -- the database --------------------------------------------------------------------------------------
    @precondition(lambda self: self.kind != "generic")
    @rule(after=st.integers(0, 3))
    def outage(self, after):
        self.env.db.proxy.down(after)

    @precondition(lambda self: self.kind != "generic")
    @rule()
    def recovery(self):
        self.env.db.proxy.up()

    @precondition(lambda self: self.kind != "generic")
    @rule(refuse=st.booleans())
    def password_changes_refused(self, refuse):
        self.refusing = refuse
        self.env.db.refuse_password_changes(pgstate.APP if self.kind == "single" else MASTER, refuse)

    @precondition(lambda self: self.kind == "alternating")
    @rule(grant=st.booleans())
    def dba_changes_grants(self, grant):
        self.env.db.admin().run("GRANT DELETE ON shop.orders TO app" if grant else "REVOKE INSERT ON shop.orders FROM app")

    @precondition(lambda self: self.kind == "alternating")
    @rule()
    def live_user_creates_a_table(self):
        _, current = self.version(CURRENT)
        conn = self.env.db.connect_as(current)
        conn.run(f"CREATE TABLE shop.t_{uuid.uuid4().hex[:8]} (id int)")
        conn.close()

    # -- time -----------------------------------------------------------------------------------------------
    @precondition(lambda self: self.kind == "generic")
    @rule(seconds=st.sampled_from([60, 900, 3600, 86400]))
    def clock_jumps(self, seconds):
        self.env.clock.jump(seconds)

    # -- invariants ------------------------------------------------------------------------------------------
    @invariant()
    def after_every_event(self):
        versions = self.driver.stages()
        for label in (CURRENT, PENDING, PREVIOUS):
            assert sum(label in s for s in versions.values()) <= 1, f"{label} on two versions"
        current_id, current = self.version(CURRENT)
        with _LOCK:
            raw = {v: ver.get("secret_string") for v, ver in self.driver.secret.versions.items()}
        self.ever_current.setdefault(current_id, raw[current_id])
        assert all(raw.get(v) == s for v, s in self.ever_current.items()), "a version that was current was lost"
        getattr(self, f"check_{self.kind}")(current_id, current)
        self.check_no_leak(raw.values())

    def serves(self, secret: dict | None) -> bool:
        """Every consumer view of this version authenticates: it names the parts' server, and the server's
        SCRAM verifier accepts its credentials."""
        if not secret:
            return False
        logins = consumers.views(secret)
        assert all(consumers.same_server(secret, login) for login in logins.values()), "a consumer view names another server"
        credentials = {(login.user, login.password) for login in logins.values()}  # one verifier check per distinct pair
        return all(self.env.db.accepts({"username": user, "password": password}) for user, password in credentials)

    def log_in_for_real(self, current_id: str, current: dict) -> None:
        """After each completed rotation (a new AWSCURRENT, nothing in flight): a pg8000 login per view."""
        if current_id == self.logged_in or self.driver.in_flight():
            return
        server = self.env.db.server  # directly: an outage of the relay must not hide a lock-out
        for name, login in consumers.views(current).items():
            assert consumers.logs_in(login, server.host, server.port), f"consumer view {name} is locked out"
        self.logged_in = current_id

    def check_single(self, current_id, current):
        in_flight = self.driver.in_flight()
        pending = self.version(PENDING)[1] if in_flight else None
        if in_flight and pending and not self.serves(current):
            assert self.serves(pending), "the database holds neither AWSCURRENT's nor AWSPENDING's password for every consumer view"
        else:
            assert self.serves(current), "a consumer view of AWSCURRENT does not log in"
        self.log_in_for_real(current_id, current)

    def check_alternating(self, current_id, current):
        assert self.serves(current), "a consumer view of AWSCURRENT does not log in"
        _, previous = self.version(PREVIOUS)
        if not self.driver.in_flight() and previous and previous["username"] != current["username"]:
            assert self.serves(previous), "a view of the previous user stopped working with no rotation in flight"
        self.log_in_for_real(current_id, current)

    def check_mirror(self):
        admin = self.env.db.admin()
        assert pgstate.privileges(admin, pgstate.APP) == pgstate.privileges(admin, pgstate.CLONE), "clone differs"

    def check_generic(self, current_id, current):
        """The consumer view is what the ExternalSecret maps: jwt_secret and jwt_secret_previous."""
        now = self.env.clock.now
        assert "value" not in current and current["issuer"] == "schedule", "the rotation wrote outside its property"
        if current[PROP] != self.last_value:
            self.replaced.setdefault(self.last_value, now)
            self.last_value = current[PROP]
        for value, when in self.replaced.items():
            if now < when + OVERLAP:
                assert value == current[PROP] or any(
                    e["value"] == value and now < e["expires_at"] for e in current.get(OVERLAP_KEY, [])
                ), "a value was dropped within its overlap"

    def check_no_leak(self, raw_versions):
        values = {v for v in self._values(raw_versions) if len(v) >= 8}
        records = self.env.caplog.records[self.log_mark:]
        errors = [str(i.error) for i in self.driver.log[self.errors_mark:] if i.error is not None]
        self.log_mark, self.errors_mark = len(self.env.caplog.records), len(self.driver.log)
        for line in [r.getMessage() for r in records] + errors:
            assert not any(v in line for v in values), "a secret value reached a log line or an error"

    @staticmethod
    def _values(raw_versions):
        for raw in raw_versions:
            if not raw:
                continue
            data = json.loads(raw)
            yield from (data[k] for k in ("password", PROP) if isinstance(data.get(k), str))
            yield from (e["value"] for e in data.get(OVERLAP_KEY, []))

    def teardown(self):
        """The faults stop: the rotation in flight, and a fresh one after it, must complete."""
        if self.kind != "generic":
            self.env.db.proxy.up()
            if self.refusing:
                self.env.db.refuse_password_changes(pgstate.APP if self.kind == "single" else MASTER, False)
        in_flight = self.driver.in_flight()
        if in_flight:
            self.driver.complete()
            assert not self.driver.in_flight(), "the rotation in flight did not complete once the faults stopped"
        if not in_flight or self.kind == "alternating":  # alternating: a setSecret after every grant change
            self.driver.start()
            assert self.driver.complete() is None, "a rotation without faults did not complete"
        assert self.driver.holder(PENDING) is None, "finishSecret left AWSPENDING behind"
        self.after_every_event()
        if self.kind != "generic":  # a real login of every view through the relay, beyond the checks of every event
            current = self.version(CURRENT)[1]
            assert all(consumers.logs_in(login) for login in consumers.views(current).values())
        if self.kind == "alternating":
            self.check_mirror()
            admin = self.env.db.admin()
            assert pgstate.default_privileges(admin, pgstate.APP) == pgstate.default_privileges(admin, pgstate.CLONE)


def run_schedules(kind: str, env: Env, examples: int, steps: int) -> None:
    machine = type(f"{kind.title()}Schedule", (Schedule,), {"env": env, "kind": kind})
    run_state_machine_as_test(machine, settings=settings(
        max_examples=examples, stateful_step_count=steps, deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    ))


@pytest.fixture
def env(aws, clock, caplog, monkeypatch, request):
    monkeypatch.setenv("OVERLAP_SECONDS", str(OVERLAP))
    monkeypatch.setenv(contract.PROPERTY_ENV, PROP)
    db = request.getfixturevalue("db") if "generic" not in request.node.name else None
    if db is not None:
        aws.create_secret(Name="master", SecretString=json.dumps(db.master()))
    return Env(aws, db, clock, caplog)


@pytest.mark.drill
@pytest.mark.parametrize("kind,examples", [("generic", 300), ("single", 150), ("alternating", 100)])
def test_fault_schedules(env, kind, examples):
    run_schedules(kind, env, examples, steps=10)


@pytest.mark.slow
@pytest.mark.parametrize("kind,examples", [("generic", 1500), ("single", 750), ("alternating", 500)])
def test_fault_schedules_long(env, kind, examples):
    run_schedules(kind, env, examples, steps=25)
