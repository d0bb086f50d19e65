# Two entry points for a fresh machine (see README): `make build` and `make test`.
# Both create .venv on first use; the mirror is taken from JINSTRUCT_MIRROR.
SHELL := /bin/bash
export PATH := $(CURDIR)/.venv/bin:$(PATH)

.PHONY: setup build test

setup:
	@scripts/setup.sh

build: setup
	dvc repro

test: setup
	python -m pytest -q
