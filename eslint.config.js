// ESLint (flat config): @eslint/js recommended + typescript-eslint recommendedTypeChecked over every TypeScript
// file of tsconfig.json (src, worker, server-stub, test, demo, bench, *.config.ts), and the plain recommended
// rules over the JavaScript files (examples, scripts, configs). Run (about 30 s, most of it building the program):
//   node_modules/.bin/eslint --max-warnings 0 .
// Every change to the presets below says why next to it.
import { fileURLToPath } from 'node:url';
import js from '@eslint/js';
import { defineConfig, globalIgnores } from 'eslint/config';
import tseslint from 'typescript-eslint';

// The `globals` package is not a dependency: the globals the plain-JS files use, and their obvious companions.
const readonly = (names) => Object.fromEntries(names.map((name) => [name, 'readonly']));
const common = ['console', 'URL', 'URLSearchParams', 'setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'queueMicrotask', 'structuredClone', 'AbortController', 'TextEncoder', 'TextDecoder'];
const nodeGlobals = readonly([...common, 'process', 'Buffer']);
const browserGlobals = readonly([...common, 'window', 'document', 'location', 'navigator', 'WebSocket', 'Event', 'CustomEvent', 'fetch']);

export default defineConfig(
  globalIgnores([
    '**/node_modules/', // also examples/*/node_modules (installed from the packed tarball)
    '**/dist/',
    '.stasis-tmp/',
    'coverage/',
    'test-results/',
    'playwright-report/',
  ]),
  {
    // An eslint-disable comment that no longer suppresses anything fails the run instead of lingering.
    linterOptions: { reportUnusedDisableDirectives: 'error', reportUnusedInlineConfigs: 'error' },
  },
  js.configs.recommended,
  tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: fileURLToPath(new URL('.', import.meta.url)) },
    },
    rules: {
      // Added: a switch over a union (message types, outcomes, states) must name every member or have a default.
      '@typescript-eslint/switch-exhaustiveness-check': 'error',
      // Off: `async` without `await` is how this code implements Promise-returning interfaces (stores, ledgers,
      // fakes): a synchronous throw becomes a rejection, as callers expect. The floating/misused-promise rules stay.
      '@typescript-eslint/require-await': 'off',
      // `_name` marks a deliberately unused binding; `{ drop: _drop, ...rest }` is how an object loses a key.
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrorsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_', ignoreRestSiblings: true },
      ],
      // A `let` read by callbacks before its one assignment (an object whose handlers need the object) is not a
      // const in waiting: `const` there would be a temporal-dead-zone error.
      'prefer-const': ['error', { ignoreReadBeforeAssign: true }],
      // Playwright reads fixture names from the first parameter's destructuring: `async ({}, use) => …` is required.
      'no-empty-pattern': ['error', { allowObjectPatternsAsParameters: true }],
    },
  },
  {
    // Plain JavaScript (examples, scripts, config files) is not in tsconfig.json: no type information for it.
    files: ['**/*.js', '**/*.mjs', '**/*.cjs'],
    extends: [tseslint.configs.disableTypeChecked],
    languageOptions: { globals: nodeGlobals },
  },
  {
    // The examples' page scripts are classic <script>s next to the Stasis script tag (and Socket.IO's).
    files: ['examples/*/public/**/*.js'],
    languageOptions: { sourceType: 'script', globals: { ...browserGlobals, Stasis: 'readonly', io: 'readonly' } },
  },
  {
    // Vitest's asymmetric matchers (expect.any(Number), expect.stringContaining(…)) are typed `any`, and tests
    // JSON.parse what they assert on: every such line would need a cast that says nothing.
    files: ['test/**'],
    rules: { '@typescript-eslint/no-unsafe-assignment': 'off' },
  },
  {
    // The browser suites script pages through page.evaluate, where the SDK and the tests' own marks are untyped
    // globals reached as `(window as any)`: typing each of them for the tests alone would buy nothing.
    files: ['test/e2e/**', 'test/engines/**'],
    rules: {
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
    },
  },
);
