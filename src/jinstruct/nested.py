"""Nested params, metrics and manifests as flat ``a.b.c`` keys (lineage, the report)."""

from __future__ import annotations


def flatten(value: dict, prefix: str = "") -> list[tuple[str, object]]:
    """``(dotted key, leaf)`` pairs in key order; non-empty mappings are walked into, anything else is a leaf."""
    items: list[tuple[str, object]] = []
    for key, inner in sorted(value.items()):
        if isinstance(inner, dict) and inner:
            items += flatten(inner, f"{prefix}{key}.")
        else:
            items.append((f"{prefix}{key}", inner))
    return items
