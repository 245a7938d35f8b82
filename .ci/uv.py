#!/usr/bin/env python3
"""Run the project's pinned uv, installing it into .tools/ first if needed:  python3 .ci/uv.py <uv args>

Works with the bare system Python of Debian and Ubuntu (standard library only): it never runs pip,
venv or ensurepip and installs nothing into that Python (PEP 668 "externally managed" is respected).
The uv to run, in order:
  1. .tools/uv-<version>/uv, installed by an earlier run;
  2. a `uv` on PATH that reports exactly the pinned version;
  3. otherwise uv's wheel for this platform, downloaded from PyPI, checked against the sha256 pinned
     below, and its binary unpacked into .tools/uv-<version>/.
"""

from __future__ import annotations

import hashlib
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import urllib.request
import zipfile
from pathlib import Path

UV_VERSION = "0.13.8"
# (system, machine, libc) -> the wheel on PyPI and its sha256, as PyPI lists them for uv 0.13.8.
FILES = "https://files.pythonhosted.org/packages"
WHEELS = {
    ("Linux", "x86_64", "glibc"): (
        f"{FILES}/c5/32/52ee34636aea1ab3f8baeeae1c3599461b8cddfb379862cc72ac61b8d91c/uv-0.13.8-py3-none-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
        "e18a57b8b352eb7c8feb317b9f6f533c8f0ad9673fd6cf34bbe3cf1a9f6a8984"),
    ("Linux", "x86_64", "musl"): (
        f"{FILES}/4d/a3/1ac9cd75985371da0d29c9c12132e6d5b5627b9d0de87c5ad97ab9ad69b0/uv-0.13.8-py3-none-musllinux_1_1_x86_64.whl",
        "29451c60f5e8b07403e0a175d5229efc36b0289b34143ff4aaa499a5dd52553a"),
    ("Linux", "aarch64", "glibc"): (
        f"{FILES}/9e/f0/d989ac5fcebf83f1c8c5d78974f27788e8364945969eb646f5d0db35d924/uv-0.13.8-py3-none-manylinux_2_17_aarch64.manylinux2014_aarch64.musllinux_1_1_aarch64.whl",
        "0b3e8b1a4f5e405e31e2ff33de8af4744831e9f7338539671efbd8c3c94e791d"),
    ("Darwin", "x86_64", ""): (
        f"{FILES}/be/7a/fd8a719c0198f8f8341847fc33b377f25ac79f7c4a56dbce5ceb086f239c/uv-0.13.8-py3-none-macosx_10_12_x86_64.whl",
        "b7124ca1956ec2e476a1003ea5715a15f0266afaec37f4dc9c6972ba8183e6d1"),
    ("Darwin", "arm64", ""): (
        f"{FILES}/84/46/deb3a1eb3020575e41d1f9840c07185761d8d4c25cd6f58e813afb017476/uv-0.13.8-py3-none-macosx_11_0_arm64.whl",
        "62b6943c7fd64fac6854f780bea6e0359e5a5bc3241f83ee357bb38276afac49"),
}
WHEELS[("Linux", "aarch64", "musl")] = WHEELS[("Linux", "aarch64", "glibc")]  # one wheel tagged for both
WHEELS[("Linux", "arm64", "glibc")] = WHEELS[("Linux", "aarch64", "glibc")]

TOOLS = Path(__file__).resolve().parent.parent / ".tools"
INSTALLED = TOOLS / f"uv-{UV_VERSION}" / "uv"


class BootstrapError(Exception):
    pass


def reports_pinned_version(uv: str) -> bool:
    try:
        result = subprocess.run([uv, "--version"], capture_output=True, text=True, timeout=60)
    except OSError:
        return False
    return result.returncode == 0 and result.stdout.split()[1:2] == [UV_VERSION]


def platform_key() -> tuple[str, str, str]:
    system, machine = platform.system(), platform.machine()
    libc = ""
    if system == "Linux":
        libc = "glibc" if platform.libc_ver()[0] == "glibc" else "musl"
    return system, machine, libc


def download(url: str, sha256: str, into: Path) -> Path:
    wheel = into / url.rsplit("/", 1)[1]
    with urllib.request.urlopen(url, timeout=120) as response, wheel.open("wb") as out:
        shutil.copyfileobj(response, out)
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    if digest != sha256:
        raise BootstrapError(f"{wheel.name}: sha256 {digest} does not match the pinned {sha256}; not installed")
    return wheel


def install(url: str, sha256: str, target: Path = INSTALLED) -> Path:
    """Download the wheel, check it, and unpack only its `uv` binary to `target` (atomically)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as scratch:
        wheel = download(url, sha256, Path(scratch))
        member = f"uv-{UV_VERSION}.data/scripts/uv"
        with zipfile.ZipFile(wheel) as archive:
            if member not in archive.namelist():
                raise BootstrapError(f"{wheel.name}: no {member} in the wheel")
            binary = Path(scratch) / "uv"
            binary.write_bytes(archive.read(member))
        binary.chmod(0o755)
        os.replace(binary, target)
    return target


def find_uv() -> str:
    if reports_pinned_version(str(INSTALLED)):
        return str(INSTALLED)
    on_path = shutil.which("uv")
    if on_path and reports_pinned_version(on_path):
        return on_path
    key = platform_key()
    if key not in WHEELS:
        raise BootstrapError(f"no pinned uv {UV_VERSION} wheel for {' '.join(filter(None, key))}: "
                             f"install uv {UV_VERSION} on PATH (https://docs.astral.sh/uv/getting-started/installation/)")
    print(f"installing uv {UV_VERSION} into {INSTALLED.parent} (from PyPI, sha256-checked)", file=sys.stderr)
    return str(install(*WHEELS[key]))


def main(argv: list[str]) -> int:
    try:
        uv = find_uv()
    except (BootstrapError, OSError) as error:
        print(f".ci/uv.py: {error}", file=sys.stderr)
        return 2
    if not argv:
        print(uv)
        return 0
    os.execv(uv, [uv, *argv])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
