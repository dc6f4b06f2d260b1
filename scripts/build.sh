#!/usr/bin/env bash
# `npm run build`: every artifact from scratch (rollup.config.mjs), then the declarations (tsc).
set -euo pipefail
cd "$(dirname "$0")/.."
# From scratch: hashed chunk files of earlier builds would otherwise pile up in dist/ and in the tarball.
rm -rf dist
npx --no-install rollup -c --silent
npx --no-install tsc -p tsconfig.build.json
# require() users get the same declarations read as CommonJS: inside this "type": "module" package TypeScript
# takes every .d.ts for ESM, except below a package.json that says otherwise.
cp -r dist/types dist/types-cjs
printf '{ "type": "commonjs" }\n' > dist/types-cjs/package.json
# The demo in live mode (`/live.html`): the same page with data-live="on" (Stasis opens the live channel and resumes
# in it). Served from dist/ by `npm start`; not in the package.
sed 's|<script src="/stasis.js" |<script src="/stasis.js" data-live="on" |' demo/public/index.html > dist/live.html
grep -q 'data-live="on"' dist/live.html
