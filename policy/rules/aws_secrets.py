"""Placeholder until the domain rules land."""

RULES: list = []
