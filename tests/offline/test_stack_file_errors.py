"""Stack file errors as a user meets them: `python -m offline plan <file>` prints one line naming the file, the
line (YAML) or key path (spec), exits 2, shows no traceback and never echoes a value."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from offline.run import PROJECT_DIR, StackFileError, read_stack_config
from tests.conftest import CANARY

DEV = (PROJECT_DIR / "Pulumi.dev.yaml").read_text()


def line_of(text: str, needle: str, after: int = 0) -> int:
    """1-based number of the first line at or after `after` that contains `needle`."""
    lines = text.splitlines()
    return next(i + 1 for i, line in enumerate(lines) if i + 1 >= after and needle in line)


def plan_file(tmp_path: Path, text: str) -> tuple[str, subprocess.CompletedProcess]:
    path = tmp_path / "Pulumi.broken.yaml"
    path.write_text(text)
    run = subprocess.run([sys.executable, "-m", "offline", "plan", str(path)], cwd=PROJECT_DIR, capture_output=True, text=True, timeout=300)
    assert run.returncode == 2, run.stderr
    assert "Traceback" not in run.stderr and run.stdout == ""
    assert CANARY not in run.stderr
    return text, run


def test_a_key_written_twice_in_a_secret_is_refused_with_its_line(tmp_path):
    first = "      classification: high\n"
    text, run = plan_file(tmp_path, DEV.replace(first, first + f"      classification: {CANARY}\n", 1))
    line = line_of(text, "classification: high")
    assert run.stderr.splitlines() == [f"Pulumi.broken.yaml: line {line + 1}, column 7: duplicate key 'classification' (first at line {line})"]


def test_a_second_block_of_the_same_config_key_is_refused(tmp_path):
    text, run = plan_file(tmp_path, DEV + f"  secrets-platform:workloads:\n    - {{name: api, reads: [{CANARY}]}}\n")
    first = line_of(text, "secrets-platform:workloads:")
    second = line_of(text, "secrets-platform:workloads:", after=first + 1)
    assert run.stderr.splitlines() == [f"Pulumi.broken.yaml: line {second}, column 3: duplicate key 'secrets-platform:workloads' (first at line {first})"]


def test_a_yaml_syntax_error_names_the_line_and_column(tmp_path):
    text, run = plan_file(tmp_path, DEV.replace("  secrets-platform:prefix:", f"    description: {CANARY}\n  secrets-platform:prefix:", 1))
    line = line_of(text, "description: canary")
    assert run.stderr.splitlines() == [f"Pulumi.broken.yaml: line {line}, column 16: mapping values are not allowed here"]


def test_an_error_in_a_list_item_names_the_item(tmp_path):
    document = yaml.safe_load(DEV)
    secrets = document["config"]["secrets-platform:secrets"]
    index = next(i for i, s in enumerate(secrets) if s["name"] == "session")
    secrets[index]["rotation"]["days"] = 0
    secrets[index]["description"] = CANARY
    _, run = plan_file(tmp_path, yaml.safe_dump(document))
    assert run.stderr.splitlines() == [
        f"Pulumi.broken.yaml: secrets-platform:secrets[{index}] (session).rotation.days: input should be greater than or equal to 1 (got 0)"
    ]


def test_an_unknown_key_suggests_the_closest_known_one(tmp_path):
    document = yaml.safe_load(DEV)
    database = document["config"]["secrets-platform:secrets"][0]
    database["clasification"] = database.pop("classification")
    database["pasword"] = CANARY
    _, run = plan_file(tmp_path, yaml.safe_dump(document))
    assert sorted(run.stderr.splitlines()) == [
        "Pulumi.broken.yaml: secrets-platform:secrets[0] (database).clasification: unknown key; did you mean 'classification'?",
        "Pulumi.broken.yaml: secrets-platform:secrets[0] (database).classification: required key is missing",
        "Pulumi.broken.yaml: secrets-platform:secrets[0] (database).pasword: unknown key; allowed: name, path, description, "
        "classification, backend, mount, key, rotation, replica_regions, recovery_window_days, initial_value, properties, tags, adopt",
    ]


# ----- the reader itself: what counts as a duplicate -----


def read(tmp_path: Path, text: str) -> dict[str, str]:
    path = tmp_path / "Pulumi.unit.yaml"
    path.write_text(text)
    return read_stack_config(str(path))[1]


def test_duplicates_on_one_line_are_refused(tmp_path):
    with pytest.raises(StackFileError, match=r"^Pulumi.unit.yaml: line 2, column 15: duplicate key 'a' \(first at line 2\)$"):
        read(tmp_path, "config:\n  p:x: {a: 1, a: 2}\n")


def test_a_merge_may_override_keys_and_distinct_keys_pass(tmp_path):
    config = read(tmp_path, "base: &base {a: 1, b: 2}\nconfig:\n  p:x: {<<: *base, a: 3}\n  p:y: {1: one, '1': string}\n")
    assert config["p:x"] == '{"a": 3, "b": 2}'
    assert config["p:y"] == '{"1": "one", "1": "string"}'  # an integer key and a string key are two keys


def test_a_document_that_is_not_a_mapping_is_refused(tmp_path):
    with pytest.raises(StackFileError, match=r"^Pulumi.unit.yaml: must be a mapping with a config: key$"):
        read(tmp_path, "- a\n- b\n")
