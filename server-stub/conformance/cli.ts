#!/usr/bin/env node
/**
 * stasis-conformance: checks a server implementing the Stasis protocol (docs/conformance.md).
 *   stasis-conformance <base-url> [--test-keys] [--browser] [--json] [--only PREFIX]... [--timeout MS]
 * Exit code 1 when a MUST requirement failed, 0 otherwise (2: bad arguments).
 */
import { parseArgs } from 'node:util';
import { formatJson, formatResult, formatSummary } from './report.js';
import { REQUIREMENTS, runConformance } from './runner.js';

const USAGE = `Usage: stasis-conformance <base-url> [options]

  <base-url>              the server's mount point, e.g. http://127.0.0.1:8080/stasis
  --test-keys             the server runs with the published test keys (docs/vectors/keys.json): blob checks
  --vectors <dir>         where keys.json and blobs.json are (default: the package's docs/vectors/)
  --browser               also drive the page SDK in headless Chromium (puppeteer-core; CHROMIUM_PATH)
  --only <prefix>         only requirements whose id starts with it (repeat, or comma-separate)
  --json                  print the report as JSON
  --timeout <ms>          per request and per wait (default 5000)
  --quiet-ms <ms>         how long "nothing happens" is watched (default 600)
  --cookie-name <name>    the binding cookie's name (default stasis_bid)
  --max-blob-bytes <n>    the server's maxBlobBytes (default 5242880)
  --rate-limit-probe <n>  failing resumes sent at most to reach rate-limited (default 150)
  --list                  print the requirements and exit

Exit code: 1 when a MUST requirement failed, 0 otherwise. See docs/conformance.md.`;

async function main(): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      allowPositionals: true,
      options: {
        'test-keys': { type: 'boolean', default: false },
        vectors: { type: 'string' },
        browser: { type: 'boolean', default: false },
        only: { type: 'string', multiple: true },
        json: { type: 'boolean', default: false },
        timeout: { type: 'string' },
        'quiet-ms': { type: 'string' },
        'cookie-name': { type: 'string' },
        'max-blob-bytes': { type: 'string' },
        'rate-limit-probe': { type: 'string' },
        list: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (error) {
    console.error(`${(error as Error).message}\n\n${USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  if (values.list) {
    for (const r of REQUIREMENTS) console.log(`${r.id.padEnd(32)}  ${r.level.padEnd(6)}  ${r.title}  [${r.section}]`);
    return 0;
  }
  const [baseUrl, ...extra] = positionals;
  const number = (name: string, text: string | undefined): number | undefined => {
    if (text === undefined) return undefined;
    const n = Number(text);
    if (!Number.isInteger(n) || n <= 0) throw new Error(`--${name} must be a positive integer, not "${text}"`);
    return n;
  };
  let options;
  try {
    if (!baseUrl || extra.length) throw new Error(baseUrl ? `unexpected arguments: ${extra.join(' ')}` : 'the base URL is missing');
    const url = new URL(baseUrl);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`${baseUrl}: the base URL must be http: or https:`);
    options = {
      baseUrl,
      testKeys: values['test-keys'],
      browser: values.browser,
      only: (values.only ?? []).flatMap((o) => o.split(',')).map((o) => o.trim()).filter(Boolean),
      ...(values.vectors ? { vectorsDir: values.vectors } : {}),
      ...(values['cookie-name'] ? { cookieName: values['cookie-name'] } : {}),
      timeoutMs: number('timeout', values.timeout),
      quietMs: number('quiet-ms', values['quiet-ms']),
      maxBlobBytes: number('max-blob-bytes', values['max-blob-bytes']),
      rateLimitProbe: number('rate-limit-probe', values['rate-limit-probe']),
    };
  } catch (error) {
    console.error(`stasis-conformance: ${(error as Error).message}\n\n${USAGE}`);
    return 2;
  }
  const color = !values.json && process.stdout.isTTY === true && !process.env.NO_COLOR;
  if (!values.json) console.log(`stasis-conformance ${options.baseUrl}${options.testKeys ? ' (test keys)' : ''}${options.browser ? ' (browser)' : ''}`);
  const report = await runConformance({
    ...Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)),
    baseUrl: options.baseUrl,
    ...(values.json ? {} : { onResult: (result) => console.log(formatResult(result, color)) }),
  });
  if (values.json) console.log(formatJson(report));
  else console.log(`\n${formatSummary(report)}`);
  return report.ok ? 0 : 1;
}

main().then(
  (code) => {
    process.exitCode = code;
    // Everything the run opened is closed by now; a server that keeps a socket half-open must not hold the exit.
    setTimeout(() => process.exit(code), 2000).unref();
  },
  (error: unknown) => {
    console.error(`stasis-conformance: ${(error as Error)?.stack ?? String(error)}`);
    process.exitCode = 1;
  },
);
