#!/usr/bin/env bash
# Headless Chromium for tests/report/test_browser.py (opens reports/index.html the
# way a reader would), plus a Japanese font so the page's own text (not only the
# charts, which carry IPAexGothic from matplotlib-fontja) renders in screenshots.
# Debian/Ubuntu, as root; a no-op when both are present.
set -euo pipefail
packages=()
command -v chromium >/dev/null 2>&1 || packages+=(chromium)
fc-list :lang=ja 2>/dev/null | grep -q . || packages+=(fonts-ipaexfont-gothic)
if [ ${#packages[@]} -eq 0 ]; then
  echo "install_chromium: chromium and a Japanese font are already installed"
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${packages[@]}"
echo "install_chromium: installed ${packages[*]}"
