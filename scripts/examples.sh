#!/usr/bin/env bash
# Installs the examples the way users install Stasis: packs this repository (`npm pack`, after the build) and
# installs each example's dependencies with Stasis from that tarball, never from source paths.
set -euo pipefail
cd "$(dirname "$0")/.."
pack=.stasis-tmp/pack
rm -rf "$pack"
mkdir -p "$pack"
npm pack --silent --pack-destination "$pack" > /dev/null
mv "$pack"/stasis-*.tgz "$pack/stasis.tgz"
echo "[stasis] packed $(du -k "$pack/stasis.tgz" | cut -f1) KiB; installing the examples from it…"
for dir in examples/*/; do
  rm -rf "${dir}node_modules/stasis" # a tarball of the same version would otherwise count as installed
  (cd "$dir" && npm install --no-audit --no-fund --no-package-lock --loglevel=error)
done
