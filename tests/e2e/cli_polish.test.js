// CLI polish (issue 12 item 5): global options after the command, `plugauth help`,
// no server log lines in a command's output, one --json shape (JSON Lines) for every
// listing with header rows and UTC times in text, a warning for a misspelt PLUGAUTH_*
// variable, and `init` leaving nothing behind when it fails.

import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';

import { basic, postToken } from './lib/http.js';
import { Plugauth, createPlugauth, jsonLines, run } from './lib/server.js';

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

function ok(r) {
  assert.equal(r.status, 0, show(r));
  return r;
}

// The server's log format: `ts=… level=… event=…`.
const LOG_LINE = /(^|\n)ts=\S+ level=|\blevel=(info|debug|warn|error)\b/;

// --- global options and help ---------------------------------------------------------

test('global_options_after_the_command', () => {
  ok(pa.cli(['user', 'add', 'gina', '--password-stdin'], { input: 'a long password\n' }));
  const before = ok(run(['-c', pa.conf, 'user', 'list']));
  assert.match(before.stdout, /\bgina\b/);
  for (const args of [
    ['user', 'list', '-c', pa.conf],
    ['user', 'list', '--config', pa.conf],
    ['user', 'list', `--config=${pa.conf}`],
    ['user', '-c', pa.conf, 'list'],
  ]) {
    // No -c in front: run() adds none, and the cwd holds no plugauth.conf.
    const r = ok(run(args));
    assert.equal(r.stdout, before.stdout, `plugauth ${args.join(' ')}`);
  }
  const json = ok(run(['user', 'list', '--json', '-c', pa.conf]));
  assert.equal(json.stdout, ok(run(['-c', pa.conf, 'user', 'list', '--json'])).stdout);
  // The last -c wins, as before the command.
  const r = run(['-c', '/nonexistent/plugauth.conf', 'user', 'list', '-c', pa.conf]);
  assert.equal(r.stdout, before.stdout, show(r));
  // -V after the command too; a -c without its file is a usage error.
  assert.equal(ok(run(['user', 'list', '-V'])).stdout, ok(run(['--version'])).stdout);
  const bad = run(['user', 'list', '-c']);
  assert.equal(bad.status, 2, show(bad));
  assert.match(bad.stderr, /^plugauth: -c needs a file name/);
});

test('help_command_prints_the_same_as_help_options', () => {
  assert.equal(ok(run(['help'])).stdout, ok(run(['--help'])).stdout);
  assert.match(ok(run(['help'])).stdout, /^\s+help\s/m, 'help lists itself');
  for (const cmd of ['init', 'serve', 'demo', 'migrate', 'client', 'user', 'manifest',
    'token', 'consent', 'events']) {
    const a = ok(run(['help', cmd]));
    const b = ok(run([cmd, '--help']));
    assert.equal(a.stdout, b.stdout, `help ${cmd}`);
    assert.match(a.stdout, new RegExp(`^usage: plugauth .*\\b${cmd}\\b`), `help ${cmd}`);
  }
  const r = run(['help', 'nosuch']);
  assert.equal(r.status, 2, show(r));
  assert.equal(r.stdout, '');
  assert.match(r.stderr, /^plugauth: unknown command 'nosuch'[^\n]*\n$/);
});

// --- listings: JSON Lines, and text tables with UTC times ---------------------------

const DEADLINE_MS = 10_000;
const UTC_TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/;

// Each line of a --json listing is one JSON object; returns them.
function jsonObjectLines(r) {
  ok(r);
  const lines = r.stdout.split('\n');
  assert.equal(lines.pop(), '', 'ends with a newline');
  for (const l of lines) {
    const o = JSON.parse(l);
    assert.ok(o !== null && typeof o === 'object' && !Array.isArray(o), l);
  }
  return jsonLines(r.stdout);
}

// Polls `events --json` until it shows at least one event; returns them.
async function someEvents(p) {
  const t0 = Date.now();
  for (;;) {
    const ev = jsonObjectLines(p.cli(['events', '--json']));
    if (ev.length > 0) return ev;
    if (Date.now() - t0 > DEADLINE_MS) assert.fail(`no event within ${DEADLINE_MS} ms`);
    await new Promise((res) => setTimeout(res, 50));
  }
}

// A text table: the header row's words start the columns; every row has a cell starting
// at each column (after at least two spaces), and nothing before the first.
function tableRows(text, head) {
  const lines = text.replace(/\n$/, '').split('\n');
  assert.match(lines[0], new RegExp(`^${head.join(' {2,}')}$`), text);
  const starts = head.map((h) => lines[0].indexOf(h));
  const rows = lines.slice(1).map((l) => {
    for (const [i, at] of starts.entries()) {
      assert.notEqual(l[at], ' ', `column ${head[i]} misaligned:\n${text}`);
      if (i > 0) assert.equal(l.slice(at - 2, at), '  ', `column ${head[i]} misaligned:\n${text}`);
    }
    return starts.map((at, i) => l.slice(at, starts[i + 1] ?? l.length).trim());
  });
  return rows;
}

test('every_listing_json_is_json_lines_with_effective_scopes', async () => {
  const p = createPlugauth();
  try {
    const all = p.addClient({ name: 'no own list' });
    const narrow = p.addClient({ name: 'narrow', scope: 'todo.read' });
    ok(p.cli(['user', 'add', 'ida', '--password-stdin'], { input: 'a long password\n' }));
    ok(p.cli(['user', 'add', 'jo', '--password-stdin'], { input: 'a long password\n' }));
    const now = Date.now() / 1000;

    const clients = jsonObjectLines(p.cli(['client', 'list', '--json']));
    assert.equal(clients.length, 2);
    const a = clients.find((c) => c.client_id === all.client_id);
    const n = clients.find((c) => c.client_id === narrow.client_id);
    // The effective scopes: [oauth] scopes for a client without a list of its own.
    assert.equal(a.scope, 'todo.read todo.write');
    assert.equal(a.scope_all, true);
    assert.equal(n.scope, 'todo.read');
    assert.equal(n.scope_all, false);
    for (const c of clients) {
      assert.ok(Number.isInteger(c.created_at) && Math.abs(c.created_at - now) < 600, JSON.stringify(c));
      assert.equal(c.client_secret, undefined);
    }

    const users = jsonObjectLines(p.cli(['user', 'list', '--json']));
    assert.deepEqual(users.map((u) => u.name).sort(), ['ida', 'jo']);
    for (const u of users) assert.ok(Number.isInteger(u.created_at), JSON.stringify(u));

    // An empty listing prints nothing at all.
    const q = createPlugauth();
    try {
      assert.equal(ok(q.cli(['client', 'list', '--json'])).stdout, '');
      assert.equal(ok(q.cli(['user', 'list', '--json'])).stdout, '');
      assert.equal(ok(q.cli(['events', '--json'])).stdout, '');
    } finally {
      await q.cleanup();
    }

    // events --json: the same shape.
    const base = await p.start();
    const res = await postToken(base, {
      body: { grant_type: 'client_credentials' }, authorization: basic(all.client_id, 'wrong'),
    });
    assert.equal(res.status, 401);
    const ev = await someEvents(p);
    for (const e of ev) assert.ok(Number.isInteger(e.at) && Math.abs(e.at - now) < 600, JSON.stringify(e));
  } finally {
    await p.cleanup();
  }
});

test('text_listings_have_header_rows_aligned_columns_and_utc_times', async () => {
  const p = createPlugauth();
  try {
    const c1 = p.addClient({ name: 'a much longer client name', scope: 'todo.read' });
    const c2 = p.addClient({ name: 'short', isPublic: true });
    ok(p.cli(['user', 'add', 'kim', '--password-stdin'], { input: 'a long password\n' }));
    ok(p.cli(['user', 'add', 'a.much.longer.name@example.com', '--password-stdin'],
      { input: 'a long password\n' }));

    const clients = tableRows(ok(p.cli(['client', 'list'])).stdout,
      ['CLIENT_ID', 'KIND', 'ORIGIN', 'NAME', 'GRANTS', 'SCOPE', 'ADDED']);
    assert.deepEqual(clients.map((r) => r[0]).sort(), [c1.client_id, c2.client_id].sort());
    const r1 = clients.find((r) => r[0] === c1.client_id);
    const r2 = clients.find((r) => r[0] === c2.client_id);
    assert.deepEqual(r1.slice(1, 6), ['confidential', 'cli', 'a much longer client name',
      'authorization_code,refresh_token,client_credentials', 'todo.read']);
    assert.deepEqual(r2.slice(1, 6), ['public', 'cli', 'short', 'authorization_code,refresh_token',
      'todo.read todo.write']);
    for (const r of clients) assert.match(r[6], UTC_TIME);

    const users = tableRows(ok(p.cli(['user', 'list'])).stdout, ['NAME', 'ADDED']);
    assert.deepEqual(users.map((r) => r[0]).sort(), ['a.much.longer.name@example.com', 'kim']);
    for (const r of users) assert.match(r[1], UTC_TIME);

    const base = await p.start();
    await postToken(base, {
      body: { grant_type: 'client_credentials' }, authorization: basic(c1.client_id, 'wrong'),
    });
    await someEvents(p);
    const text = ok(p.cli(['events'])).stdout;
    const lines = text.replace(/\n$/, '').split('\n');
    assert.match(lines[0], /^TIME {2,}KIND {2,}OUTCOME {2,}REASON AND DETAILS$/, text);
    assert.ok(lines.length > 1, text);
    for (const l of lines.slice(1)) {
      assert.match(l.slice(0, lines[0].indexOf('KIND')).trim(), UTC_TIME, text);
      for (const col of ['KIND', 'OUTCOME']) {
        const at = lines[0].indexOf(col);
        assert.ok(l[at - 1] === ' ' && l[at] !== ' ', `${col} misaligned:\n${text}`);
      }
    }
  } finally {
    await p.cleanup();
  }
});

// --- no server log lines from CLI commands -------------------------------------------

test('cli_commands_print_no_server_log_lines', async () => {
  const p = new Plugauth();
  try {
    const runs = [p.init()];
    runs.push(p.cli(['user', 'add', 'hal', '--password-stdin'], { input: 'a long password\n' }));
    runs.push(p.cli(['client', 'add', '--name', 'logless', '--redirect-uri',
      'https://client.example/cb']));
    for (const args of [['client', 'list'], ['client', 'list', '--json'], ['user', 'list'],
      ['events'], ['migrate'], ['manifest'], ['token', 'revoke', '--user', 'hal'],
      ['consent', 'revoke', '--user', 'hal']]) {
      runs.push(p.cli(args));
    }
    for (const r of runs) {
      ok(r);
      assert.doesNotMatch(r.stderr, LOG_LINE, show(r));
      assert.doesNotMatch(r.stdout, LOG_LINE, show(r));
    }
  } finally {
    await p.cleanup();
  }
});

// --- PLUGAUTH_* variables that name no key -------------------------------------------

test('misspelt_env_variable_is_a_warning_naming_it', () => {
  const plain = ok(pa.cli(['client', 'list']));
  const r = ok(run(['client', 'list'], {
    env: {
      PLUGAUTH_CONFIG: pa.conf, // read by plugauth itself: no warning
      PLUGAUTH_SERVR_ISSUER: 'https://secret-looking-value.example',
      PLUGAUTH_OAUTH_CODE_TTL: '60', // a real key: no warning
      PLUGAUTH_NOTHING_LIKE_ANY_KEY_AT_ALL: 'x',
    },
  }));
  assert.equal(r.stdout, plain.stdout, 'the command still works');
  const lines = r.stderr.split('\n').filter(Boolean);
  assert.equal(lines.length, 2, show(r));
  const typo = lines.find((l) => l.includes('PLUGAUTH_SERVR_ISSUER'));
  assert.ok(typo, show(r));
  assert.match(typo, /level=warn\b/);
  assert.match(typo, /\bdid_you_mean=PLUGAUTH_SERVER_ISSUER\b/);
  const far = lines.find((l) => l.includes('PLUGAUTH_NOTHING_LIKE_ANY_KEY_AT_ALL'));
  assert.ok(far, show(r));
  assert.doesNotMatch(far, /did_you_mean/);
  assert.ok(!r.stderr.includes('secret-looking-value'), 'a value reached the warning');
  assert.ok(!r.stderr.includes('PLUGAUTH_CONFIG') && !r.stderr.includes('CODE_TTL'), show(r));
});

// --- init leaves nothing behind when it fails ----------------------------------------

// Runs fn(dir) in a fresh empty directory, removed afterwards.
function inTempDir(fn) {
  const dir = mkdtempSync(join(tmpdir(), 'plugauth-e2e-init-'));
  try {
    return fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function initIn(dir, db, extra = []) {
  return run(['-c', join(dir, 'plugauth.conf'), 'init', '--issuer', 'http://127.0.0.1:8080',
    '--db', db, ...extra], { cwd: dir });
}

test('init_failing_at_the_database_leaves_no_config', () => inTempDir((dir) => {
  const r = initIn(dir, `sqlite:${join(dir, 'missing', 'x.db')}`);
  assert.equal(r.status, 1, show(r));
  assert.match(r.stderr, /^plugauth: cannot open database/);
  assert.deepEqual(readdirSync(dir), [], 'init left files behind');
}));

test('init_failing_after_creating_the_database_removes_it', () => inTempDir((dir) => {
  // SQLite creates x.db, then cannot open its write-ahead log.
  mkdirSync(join(dir, 'x.db-wal'));
  const r = initIn(dir, 'sqlite:x.db');
  assert.equal(r.status, 1, show(r));
  assert.deepEqual(readdirSync(dir), ['x.db-wal'], 'init left files behind');
}));

test('init_failing_keeps_files_that_were_there', () => inTempDir((dir) => {
  writeFileSync(join(dir, 'x.db'), 'not a database\n');
  let r = initIn(dir, 'sqlite:x.db');
  assert.equal(r.status, 1, show(r));
  assert.deepEqual(readdirSync(dir), ['x.db']);
  assert.equal(readFileSync(join(dir, 'x.db'), 'utf8'), 'not a database\n');
  // --force over a working configuration, then a failure: the old file stays as it was.
  ok(initIn(dir, 'sqlite:good.db'));
  const conf = readFileSync(join(dir, 'plugauth.conf'), 'utf8');
  r = initIn(dir, 'sqlite:x.db', ['--force']);
  assert.equal(r.status, 1, show(r));
  assert.equal(readFileSync(join(dir, 'plugauth.conf'), 'utf8'), conf);
  assert.deepEqual(readdirSync(dir).sort(), ['good.db', 'plugauth.conf', 'x.db']);
  // Without --force, an existing configuration is refused before anything is made.
  r = initIn(dir, 'sqlite:other.db');
  assert.equal(r.status, 1, show(r));
  assert.match(r.stderr, /exists: use --force/);
  assert.deepEqual(readdirSync(dir).sort(), ['good.db', 'plugauth.conf', 'x.db']);
}));
