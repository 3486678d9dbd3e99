#!/usr/bin/env bash
# The browser tests drive Debian's chromium through chromium-driver. Install them when this
# machine can (root with apt-get), else stop before the tests and say the one command to run.
set -euo pipefail
if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "Installation de chromium et chromium-driver (tests dans un vrai navigateur)..."
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null
  exit 0
fi
echo "Les tests dans un vrai navigateur ont besoin de chromium et chromium-driver." >&2
echo "Installez-les puis relancez make test :  sudo apt-get install -y chromium chromium-driver" >&2
exit 1
