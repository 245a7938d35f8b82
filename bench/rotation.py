"""Rotation Lambda: archive size, cold import time of each handler, time per full rotation.

- Archive: `rotation.build` output (handlers + vendored pg8000, scramp, asn1crypto, python-dateutil, six).
- Cold import: a fresh interpreter imports the handler from the extracted archive, with no bytecode cache
  and none written (Lambda's /var/task is read-only, so every cold start compiles). "module" is the
  handler's own import (boto3 and pg8000 are imported lazily, at the first invocation); "+ drivers"
  adds what the first invocation imports and builds: pg8000.native from the archive, boto3 from the
  runtime (here: the venv, with its bytecode, as the runtime's is precompiled) and the client.
- Rotation: the four steps through the test driver, against moto in-process and the tests' PostgreSQL
  (tests/fixtures/postgres.py's server class, started here). Secrets Manager calls cost ~3 ms in moto;
  count them and add your region's latency for a real estimate.

    .venv/bin/python bench/rotation.py [--repeats 5] [--rotations 20]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
import zipfile
from pathlib import Path

from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

HANDLERS = ("postgres_single", "postgres_alternating", "generic")
TARGET_IMPORT_MS, TARGET_SIZE = 300, 5 * 1024 * 1024

CHILD = r"""
import json, sys, time
task, module, drivers = sys.argv[1], sys.argv[2], sys.argv[3] == "1"
sys.path.insert(0, task)
start = time.perf_counter()
handler = __import__(f"rotation.{module}", fromlist=["handler"]).handler
imported = time.perf_counter()
if drivers:
    sys.path.append(sys.argv[4])  # boto3, as the runtime provides it
    if module != "generic":
        import pg8000.native
    import boto3
    boto3.client("secretsmanager", region_name="us-east-1")
print(json.dumps({"module_ms": 1000 * (imported - start), "total_ms": 1000 * (time.perf_counter() - start)}))
"""


def cold_import(task: Path, module: str, drivers: bool) -> dict:
    env = {"PATH": os.defpath, "PYTHONDONTWRITEBYTECODE": "1", "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x"}
    site = sysconfig.get_paths()["purelib"]
    out = subprocess.run([sys.executable, "-S", "-c", CHILD, str(task), module, "1" if drivers else "0", site],
                         capture_output=True, text=True, env=env, check=True)
    return json.loads(out.stdout)


def rotations(count: int) -> dict[str, dict]:
    """Seconds per full rotation, Secrets Manager calls and database connections per rotation, per kind."""
    import boto3
    from botocore import UNSIGNED
    from botocore.config import Config
    from moto import mock_aws

    from rotation import generic, postgres_alternating, postgres_single, steps
    from tests.fixtures.postgres import Postgres, find_build
    from tests.rotation.conftest import AppDatabase
    from tests.rotation.driver import Driver, faithful
    from tests.rotation.proxy import Proxy

    os.environ.update(AWS_ACCESS_KEY_ID="x", AWS_SECRET_ACCESS_KEY="x", AWS_DEFAULT_REGION="us-east-1", OVERLAP_SECONDS="3600")
    workdir = Path(tempfile.mkdtemp(prefix="bench-postgres-"))
    server = Postgres(workdir, find_build())
    results = {}
    try:
        server.init()
        server.start()
        with server.connect() as admin:
            admin.run("CREATE DATABASE rotation")
        db = AppDatabase(server, Proxy(server.host, server.port))
        db.reset()
        connections = {"n": 0}
        real_connect = postgres_single.pg.connect

        def counting_connect(*args, **kwargs):
            connections["n"] += 1
            return real_connect(*args, **kwargs)

        postgres_single.pg.connect = counting_connect
        with mock_aws(), faithful():
            sm = boto3.client("secretsmanager", config=Config(signature_version=UNSIGNED))
            steps._client = sm
            calls = {"n": 0}
            sm.meta.events.register("after-call.secrets-manager", lambda **_: calls.__setitem__("n", calls["n"] + 1))
            sm.create_secret(Name="master", SecretString=json.dumps(db.master()))
            secrets = {"postgres_single": db.secret(), "postgres_alternating": db.secret(masterarn="master"),
                       "generic": {"value": "bench-initial-value-0123456789abcdef"}}
            handlers = {"postgres_single": postgres_single.handler, "postgres_alternating": postgres_alternating.handler,
                        "generic": generic.handler}
            for kind in HANDLERS:
                db.reset()
                sm.create_secret(Name=kind, SecretString=json.dumps(secrets[kind]))
                driver = Driver(sm, kind, handlers[kind])
                driver.start()
                assert driver.complete() is None  # warm-up: the clone exists from here on
                calls["n"] = connections["n"] = 0
                times = []
                for _ in range(count):
                    driver.start()
                    began = time.perf_counter()
                    assert driver.complete() is None
                    times.append(time.perf_counter() - began)
                results[kind] = {"median_s": statistics.median(times), "max_s": max(times),
                                 "calls": calls["n"] / count, "connections": connections["n"] / count}
    finally:
        server.close()
        shutil.rmtree(workdir, ignore_errors=True)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--rotations", type=int, default=20)
    args = parser.parse_args()
    console = Console(width=160)

    from rotation import build

    with tempfile.TemporaryDirectory() as tmp:
        archive = build.build(Path(tmp) / "rotation.zip")
        task = Path(tmp) / "task"
        with zipfile.ZipFile(archive.path) as z:
            z.extractall(task)
            unpacked = sum(i.file_size for i in z.infolist())
        imports = {}
        for module in HANDLERS:
            runs = [cold_import(task, module, drivers) for drivers in (False, True) for _ in range(args.repeats)]
            bare, full = runs[: args.repeats], runs[args.repeats:]
            imports[module] = (statistics.median(r["module_ms"] for r in bare), statistics.median(r["total_ms"] for r in full))
            console.log(f"{module}: import {imports[module][0]:.0f} ms, with drivers {imports[module][1]:.0f} ms")
    rotation = rotations(args.rotations)

    headers = ("handler", "cold import ms", "+ drivers ms", "rotation s (median)", "rotation s (max)", "API calls", "DB connections")
    table = Table(title=f"Rotation Lambda: archive {archive.size / 1024:.0f} KiB zipped, {unpacked / 1024:.0f} KiB unpacked")
    for column in headers:
        table.add_column(column, justify="right")
    lines = ["| " + " | ".join(headers) + " |", "|" + "---:|" * len(headers)]
    for module in HANDLERS:
        r = rotation[module]
        cells = (f"rotation.{module}.handler", f"{imports[module][0]:.0f}", f"{imports[module][1]:.0f}",
                 f"{r['median_s']:.3f}", f"{r['max_s']:.3f}", f"{r['calls']:.0f}", f"{r['connections']:.0f}")
        table.add_row(*cells)
        lines.append("| " + " | ".join(cells) + " |")
    console.print(table)
    ok_import = all(v[0] <= TARGET_IMPORT_MS for v in imports.values())
    verdict = (f"Targets: cold import <= {TARGET_IMPORT_MS} ms: {'met' if ok_import else 'MISSED'}; "
               f"archive <= 5 MiB: {'met' if archive.size <= TARGET_SIZE else 'MISSED'} ({archive.size} bytes, sha256 {archive.sha256}).")
    console.print(verdict)
    (ROOT / "bench" / "RESULTS-rotation.md").write_text(
        "# Rotation Lambda\n\nWritten by `bench/rotation.py` (medians; imports over "
        f"{args.repeats} fresh interpreters, rotations over {args.rotations}). Cold import: the handler module from the "
        "extracted archive, no bytecode cache; *+ drivers*: plus pg8000 (archive), boto3 (runtime) and the client, "
        "which the first invocation pays. Rotations: moto in-process (a Secrets Manager call costs ~3 ms here, add "
        "your region's round trip per call) and the tests' local PostgreSQL.\n\n"
        + "\n".join(lines) + f"\n\n{verdict}\n"
    )


if __name__ == "__main__":
    main()
