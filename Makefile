# Two entry points for a fresh machine (see README): `make build` and `make test`.
# Both create .venv on first use; the mirror is taken from JINSTRUCT_MIRROR.
SHELL := /bin/bash
export PATH := $(CURDIR)/.venv/bin:$(PATH)

.PHONY: setup build test browser

setup:
	@scripts/setup.sh

build: setup
	dvc repro

# Headless Chromium for the report's browser test (Debian packages, needs root).
# Without it that one test skips and says why; every other test still runs.
browser:
	@scripts/install_chromium.sh || echo "make: could not install chromium; the browser test will be skipped"

test: setup browser
	python -m pytest -q
