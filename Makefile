# Two entry points for a fresh machine (see README): `make build` and `make test`.
# Both create .venv on first use from the lock in requirements/ (scripts/setup.sh);
# the mirror is taken from JINSTRUCT_MIRROR.
SHELL := /bin/bash
export PATH := $(CURDIR)/.venv/bin:$(PATH)

.PHONY: setup build test lint browser lock check-lock

setup:
	@scripts/setup.sh build

build: setup
	dvc repro

# Headless Chromium for the report's browser test (Debian packages, needs root).
# Without it that one test skips and says why; every other test still runs.
browser:
	@scripts/install_chromium.sh || echo "make: could not install chromium; the browser test will be skipped"

# Fails when pyproject.toml and requirements/*.txt disagree (fix: make lock).
check-lock:
	@scripts/setup.sh test
	python scripts/check_lock.py

# ruff over the whole checkout; the rules, and why each ignored one is ignored, are in
# pyproject.toml ([tool.ruff.lint]). Seconds, so it runs before the tests.
lint:
	@scripts/setup.sh test
	ruff check

test: check-lock lint browser
	python -m pytest -q

# Re-resolve requirements/*.txt from pyproject.toml (needs PyPI; see scripts/lock.sh).
lock:
	@scripts/lock.sh
