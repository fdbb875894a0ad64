// The demo playground (/demo) in Debian's Chromium through playwright-core: launching it,
// a fresh page that records everything that can go wrong, and reading the page's exchange
// log. Shared by playground.test.js, playground_action.test.js, browser.test.js and
// cors.test.js.

import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { chromium } from 'playwright-core';

const CHROMIUM = process.env.CHROMIUM_BIN ?? '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];
const STEP_TIMEOUT_MS = 10_000;

export async function launchChromium() {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} not found: install Debian's chromium (scripts/install-deps)`);
  }
  return chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
}

// A fresh profile with everything that can go wrong recorded: console errors, page
// errors, CSP violations (reported through an exposed function, so they survive the
// navigations to the sign-in pages and back), failed requests and dialogs (alert()).
export async function openPage(browser, { width = 1360, height = 940, colorScheme = 'light' } = {}) {
  const context = await browser.newContext({ viewport: { width, height }, colorScheme });
  context.setDefaultTimeout(STEP_TIMEOUT_MS);
  context.setDefaultNavigationTimeout(STEP_TIMEOUT_MS);
  const page = await context.newPage();
  const problems = { console: [], pageErrors: [], csp: [], failed: [], dialogs: [] };
  const log = [];
  page.on('console', (m) => {
    const at = m.location()?.url ? ` (${m.location().url})` : '';
    log.push(`${m.type()}: ${m.text()}${at}`);
    if (m.type() === 'error') problems.console.push(`${m.text()}${at}`);
  });
  page.on('pageerror', (e) => problems.pageErrors.push(String(e)));
  page.on('requestfailed', (r) => problems.failed.push(`${r.method()} ${r.url()}: ${r.failure()?.errorText}`));
  page.on('dialog', (d) => { problems.dialogs.push(`${d.type()}: ${d.message()}`); d.dismiss().catch(() => {}); });
  await page.exposeFunction('__plugauthCspViolation', (v) => problems.csp.push(v));
  await page.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) => {
      window.__plugauthCspViolation({
        directive: e.violatedDirective, blocked: e.blockedURI, page: e.documentURI,
        sample: e.sample, disposition: e.disposition,
      });
    });
  });
  return { context, page, problems, log };
}

export function assertNoProblems(problems, log, where) {
  const msg = `${where}: ${JSON.stringify(problems)}\nconsole:\n${log.join('\n')}`;
  assert.deepEqual(problems.csp, [], `CSP violation(s) ${msg}`);
  assert.deepEqual(problems.console, [], `console error(s) ${msg}`);
  assert.deepEqual(problems.pageErrors, [], `page error(s) ${msg}`);
  assert.deepEqual(problems.failed, [], `failed request(s) ${msg}`);
  assert.deepEqual(problems.dialogs, [], `dialog(s) ${msg}`);
}

// Chromium logs every fetch answered with 4xx as a console error ("Failed to load
// resource: … status of 401"). Drops exactly those lines for url, nothing else.
export function dropExpected(problems, status, url) {
  problems.console = problems.console.filter(
    (t) => !(t.includes(`status of ${status} `) && t.endsWith(`(${url})`)));
}

export async function ready(page) {
  await page.locator('body[data-ready=true]').waitFor({ state: 'attached' });
}

// The newest entry of the exchange log (`li.http`: HTTP exchanges only):
// {label, status, method, request, response, checks}.
export async function newest(page, which = 'li') {
  const li = page.locator(`#log > ${which}`).first();
  return {
    label: await li.locator('.ex-label').innerText(),
    status: await li.getAttribute('data-status'),
    method: await li.locator('.verb').innerText(),
    request: (await li.locator('pre').count()) > 0 ? await li.locator('pre').nth(0).innerText() : '',
    response: (await li.locator('pre').count()) > 1 ? await li.locator('pre').nth(1).innerText() : '',
    checks: await li.locator('.checks li').allInnerTexts(),
  };
}

// Clicks a button and waits until it is done and the log has `n` more HTTP exchanges;
// returns the newest exchange.
export async function clickAndLog(page, name, n = 1) {
  const before = await page.locator('#log > li.http').count();
  await page.getByRole('button', { name, exact: true }).click();
  await page.waitForFunction((want) => document.querySelectorAll('#log > li.http').length >= want,
    before + n);
  await page.locator('button[aria-busy]').waitFor({ state: 'detached' });
  return newest(page, 'li.http');
}

export async function pageText(page) {
  return page.locator('body').innerText();
}

// The real sign-in and consent pages: user and password, then Allow; resolves once
// the browser is back on the playground (/demo/callback, which moves to /demo).
export async function signInAndAllow(page, user, password) {
  await page.getByLabel('Username').fill(user);
  await page.getByLabel('Password').fill(password);
  await Promise.all([page.waitForLoadState('load'), page.getByRole('button', { name: 'Sign in', exact: true }).click()]);
  await page.getByRole('button', { name: 'Allow', exact: true }).waitFor();
  await Promise.all([
    page.waitForURL((u) => u.pathname === '/demo/callback' || u.pathname === '/demo'),
    page.getByRole('button', { name: 'Allow', exact: true }).click(),
  ]);
  await ready(page);
}
