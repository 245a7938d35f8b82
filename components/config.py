"""Compatibility: the stack spec moved to the `components.spec` package; this module re-exports its
public names so `from components.config import ...` keeps working until every import is migrated."""

from components.spec import *  # noqa: F401,F403 (the re-export is the point)
from components.spec import __all__  # noqa: F401

if __name__ == "__main__":
    # `python -m components.config` still rewrites the committed schema, like `python -m components.spec`.
    from components.spec import write_schema

    print(f"wrote {write_schema().name}")
