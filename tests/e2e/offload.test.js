// The blocking-work threads ([server] blocking_threads): handlers that wait on a commit
// or a password hash run there, not on the worker threads that read every connection.
// A database locked by another process makes the token endpoint wait (up to SQLite's
// busy timeout), which shows what waits and what does not.

import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { after, test } from 'node:test';

import { ACCESS_TOKEN_RE, basic, describeResponse, form, get, postToken } from './lib/http.js';
import { sleep } from './lib/flow.js';
import { lockDatabase } from './lib/lock.js';
import { createPlugauth } from './lib/server.js';

const TEST_TIMEOUT_MS = 60_000;
const QUEUE_PER_THREAD = 16;        // HTTP_OFFLOAD_QUEUE_PER_THREAD in src/http/http.h
const QUICK_MS = 1_500;             // an answer that waited for nothing (a loaded CI machine)
const SETTLE_MS = 300;              // for requests sent to reach the server

const instances = [];
after(async () => {
  for (const pa of instances) await pa.cleanup();
});

async function start(env) {
  const pa = createPlugauth();
  instances.push(pa);
  const client = pa.addClient({ name: 'cc' });
  const base = await pa.start({ env });
  return { pa, base, client };
}

// A client_credentials request; resolves with the answer and its duration (ms).
async function ccToken(base, c) {
  const t0 = performance.now();
  const res = await postToken(base, {
    body: { grant_type: 'client_credentials' }, authorization: basic(c.client_id, c.client_secret),
  });
  return { ...res, ms: performance.now() - t0 };
}

async function timedGet(base, path, init) {
  const t0 = performance.now();
  const res = await get(base, path, init);
  return { ...res, ms: performance.now() - t0 };
}

function assertToken(res) {
  assert.equal(res.status, 200, describeResponse(res));
  assert.match(res.json?.access_token ?? '', ACCESS_TOKEN_RE, describeResponse(res));
}

test('token_requests_waiting_on_the_database_leave_other_endpoints_answering', { timeout: TEST_TIMEOUT_MS }, async () => {
  // One worker thread: before the blocking-work threads, one token request waiting on
  // the lock held it, and everything else waited with it.
  const { pa, base, client } = await start({ PLUGAUTH_SERVER_THREADS: '1' });
  const token = (await ccToken(base, client)).json?.access_token;
  const lock = await lockDatabase(pa.db);
  let waiting;
  try {
    waiting = Array.from({ length: 4 }, () => ccToken(base, client));
    await sleep(SETTLE_MS);
    const health = await timedGet(base, '/healthz');
    const meta = await timedGet(base, '/.well-known/oauth-authorization-server');
    const intro = await timedGet(base, '/oauth/introspect', {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: basic(client.client_id, client.client_secret),
      },
      body: form({ token }),
    });
    for (const res of [health, meta, intro]) {
      assert.equal(res.status, 200, describeResponse(res));
      assert.ok(res.ms < QUICK_MS, `answered after ${Math.round(res.ms)} ms while token requests wait`);
    }
    assert.equal(intro.json?.active, true, describeResponse(intro));
  } finally {
    await lock.release();
  }
  // Once the lock is gone, the waiting requests get their tokens.
  for (const res of await Promise.all(waiting)) assertToken(res);
});

test('offload_queue_full_answers_503_with_retry_after_at_once', { timeout: TEST_TIMEOUT_MS }, async () => {
  const over = 8;
  const { pa, base, client } = await start({ PLUGAUTH_SERVER_BLOCKING_THREADS: '1' });
  const lock = await lockDatabase(pa.db);
  let first;
  let rest;
  let quick;
  try {
    first = ccToken(base, client);     // on the one thread, waiting on the lock
    await sleep(SETTLE_MS);
    const answered = [];
    rest = Array.from({ length: QUEUE_PER_THREAD + over }, () => ccToken(base, client)
      .then((res) => { answered.push(res); return res; }));
    const deadline = performance.now() + 5_000;
    while (answered.length < over && performance.now() < deadline) await sleep(20);
    await sleep(SETTLE_MS);            // and no more than those
    quick = [...answered];
  } finally {
    await lock.release();
  }
  assert.equal(quick.length, over, `${over} requests past the queue answered at once, the queued ones wait`);
  for (const res of quick) {
    assert.equal(res.status, 503, describeResponse(res));
    assert.equal(res.json?.error, 'temporarily_unavailable', describeResponse(res));
    assert.equal(res.headers.get('retry-after'), '1', describeResponse(res));
    assert.ok(res.ms < QUICK_MS, `a refusal took ${Math.round(res.ms)} ms`);
  }
  assertToken(await first);
  const served = (await Promise.all(rest)).filter((res) => res.status !== 503);
  assert.equal(served.length, QUEUE_PER_THREAD, 'every queued request is served');
  for (const res of served) assertToken(res);
  assert.match(pa.log, /event=http_busy\b[^\n]*reason=offload_queue_full/);
  // Not stuck: later requests are served.
  assertToken(await ccToken(base, client));
});

test('sigterm_waits_for_offloaded_requests', { timeout: TEST_TIMEOUT_MS }, async () => {
  const { pa, base, client } = await start();
  const lock = await lockDatabase(pa.db);
  let waiting;
  let code;
  try {
    waiting = Array.from({ length: 3 }, () => ccToken(base, client));
    await sleep(SETTLE_MS);
    code = pa.stop();
    await sleep(SETTLE_MS);
  } finally {
    await lock.release();
  }
  for (const res of await Promise.all(waiting)) assertToken(res);
  assert.equal(await code, 0, `SIGTERM should exit 0; log:\n${pa.log}`);
});
