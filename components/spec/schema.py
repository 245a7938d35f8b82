"""The JSON Schema of a stack file, for editor completion of Pulumi.<stack>.yaml."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from components.spec.base import DATABASE_PASSWORD_NAMESPACE, INITIAL_VALUE_NAMESPACE, NAMESPACE
from components.spec.stack import StackSpec

SCHEMA_FILE = "secrets-platform.schema.json"


def stack_file_schema() -> dict[str, Any]:
    spec = StackSpec.model_json_schema(mode="validation")
    definitions = spec.pop("$defs", {})
    config_properties = {f"{NAMESPACE}:{field}": schema for field, schema in spec["properties"].items()}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "secrets-platform stack file (Pulumi.<stack>.yaml)",
        "type": "object",
        "properties": {
            "config": {
                "type": "object",
                "properties": config_properties,
                "patternProperties": {
                    f"^{re.escape(namespace)}:": {"type": "object", "required": ["secure"]}
                    for namespace in (INITIAL_VALUE_NAMESPACE, DATABASE_PASSWORD_NAMESPACE)
                },
                "required": [f"{NAMESPACE}:{field}" for field in spec.get("required", [])],
            }
        },
        "$defs": definitions,
    }


def write_schema() -> Path:
    """Rewrite the committed schema at the repository root."""
    target = Path(__file__).resolve().parents[2] / SCHEMA_FILE
    target.write_text(json.dumps(stack_file_schema(), indent=2, sort_keys=True) + "\n")
    return target
