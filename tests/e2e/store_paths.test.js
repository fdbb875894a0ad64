// Where the database is: a relative `sqlite:` path is read from the configuration
// file's directory, whatever directory plugauth runs from, and only `init` and
// `migrate --create` ever create a database (docs/storage.md).

import assert from 'node:assert/strict';
import {
  existsSync, mkdtempSync, readdirSync, realpathSync, renameSync, rmSync, writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';

import { ISSUER, Plugauth, run } from './lib/server.js';

const made = [];
after(async () => {
  for (const x of made) {
    if (x instanceof Plugauth) await x.cleanup();
    else rmSync(x, { recursive: true, force: true });
  }
});

function show(r) {
  return `exit ${r.status} (signal ${r.signal})\nstdout: ${r.stdout}\nstderr: ${r.stderr}`;
}

// The database's absolute path as plugauth names it (symlinks resolved).
function realDb(pa) {
  return join(realpathSync(pa.dir), 'plugauth.db');
}

function tempDir() {
  const d = mkdtempSync(join(tmpdir(), 'plugauth-e2e-cwd-'));
  made.push(d);
  return d;
}

// An instance whose config says `url = sqlite:plugauth.db` (relative), made by init run
// from another directory.
function relativeInstance() {
  const pa = new Plugauth();
  made.push(pa);
  const r = run(['-c', pa.conf, 'init', '--issuer', ISSUER, '--db', 'sqlite:plugauth.db',
    '--listen', '127.0.0.1:0'], { cwd: tempDir() });
  assert.equal(r.status, 0, show(r));
  return pa;
}

test('relative_database_path_is_read_from_the_config_directory', async () => {
  const pa = relativeInstance();
  const elsewhere = tempDir();
  assert.ok(existsSync(pa.db), 'init made the database next to the config');
  assert.deepEqual(readdirSync(elsewhere), []);

  let r = run(['-c', pa.conf, 'user', 'add', 'alice', '--password-stdin'],
    { cwd: elsewhere, input: 'correct horse battery\n' });
  assert.equal(r.status, 0, show(r));
  r = run(['-c', pa.conf, 'client', 'add', '--name', 'Paths', '--redirect-uri',
    'https://client.example/cb', '--json'], { cwd: tempDir() });
  assert.equal(r.status, 0, show(r));
  const client = JSON.parse(r.stdout);

  // Another directory again: the same users.
  r = run(['-c', pa.conf, 'user', 'list'], { cwd: tempDir() });
  assert.equal(r.status, 0, show(r));
  assert.match(r.stdout, /\balice\b/, show(r));

  // serve from yet another directory sees the same clients: the authorization
  // endpoint shows the sign-in page for the client, not "unknown client".
  const cwd = tempDir();
  const base = await pa.start({ cwd });
  const q = new URLSearchParams({ response_type: 'code', client_id: client.client_id,
    redirect_uri: 'https://client.example/cb', state: 's1' });
  const res = await fetch(`${base}/oauth/authorize?${q}`, { redirect: 'manual' });
  const body = await res.text();
  assert.equal(res.status, 200, body);
  assert.match(body, /name="password"/);
  await pa.stop();
  assert.deepEqual(readdirSync(cwd), [], 'nothing was created in the working directory');
  assert.deepEqual(readdirSync(elsewhere), []);
});

test('missing_database_is_an_error_naming_its_path_and_nothing_is_created', async () => {
  const pa = relativeInstance();
  const cwd = tempDir();
  renameSync(pa.db, `${pa.db}.away`);

  for (const args of [['serve'], ['user', 'list'], ['client', 'list'], ['migrate'],
    ['token', 'revoke', '--user', 'alice']]) {
    const r = run(['-c', pa.conf, ...args], { cwd });
    assert.equal(r.status, 1, `${args.join(' ')}: ${show(r)}`);
    assert.ok(r.stderr.startsWith('plugauth: '), show(r));
    assert.ok(r.stderr.includes(`database ${realDb(pa)} does not exist`), show(r));
    assert.match(r.stderr, /migrate --create/, show(r));
    assert.ok(!existsSync(pa.db), `${args.join(' ')} created ${pa.db}`);
    assert.deepEqual(readdirSync(cwd), [], `${args.join(' ')} wrote to its working directory`);
  }

  // migrate --create makes an empty one, next to the config; then it works.
  let r = run(['-c', pa.conf, 'migrate', '--create'], { cwd });
  assert.equal(r.status, 0, show(r));
  assert.ok(existsSync(pa.db));
  assert.deepEqual(readdirSync(cwd), []);
  r = run(['-c', pa.conf, 'user', 'list'], { cwd });
  assert.equal(r.status, 0, show(r));
});

test('serve_refuses_an_empty_database_file', () => {
  const pa = relativeInstance();
  // An empty file, as an older plugauth left behind when run from elsewhere.
  rmSync(pa.db);
  writeFileSync(pa.db, '');
  const r = run(['-c', pa.conf, 'serve'], { cwd: tempDir() });
  assert.equal(r.status, 1, show(r));
  assert.ok(r.stderr.includes(`database ${realDb(pa)} is empty`), show(r));
  const l = run(['-c', pa.conf, 'user', 'list'], { cwd: tempDir() });
  assert.match(l.stderr, /schema is at version 0/, 'serve did not migrate it');
});

test('relative_PLUGAUTH_DATABASE_URL_is_read_from_the_config_directory', () => {
  const pa = relativeInstance();
  const cwd = tempDir();
  const env = { PLUGAUTH_DATABASE_URL: 'sqlite:other.db' };
  let r = run(['-c', pa.conf, 'user', 'list'], { cwd, env });
  assert.equal(r.status, 1, show(r));
  assert.ok(r.stderr.includes(`database ${join(realpathSync(pa.dir), 'other.db')} does not exist`), show(r));
  r = run(['-c', pa.conf, 'migrate', '--create'], { cwd, env });
  assert.equal(r.status, 0, show(r));
  assert.ok(existsSync(join(pa.dir, 'other.db')));
  assert.deepEqual(readdirSync(cwd), []);
});
