// /docs in a real browser: Swagger UI, POST /sdapi/v1/txt2img, "Try it out",
// a small body, Execute, a 200 whose rendered body shows "images".
//
//   SDAPI_URL=http://127.0.0.1:7860 node scripts/browser-test.mjs OUT_DIR
//
// Drives Debian's chromium (CHROMIUM, default /usr/bin/chromium) through
// playwright-core (pinned in package.json; no browser download) with a fresh
// profile, and writes OUT_DIR/docs-txt2img.png (the executed operation) and
// OUT_DIR/docs-txt2img-body.txt (the response body as rendered).
import { chromium } from 'playwright-core';
import { mkdtempSync, rmSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const base = (process.env.SDAPI_URL || '').replace(/\/$/, '');
const outDir = process.argv[2] || 'out/browser';
const executablePath = process.env.CHROMIUM || '/usr/bin/chromium';
if (!base) {
  console.error('browser-test: set SDAPI_URL');
  process.exit(2);
}
mkdirSync(outDir, { recursive: true });

const smallBody = {
  prompt: 'a lighthouse at dusk',
  negative_prompt: '',
  seed: 1234,
  sampler_name: 'Euler',
  steps: 2,
  width: 64,
  height: 64,
  cfg_scale: 7,
  batch_size: 1,
  n_iter: 1,
};

const profile = mkdtempSync(join(tmpdir(), 'sdapi-chromium-'));
const step = msg => console.log(`browser-test: ${msg}`);
let context;
let page;
let code = 1;
try {
  // launchPersistentContext passes the fresh profile as --user-data-dir.
  context = await chromium.launchPersistentContext(profile, {
    executablePath,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: { width: 1280, height: 1000 },
    timeout: 60_000,
  });
  page = context.pages()[0] || (await context.newPage());
  page.setDefaultTimeout(60_000);
  const consoleErrors = [];
  page.on('console', m => { if (m.type() === 'error') consoleErrors.push(m.text()); });
  page.on('pageerror', e => consoleErrors.push(String(e)));

  step(`open ${base}/docs (${await context.browser()?.version?.() ?? 'chromium'})`);
  await page.goto(`${base}/docs`, { waitUntil: 'domcontentloaded' });
  const op = page.locator('.opblock.opblock-post').filter({
    has: page.locator('.opblock-summary-path[data-path="/sdapi/v1/txt2img"]'),
  }).first();
  await op.waitFor({ state: 'visible' });
  step('expand POST /sdapi/v1/txt2img');
  await op.locator('.opblock-summary').first().click();

  const tryOut = op.locator('button.try-out__btn');
  await tryOut.waitFor({ state: 'visible' });
  if ((await tryOut.innerText()).trim().toLowerCase() !== 'cancel') {
    step('Try it out');
    await tryOut.click();
  }
  const body = op.locator('textarea.body-param__text');
  await body.waitFor({ state: 'visible' });
  step('edit the body: 64×64, 2 steps');
  await body.fill(JSON.stringify(smallBody, null, 2));

  step('Execute');
  await op.locator('button.execute').click();
  const status = op.locator('.live-responses-table .response .response-col_status').first();
  await status.waitFor({ state: 'visible', timeout: 120_000 });
  const statusText = (await status.innerText()).trim();
  const rendered = op.locator('.live-responses-table .response-col_description .microlight, .live-responses-table .response-col_description pre').first();
  await rendered.waitFor({ state: 'visible', timeout: 15_000 });
  const text = await rendered.innerText();
  writeFileSync(join(outDir, 'docs-txt2img-body.txt'), text);
  step(`response ${statusText}, rendered body ${text.length} characters`);

  // The screenshot shows the request body and the live response.
  await op.locator('.live-responses-table').first().scrollIntoViewIfNeeded();
  await page.evaluate(() => window.scrollBy(0, -420));
  await page.screenshot({ path: join(outDir, 'docs-txt2img.png') });
  step(`screenshot ${join(outDir, 'docs-txt2img.png')}`);

  const problems = [];
  if (!/^200\b/.test(statusText)) problems.push(`status ${JSON.stringify(statusText)}, want 200`);
  if (!text.includes('"images"')) problems.push('the rendered response body does not contain "images"');
  if (consoleErrors.length) step(`console errors (not fatal): ${consoleErrors.join(' | ')}`);
  if (problems.length) {
    console.error(`browser-test: FAIL: ${problems.join('; ')}`);
  } else {
    step('PASS');
    code = 0;
  }
} catch (e) {
  console.error(`browser-test: FAIL: ${e && e.stack ? e.stack : e}`);
  if (page) {
    // Evidence for the failure: the page as it was.
    await page.screenshot({ path: join(outDir, 'docs-failure.png'), fullPage: true }).catch(() => {});
    writeFileSync(join(outDir, 'docs-failure.html'), await page.content().catch(() => ''));
    console.error(`browser-test: page saved to ${join(outDir, 'docs-failure.html')} and docs-failure.png`);
  }
} finally {
  if (context) await context.close().catch(() => {});
  rmSync(profile, { recursive: true, force: true });
}
process.exit(code);
