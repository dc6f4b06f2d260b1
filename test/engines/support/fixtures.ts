import { test as base } from '@playwright/test';
import { ServerProcess } from '../../e2e/support/server-process.js';
import { launchFirefox } from '../drivers/firefox.js';
import { launchWebKit } from '../drivers/webkit.js';
import type { EngineBrowser, EngineName } from './engine-browser.js';

const LAUNCH = { firefox: launchFirefox, webkit: launchWebKit } as const;

/** Each test gets its own demo server process and a fresh browser profile of the project's engine. */
export const test = base.extend<{ server: ServerProcess; engine: EngineBrowser }>({
  server: async ({}, use, testInfo) => {
    const server = await ServerProcess.start();
    await use(server);
    await server.stop();
    if (testInfo.status !== testInfo.expectedStatus) await testInfo.attach('server-output', { body: server.output });
  },
  engine: async ({}, use, testInfo) => {
    const name = testInfo.project.name as EngineName;
    const browser = await LAUNCH[name]();
    await use(browser);
    await browser.close();
  },
});

export { expect } from '@playwright/test';
