"""Deterministic Lambda archive: the rotation package plus pg8000 and its pure-Python dependencies.

Same sources, same bytes: entries sorted, timestamps fixed to 1980-01-01, mode 0644, no directory
entries, no comments, fixed compression. The dependencies are taken from the installed (locked)
distributions, walking pg8000's requirements; only their modules and licence files are packed.

    python -m rotation.build OUT.zip      # prints the sha256 (hex) and Lambda's source_code_hash (base64)
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent
RUNTIME_MODULES = ("__init__.py", "steps.py", "contract.py", "conninfo.py", "postgres.py", "postgres_single.py",
                   "postgres_alternating.py", "generic.py")
VENDORED_ROOTS = ("pg8000",)  # walked through their requirements: scramp, asn1crypto, python-dateutil, six
PROVIDED = {"boto3", "botocore"}  # in the Lambda runtime
EPOCH = (1980, 1, 1, 0, 0, 0)


@dataclass(frozen=True)
class Archive:
    path: Path
    sha256: str  # hex
    source_code_hash: str  # base64 of the digest, what aws.lambda_.Function(source_code_hash=...) compares
    size: int
    distributions: tuple[str, ...]


def distributions(roots=VENDORED_ROOTS) -> list[metadata.Distribution]:
    """The roots and everything they require (markers and extras ignored: all are pure Python)."""
    seen: dict[str, metadata.Distribution] = {}
    todo = list(roots)
    while todo:
        name = re.split(r"[ ;<>=!~\[(]", todo.pop(), maxsplit=1)[0].lower().replace("_", "-")
        if name in seen or name in PROVIDED:
            continue
        dist = metadata.distribution(name)
        seen[name] = dist
        todo += [r for r in dist.requires or [] if "extra ==" not in r]
    return [seen[k] for k in sorted(seen)]


def entries() -> dict[str, bytes]:
    """Archive path -> content."""
    out = {f"rotation/{name}": (PACKAGE / name).read_bytes() for name in RUNTIME_MODULES}
    for dist in distributions():
        for file in dist.files or []:
            path = str(file)
            if "__pycache__" in path or path.endswith((".pyc", ".pth")) or path.startswith(".."):
                continue
            info = ".dist-info/" in path
            if info and not re.search(r"\.dist-info/(METADATA|LICEN[CS]E[^/]*|licenses/.*)$", path):
                continue
            if not info and "/bin/" in f"/{path}":
                continue
            out[path] = Path(file.locate()).read_bytes()
    return out


def build(out: Path) -> Archive:
    """Write the archive to `out`. Written beside it under a unique name, then renamed over it: plans running
    side by side (the fleet, the tests) never see, hash or ship a half-written archive."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=out.parent, prefix=f".{out.name}.", delete=False) as handle:
        partial = Path(handle.name)
    try:
        _write(partial)
        os.chmod(partial, 0o644)
        digest = hashlib.sha256(partial.read_bytes()).digest()
        os.replace(partial, out)
    finally:
        partial.unlink(missing_ok=True)
    return Archive(out, digest.hex(), base64.b64encode(digest).decode(), out.stat().st_size,
                   tuple(f"{d.metadata['Name']}=={d.version}" for d in distributions()))


def _write(out: Path) -> None:
    with zipfile.ZipFile(out, "w") as archive:
        for path, data in sorted(entries().items()):
            info = zipfile.ZipInfo(path, date_time=EPOCH)
            info.create_system = 3  # unix, so the mode below is honoured
            info.external_attr = (0o100644 & 0xFFFF) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data, compress_type=zipfile.ZIP_DEFLATED, compresslevel=9)


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m rotation.build OUT.zip", file=sys.stderr)
        return 2
    archive = build(Path(argv[0]))
    print(f"{archive.path}  {archive.size} bytes  sha256 {archive.sha256}")
    print(f"source_code_hash {archive.source_code_hash}")
    print("vendored " + " ".join(archive.distributions))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
