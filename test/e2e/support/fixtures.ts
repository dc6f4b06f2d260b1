import { test as base } from '@playwright/test';
import { CdpBrowser } from './cdp-browser.js';
import { ServerProcess } from './server-process.js';

/** Each test gets its own server process and its own Chromium profile; both are torn down after it. */
export const test = base.extend<{ server: ServerProcess; cdp: CdpBrowser }>({
  server: async ({}, use, testInfo) => {
    const server = await ServerProcess.start();
    await use(server);
    await server.stop();
    if (testInfo.status !== testInfo.expectedStatus) await testInfo.attach('server-output', { body: server.output });
  },
  cdp: async ({}, use) => {
    const browser = await CdpBrowser.launch();
    await use(browser);
    await browser.close();
  },
});

export { expect } from '@playwright/test';
