// The ChatGPT side: /.well-known/ai-plugin.json (docs/chatgpt.md "Dialect 1: plugins"),
// /openapi.yaml, `plugauth manifest`, and serve refusing a manifest ChatGPT would reject.

import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';

import { Demo } from './lib/demo.js';
import { describeResponse, get } from './lib/http.js';
import { ISSUER, createPlugauth } from './lib/server.js';

let pa;
let base;

before(async () => {
  pa = createPlugauth();
  base = await pa.start();
});

after(async () => {
  await pa?.cleanup();
});

// Replaces `key = …` in the [plugin] section of pa's config file (adding it if absent).
function setPluginKey(inst, key, value) {
  const text = readFileSync(inst.conf, 'utf8');
  const line = new RegExp(`^;?\\s*${key}\\s*=.*$`, 'm');
  const next = line.test(text)
    ? text.replace(line, `${key} = ${value}`)
    : text.replace(/^\[plugin\]\s*$/m, `[plugin]\n${key} = ${value}`);
  assert.notEqual(next, text, `could not set ${key} in ${inst.conf}`);
  writeFileSync(inst.conf, next);
}

test('manifest_matches_contract', async () => {
  const res = await get(base, '/.well-known/ai-plugin.json');
  assert.equal(res.status, 200, describeResponse(res));
  assert.match(res.headers.get('content-type') ?? '', /^application\/json\b/i, describeResponse(res));
  assert.match(res.headers.get('cache-control') ?? '', /\bmax-age=300\b/, describeResponse(res));
  const m = res.json;
  assert.ok(m && typeof m === 'object', describeResponse(res));

  assert.equal(m.schema_version, 'v1');
  // No demo names outside the demo: neutral defaults, the name init wrote.
  assert.equal(m.name_for_model, 'service');
  assert.match(m.name_for_model, /^[A-Za-z0-9]{1,50}$/);
  assert.equal(m.name_for_human, '127.0.0.1');
  assert.ok(m.name_for_human.length > 0 && m.name_for_human.length <= 20);
  assert.ok(m.description_for_human.length > 0 && m.description_for_human.length <= 100);
  assert.ok(m.description_for_model.length > 0 && m.description_for_model.length <= 8000);
  // Required by ChatGPT; unset in the init'd config, so defaulted from the issuer
  // (where serve answers /logo.png with a built-in logo).
  assert.equal(m.logo_url, `${ISSUER}/logo.png`);
  assert.equal(m.legal_info_url, `${ISSUER}/legal`);
  assert.match(m.contact_email, /^[^@\s]+@[^@\s]+\.[^@\s]+$/);

  assert.deepEqual(m.api, {
    type: 'openapi',
    url: `${ISSUER}/openapi.yaml`,
    has_user_authentication: true,
  });
  assert.deepEqual(m.auth, {
    type: 'oauth',
    client_url: `${ISSUER}/oauth/authorize`,
    scope: 'todo.read',
    // The token endpoint, despite its name.
    authorization_url: `${ISSUER}/oauth/token`,
    authorization_content_type: 'application/json',
    verification_tokens: {},
  });
});

// The built-in document is the demo's (no_demo_leftovers.test.js: 404 outside it).
test('openapi_builtin_served', async () => {
  const demo = new Demo();
  let res;
  try {
    await demo.start();
    res = await get(demo.base, '/openapi.yaml');
  } finally {
    await demo.stop();
  }
  const ISSUER = demo.base;  // the demo's issuer is where it listens
  assert.equal(res.status, 200, describeResponse(res));
  assert.match(res.headers.get('content-type') ?? '', /^application\/yaml\b/i, describeResponse(res));
  const y = res.text;
  assert.match(y, /^openapi: "3\.0\.\d+"\n/);
  assert.ok(y.includes(`\nservers:\n  - url: "${ISSUER}"\n`), y);
  assert.ok(y.includes('\n  /api/todos:\n    get:\n'), y);
  // post under /api/todos, before the next path.
  const post = y.indexOf('\n    post:\n');
  assert.ok(post > y.indexOf('\n  /api/todos:\n') && post < y.indexOf('\n  /api/todos/{id}:\n'), y);
  assert.ok(y.includes('\n  /api/todos/{id}:\n    delete:\n'), y);
  assert.ok(y.includes('operationId: "listTodos"'), y);
  assert.ok(y.includes('operationId: "addTodo"'), y);
  assert.ok(y.includes('operationId: "deleteTodo"'), y);
  assert.ok(y.includes('\n        authorizationCode:\n'), y);
  assert.ok(y.includes(`authorizationUrl: "${ISSUER}/oauth/authorize"\n`), y);
  assert.ok(y.includes(`tokenUrl: "${ISSUER}/oauth/token"\n`), y);
  assert.ok(y.includes('\n            todo.read: '), y);
  assert.ok(y.includes('\n            todo.write: '), y);
  // Block style only: no tabs (YAML forbids them for indentation).
  assert.ok(!y.includes('\t'), y);
});

test('manifest_cli_prints_what_server_serves', async () => {
  const r = pa.cli(['manifest']);
  assert.equal(r.status, 0, r.stderr);
  const res = await get(base, '/.well-known/ai-plugin.json');
  assert.equal(res.status, 200, describeResponse(res));
  assert.equal(r.stdout, res.text);
  assert.deepEqual(JSON.parse(r.stdout), res.json);

  const help = pa.cli(['manifest', '--help']);
  assert.equal(help.status, 0, help.stderr);
  assert.match(help.stdout, /^usage: plugauth .*manifest/);
  const extra = pa.cli(['manifest', 'extra']);
  assert.equal(extra.status, 2, extra.stderr);
  assert.match(extra.stderr, /^plugauth: /);
});

test('bad_name_for_model_refused', async () => {
  const bad = createPlugauth();
  try {
    setPluginKey(bad, 'name_for_model', 'bad name!');
    for (const cmd of ['serve', 'manifest']) {
      const r = bad.cli([cmd]);
      assert.equal(r.status, 1, `${cmd}: stdout: ${r.stdout} stderr: ${r.stderr}`);
      assert.equal(r.stdout, '', `${cmd} printed: ${r.stdout}`);
      const lines = r.stderr.split('\n').filter((l) => l.startsWith('plugauth: '));
      assert.equal(lines.length, 1, `${cmd}: one plugauth: line expected: ${r.stderr}`);
      assert.match(lines[0], /name_for_model/, r.stderr);
    }
  } finally {
    await bad.cleanup();
  }
});

test('openapi_file_served_and_manifest_verification_token', async () => {
  const other = createPlugauth();
  try {
    const spec = JSON.stringify({ openapi: '3.0.1', info: { title: 'mine', version: '1' }, paths: {} });
    const file = join(other.dir, 'spec.json');
    writeFileSync(file, spec);
    setPluginKey(other, 'openapi_file', file);
    const text = readFileSync(other.conf, 'utf8');
    writeFileSync(other.conf, text.replace(/^;\s*openai\s*=.*$/m, 'openai = tok123'));
    const url = await other.start();
    const res = await get(url, '/openapi.yaml');
    assert.equal(res.status, 200, describeResponse(res));
    assert.match(res.headers.get('content-type') ?? '', /^application\/json\b/i, describeResponse(res));
    assert.equal(res.text, spec);
    const m = await get(url, '/.well-known/ai-plugin.json');
    assert.deepEqual(m.json?.auth?.verification_tokens, { openai: 'tok123' }, describeResponse(m));
    assert.equal(await other.stop(), 0);
  } finally {
    await other.cleanup();
  }
});
