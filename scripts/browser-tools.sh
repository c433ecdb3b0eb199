#!/usr/bin/env bash
# Installs what the dashboard browser test needs (idempotent; run by scripts/test.sh):
# Chromium from Debian, Node.js, and playwright-core from npm into .tools/ (git-ignored).
# The test drives Debian's /usr/bin/chromium; playwright-core downloads no browser.
set -euo pipefail
cd "$(dirname "$0")/.."

PLAYWRIGHT_CORE_VERSION=1.65.1

apt_updated=false
apt_install() {
  if ! $apt_updated; then
    apt-get update -qq
    apt_updated=true
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@"
}

if [ ! -x /usr/bin/chromium ]; then
  apt_install chromium
fi
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  apt_install nodejs npm
fi

installed=$(node -p "require('./.tools/node_modules/playwright-core/package.json').version" 2>/dev/null || true)
if [ "$installed" != "$PLAYWRIGHT_CORE_VERSION" ]; then
  mkdir -p .tools
  npm install --prefix .tools --no-audit --no-fund --no-save --loglevel=error \
    "playwright-core@$PLAYWRIGHT_CORE_VERSION"
fi
echo "chromium: $(/usr/bin/chromium --version 2>/dev/null | head -1)"
echo "playwright-core: $PLAYWRIGHT_CORE_VERSION in .tools/node_modules"
