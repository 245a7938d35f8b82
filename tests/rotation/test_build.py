"""The Lambda archive: same sources give the same bytes, and it runs on its own."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import zipfile
from concurrent.futures import ThreadPoolExecutor

import pytest

from rotation import build


@pytest.fixture
def sources(tmp_path, monkeypatch):
    """A copy of the package, so the test can touch and edit files without touching the tree."""
    copy = tmp_path / "src"
    shutil.copytree(build.PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(build, "PACKAGE", copy)
    return copy


def test_same_sources_same_bytes(sources, tmp_path):
    first = build.build(tmp_path / "a.zip")
    os.utime(sources / "steps.py", (1_000_000_000, 1_000_000_000))
    (sources / "generic.py").touch()
    second = build.build(tmp_path / "b" / "b.zip")
    assert first.sha256 == second.sha256 == hashlib.sha256((tmp_path / "b" / "b.zip").read_bytes()).hexdigest()
    assert first.source_code_hash == second.source_code_hash
    (sources / "generic.py").write_text((sources / "generic.py").read_text() + "\n# changed\n")
    assert build.build(tmp_path / "c.zip").sha256 != first.sha256


def test_plans_side_by_side_never_ship_a_half_written_archive(tmp_path):
    """Regression: two plans building the same archive path at once hashed a truncated file (the sha256 of
    an empty file reached a golden plan's sourceCodeHash). Each build now writes its own file and renames it."""
    reference = build.build(tmp_path / "reference.zip")
    shared = tmp_path / "shared" / "rotation.zip"
    with ThreadPoolExecutor(max_workers=4) as pool:
        archives = list(pool.map(lambda _: build.build(shared), range(8)))
    assert {a.sha256 for a in archives} == {reference.sha256}
    assert hashlib.sha256(shared.read_bytes()).hexdigest() == reference.sha256
    assert [p.name for p in shared.parent.iterdir()] == ["rotation.zip"]  # no partial file left behind


def test_entries_are_normalised_and_complete(tmp_path):
    archive = build.build(tmp_path / "r.zip")
    with zipfile.ZipFile(archive.path) as z:
        infos = z.infolist()
    names = [i.filename for i in infos]
    assert names == sorted(names) and len(set(names)) == len(names)
    assert all(i.date_time == build.EPOCH and (i.external_attr >> 16) == 0o100644 for i in infos)
    assert not [n for n in names if "__pycache__" in n or n.endswith((".pyc", "/"))]
    for module in ("rotation/postgres_single.py", "rotation/postgres_alternating.py", "rotation/generic.py",
                   "pg8000/native.py", "scramp/core.py", "asn1crypto/core.py", "dateutil/parser/_parser.py", "six.py"):
        assert module in names
    assert "rotation/build.py" not in names and not [n for n in names if n.startswith(("boto3/", "botocore/"))]
    assert archive.size < 5 * 1024 * 1024
    assert {d.split("==")[0] for d in archive.distributions} == {"asn1crypto", "pg8000", "python-dateutil", "scramp", "six"}


def test_the_archive_imports_on_its_own(tmp_path):
    archive = build.build(tmp_path / "r.zip")
    target = tmp_path / "task"
    with zipfile.ZipFile(archive.path) as z:
        z.extractall(target)
    code = ("import sys; sys.path.insert(0, sys.argv[1]); "
            "import rotation.postgres_single as s, rotation.postgres_alternating as a, rotation.generic as g, pg8000.native; "
            "assert callable(s.handler) and callable(a.handler) and callable(g.handler); "
            "assert pg8000.native.__file__.startswith(sys.argv[1]); print('ok')")
    # -S: no site-packages, so pg8000 and its dependencies can come only from the archive
    result = subprocess.run([sys.executable, "-S", "-c", code, str(target)], capture_output=True, text=True)
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr


def test_cli_prints_the_hashes(tmp_path):
    result = subprocess.run([sys.executable, "-m", "rotation.build", str(tmp_path / "r.zip")], capture_output=True,
                            text=True, cwd=build.PACKAGE.parent)
    assert result.returncode == 0
    digest = hashlib.sha256((tmp_path / "r.zip").read_bytes()).hexdigest()
    assert f"sha256 {digest}" in result.stdout and "source_code_hash " in result.stdout
