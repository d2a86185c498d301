// Browser tests of the portal against the real stack, which tests/e2e/test_portal.py starts (services, a
// development gateway for GraphiQL, a production-like gateway in trusted-documents mode with the portal's origin
// as its CORS allowlist, and portal/serve.mjs), passing where they are in PORTAL_URL, GRAPHIQL_URL, … .
// Driven with the system's Chromium (Debian's `chromium`), never a downloaded browser.
import { defineConfig } from '@playwright/test';

export default defineConfig({
  testDir: './tests',
  workers: 1,
  fullyParallel: false,
  retries: 0,
  timeout: 120_000,
  expect: { timeout: 20_000 },
  reporter: [['list']],
  outputDir: process.env.PORTAL_TEST_OUTPUT || 'test-results',
  use: {
    headless: true,
    locale: 'zh-CN',
    viewport: { width: 1280, height: 900 },
    launchOptions: {
      executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
      args: ['--no-sandbox', '--disable-dev-shm-usage'],
    },
    acceptDownloads: true,
    actionTimeout: 20_000,
  },
});
