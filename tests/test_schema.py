"""The committed JSON Schema of stack files is current and accepts the committed stacks."""

import json

import jsonschema
import yaml

from components.config import SCHEMA_FILE, stack_file_schema
from offline.run import PROJECT_DIR, available_stacks


def test_committed_schema_is_current():
    committed = json.loads((PROJECT_DIR / SCHEMA_FILE).read_text())
    assert committed == json.loads(json.dumps(stack_file_schema())), "run `make schema` and commit the result"


def test_schema_accepts_stacks_and_rejects_unknown_keys():
    schema = stack_file_schema()
    assert available_stacks() == ["dev", "prod"]
    for stack in available_stacks():
        jsonschema.validate(yaml.safe_load((PROJECT_DIR / f"Pulumi.{stack}.yaml").read_text()), schema)
    document = yaml.safe_load((PROJECT_DIR / "Pulumi.prod.yaml").read_text())
    document["config"]["secrets-platform:secrets"][0]["colour"] = "blue"
    try:
        jsonschema.validate(document, schema)
    except jsonschema.ValidationError as error:
        assert "colour" in error.message
    else:
        raise AssertionError("unknown key accepted")
