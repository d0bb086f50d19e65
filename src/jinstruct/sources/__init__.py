"""Pinned source corpora: fetching (network or mirror) and per-source adapters."""
