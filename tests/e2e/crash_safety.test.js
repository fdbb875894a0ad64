// Crash safety and storage faults (docs/design.md "Reliability"): a token is answered only
// once committed, so it survives `kill -9`; a full disk or a database locked by another
// process gets 503 temporarily_unavailable with Retry-After (never a 500, a crash or a
// wait much beyond the busy timeout), a clear line in the log, and the server recovers
// by itself once the fault is gone; a refresh or code exchange that fails leaves the
// refresh token or code usable (rotation is one transaction); a database on a read-only
// or full file system at start is refused with a clear message.
//
// The disk tests mount their own small tmpfs (they need root) and unmount it in a
// finally block, in `after` and on exit, also when a test fails. The sqlite3 CLI and
// python3 (both installed by scripts/install-deps) look into and lock the database.

import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  closeSync, existsSync, mkdtempSync, openSync, renameSync, rmSync, statSync, unlinkSync,
  writeSync,
} from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { after, test } from 'node:test';

import { FORM, basic, describeResponse, form, readBody } from './lib/http.js';
import {
  ACCESS_RE, Browser, REFRESH_RE, addChatgptClient, addUser, assertHtmlPage,
  assertTokenPair, authorizePath, isConsentForm, isLoginForm, newState, pluginCallback,
  sleep, theForm,
} from './lib/flow.js';
import { Plugauth, createPlugauth } from './lib/server.js';
import { lockDatabase } from './lib/lock.js';

const REQ_TIMEOUT_MS = 15_000;
const TEST_TIMEOUT_MS = 60_000;
const BUSY_TIMEOUT_MS = 5_000;               // SQ_BUSY_TIMEOUT_MS in src/store/sqlite_int.h
const BUSY_SLACK_MS = 1_500;                 // what a loaded CI machine may add to it
const TOKEN_SHAPE_RE = /pa_(?:at|rt|ac|cs|ss)_[A-Za-z0-9_-]{20,}/g;

// --- requests -----------------------------------------------------------------------------

// One request on a keep-alive connection (node:http: several times the rate of fetch,
// so that the server, not this process, is the busy side under load), with a deadline:
// a hang fails the test instead of stalling it. Resolves with {status, headers, text,
// json, ms}; rejects if the connection fails.
const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });

function call(base, path, { method = 'POST', body, authorization } = {}) {
  const url = new URL(path, base);
  const payload = body === undefined ? null : Buffer.from(form(body));
  const headers = {};
  if (payload) {
    headers['content-type'] = FORM;
    headers['content-length'] = String(payload.length);
  }
  if (authorization) headers.authorization = authorization;
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const req = http.request({
      host: url.hostname, port: url.port, path: url.pathname + url.search, method, headers, agent,
    }, (res) => {
      readBody(res).then((b) => resolve({
        status: res.statusCode, headers: new Headers(res.headers), ...b, ms: performance.now() - t0,
      }), reject);
    });
    req.on('error', reject);
    req.setTimeout(REQ_TIMEOUT_MS, () => req.destroy(new Error(`no answer within ${REQ_TIMEOUT_MS} ms`)));
    req.end(payload ?? undefined);
  });
}

const ccToken = (base, c) => call(base, '/oauth/token', {
  body: { grant_type: 'client_credentials' }, authorization: basic(c.client_id, c.client_secret),
});

const refreshToken = (base, c, rt) => call(base, '/oauth/token', {
  body: { grant_type: 'refresh_token', refresh_token: rt },
  authorization: basic(c.client_id, c.client_secret),
});

const introspect = (base, rs, token) => call(base, '/oauth/introspect', {
  body: { token }, authorization: basic(rs.client_id, rs.client_secret),
});

// A request of a Browser (lib/flow.js), with its duration.
async function timed(fn) {
  const t0 = performance.now();
  const res = await fn();
  return { ...res, ms: performance.now() - t0 };
}

// Runs fn over items, n at a time.
async function pool(items, n, fn) {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      await fn(items[i], i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, worker));
}

// A client_credentials answer (an access token); returns the body.
function assertAccessToken(res) {
  assert.equal(res.status, 200, describeResponse(res));
  assert.match(res.json?.access_token ?? '', ACCESS_RE, describeResponse(res));
  return res.json;
}

// 503 temporarily_unavailable as JSON, with Retry-After (RFC 6749 §5.2, RFC 9110 §10.2.3).
function assertUnavailable(res) {
  assert.equal(res.status, 503, describeResponse(res));
  assert.match(res.headers.get('content-type') ?? '', /^application\/json\b/i, describeResponse(res));
  assert.equal(res.json?.error, 'temporarily_unavailable', describeResponse(res));
  assert.match(res.headers.get('retry-after') ?? '', /^[0-9]+$/, `Retry-After: ${describeResponse(res)}`);
  assert.match(res.headers.get('cache-control') ?? '', /\bno-store\b/i, describeResponse(res));
  assertNoToken(res);
}

// A failed answer carries no token.
function assertNoToken(res) {
  assert.doesNotMatch(res.text, TOKEN_SHAPE_RE, `a failed request must not hand out a token: ${describeResponse(res)}`);
}

// The 503 HTML page of /oauth/authorize when the database is unreachable.
function assertUnavailablePage(res) {
  assertHtmlPage(res, 503);
  assert.equal(res.headers.get('location'), null, describeResponse(res));
  assert.doesNotMatch(res.text, /<form\b/i, `no form on the error page: ${describeResponse(res)}`);
}

async function assertActive(base, rs, token) {
  const res = await introspect(base, rs, token);
  assert.equal(res.status, 200, describeResponse(res));
  assert.equal(res.json?.active, true, `token should be active: ${describeResponse(res)}`);
}

// No token-shaped value reached the server log.
function assertNoSecretsInLog(pa) {
  const leaked = pa.log.match(TOKEN_SHAPE_RE) ?? [];
  assert.deepEqual(leaked, [], 'the server log must not carry tokens or secrets');
}

// A ChatGPT-style code flow for `user` in browser b, exchanged with Basic auth.
async function codePair(base, b, client) {
  const redirect = pluginCallback();
  const code = await b.code([
    ['response_type', 'code'], ['client_id', client.client_id], ['redirect_uri', redirect],
    ['state', newState()],
  ]);
  const res = await call(base, '/oauth/token', {
    body: { grant_type: 'authorization_code', code, redirect_uri: redirect },
    authorization: basic(client.client_id, client.client_secret),
  });
  return assertTokenPair(res);
}

// --- the database, from outside -----------------------------------------------------------

const digestHex = (token) => createHash('sha256').update(token).digest('hex');

// Runs SQL with the sqlite3 CLI (Debian package sqlite3, see scripts/install-deps).
function sqlite(db, sql) {
  const r = spawnSync('sqlite3', ['-batch', '-bail', db], {
    input: `.timeout 5000\n${sql}\n`, encoding: 'utf8', timeout: 30_000,
  });
  if (r.error) throw new Error(`cannot run the sqlite3 CLI (scripts/install-deps installs it): ${r.error.message}`);
  if (r.status !== 0) throw new Error(`sqlite3 ${db}: ${r.stderr.trim()}`);
  return r.stdout.trim();
}

// rotated_at of each refresh token, by token (missing: not in the database).
function rotatedAt(db, tokens) {
  const out = new Map();
  for (let i = 0; i < tokens.length; i += 500) {
    const part = tokens.slice(i, i + 500);
    const byHex = new Map(part.map((t) => [digestHex(t).toUpperCase(), t]));
    const list = [...byHex.keys()].map((h) => `X'${h}'`).join(',');
    const rows = sqlite(db, `SELECT hex(digest) || '|' || rotated_at FROM tokens WHERE kind = 2 AND digest IN (${list});`);
    for (const line of rows.split('\n').filter(Boolean)) {
      const [h, at] = line.split('|');
      out.set(byHex.get(h), Number(at));
    }
  }
  return out;
}

function assertIntegrity(db) {
  assert.equal(sqlite(db, 'PRAGMA integrity_check;'), 'ok', `PRAGMA integrity_check of ${db}`);
}

// --- small file systems of our own --------------------------------------------------------

const mounts = new Set();

function mountTmpfs(size) {
  const dir = mkdtempSync(join(tmpdir(), 'plugauth-crash-mnt-'));
  const r = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${size},mode=0700`, 'tmpfs', dir], { encoding: 'utf8' });
  if (r.error || r.status !== 0) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`cannot mount a tmpfs on ${dir}: ${r.error?.message ?? r.stderr.trim()}`
      + ' (these tests need root with permission to mount, e.g. CAP_SYS_ADMIN)');
  }
  mounts.add(dir);
  return dir;
}

function remount(dir, mode) {
  const r = spawnSync('mount', ['-o', `remount,${mode}`, dir], { encoding: 'utf8' });
  if (r.error || r.status !== 0) throw new Error(`mount -o remount,${mode} ${dir}: ${r.error?.message ?? r.stderr.trim()}`);
}

async function unmount(dir) {
  for (let i = 0; i < 20; i++) {
    if (spawnSync('umount', [dir]).status === 0) break;
    if (i === 19) spawnSync('umount', ['-l', dir]);   // still busy: detach it
    else await sleep(100);
  }
  mounts.delete(dir);
  rmSync(dir, { recursive: true, force: true });
}

// Whatever happens to the test process, no mount is left behind (lib/server.js kills
// the servers first; a lazy unmount detaches a still-busy one).
process.on('exit', () => {
  for (const dir of mounts) {
    spawnSync('umount', ['-l', dir]);
    rmSync(dir, { recursive: true, force: true });
  }
});

// Writes a filler file until the file system is full; returns its path.
function fillFileSystem(dir) {
  const path = join(dir, 'filler');
  const fd = openSync(path, 'w');
  try {
    for (const size of [1 << 20, 64 << 10, 4096, 512, 1]) {
      const buf = Buffer.alloc(size, 0x5a);
      for (;;) {
        try {
          if (writeSync(fd, buf) < size) break;
        } catch (err) {
          if (err.code === 'ENOSPC') break;
          throw err;
        }
      }
    }
  } finally {
    closeSync(fd);
  }
  return path;
}

// A fresh instance whose database is at `db` (elsewhere than its temp dir).
function plugauthWithDb(db) {
  const pa = new Plugauth();
  pa.db = db;
  try {
    pa.init();
  } catch (err) {
    rmSync(pa.dir, { recursive: true, force: true });
    throw err;
  }
  return pa;
}

const instances = [];

after(async () => {
  agent.destroy();
  for (const pa of instances) await pa.cleanup();
  for (const dir of [...mounts]) await unmount(dir);
});

// --- kill -9 ------------------------------------------------------------------------------

test('kill9_mid_load_keeps_every_answered_token', { timeout: TEST_TIMEOUT_MS }, async (t) => {
  const LOOPS = 16;
  const LOAD_MS = 2_000;
  // No reuse grace: a refresh token used twice is refused, so "refreshes exactly once"
  // can be checked (the default grace lets ChatGPT retry a rotation for 10 s).
  const env = { PLUGAUTH_OAUTH_REFRESH_REUSE_GRACE: '0' };
  const pa = createPlugauth();
  instances.push(pa);
  addUser(pa, 'alice');
  const cc = pa.addClient({ name: 'cc' });
  const rs = pa.addClient({ name: 'resource server' });
  const plugin = addChatgptClient(pa);
  let base = await pa.start({ env });

  // Half of the loops rotate a refresh chain of their own, half take client_credentials.
  const b = new Browser(base);
  const chains = [];
  for (let i = 0; i < LOOPS / 2; i++) {
    const p = await codePair(base, b, plugin);
    chains.push({ spent: [], last: p.refresh_token, failed: false });
  }
  const setupAccess = chains.length;
  const access = [];        // every access token answered with a 200
  const refused = [];       // answers other than 200 (none expected before the kill)
  let failed = 0;           // requests without an answer: cut by the kill
  let stopping = false;

  const ccLoop = async () => {
    while (!stopping) {
      let res;
      try { res = await ccToken(base, cc); } catch { failed++; return; }
      if (res.status === 200 && ACCESS_RE.test(res.json?.access_token ?? '')) access.push(res.json.access_token);
      else refused.push(res);
    }
  };
  const refreshLoop = async (ch) => {
    while (!stopping) {
      let res;
      try { res = await refreshToken(base, plugin, ch.last); } catch { failed++; ch.failed = true; return; }
      const j = res.json ?? {};
      if (res.status === 200 && ACCESS_RE.test(j.access_token ?? '') && REFRESH_RE.test(j.refresh_token ?? '')) {
        access.push(j.access_token);
        ch.spent.push(ch.last);
        ch.last = j.refresh_token;
      } else {
        refused.push(res);
      }
    }
  };
  // The kill comes from another process, at a moment this one does not choose: the
  // requests cut short are whatever the server was working on.
  const killer = spawn('sh', ['-c', `sleep ${LOAD_MS / 1000}; kill -KILL ${pa.proc.pid}`], { stdio: 'ignore' });
  const loops = [
    ...chains.map((ch) => refreshLoop(ch)),
    ...Array.from({ length: LOOPS / 2 }, ccLoop),
  ];
  assert.equal(await pa.exited, 'SIGKILL', 'the server should have died of SIGKILL');
  const killedAt = Date.now();
  stopping = true;
  await Promise.all(loops);
  await new Promise((res) => { if (killer.exitCode !== null) res(); else killer.on('exit', res); });
  const received = access.length;
  assert.ok(received > 100, `too little load before the kill (${received} tokens): the test proves nothing`);
  for (const res of refused) assertNoToken(res);
  assert.deepEqual(refused.map(describeResponse), [], 'every answered request before the kill should succeed');

  base = await pa.start({ env });

  // The database holds every answered token, and at most one more per request cut
  // short: an answered failure committed nothing.
  const spent = chains.flatMap((ch) => ch.spent);
  const dbAccess = Number(sqlite(pa.db, 'SELECT count(*) FROM tokens WHERE kind = 1;'));
  const dbRefresh = Number(sqlite(pa.db, 'SELECT count(*) FROM tokens WHERE kind = 2;'));
  assert.ok(dbAccess >= setupAccess + access.length && dbAccess <= setupAccess + access.length + failed,
    `access tokens in the database: ${dbAccess}, answered: ${setupAccess + access.length}, cut short: ${failed}`);
  const answeredRefresh = chains.length + spent.length;
  assert.ok(dbRefresh >= answeredRefresh && dbRefresh <= answeredRefresh + chains.filter((c) => c.failed).length,
    `refresh tokens in the database: ${dbRefresh}, answered: ${answeredRefresh}`);

  // Every access token answered with a 200 works after the restart.
  const inactive = [];
  await pool(access, 16, async (tok) => {
    const res = await introspect(base, rs, tok);
    if (res.status !== 200 || res.json?.active !== true) inactive.push(describeResponse(res));
  });
  assert.deepEqual(inactive.slice(0, 5), [], `${inactive.length} of ${access.length} answered access tokens lost`);

  // Every rotation that was answered is durable: each spent refresh token is marked.
  const rot = rotatedAt(pa.db, [...spent, ...chains.map((c) => c.last)]);
  const unmarked = spent.filter((rt) => !(rot.get(rt) > 0));
  assert.equal(unmarked.length, 0, `${unmarked.length} of ${spent.length} answered rotations lost`);

  // The last refresh token each chain received refreshes exactly once. If the kill
  // cut its own refresh short after the commit (the answer was lost), it was spent
  // then: with no grace it is refused like any reuse.
  while (Date.now() - killedAt < 1_100) await sleep(50);   // rotated_at has 1 s steps
  let cutAfterCommit = 0;
  const fresh = [];
  for (const ch of chains) {
    assert.ok(rot.has(ch.last), 'the last refresh token of a chain must be in the database');
    const res = await refreshToken(base, plugin, ch.last);
    if (rot.get(ch.last) === 0) {
      const p = assertTokenPair(res);
      await assertActive(base, rs, p.access_token);
      fresh.push(ch.last);
    } else {
      assert.ok(ch.failed, 'only a refresh cut short by the kill may have spent the last token');
      assert.equal(res.status, 400, describeResponse(res));
      assert.equal(res.json?.error, 'invalid_grant', describeResponse(res));
      cutAfterCommit++;
    }
  }
  await sleep(1_100);
  for (const rt of fresh) {
    const res = await refreshToken(base, plugin, rt);
    assert.equal(res.status, 400, `a refresh token must not refresh twice: ${describeResponse(res)}`);
    assert.equal(res.json?.error, 'invalid_grant', describeResponse(res));
  }

  t.diagnostic(`load ${LOAD_MS} ms, ${LOOPS} loops; ${failed} requests got no answer (cut by the kill)`);
  t.diagnostic(`checked ${access.length} access tokens (introspected active after restart), `
    + `${spent.length} answered rotations (durable), ${chains.length} last refresh tokens `
    + `(${fresh.length} refreshed exactly once, ${cutAfterCommit} spent by a rotation cut after commit)`);
  assertNoSecretsInLog(pa);
  assert.equal(await pa.stop(), 0, `SIGTERM should exit 0; log:\n${pa.log}`);
  assertIntegrity(pa.db);
});

// --- disk full ----------------------------------------------------------------------------

test('disk_full_mid_load_answers_503_then_recovers_without_restart', { timeout: TEST_TIMEOUT_MS }, async (t) => {
  const LOOPS = 16;
  // No reuse grace: a rotation half written by a failed refresh would make the retry
  // a reuse, refused.
  const env = { PLUGAUTH_OAUTH_REFRESH_REUSE_GRACE: '0' };
  // Room for the WAL to grow under load (up to 24 MiB, see docs/storage.md).
  const mnt = mountTmpfs('64m');
  try {
    const pa = plugauthWithDb(join(mnt, 'plugauth.db'));
    instances.push(pa);
    addUser(pa, 'alice');
    const cc = pa.addClient({ name: 'cc' });
    const rs = pa.addClient({ name: 'resource server' });
    const plugin = addChatgptClient(pa);
    const base = await pa.start({ env });
    const b = new Browser(base);
    const chains = [];
    for (let i = 0; i < LOOPS / 2; i++) {
      const p = await codePair(base, b, plugin);
      chains.push({ spent: [], last: p.refresh_token, refusedThenOk: 0, refusedNow: false });
    }

    // Load throughout; the disk fills up under it, then gets space again.
    const access = [];
    const bad = [];
    const byPhase = { before: new Map(), full: new Map(), freed: new Map() };
    let phase = 'before';
    let okSinceFreed = 0;
    let stop = false;
    const answer = (res) => {
      byPhase[phase].set(res.status, (byPhase[phase].get(res.status) ?? 0) + 1);
      if (res.status === 503) {
        try { assertUnavailable(res); } catch (err) { bad.push(err.message); }
        return false;
      }
      if (res.status !== 200) bad.push(describeResponse(res));
      else if (phase === 'freed') okSinceFreed++;
      return res.status === 200;
    };
    const ccLoop = async () => {
      while (!stop) {
        let res;
        try { res = await ccToken(base, cc); } catch (err) { bad.push(`no answer: ${err.message}`); return; }
        if (answer(res)) access.push(assertAccessToken(res).access_token);
      }
    };
    const refreshLoop = async (ch) => {
      while (!stop) {
        let res;
        try { res = await refreshToken(base, plugin, ch.last); } catch (err) { bad.push(`no answer: ${err.message}`); return; }
        if (!answer(res)) {
          ch.refusedNow = true;
          continue;
        }
        const p = assertTokenPair(res);
        access.push(p.access_token);
        ch.spent.push(ch.last);
        ch.last = p.refresh_token;
        if (ch.refusedNow) ch.refusedThenOk++;
        ch.refusedNow = false;
      }
    };
    const loops = [...chains.map(refreshLoop), ...Array.from({ length: LOOPS / 2 }, ccLoop)];
    let unavailablePage = null;
    try {
      await sleep(300);
      const filler = fillFileSystem(mnt);
      phase = 'full';
      const t0 = Date.now();
      while ((byPhase.full.get(503) ?? 0) < 200 && Date.now() - t0 < 5_000 && bad.length === 0) await sleep(50);
      await sleep(300);
      // /oauth/authorize starts a session (a write): 503 page or the login page.
      unavailablePage = await new Browser(base).get(authorizePath([
        ['response_type', 'code'], ['client_id', plugin.client_id],
        ['redirect_uri', pluginCallback()], ['state', newState()],
      ]));
      assert.ok(pa.exitCode === null, `the server died: ${pa.exitCode}`);
      unlinkSync(filler);
      phase = 'freed';
      const t1 = Date.now();
      while (okSinceFreed < 100 && Date.now() - t1 < 5_000 && bad.length === 0) await sleep(50);
    } finally {
      stop = true;
      await Promise.all(loops);
    }
    const counts = Object.fromEntries(Object.entries(byPhase).map(([k, m]) => [k, Object.fromEntries(m)]));
    assert.deepEqual(bad.slice(0, 5), [], `${bad.length} answers were neither a token nor 503 (${JSON.stringify(counts)})`);
    assert.ok((byPhase.full.get(503) ?? 0) > 0, `the full disk never failed a request: ${JSON.stringify(counts)}`);
    assert.ok(okSinceFreed >= 100, `token requests should succeed again once space is free: ${JSON.stringify(counts)}`);
    if (unavailablePage.status === 503) assertUnavailablePage(unavailablePage);
    else assertHtmlPage(unavailablePage, 200);
    assert.match(pa.log, /event=store_error\b[^\n]*fault=disk_full\b[^\n]*disk is full/,
      `the log should name the storage error; log:\n${pa.log.slice(-3000)}`);

    // What was answered holds, and nothing else was written: no half-written grant.
    const spent = chains.flatMap((ch) => ch.spent);
    const dbAccess = Number(sqlite(pa.db, 'SELECT count(*) FROM tokens WHERE kind = 1;'));
    assert.equal(dbAccess, chains.length + access.length, 'access tokens in the database: answered ones only');
    const dbRefresh = Number(sqlite(pa.db, 'SELECT count(*) FROM tokens WHERE kind = 2;'));
    assert.equal(dbRefresh, chains.length + spent.length, 'refresh tokens in the database: answered ones only');
    const inactive = [];
    await pool(access, 16, async (tok) => {
      const res = await introspect(base, rs, tok);
      if (res.status !== 200 || res.json?.active !== true) inactive.push(describeResponse(res));
    });
    assert.deepEqual(inactive.slice(0, 5), [], `${inactive.length} of ${access.length} answered access tokens lost`);
    const rot = rotatedAt(pa.db, [...spent, ...chains.map((ch) => ch.last)]);
    assert.equal(spent.filter((rt) => !(rot.get(rt) > 0)).length, 0, 'every answered rotation is durable');
    for (const ch of chains) {
      assert.equal(rot.get(ch.last), 0, 'a refresh that failed must not spend the refresh token');
      await assertActive(base, rs, assertTokenPair(await refreshToken(base, plugin, ch.last)).access_token);
    }
    const retried = chains.reduce((n, ch) => n + ch.refusedThenOk, 0);
    assert.ok(retried > 0, 'some refresh should have failed on the full disk and worked when retried');
    // Everything else works again too, e.g. a new sign-in.
    await codePair(base, new Browser(base), plugin);
    assertIntegrity(pa.db);

    t.diagnostic(`token answers by phase and status: ${JSON.stringify(counts)}`);
    t.diagnostic(`checked ${access.length} access tokens, ${spent.length} rotations; `
      + `${retried} refreshes refused on the full disk worked with the same refresh token later`);
    assertNoSecretsInLog(pa);
    assert.equal(await pa.stop(), 0, `SIGTERM should exit 0; log:\n${pa.log.slice(-3000)}`);
    assertIntegrity(pa.db);

    // A server (re)started on a full disk cannot set up its WAL index: it says why
    // and exits; once there is space it starts, with what it had issued.
    const filler = fillFileSystem(mnt);
    await assert.rejects(pa.start({ env }), /exited/, 'serve cannot run without space for its WAL');
    assert.equal(typeof pa.exitCode, 'number', `serve should exit, not die of a signal (${pa.exitCode})`);
    assert.notEqual(pa.exitCode, 0);
    assert.match(pa.log, /cannot open database [^\n]*No space left on device/,
      `the log should say the disk is full:\n${pa.log.slice(-2000)}`);
    unlinkSync(filler);
    const again = await pa.start({ env });
    await assertActive(again, rs, access[access.length - 1]);
    assert.equal(await pa.stop(), 0, pa.log.slice(-2000));
    assertIntegrity(pa.db);
  } finally {
    for (const pa of instances.splice(0)) await pa.cleanup();
    await unmount(mnt);
  }
});

// --- read-only file system ----------------------------------------------------------------

test('read_only_database_refused_at_start_with_clear_error', { timeout: TEST_TIMEOUT_MS }, async () => {
  // A file system cannot be made read-only under a process that has files open on it
  // for writing (EBUSY), and chmod does not stop root: the server meets a read-only
  // database when it starts.
  const mnt = mountTmpfs('8m');
  try {
    const pa = plugauthWithDb(join(mnt, 'plugauth.db'));
    instances.push(pa);
    const cc = pa.addClient({ name: 'cc' });
    const rs = pa.addClient({ name: 'resource server' });
    let base = await pa.start();
    const tok = assertAccessToken(await ccToken(base, cc));
    assert.equal(await pa.stop(), 0, pa.log);

    remount(mnt, 'ro');
    await assert.rejects(pa.start(), /exited/, 'serve must not run on a read-only database');
    assert.equal(typeof pa.exitCode, 'number', `serve should exit, not die of a signal (${pa.exitCode})`);
    assert.notEqual(pa.exitCode, 0);
    assert.match(pa.log, /read-only/i, `the log should say the database is read-only:\n${pa.log}`);

    remount(mnt, 'rw');
    base = await pa.start();
    await assertActive(base, rs, tok.access_token);
    assertAccessToken(await ccToken(base, cc));
    assert.equal(await pa.stop(), 0, pa.log);
    assertIntegrity(pa.db);
  } finally {
    for (const pa of instances.splice(0)) await pa.cleanup();
    await unmount(mnt);
  }
});

// --- locked database ----------------------------------------------------------------------

test('locked_database_answers_503_within_busy_timeout_then_recovers', { timeout: TEST_TIMEOUT_MS }, async (t) => {
  const pa = createPlugauth();
  instances.push(pa);
  addUser(pa, 'alice');
  const cc = pa.addClient({ name: 'cc' });
  const rs = pa.addClient({ name: 'resource server' });
  const plugin = addChatgptClient(pa);
  const other = addChatgptClient(pa, 'Other plugin');
  const base = await pa.start();
  const b = new Browser(base);
  const pair = await codePair(base, b, plugin);
  // Alice signed in, looking at the consent page of another plugin.
  const consentPage = await b.get(authorizePath([
    ['response_type', 'code'], ['client_id', other.client_id],
    ['redirect_uri', pluginCallback()], ['state', newState()],
  ]));
  assertHtmlPage(consentPage, 200);
  assert.ok(isConsentForm(theForm(consentPage)), 'a consent page');
  // A code not yet exchanged: taking it and issuing its tokens fail together.
  const codeRedirect = pluginCallback();
  const code = await b.code([
    ['response_type', 'code'], ['client_id', plugin.client_id], ['redirect_uri', codeRedirect],
    ['state', newState()],
  ]);
  const exchange = () => call(base, '/oauth/token', {
    body: { grant_type: 'authorization_code', code, redirect_uri: codeRedirect },
    authorization: basic(plugin.client_id, plugin.client_secret),
  });
  const fresh = new Browser(base);
  const freshPath = authorizePath([
    ['response_type', 'code'], ['client_id', plugin.client_id],
    ['redirect_uri', pluginCallback()], ['state', newState()],
  ]);

  const lock = await lockDatabase(pa.db);
  let answers;
  try {
    // Everything at once, all meeting the one lock: nothing waits in turn.
    answers = await Promise.all([
      ccToken(base, cc),
      ccToken(base, cc),
      refreshToken(base, plugin, pair.refresh_token),
      exchange(),
      timed(() => fresh.get(freshPath)),
      timed(() => b.submit(consentPage, {}, { button: { name: 'decision', value: 'allow' } })),
      introspect(base, rs, pair.access_token),
    ]);
  } finally {
    await lock.release();
  }
  const [cc1, cc2, rf, ex, authz, consent, intro] = answers;
  assertUnavailable(cc1);
  assertUnavailable(cc2);
  assertUnavailable(rf);
  assertUnavailable(ex);
  // A sign-in page writes nothing (no session row before sign-in): served while locked.
  assertHtmlPage(authz, 200);
  assert.ok(isLoginForm(theForm(authz)), 'the sign-in page, read-only, while the database is locked');
  assertUnavailablePage(consent);
  assert.equal(intro.status, 200, describeResponse(intro));
  assert.equal(intro.json?.active, true, 'reads work while another process writes');
  for (const res of answers) {
    assert.ok(res.ms < BUSY_TIMEOUT_MS + BUSY_SLACK_MS,
      `answered after ${Math.round(res.ms)} ms: nothing may wait much longer than the busy timeout`);
  }
  assert.match(pa.log, /event=store_error\b[^\n]*fault=locked\b[^\n]*database is locked/,
    `the log should name the storage error; log:\n${pa.log.slice(-3000)}`);

  // The lock is gone: everything works again, and the refresh that failed did not
  // spend the refresh token (rotation is one transaction).
  await assertActive(base, rs, assertAccessToken(await ccToken(base, cc)).access_token);
  assert.equal(rotatedAt(pa.db, [pair.refresh_token]).get(pair.refresh_token), 0,
    'a failed refresh must not spend the refresh token');
  const next = assertTokenPair(await refreshToken(base, plugin, pair.refresh_token));
  await assertActive(base, rs, next.access_token);
  await assertActive(base, rs, assertTokenPair(await exchange()).access_token);
  const login = await fresh.get(freshPath);
  assertHtmlPage(login, 200);
  assert.ok(isLoginForm(theForm(login)), 'the sign-in page again');
  const allowed = await b.submit(consentPage, {}, { button: { name: 'decision', value: 'allow' } });
  assert.ok(allowed.status === 302 || allowed.status === 303, describeResponse(allowed));
  assert.match(new URL(allowed.location).searchParams.get('code') ?? '', /^pa_ac_/);

  t.diagnostic(`answers while locked: ${answers.map((r) => `${r.status}/${Math.round(r.ms)}ms`).join(' ')}`);
  assertNoSecretsInLog(pa);
  assert.equal(await pa.stop(), 0, `SIGTERM should exit 0; log:\n${pa.log.slice(-3000)}`);
  assertIntegrity(pa.db);
});

// --- database moved away ------------------------------------------------------------------

test('database_moved_away_answers_503_never_creates_another', { timeout: TEST_TIMEOUT_MS }, async () => {
  // Each server thread opens its connection on its first request: one opened while the
  // file is gone must fail (SQLITE_CANTOPEN), not make a new empty database at the path
  // (SQLite would then delete the real database's WAL, with its latest commits).
  const pa = createPlugauth();
  instances.push(pa);
  const rs = pa.addClient({ name: 'resource server' });
  const base = await pa.start();
  // Registered while the server runs: the row is in the WAL, not yet in the database.
  const cc = pa.addClient({ name: 'cc' });
  const walSize = statSync(`${pa.db}-wal`).size;
  assert.ok(walSize > 0, 'the new client should be in the WAL');
  const moved = `${pa.db}.moved`;
  renameSync(pa.db, moved);
  try {
    for (let i = 0; i < 6; i++) assertUnavailable(await ccToken(base, cc));
    assert.equal(existsSync(pa.db), false, 'no new database may appear where the old one was');
    assert.ok(statSync(`${pa.db}-wal`, { throwIfNoEntry: false })?.size >= walSize,
      'the WAL of the database must stay');
  } finally {
    renameSync(moved, pa.db);
  }
  assert.match(pa.log, /event=store_error\b[^\n]*cannot open database[^\n]*unable to open/,
    `the log should name the storage error; log:\n${pa.log.slice(-3000)}`);
  const tokens = [];
  for (let i = 0; i < 6; i++) tokens.push(assertAccessToken(await ccToken(base, cc)).access_token);
  for (const tok of tokens) await assertActive(base, rs, tok);
  assertNoSecretsInLog(pa);
  assert.equal(await pa.stop(), 0, `SIGTERM should exit 0; log:\n${pa.log.slice(-3000)}`);
  assertIntegrity(pa.db);
  assert.equal(sqlite(pa.db, 'SELECT count(*) FROM tokens;'), String(tokens.length), 'every answered token is stored');
});
