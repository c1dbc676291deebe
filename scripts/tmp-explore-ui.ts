import { chromium } from 'playwright-core';
import { writeFileSync, mkdtempSync } from 'node:fs';
import { startDevServer } from '../test/helpers/temporal';
async function main() {
  const env = await startDevServer({ uiPort: 18933 });
  const ctx = await chromium.launchPersistentContext(mkdtempSync('/tmp/uiexp/prof-'), { executablePath: '/usr/bin/chromium', headless: true, viewport: { width: 1400, height: 1000 }, args: ['--no-sandbox','--disable-gpu','--disable-quic','--no-first-run','--disable-background-networking','--disable-component-update','--disable-sync'] });
  const page = await ctx.newPage();
  await page.goto('http://127.0.0.1:18933/namespaces/default/workflows/start-workflow');
  await page.getByTestId('workflowId').fill('ui-test-1');
  await page.getByTestId('taskQueue').fill('tq-x');
  await page.getByTestId('workflowType').fill('protectedBackup');
  await page.waitForTimeout(1500);
  await page.screenshot({ path: '/tmp/uiexp/filled.png', fullPage: true });
  writeFileSync('/tmp/uiexp/filled.html', await page.content());
  await ctx.close();
  await env.teardown();
}
main().catch((e) => { console.error(e); process.exit(1); });
