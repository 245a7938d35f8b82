"""`python -m components.spec` rewrites the committed JSON Schema of a stack file."""

from components.spec.schema import write_schema

print(f"wrote {write_schema().name}")
