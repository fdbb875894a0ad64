// The command line: init, client add/list/remove/rotate-secret, user add/list/remove,
// help, and the exit-code contract (0 ok, 1 runtime failure, 2 usage error; errors are
// one stderr line starting "plugauth: ").

import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';

import { ISSUER, Plugauth, createPlugauth, jsonLines, run } from './lib/server.js';

let pa;

before(() => {
  pa = createPlugauth();
});

after(async () => {
  await pa?.cleanup();
});

function show(r) {
  return `exit ${r.status}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`;
}

function assertFails(r, status) {
  assert.equal(r.status, status, show(r));
  const lines = r.stderr.replace(/\n$/, '').split('\n');
  assert.equal(lines.length, 1, `exactly one stderr line expected:\n${show(r)}`);
  assert.match(lines[0], /^plugauth: \S/, show(r));
}

// A minimal INI reader: {section: {key: value}}, ';' and '#' comments.
function readIni(text) {
  const out = {};
  let section = '';
  for (const raw of text.split('\n')) {
    const line = raw.replace(/\s[;#].*$/, '').replace(/^[;#].*$/, '').trim();
    if (!line) continue;
    const m = /^\[(.+)\]$/.exec(line);
    if (m) { section = m[1].trim(); out[section] ??= {}; continue; }
    const eq = line.indexOf('=');
    if (eq < 0) continue;
    (out[section] ??= {})[line.slice(0, eq).trim()] = line.slice(eq + 1).trim();
  }
  return out;
}

// Every byte of the database files (db, -wal, -shm).
function databaseBytes(p) {
  return Buffer.concat(readdirSync(p.dir)
    .filter((f) => f.startsWith('plugauth.db'))
    .map((f) => readFileSync(join(p.dir, f))));
}

// --- init ---------------------------------------------------------------------------

test('init_writes_config_with_defaults', () => {
  assert.ok(existsSync(pa.conf), 'config file written');
  assert.ok(existsSync(pa.db), 'database created');
  const ini = readIni(readFileSync(pa.conf, 'utf8'));
  assert.equal(ini.server?.issuer, ISSUER);
  assert.equal(ini.server?.listen, '127.0.0.1:0');
  assert.equal(ini.database?.url, `sqlite:${pa.db}`);
  assert.equal(ini.oauth?.scopes, 'todo.read todo.write');
  assert.equal(ini.oauth?.default_scope, 'todo.read');
  assert.equal(ini.oauth?.access_ttl, '3600');
});

test('init_refuses_to_overwrite_without_force', () => {
  const before_ = readFileSync(pa.conf, 'utf8');
  const r = pa.cli(['init', '--issuer', 'http://127.0.0.1:9999', '--db', `sqlite:${pa.db}`,
    '--listen', '127.0.0.1:0']);
  assertFails(r, 1);
  assert.equal(readFileSync(pa.conf, 'utf8'), before_, 'config unchanged');
});

test('init_force_overwrites', async () => {
  const p = createPlugauth();
  try {
    const r = p.cli(['init', '--issuer', 'http://127.0.0.1:9999', '--db', `sqlite:${p.db}`,
      '--listen', '127.0.0.1:0', '--force']);
    assert.equal(r.status, 0, show(r));
    assert.equal(readIni(readFileSync(p.conf, 'utf8')).server?.issuer, 'http://127.0.0.1:9999');
  } finally {
    await p.cleanup();
  }
});

test('init_without_issuer_is_usage_error', async () => {
  const p = new Plugauth();
  try {
    assertFails(p.cli(['init', '--db', `sqlite:${p.db}`]), 2);
    assert.ok(!existsSync(p.conf), 'no config written on a usage error');
  } finally {
    await p.cleanup();
  }
});

// --- help and usage errors ----------------------------------------------------------

test('help_exits_0_with_usage_on_stdout', () => {
  const r = run(['--help']);
  assert.equal(r.status, 0, show(r));
  assert.match(r.stdout, /plugauth/);
  for (const cmd of ['init', 'serve', 'client', 'user']) {
    assert.match(r.stdout, new RegExp(`\\b${cmd}\\b`), `--help mentions ${cmd}`);
  }
});

test('command_help_exits_0_with_usage_on_stdout', () => {
  for (const cmd of [['init'], ['serve'], ['client'], ['user'], ['client', 'add'], ['user', 'add']]) {
    const r = run([...cmd, '--help']);
    assert.equal(r.status, 0, `${cmd.join(' ')} --help: ${show(r)}`);
    assert.ok(r.stdout.trim().length > 0, `${cmd.join(' ')} --help prints usage on stdout`);
  }
  const r = run(['client', 'add', '--help']);
  assert.match(r.stdout, /--redirect-uri/);
});

test('unknown_command_is_usage_error', () => {
  assertFails(pa.cli(['frobnicate']), 2);
  assertFails(pa.cli(['client', 'frobnicate']), 2);
  assertFails(pa.cli(['user', 'frobnicate']), 2);
});

test('unknown_flag_is_usage_error', () => {
  assertFails(pa.cli(['client', 'add', '--name', 'x', '--redirect-uri', 'https://a.example/cb', '--bogus']), 2);
  assertFails(pa.cli(['init', '--issuer', ISSUER, '--bogus']), 2);
  assertFails(pa.cli(['serve', '--bogus']), 2);
  assertFails(run(['--bogus', 'serve']), 2);
});

test('missing_required_flag_is_usage_error', () => {
  assertFails(pa.cli(['client', 'add', '--redirect-uri', 'https://a.example/cb']), 2);
  assertFails(pa.cli(['client', 'add', '--name', 'x']), 2);
  assertFails(pa.cli(['client', 'remove']), 2);
  assertFails(pa.cli(['client', 'rotate-secret']), 2);
  assertFails(pa.cli(['user', 'add']), 2);
  assertFails(pa.cli(['user', 'remove']), 2);
});

test('missing_config_is_runtime_error', () => {
  const missing = join(pa.dir, 'nope.conf');
  assertFails(run(['-c', missing, 'serve']), 1);
  assertFails(run(['-c', missing, 'client', 'add', '--name', 'x', '--redirect-uri', 'https://a.example/cb']), 1);
  assertFails(run(['--config', missing, 'client', 'list']), 1);
});

// --- clients ------------------------------------------------------------------------

test('client_add_json_confidential', () => {
  const r = pa.cli(['client', 'add', '--name', 'My GPT',
    '--redirect-uri', 'https://chat.openai.com/aip/plugin-1234/oauth/callback',
    '--redirect-uri', 'https://chatgpt.com/aip/plugin-1234/oauth/callback',
    '--scope', 'todo.read todo.write', '--json']);
  assert.equal(r.status, 0, show(r));
  const c = JSON.parse(r.stdout);
  assert.equal(typeof c.client_id, 'string');
  assert.ok(c.client_id.length > 0);
  assert.match(c.client_secret, /^pa_cs_[A-Za-z0-9_-]{43,}$/);
  assert.equal(c.name, 'My GPT');
  assert.deepEqual(c.redirect_uris, [
    'https://chat.openai.com/aip/plugin-1234/oauth/callback',
    'https://chatgpt.com/aip/plugin-1234/oauth/callback',
  ]);
  assert.deepEqual(c.scope.split(' ').sort(), ['todo.read', 'todo.write']);
});

test('client_add_json_public_has_no_secret', () => {
  const c = pa.addClient({ name: 'mcp', isPublic: true });
  assert.equal(typeof c.client_id, 'string');
  assert.ok(c.client_secret === undefined || c.client_secret === null, JSON.stringify(c));
});

test('client_ids_and_secrets_are_unique', () => {
  const a = pa.addClient({ name: 'a' });
  const b = pa.addClient({ name: 'b' });
  assert.notEqual(a.client_id, b.client_id);
  assert.notEqual(a.client_secret, b.client_secret);
});

test('client_list_json_never_shows_secrets', () => {
  const c = pa.addClient({ name: 'listed', scope: 'todo.read' });
  for (const args of [['client', 'list', '--json'], ['client', 'list']]) {
    const r = pa.cli(args);
    assert.equal(r.status, 0, show(r));
    assert.ok(!r.stdout.includes(c.client_secret), `${args.join(' ')} shows a secret`);
    assert.ok(!r.stdout.includes('pa_cs_'), `${args.join(' ')} shows a secret`);
  }
  const list = jsonLines(pa.cli(['client', 'list', '--json']).stdout);
  assert.ok(list.length > 0);
  const mine = list.find((x) => x.client_id === c.client_id);
  assert.ok(mine, 'the new client is listed');
  assert.equal(mine.name, 'listed');
  assert.deepEqual(mine.redirect_uris, ['https://client.example/cb']);
  assert.equal(mine.scope, 'todo.read');
  for (const x of list) assert.ok(x.client_secret === undefined || x.client_secret === null);
});

test('client_secret_stored_hashed', () => {
  const c = pa.addClient({ name: 'hashed' });
  const bytes = databaseBytes(pa);
  assert.ok(!bytes.includes(c.client_secret), 'the database holds the secret in clear');
  assert.ok(!bytes.includes(c.client_secret.slice('pa_cs_'.length)), 'the database holds the secret in clear');
});

test('client_remove', () => {
  const c = pa.addClient({ name: 'to-remove' });
  const r = pa.cli(['client', 'remove', c.client_id]);
  assert.equal(r.status, 0, show(r));
  const list = jsonLines(pa.cli(['client', 'list', '--json']).stdout);
  assert.ok(!list.some((x) => x.client_id === c.client_id), 'removed client still listed');
});

test('client_remove_unknown_id_is_runtime_error', () => {
  assertFails(pa.cli(['client', 'remove', 'no-such-client-id']), 1);
});

test('client_rotate_secret_json', () => {
  const c = pa.addClient({ name: 'rotate' });
  const r = pa.cli(['client', 'rotate-secret', c.client_id, '--json']);
  assert.equal(r.status, 0, show(r));
  const n = JSON.parse(r.stdout);
  assert.equal(n.client_id, c.client_id);
  assert.match(n.client_secret, /^pa_cs_[A-Za-z0-9_-]{43,}$/);
  assert.notEqual(n.client_secret, c.client_secret);
});

test('client_rotate_secret_unknown_id_is_runtime_error', () => {
  assertFails(pa.cli(['client', 'rotate-secret', 'no-such-client-id']), 1);
});

// --- users ----------------------------------------------------------------------------

test('user_add_password_stdin_list_remove', () => {
  const password = 'correct horse battery staple 7a9e';
  const add = pa.cli(['user', 'add', 'alice', '--password-stdin'], { input: `${password}\n` });
  assert.equal(add.status, 0, show(add));
  assert.ok(!add.stdout.includes(password) && !add.stderr.includes(password), 'password echoed');

  const bytes = databaseBytes(pa);
  assert.ok(!bytes.includes(password), 'the database holds the password in clear');

  let list = pa.cli(['user', 'list']);
  assert.equal(list.status, 0, show(list));
  assert.match(list.stdout, /\balice\b/);

  const rm = pa.cli(['user', 'remove', 'alice']);
  assert.equal(rm.status, 0, show(rm));
  list = pa.cli(['user', 'list']);
  assert.equal(list.status, 0, show(list));
  assert.doesNotMatch(list.stdout, /\balice\b/);
});

test('user_remove_unknown_is_runtime_error', () => {
  assertFails(pa.cli(['user', 'remove', 'nobody-by-this-name']), 1);
});

test('user_list_json_lines_of_names_and_creation_times', async () => {
  const p = createPlugauth();
  try {
    let r = p.cli(['user', 'list', '--json']);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, '', 'no users: no lines');
    for (const name of ['carol', 'dave@example.com']) {
      r = p.cli(['user', 'add', name, '--password-stdin'], { input: 'a long password\n' });
      assert.equal(r.status, 0, r.stderr);
    }
    r = p.cli(['user', 'list', '--json']);
    assert.equal(r.status, 0, r.stderr);
    const users = jsonLines(r.stdout);
    assert.equal(r.stdout.split('\n').length, 3, 'one line per user');
    assert.deepEqual(users.map((u) => u.name).sort(), ['carol', 'dave@example.com']);
    const now = Date.now() / 1000;
    for (const u of users) {
      assert.equal(Object.keys(u).sort().join(), 'created_at,name');
      assert.ok(Number.isInteger(u.created_at) && Math.abs(u.created_at - now) < 600, JSON.stringify(u));
    }
    r = p.cli(['user', 'list', '--jsno']);
    assert.equal(r.status, 2, 'a misspelt option is a usage error');
  } finally {
    await p.cleanup();
  }
});
