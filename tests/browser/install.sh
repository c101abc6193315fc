#!/usr/bin/env bash
# What the browser suite needs beyond `make setup`: Debian's Chromium and fonts (emoji included,
# or the lessons' emoji render as boxes), and Playwright for Python (the `[browser]` extra).
# Playwright drives the system Chromium; it never downloads a browser of its own.
# Usage: tests/browser/install.sh [path/to/venv/bin/python]
set -euo pipefail
PY=${1:-.venv/bin/python}
PACKAGES=(chromium fonts-noto-color-emoji fonts-dejavu-core fonts-liberation)
missing=()
for pkg in "${PACKAGES[@]}"; do
	dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
	if [ "$(id -u)" -ne 0 ]; then
		echo "labkit: the browser tests need the Debian packages: ${missing[*]}." >&2
		echo "Fix: sudo apt-get update && sudo apt-get install -y ${missing[*]}" >&2
		exit 1
	fi
	echo "labkit: installing ${missing[*]} with apt-get (first run only) ..." >&2
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
if ! "$PY" -c 'import playwright' 2>/dev/null; then
	echo "labkit: installing the [browser] extra (Playwright for Python) ..." >&2
	"$PY" -m pip install --quiet --disable-pip-version-check -e '.[test,browser]'
fi
