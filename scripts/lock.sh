#!/usr/bin/env bash
# Refresh the dependency lock from pyproject.toml: `make lock` (or scripts/lock.sh).
#
# One resolution of every dependency and every extra (requirements/all.txt),
# then the installable subsets pinned to exactly those versions:
#   requirements/build.txt  core dependencies          (make build)
#   requirements/test.txt   core + the TEST_EXTRAS     (make test)
#   requirements/torch.txt  the CPU torch wheel        (both, unless torch is already installed)
# Target: CPython 3.11 on x86_64 Linux (manylinux_2_28), the project's machine kind.
# Needs uv (installed into .venv on first use) and PyPI; the CPU torch wheel comes
# from $TORCH_WHEELS (default /opt/wheels), so uv never picks a CUDA build.
set -euo pipefail
cd "$(dirname "$0")/.."

TORCH_WHEELS=${TORCH_WHEELS:-/opt/wheels}
UV_VERSION=0.13.9
# Extras the test suite needs besides `test` (each only if pyproject.toml defines it).
TEST_EXTRAS=${TEST_EXTRAS:-"test ray"}

UV=$(command -v uv || true)
if [ -z "$UV" ]; then
  [ -x .venv/bin/uv ] || python3 -m pip install --quiet --target .venv/uv-tool "uv==$UV_VERSION"
  UV=$([ -x .venv/bin/uv ] && echo .venv/bin/uv || echo .venv/uv-tool/bin/uv)
fi

defined_extras=$(python3 -c 'import tomllib; print(" ".join(tomllib.load(open("pyproject.toml", "rb"))["project"].get("optional-dependencies", {})))')
test_flags=() test_extras=()
for extra in $TEST_EXTRAS; do
  if [[ " $defined_extras " == *" $extra "* ]]; then test_flags+=(--extra "$extra"); test_extras+=("$extra"); fi
done

compile() {
  "$UV" pip compile pyproject.toml --quiet --generate-hashes --custom-compile-command "make lock" \
    --python-version 3.11 --python-platform x86_64-manylinux_2_28 \
    --find-links "$TORCH_WHEELS" --override requirements/overrides.in "$@"
}
# Each file starts with the extras it holds; scripts/check_lock.py compares them with pyproject.toml.
compile --all-extras -o requirements/all.txt
sed -i "1i # extras: $defined_extras" requirements/all.txt
compile --no-emit-package torch -c requirements/all.txt -o requirements/build.txt
sed -i "1i # extras:" requirements/build.txt
compile --no-emit-package torch -c requirements/all.txt "${test_flags[@]}" -o requirements/test.txt
sed -i "1i # extras: ${test_extras[*]}" requirements/test.txt
# The torch entry of the full resolution, hash included.
{ echo "# extras:"; awk '/^torch==/{keep=1} keep && /^[a-z0-9]/ && !/^torch==/{keep=0} keep' requirements/all.txt; } \
  > requirements/torch.txt
echo "lock: $(grep -c '^[a-z0-9]' requirements/all.txt) packages in requirements/all.txt; test extras: ${test_extras[*]}"
