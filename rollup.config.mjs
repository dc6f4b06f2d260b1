// Builds every artifact: the page SDK (IIFE + ESM), the service worker, the demo's browser code,
// and the Node server (library, CLI, demo app). TypeScript is transpiled by esbuild; `tsc` only type-checks
// and writes the .d.ts files (esbuild is fast and keeps the bundles' output stable).
import { readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { fileURLToPath } from 'node:url';
import resolve from '@rollup/plugin-node-resolve';
import esbuild from 'rollup-plugin-esbuild';
import terser from '@rollup/plugin-terser';

// Page bundles: esbuild strips the types; terser minifies (a few hundred bytes smaller than esbuild's minifier
// after gzip, which keeps dist/stasis.js under its 8 KB budget).
const browser = (minify) => [
  resolve({ browser: true }),
  esbuild({ target: 'es2022', minify: false }),
  ...(minify ? [terser({ ecma: 2022, module: false, compress: { passes: 2 }, format: { comments: false } })] : []),
];
const benchDir = fileURLToPath(new URL('./bench/', import.meta.url));
const inBench = (id) => id.startsWith(benchDir);
const nodeExternal = [...builtinModules, ...builtinModules.map((m) => `node:${m}`), 'ws', 'ioredis', 'socket.io', 'fastify'];
/** The library entries Node apps import: `stasis/server` and each adapter (also built as CommonJS). */
const serverEntries = {
  'server/index': 'server-stub/index.ts',
  // Adapters, each its own entry: the core never imports ws, Socket.IO or Fastify.
  'server/ws': 'server-stub/adapters/ws.ts',
  'server/socket-io': 'server-stub/adapters/socket-io.ts',
  'server/fastify': 'server-stub/adapters/fastify.ts',
  // The Redis store and ledger: their own entry, so the core's types never name ioredis (optional).
  'server/redis': 'server-stub/redis/index.ts',
};
/**
 * Type entry points beside the bundles: `stasis` (page), `stasis/global` (the script tag's `Stasis`), and for
 * `require()` users a copy of the declarations under a `"type": "commonjs"` marker, so TypeScript reads them
 * as CommonJS there (the same .d.ts files inside this ESM package would be ESM to it).
 */
const typesEntry = {
  name: 'stasis-types-entry',
  generateBundle() {
    this.emitFile({
      type: 'asset',
      fileName: 'stasis.d.ts',
      source: "export * from './types/src/index.js';\n",
    });
    this.emitFile({
      type: 'asset',
      fileName: 'global.d.ts',
      source: [
        '// `/// <reference types="stasis/global" />`: the global the script tag <script src="/stasis/stasis.js"> defines.',
        "import type { StasisClient } from './types/src/client.js';",
        'declare global {',
        '  /** The Stasis client of this page (dist/stasis.js). */',
        '  var Stasis: StasisClient;',
        '}',
        'export {};',
        '',
      ].join('\n'),
    });
  },
};

/** The banner's stylesheet (src/banner.css), served next to the bundles as stasis-banner.css (a file, not inline). */
const bannerStylesheet = {
  name: 'stasis-banner-stylesheet',
  generateBundle() {
    this.emitFile({ type: 'asset', fileName: 'stasis-banner.css', source: readFileSync(new URL('./src/banner.css', import.meta.url), 'utf8') });
  },
};

export default [
  {
    input: 'src/auto.ts',
    output: { file: 'dist/stasis.js', format: 'iife', name: 'Stasis', exports: 'default', sourcemap: true },
    plugins: [...browser(true), bannerStylesheet],
  },
  {
    input: 'src/index.ts',
    output: { dir: 'dist', entryFileNames: 'stasis.mjs', chunkFileNames: 'stasis-[name]-[hash].mjs', format: 'es', sourcemap: true },
    plugins: [...browser(false), typesEntry],
  },
  {
    // Loaded by dist/stasis.js only where no service worker is available.
    input: 'src/custody/page-custody.ts',
    output: { file: 'dist/stasis-fallback.mjs', format: 'es', sourcemap: true },
    plugins: browser(true),
  },
  {
    // Loaded by dist/stasis.js only with data-live="on" (the SDK opens the live channel and resumes in it).
    input: 'src/client/live-channel.ts',
    output: { file: 'dist/stasis-live.mjs', format: 'es', sourcemap: true },
    plugins: browser(true),
  },
  {
    input: 'worker/stasis-sw.ts',
    output: { file: 'dist/stasis-sw.js', format: 'iife', sourcemap: true },
    plugins: browser(true),
  },
  {
    // `import { installStasisWorker } from 'stasis/worker'` for apps that bundle their own service worker:
    // idb and comlink stay imports (package dependencies), resolved by the app's bundler.
    input: 'worker/index.ts',
    output: { file: 'dist/worker.mjs', format: 'es', sourcemap: true },
    external: ['idb', 'comlink'],
    plugins: [esbuild({ target: 'es2022' })],
  },
  {
    input: 'demo/client/main.ts',
    output: { file: 'dist/demo.js', format: 'iife', sourcemap: true },
    plugins: browser(false),
  },
  {
    input: 'bench/page.ts',
    output: { file: 'dist/bench/page.js', format: 'iife', sourcemap: true },
    plugins: browser(false),
  },
  {
    input: {
      ...serverEntries,
      'server/cli': 'server-stub/cli.ts',
      // `stasis-conformance <base-url>` and the app of its setup contract (`stasis-server --app …/conformance-app.js`).
      'server/conformance': 'server-stub/conformance/cli.ts',
      'server/conformance-app': 'server-stub/conformance/reference-app.ts',
      'demo/app': 'demo/app.ts',
      // `npm run bench` (bench/run.ts); memory and drain-storm re-run themselves as child processes.
      'bench/run': 'bench/run.ts',
      'bench/bench-app': 'bench/bench-app.ts',
      'bench/memory': 'bench/memory.ts',
      'bench/drain-storm': 'bench/drain-storm.ts',
      // The peers' servers, each in a child process that re-runs this file (bench/peers/server-process.ts).
      'bench/peers-server': 'bench/peers/server-process.ts',
    },
    output: {
      dir: 'dist',
      format: 'es',
      // No source maps: the server code is not minified, so stack traces read as they are; maps would be 40 %
      // of the tarball.
      // Chunks of bench code alone (the peers' servers, which bench/peers/server-process.ts loads with import())
      // go under dist/bench: dist/server is in the package.
      chunkFileNames: (chunk) => (chunk.moduleIds.length > 0 && chunk.moduleIds.every(inBench) ? 'bench/chunks/[name]-[hash].js' : 'server/chunks/[name]-[hash].js'),
    },
    // socket.io-client: the bench's Socket.IO peer (a dev dependency; no server entry imports it).
    external: [...nodeExternal, 'socket.io-client'],
    plugins: [esbuild({ target: 'node20' })],
  },
  {
    // CommonJS for `require('stasis/server')` (and the adapters): the same code, its own chunks.
    input: serverEntries,
    output: {
      dir: 'dist/cjs',
      format: 'cjs',
      exports: 'named',
      entryFileNames: '[name].cjs',
      chunkFileNames: 'chunks/[name]-[hash].cjs',
    },
    external: nodeExternal,
    plugins: [esbuild({ target: 'node20' })],
  },
];
