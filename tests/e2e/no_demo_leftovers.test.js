// No demo leftovers in a real deployment (issue 12, item 2): the sign-in pages name the
// service ([service] name, set by `init --name`; else the issuer's host) and describe the
// scopes from [oauth.scope_descriptions]; "TODO List" is the demo's alone. /openapi.yaml
// answers 404 unless [plugin] openapi_file is set, and a file whose servers[0].url is not
// under the issuer stops start-up. `init` with a loopback issuer listens on its port.

import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';

import {
  Browser, PASSWORD, addClient, addUser, assertErrorPage, assertHtmlPage, authorizePath, isConsentForm,
  isLoginForm, newState, theForm,
} from './lib/flow.js';
import { describeResponse, freePort, get } from './lib/http.js';
import { Plugauth, createPlugauth } from './lib/server.js';

const REDIRECT = 'http://127.0.0.1:9/cb';

// Sets `key = value` in [section] of inst's config: replaces the key's line (or its
// commented example) inside that section, else adds it under the header (adding the
// section at the end if the file has none). Returns the 1-based line written.
function setKey(inst, section, key, value) {
  const lines = readFileSync(inst.conf, 'utf8').split('\n');
  let start = lines.findIndex((l) => l.trim() === `[${section}]`);
  if (start < 0) {
    lines.push('', `[${section}]`);
    start = lines.length - 1;
  }
  let end = lines.findIndex((l, i) => i > start && /^\[/.test(l.trim()));
  if (end < 0) end = lines.length;
  const re = new RegExp(`^;?\\s*${key.replace(/\./g, '\\.')}\\s*=`);
  let at = lines.findIndex((l, i) => i > start && i < end && re.test(l));
  if (at < 0) {
    lines.splice(start + 1, 0, `${key} = ${value}`);
    at = start + 1;
  } else {
    lines[at] = `${key} = ${value}`;
  }
  writeFileSync(inst.conf, lines.join('\n'));
  return at + 1;
}


// Runs `serve` expecting it to stop before listening; returns its stderr.
function serveRefused(inst) {
  const r = inst.cli(['serve']);
  assert.equal(r.status, 1, `serve should refuse: stdout ${r.stdout} stderr ${r.stderr}`);
  assert.doesNotMatch(r.stdout, /listening on/);
  return r.stderr;
}

// The login page, then (after signing in) the consent page, and an error page, of inst's
// running server at base for scope.
async function pages(inst, base, scope) {
  addUser(inst, 'alice');
  const client = addClient(inst, 'Notes app', ['--redirect-uri', REDIRECT, '--scope', scope]);
  const b = new Browser(base);
  const login = await b.get(authorizePath({
    response_type: 'code', client_id: client.client_id, redirect_uri: REDIRECT, scope, state: newState(),
  }));
  assertHtmlPage(login, 200);
  assert.ok(isLoginForm(theForm(login)), describeResponse(login));
  const consent = await b.submit(login, { username: 'alice', password: PASSWORD });
  assertHtmlPage(consent, 200);
  assert.ok(isConsentForm(theForm(consent)), describeResponse(consent));
  const error = await b.get(authorizePath({ response_type: 'code', client_id: 'nobody', redirect_uri: REDIRECT }));
  assertErrorPage(error, 400);
  return { login: login.text, consent: consent.text, error: error.text };
}

test('service_name_and_scope_descriptions_on_pages', async () => {
  const pa = new Plugauth();
  try {
    pa.init({ extraArgs: ['--name', 'Acme <Notes>'] });
    setKey(pa, 'oauth', 'scopes', 'notes.read notes.write');
    setKey(pa, 'oauth', 'default_scope', 'notes.read');
    setKey(pa, 'oauth.scope_descriptions', 'notes.read', 'See your notes & "lists"');
    const base = await pa.start();
    const p = await pages(pa, base, 'notes.read notes.write');
    for (const [name, html] of Object.entries(p)) {
      assert.match(html, /Acme &lt;Notes&gt;/, `${name} page names the service, escaped: ${html}`);
      assert.doesNotMatch(html, /TODO/, `${name} page has a demo leftover`);
    }
    assert.match(p.login, /Sign in to Acme &lt;Notes&gt;/);
    assert.match(p.consent, /<li>See your notes &amp; &quot;lists&quot;<\/li>/, p.consent);
    // No description: the scope itself.
    assert.match(p.consent, /<li>notes\.write<\/li>/, p.consent);
    assert.doesNotMatch(p.consent, /<li>notes\.read<\/li>/, p.consent);
    assert.equal(await pa.stop(), 0);
  } finally {
    await pa.cleanup();
  }
});

test('todo_list_absent_from_a_deployment_without_name', async () => {
  const pa = createPlugauth();
  try {
    const conf = readFileSync(pa.conf, 'utf8');
    assert.doesNotMatch(conf, /TODO/, 'init wrote a demo leftover');  // (the default scopes stay todo.*)
    assert.match(conf, /^\[service\]\n(?:;.*\n)*name = 127\.0\.0\.1$/m, conf);
    const base = await pa.start();
    const p = await pages(pa, base, 'todo.read');
    for (const [name, html] of Object.entries(p)) {
      assert.doesNotMatch(html, /TODO List|TODO list/, `${name} page: ${html}`);
      assert.match(html, /127\.0\.0\.1/, `${name} page names the issuer's host`);
    }
    const m = await get(base, '/.well-known/ai-plugin.json');
    assert.equal(m.status, 200, describeResponse(m));
    assert.doesNotMatch(m.text, /TODO/, m.text);
    assert.equal(m.json.name_for_human, '127.0.0.1');
    // The default logo_url answers: a built-in PNG, not a 404.
    const logo = await fetch(new URL(new URL(m.json.logo_url).pathname, base));
    const bytes = Buffer.from(await logo.arrayBuffer());
    assert.equal(logo.status, 200);
    assert.equal(logo.headers.get('content-type'), 'image/png');
    assert.equal(bytes.subarray(1, 4).toString(), 'PNG');
    assert.equal(await pa.stop(), 0);
  } finally {
    await pa.cleanup();
  }
});

test('default_legal_info_url_answers_until_set', async () => {
  const pa = createPlugauth();
  try {
    let base = await pa.start();
    // Unset: the manifest points at <issuer>/legal, which answers a page (ChatGPT
    // fetches it), and serve warns that the operator's terms are missing.
    const m = await get(base, '/.well-known/ai-plugin.json');
    const path = new URL(m.json.legal_info_url).pathname;
    assert.equal(path, '/legal');
    const page = await fetch(new URL(path, base));
    const html = await page.text();
    assert.equal(page.status, 200, html);
    assert.match(page.headers.get('content-type') ?? '', /^text\/html/);
    assert.match(page.headers.get('content-security-policy') ?? '', /default-src 'none'/);
    assert.match(html, /has not published its terms/);
    assert.match(html, /legal_info_url/);
    assert.match(pa.log, /level=warn event=legal_info_url_unset/);
    assert.equal(await pa.stop(), 0);
    // Set: the manifest names the operator's page, /legal is gone and nothing is said.
    pa.stderr = '';   // only what the second start logs
    base = await pa.start({ env: { PLUGAUTH_PLUGIN_LEGAL_INFO_URL: 'https://example.com/terms' } });
    const m2 = await get(base, '/.well-known/ai-plugin.json');
    assert.equal(m2.json.legal_info_url, 'https://example.com/terms');
    const gone = await get(base, '/legal');
    assert.equal(gone.status, 404, describeResponse(gone));
    assert.doesNotMatch(pa.log, /legal_info_url_unset/);
    assert.equal(await pa.stop(), 0);
  } finally {
    await pa.cleanup();
  }
});

test('openapi_404_without_file_200_with_one', async () => {
  const pa = createPlugauth();
  try {
    let base = await pa.start();
    const none = await get(base, '/openapi.yaml');
    assert.equal(none.status, 404, describeResponse(none));
    assert.equal(none.json?.error, 'not_found', describeResponse(none));
    assert.equal(await pa.stop(), 0);

    const file = join(pa.dir, 'openapi.yaml');
    const spec = 'openapi: 3.0.3\ninfo:\n  title: Notes\n  version: "1"\n'
      + 'servers:\n  # the API, through the gateway\n  - description: prod\n'
      + '    url: "http://127.0.0.1:8080/api" # same host\npaths: {}\n';
    writeFileSync(file, spec);
    setKey(pa, 'plugin', 'openapi_file', file);
    base = await pa.start();
    const res = await get(base, '/openapi.yaml');
    assert.equal(res.status, 200, describeResponse(res));
    assert.equal(res.text, spec);
    assert.doesNotMatch(pa.log, /openapi_file/, 'a good file draws no warning');
    assert.equal(await pa.stop(), 0);
  } finally {
    await pa.cleanup();
  }
});

test('openapi_file_servers_on_another_host_refused', async () => {
  const pa = createPlugauth();
  try {
    const yaml = join(pa.dir, 'openapi.yaml');
    writeFileSync(yaml, 'openapi: 3.0.3\nservers:\n- url: https://api.elsewhere.example/v1\npaths: {}\n');
    setKey(pa, 'plugin', 'openapi_file', yaml);
    let err = serveRefused(pa);
    assert.match(err, /^plugauth: \[plugin\] openapi_file: .*openapi\.yaml: servers\[0\]\.url "https:\/\/api\.elsewhere\.example\/v1" is not under the issuer http:\/\/127\.0\.0\.1:8080/m, err);

    const json = join(pa.dir, 'openapi.json');
    writeFileSync(json, JSON.stringify({ openapi: '3.0.3', servers: [{ url: 'http://127.0.0.1:8080.evil.example' }] }));
    setKey(pa, 'plugin', 'openapi_file', json);
    err = serveRefused(pa);
    assert.match(err, /servers\[0\]\.url "http:\/\/127\.0\.0\.1:8080\.evil\.example" is not under the issuer/, err);

    writeFileSync(json, '{"openapi": "3.0.3", "servers": [');
    err = serveRefused(pa);
    assert.match(err, /openapi\.json does not parse as JSON/, err);
  } finally {
    await pa.cleanup();
  }
});

test('init_loopback_issuer_port_becomes_listen', async () => {
  const port = await freePort();
  const pa = new Plugauth();
  try {
    const r = pa.cli(['init', '--issuer', `http://127.0.0.1:${port}`, '--db', `sqlite:${pa.db}`]);
    assert.equal(r.status, 0, r.stderr);
    const conf = readFileSync(pa.conf, 'utf8');
    assert.match(conf, new RegExp(`^listen = 127\\.0\\.0\\.1:${port}$`, 'm'), conf);
    assert.match(r.stdout, new RegExp(`serve +# listens on 127\\.0\\.0\\.1:${port}`), r.stdout);
    assert.match(r.stdout, /Service name on the sign-in pages: 127\.0\.0\.1/, r.stdout);
    assert.match(r.stdout, /\[gateway\] upstream/, r.stdout);
    const base = await pa.start();
    assert.equal(base, `http://127.0.0.1:${port}`);
    const res = await get(base, '/healthz');
    assert.equal(res.status, 200, describeResponse(res));
    assert.equal(await pa.stop(), 0);
  } finally {
    await pa.cleanup();
  }
});

test('unknown_scope_in_scope_descriptions_stops_startup', async () => {
  const pa = createPlugauth();
  try {
    const line = setKey(pa, 'oauth.scope_descriptions', 'notes.read', 'See your notes');
    const err = serveRefused(pa);
    assert.match(err, new RegExp(`^plugauth: .*plugauth\\.conf:${line}: \\[oauth\\.scope_descriptions\\] notes\\.read: 'notes\\.read' is not in \\[oauth\\] scopes$`, 'm'), err);
  } finally {
    await pa.cleanup();
  }
});
