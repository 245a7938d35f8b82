"""`.ci/uv.py`, the uv bootstrap of `make`: a wheel is installed only if its sha256 is the pinned one."""

from __future__ import annotations

import functools
import hashlib
import http.server
import importlib.util
import io
import os
import subprocess
import threading
import zipfile

import pytest

from offline.run import PROJECT_DIR

SCRIPT = PROJECT_DIR / ".ci" / "uv.py"
spec = importlib.util.spec_from_file_location("uv_bootstrap", SCRIPT)
bootstrap = importlib.util.module_from_spec(spec)
spec.loader.exec_module(bootstrap)

FAKE_UV = b"#!/bin/sh\necho uv " + bootstrap.UV_VERSION.encode() + b"\n"


def wheel_bytes(member: str = f"uv-{bootstrap.UV_VERSION}.data/scripts/uv") -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(member, FAKE_UV)
    return buffer.getvalue()


@pytest.fixture
def index(tmp_path):
    """A local HTTP server for wheels written into its directory: (directory, base URL)."""
    served = tmp_path / "served"
    served.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(served))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield served, f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


def test_installs_the_binary_of_a_wheel_with_the_pinned_hash(index, tmp_path):
    served, url = index
    content = wheel_bytes()
    (served / "uv.whl").write_bytes(content)
    target = tmp_path / "tools" / "uv"
    bootstrap.install(f"{url}/uv.whl", hashlib.sha256(content).hexdigest(), target)
    assert target.read_bytes() == FAKE_UV
    assert os.access(target, os.X_OK)
    assert bootstrap.reports_pinned_version(str(target))
    assert [p.name for p in target.parent.iterdir()] == ["uv"]  # the wheel and scratch are gone


def test_refuses_a_wheel_whose_hash_differs(index, tmp_path):
    served, url = index
    (served / "uv.whl").write_bytes(wheel_bytes())
    target = tmp_path / "tools" / "uv"
    with pytest.raises(bootstrap.BootstrapError, match="does not match the pinned"):
        bootstrap.install(f"{url}/uv.whl", "0" * 64, target)
    assert not target.exists()
    assert list(target.parent.iterdir()) == []


def test_refuses_a_wheel_without_the_uv_binary(index, tmp_path):
    served, url = index
    content = wheel_bytes(member="uv/__init__.py")
    (served / "uv.whl").write_bytes(content)
    with pytest.raises(bootstrap.BootstrapError, match="no uv-.*scripts/uv in the wheel"):
        bootstrap.install(f"{url}/uv.whl", hashlib.sha256(content).hexdigest(), tmp_path / "uv")


def test_a_uv_of_another_version_is_not_used(tmp_path):
    other = tmp_path / "uv"
    other.write_text("#!/bin/sh\necho uv 0.0.1\n")
    other.chmod(0o755)
    assert not bootstrap.reports_pinned_version(str(other))
    assert not bootstrap.reports_pinned_version(str(tmp_path / "missing"))


def test_this_machine_has_a_pinned_wheel():
    assert bootstrap.platform_key() in bootstrap.WHEELS


@pytest.mark.slow
def test_the_pinned_wheel_for_this_machine_installs_a_working_uv(tmp_path):
    """The real download from PyPI (~20 MB): the pinned URL and hash are right."""
    target = bootstrap.install(*bootstrap.WHEELS[bootstrap.platform_key()], tmp_path / "uv")
    version = subprocess.run([str(target), "--version"], capture_output=True, text=True, check=True).stdout
    assert version.split()[:2] == ["uv", bootstrap.UV_VERSION]


def test_no_wheel_for_the_platform_is_one_clear_line_and_exit_2(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(bootstrap, "INSTALLED", tmp_path / "uv")
    monkeypatch.setattr(bootstrap, "platform_key", lambda: ("Plan9", "mips", ""))
    monkeypatch.setenv("PATH", str(tmp_path))  # no uv on it
    assert bootstrap.main(["--version"]) == 2
    assert capsys.readouterr().err == (f".ci/uv.py: no pinned uv {bootstrap.UV_VERSION} wheel for Plan9 mips: "
                                       f"install uv {bootstrap.UV_VERSION} on PATH (https://docs.astral.sh/uv/getting-started/installation/)\n")
