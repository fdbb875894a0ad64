// The demo playground's MCP tab in a real browser (Playwright, Debian's Chromium): it
// plays an MCP client that knows only the URL of /mcp, step by step, each exchange in
// the page's log: 401 → protected-resource metadata → authorization server metadata →
// dynamic registration → PKCE sign-in on the real pages with `resource` → token request
// with `resource` → initialize, tools/list, tools/call. The page runs under its CSP,
// shows no whole token, and logs no console error but the expected 401 of step 1.
// Screenshots land in tests/e2e/output/playground/ (git-ignored).

import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { DEMO_PASSWORD, DEMO_USER, startDemo } from './lib/demo.js';
import {
  assertNoProblems, clickAndLog, dropExpected, launchChromium, openPage, pageText, ready, signInAndAllow,
} from './lib/playground.js';

const here = dirname(fileURLToPath(import.meta.url));
const OUT = join(here, 'output', 'playground');
const WHOLE_TOKEN_RE = /pa_(?:at|rt|ac|cs|ss|rg)_[A-Za-z0-9_-]{43}/;

let demo;
let base;
let browser;

before(async () => {
  mkdirSync(OUT, { recursive: true });
  demo = await startDemo();
  base = demo.base;
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  await demo?.stop();
});

// Every HTTP exchange in the page's log, oldest first: {label, status, request, response}.
async function exchanges(page) {
  const items = page.locator('#log > li.http');
  const out = [];
  for (let i = (await items.count()) - 1; i >= 0; i--) {
    const li = items.nth(i);
    out.push({
      label: await li.locator('.ex-label').innerText(),
      status: await li.getAttribute('data-status'),
      request: await li.locator('pre').nth(0).textContent(),
      response: await li.locator('pre').nth(1).textContent(),
    });
  }
  return out;
}

// The step list's state: ['y'|'n'|'p', …] for steps 1 to 7.
async function steps(page) {
  return page.locator('#mcp-steps li').evaluateAll((lis) => lis.map((li) => li.className));
}

test('playground_mcp_tab_plays_an_mcp_client_from_the_401_to_a_tool_call', async () => {
  const { context, page, problems, log } = await openPage(browser);
  try {
    await page.goto(demo.playgroundUrl);
    await ready(page);
    await page.getByRole('tab', { name: 'MCP client' }).click();
    assert.equal(await page.locator('#tab-plugin').isHidden(), true);
    assert.equal(await page.locator('#mcp-url').innerText(), `${base}/mcp`);
    assert.deepEqual(await steps(page), ['p', 'p', 'p', 'p', 'p', 'p', 'p']);

    // Steps 1 to 5: the discovery and registration exchanges, then the sign-in page.
    await Promise.all([
      page.waitForURL((u) => u.pathname === '/oauth/authorize'),
      page.getByRole('button', { name: 'Connect as an MCP client', exact: true }).click(),
    ]);
    const authz = new URL(page.url());
    assert.equal(authz.searchParams.get('resource'), base, 'resource: the metadata\'s (RFC 8707)');
    assert.equal(authz.searchParams.get('code_challenge_method'), 'S256');
    assert.equal(authz.searchParams.get('redirect_uri'), `${base}/demo/callback`);
    assert.equal(authz.searchParams.get('scope'), 'todo.read todo.write');
    const clientId = authz.searchParams.get('client_id');
    assert.ok(clientId && clientId !== 'demo-playground', `a registered client: ${clientId}`);
    await page.screenshot({ path: join(OUT, 'mcp-01-sign-in.png'), fullPage: true });
    await signInAndAllow(page, DEMO_USER, DEMO_PASSWORD);

    // Back on the playground, the MCP tab again: token, initialize, tools/list.
    await page.locator('#mcp-session').waitFor({ state: 'visible' });
    assert.equal(await page.locator('#tab-mcp').isVisible(), true);
    await page.waitForFunction(() => document.querySelector('#mcp-tools')?.textContent.includes('add_todo'));
    assert.equal(await page.locator('#mcp-client-id').innerText(), clientId);
    assert.equal(await page.locator('#mcp-resource').innerText(), base);
    assert.match(await page.locator('#mcp-token').innerText(), /^pa_at_[A-Za-z0-9_-]{4}\u2026$/);
    assert.equal(await page.locator('#mcp-version').innerText(), '2025-11-25');

    // Step 7: a tool call with the bearer token.
    await page.locator('#mcp-text').fill('buy oat milk');
    const add = await clickAndLog(page, 'Call add_todo');
    assert.equal(add.status, '200', add.response);
    assert.match(add.request, /^Authorization: Bearer pa_at_[A-Za-z0-9_-]{4}\u2026$/m);
    assert.match(add.request, /"method":"tools\/call"/);
    assert.match(await page.locator('#mcp-result').innerText(), /"text": "buy oat milk"/);
    const list = await clickAndLog(page, 'Call list_todos');
    assert.match(list.response, /buy oat milk/);
    assert.deepEqual(await steps(page), ['y', 'y', 'y', 'y', 'y', 'y', 'y']);
    await page.screenshot({ path: join(OUT, 'mcp-02-tool-call.png'), fullPage: true });

    // The log shows each step's exchange, in order.
    const ex = await exchanges(page);
    const labels = ex.map((e) => e.label);
    const at = (re) => labels.findIndex((l) => re.test(l));
    const order = [/initialize without a token/, /protected-resource metadata/, /authorization server metadata/,
      /register a client/, /exchange the code/, /^MCP: initialize$/, /tools\/list/, /tools\/call add_todo/];
    const idx = order.map(at);
    assert.ok(idx.every((i) => i >= 0), `missing steps: ${JSON.stringify(labels)}`);
    assert.deepEqual([...idx].sort((a, b) => a - b), idx, `out of order: ${JSON.stringify(labels)}`);
    const e1 = ex[idx[0]];
    assert.equal(e1.status, '401');
    assert.match(e1.response, /^www-authenticate: Bearer resource_metadata="[^"]+\/\.well-known\/oauth-protected-resource"/mi);
    assert.equal(ex[idx[3]].status, '201');
    const tok = ex[idx[4]];
    assert.equal(tok.status, '200', tok.response);
    assert.ok(tok.request.includes(`resource=${encodeURIComponent(base)}`), tok.request);
    assert.match(tok.request, /code_verifier=[A-Za-z0-9_-]{10}\u2026/);
    const initialized = labels.findIndex((l) => /notifications\/initialized/.test(l));
    assert.equal(ex[initialized].status, '202');

    // The user's list, through the TODO API too: the same demo user.
    const text = await pageText(page);
    assert.doesNotMatch(text, WHOLE_TOKEN_RE, 'a whole token on the page');
    const kept = await page.evaluate(() => sessionStorage.getItem('plugauth.playground.log'));
    assert.doesNotMatch(kept, WHOLE_TOKEN_RE, 'the log the tab keeps has no whole token');
    assert.ok(kept.includes('MCP: register a client'), 'the MCP steps are in the kept log');
    dropExpected(problems, 401, `${base}/mcp`);
    assertNoProblems(problems, log, 'MCP tab');
  } finally {
    await context.close();
  }
});

test('playground_plugin_tab_is_the_default_and_the_tab_choice_is_kept', async () => {
  const { context, page, problems, log } = await openPage(browser);
  try {
    await page.goto(demo.playgroundUrl);
    await ready(page);
    assert.equal(await page.locator('#tab-plugin').isVisible(), true);
    assert.equal(await page.locator('#tab-mcp').isHidden(), true);
    assert.equal(await page.getByRole('tab', { name: 'Plugin & GPT Action' }).getAttribute('aria-selected'), 'true');
    await page.getByRole('tab', { name: 'MCP client' }).click();
    await page.reload();
    await ready(page);
    assert.equal(await page.locator('#tab-mcp').isVisible(), true, 'kept for the tab (sessionStorage)');
    assert.equal(await page.getByRole('tab', { name: 'MCP client' }).getAttribute('aria-selected'), 'true');
    assertNoProblems(problems, log, 'tabs');
  } finally {
    await context.close();
  }
});
