"""The gate at scale: `python -m policy check` on a preview of N resources, beside checkov on the same documents.

The preview is built from the public corpus (bench/corpus/public.json): its cases are repeated, each copy
renamed (`<id>-r<k>`), until there are N planned resources, written as `pulumi preview --json` writes them
(steps with op, urn and newState.type/inputs, as in tests/fixtures/preview/prod-preview.json). checkov gets
the same copies as Terraform and Kubernetes YAML (bench/corpus_convert.py). Both run once as a fresh process;
wall time and peak resident memory come from wait4's rusage. Called by bench/policy_vs_checkov.py.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench.corpus_convert import to_resources
from bench.policy_vs_checkov import CHECKOV_VERSION, ROOT, checkov_command, log, markdown, parsing_errors, print_tables, timed, write_checkov_inputs


def copies(cases: list[dict[str, Any]], size: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Renamed copies of the cases and their planned resources, stopping at `size` resources."""
    chosen, resources = [], []
    k = 0
    while len(resources) < size:
        for case in cases:
            copy = {**case, "id": f"{case['id']}-r{k}"}
            planned = to_resources(copy)
            if len(resources) + len(planned) > size:
                continue  # a multi-resource case that would overshoot; a smaller one may still fit
            chosen.append(copy)
            resources += planned
            if len(resources) == size:
                break
        k += 1
    return chosen, resources


def preview(resources: list[dict[str, Any]]) -> dict[str, Any]:
    steps = [{"op": "create", "urn": r["urn"], "newState": {"urn": r["urn"], "custom": True, "type": r["type"], "inputs": r["props"]}}
             for r in resources]
    return {"config": {}, "steps": steps}


def bench_scale(cases: list[dict[str, Any]], size: int) -> str:
    chosen, resources = copies(cases, size)
    log(f"gate at scale: {len(resources)} resources ({len(chosen)} case copies)")
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as tmp:
        directory = Path(tmp)
        document = directory / "preview.json"
        document.write_text(json.dumps(preview(resources)))
        report = directory / "report.json"
        pack_command = [sys.executable, "-m", "policy", "check", str(document), "--stack-env", "prod", "--format", "json", "--output", str(report)]
        pack_seconds, pack_kib = timed(pack_command)
        summary = json.loads(report.read_text())["summary"]
        pack_found = f"{summary['resources']} resources read, {summary['mandatory']} mandatory violations"
        log(f"pack: {pack_seconds:.1f} s, peak {pack_kib / 1024:.0f} MiB, {pack_found}")
        write_checkov_inputs(chosen, directory / "checkov")
        checkov_seconds, checkov_kib = timed(checkov_command(directory / "checkov", directory / "checkov-out"))
        reports = json.loads((directory / "checkov-out" / "results_json.json").read_text())
        reports = reports if isinstance(reports, list) else [reports]
        counts = [sum(r.get("summary", {}).get(k, 0) for r in reports) for k in ("passed", "failed")]
        checkov_found = f"{counts[0] + counts[1]} checks run, {counts[1]} failed, {parsing_errors(reports)} parsing errors"
        log(f"checkov: {checkov_seconds:.1f} s, peak {checkov_kib / 1024:.0f} MiB, {checkov_found}")
        preview_mib = document.stat().st_size / 2**20
    rows = [
        ["this pack: `python -m policy check preview.json --stack-env prod --format json`", f"{pack_seconds:.1f}",
         f"{len(resources) / pack_seconds:.0f}", f"{pack_kib / 1024:.0f}", pack_found],
        [f"checkov {CHECKOV_VERSION} CLI: `--framework terraform kubernetes` on the same documents", f"{checkov_seconds:.1f}",
         f"{len(resources) / checkov_seconds:.0f}", f"{checkov_kib / 1024:.0f}", checkov_found],
    ]
    table = ("The gate at scale", ["tool (fresh process, once)", "wall s", "resources/s", "peak RSS MiB", "what it found (its own report)"], rows)
    print_tables([table])
    return (
        f"## The gate at scale: {len(resources)} resources\n\n"
        f"A preview of {len(resources)} planned resources ({preview_mib:.1f} MiB of JSON), made of {len(chosen)} renamed copies of the "
        "public corpus's cases (bench/policy_scale.py), checked by `python -m policy check` in a fresh process; checkov scans the same "
        "documents as Terraform and Kubernetes YAML. Peak memory is the process's maximum resident set (wait4 rusage); "
        "one run each on a shared machine.\n\n" + markdown(*table)
    )
