"""Secrets Manager rotation functions: Postgres single-user and alternating-users, generic secrets with overlap.

Lambda entry points (the archive holds this package at its root, see rotation/build.py):
    rotation.postgres_single.handler
    rotation.postgres_alternating.handler
    rotation.generic.handler

Every kind shares the four-step engine in rotation/steps.py. Only the standard library, boto3 (in the
Lambda runtime) and pg8000 (vendored into the archive) are imported, the last two lazily.
"""
