#!/usr/bin/env bash
# Record the committed build from a fresh build, so that a clone builds what git holds.
#   scripts/record_build.sh            clone HEAD into a sibling folder, `make build` there,
#                                      copy what DVC recorded back here (then review and commit)
#   scripts/record_build.sh --check    the same clone and build; fail unless `git status --porcelain`
#                                      is empty there afterwards (the committed build equals a fresh one)
# Needs the committed HEAD (uncommitted changes are not cloned) and JINSTRUCT_MIRROR
# (default ../shared/mirror) or network access. Prints sha256 of every built file.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
mode=${1:-record}

# What DVC records and git holds: the lock, metrics (declared or not), plots data, curves, the report.
RECORDED=(dvc.lock metrics plots dvclive reports/index.html)

fresh=$(mktemp -d "$(dirname "$repo")/fresh-build.XXXXXX")
trap 'rm -rf "$fresh"' EXIT
git clone --quiet "$repo" "$fresh"
# The mirror path is relative to the project, and the clone is a sibling: same ../shared.
(cd "$fresh" && JINSTRUCT_MIRROR=${JINSTRUCT_MIRROR:-../shared/mirror} make build)

echo "record: sha256 of the fresh build (models, metrics, data/processed)"
(cd "$fresh" && find models metrics data/processed -type f ! -name '.gitignore' -print0 | sort -z | xargs -0 sha256sum)

changed=$(cd "$fresh" && git status --porcelain)
if [ "$mode" = "--check" ]; then
  if [ -n "$changed" ]; then
    echo "record: a fresh build differs from the committed one:" >&2
    echo "$changed" >&2
    exit 1
  fi
  echo "record: a fresh build equals the committed build (git status --porcelain is empty)"
  exit 0
fi
for path in "${RECORDED[@]}"; do
  rm -rf "${repo:?}/$path"
  cp -a "$fresh/$path" "$repo/$path"
done
echo "record: copied ${RECORDED[*]} from a fresh build of $(git rev-parse --short HEAD); now:"
git status --short -- "${RECORDED[@]}"
