// Slow clients (slowloris; docs/design.md, Security rules: "Limits: … connection count,
// per-connection timeouts"): connections that trickle their request headers a byte at a
// time must not starve normal clients; a connection that stops sending is closed once
// [server] connection_timeout passes; [server] per_address_connections caps how many
// connections one address holds.

import assert from 'node:assert/strict';
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import { after, before, test } from 'node:test';

import { basic, describeResponse, form, rawRequest } from './lib/http.js';
import { createPlugauth } from './lib/server.js';

const TRICKLERS = 50;
const TRICKLE_MS = 200;          // one byte this often
const LOOP_MS = 5_000;           // normal clients run this long among the tricklers
const MAX_LATENCY_MS = 1_000;    // …and each of their requests answers within this
const TIMEOUT_S = 2;             // connection_timeout of the `short` server
const PER_ADDRESS = 20;          // per_address_connections of the `capped` server
const IDLE = 50;                 // connections the capped server is offered

// Headers that never end: a trickler never gets near the end of them.
const SLOW_REQUEST = 'POST /oauth/token HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ' + 'a'.repeat(10_000);

const sockets = new Set();       // every socket opened here: destroyed in after()
let plain;                       // defaults
let short;                       // connection_timeout = TIMEOUT_S
let capped;                      // per_address_connections = PER_ADDRESS
const servers = [];
const seen = new Set();          // secrets: none may reach a log

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// A connection to base that sends `text` one byte every `everyMs` once connected (none
// if everyMs is 0). Resolves once connected with its state: {sock, sent, lastByteAt,
// closed (a promise of the time the server closed it), isClosed(), stop(), destroy()}.
function slowConnection(base, { text = SLOW_REQUEST, everyMs = TRICKLE_MS } = {}) {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host: url.hostname, port: Number(url.port) });
    sockets.add(sock);
    let timer = null;
    let closedAt = null;
    let onClose;
    const c = {
      sock,
      sent: 0,
      lastByteAt: null,
      received: '',
      closed: new Promise((res) => { onClose = res; }),
      isClosed: () => closedAt !== null,
      stop: () => { clearInterval(timer); timer = null; },
      destroy: () => { clearInterval(timer); sock.destroy(); },
    };
    const send = () => {
      if (c.sent >= text.length || sock.destroyed) return;
      sock.write(text[c.sent++]);
      c.lastByteAt = performance.now();
    };
    sock.setEncoding('latin1');
    sock.on('data', (d) => { c.received += d; });
    sock.on('error', () => { /* a reset is one way of being closed */ });
    sock.on('close', () => {
      clearInterval(timer);
      closedAt = performance.now();
      sockets.delete(sock);
      onClose(closedAt);
    });
    sock.once('connect', () => {
      if (everyMs > 0) {
        send();
        timer = setInterval(send, everyMs);
      }
      resolve(c);
    });
    sock.once('error', (err) => { if (!sock.connecting) return; reject(err); });
  });
}

// Resolves true if c is closed within ms, false otherwise.
async function closedWithin(c, ms) {
  let timer;
  const r = await Promise.race([
    c.closed.then(() => true),
    new Promise((res) => { timer = setTimeout(() => res(false), ms); }),
  ]);
  clearTimeout(timer);
  return r;
}

// A client_credentials request on a fresh connection (node:http, Connection: close).
function tokenRequest(inst) {
  return rawRequest(inst.base, {
    path: '/oauth/token',
    body: form({ grant_type: 'client_credentials' }),
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      authorization: basic(inst.client.client_id, inst.client.client_secret),
    },
  });
}

async function startInstance(name, env = {}) {
  const pa = createPlugauth();
  servers.push({ name, pa });
  const client = pa.addClient({ name: `slowloris-${name}` });
  seen.add(client.client_secret);
  const base = await pa.start({ env });
  return { name, pa, base, client };
}

before(async () => {
  plain = await startInstance('plain');
  short = await startInstance('short', { PLUGAUTH_SERVER_CONNECTION_TIMEOUT: String(TIMEOUT_S) });
  capped = await startInstance('capped', { PLUGAUTH_SERVER_PER_ADDRESS_CONNECTIONS: String(PER_ADDRESS) });
});

after(async () => {
  for (const s of sockets) s.destroy();
  sockets.clear();
  const logs = servers.map((s) => s.pa.log).join('\n');
  for (const s of servers) await s.pa.cleanup();
  for (const v of seen) assert.ok(!logs.includes(v), `a secret reached the server log: ${v.slice(0, 10)}…`);
});

test('tricklers_do_not_starve_normal_clients', async (t) => {
  const slow = await Promise.all(Array.from({ length: TRICKLERS }, () => slowConnection(plain.base)));
  try {
    await sleep(2 * TRICKLE_MS);   // every trickler has sent a few bytes
    const latencies = [];
    const failures = [];
    const t0 = performance.now();
    while (performance.now() - t0 < LOOP_MS) {
      const s = performance.now();
      const res = await tokenRequest(plain);
      latencies.push(performance.now() - s);
      if (res.status !== 200) failures.push(describeResponse(res));
      else seen.add(res.json.access_token);
    }
    const sorted = [...latencies].sort((a, b) => a - b);
    const p50 = sorted[Math.floor(sorted.length / 2)];
    const max = sorted[sorted.length - 1];
    const open = slow.filter((c) => !c.isClosed()).length;
    t.diagnostic(`${latencies.length} token requests among ${TRICKLERS} tricklers (${open} still open):`
      + ` p50 ${p50.toFixed(1)} ms, max ${max.toFixed(1)} ms`);
    assert.deepEqual(failures.slice(0, 3), [], `${failures.length} of ${latencies.length} token requests failed`);
    assert.ok(latencies.length >= 5, `only ${latencies.length} token requests in ${LOOP_MS} ms`);
    assert.ok(max < MAX_LATENCY_MS, `slowest token request took ${max.toFixed(0)} ms (p50 ${p50.toFixed(0)} ms)`);
  } finally {
    for (const c of slow) c.destroy();
  }
});

test('connection_closed_after_timeout_without_bytes', async (t) => {
  // One connection trickles for a while, then goes quiet; another never sends a byte.
  // Both are closed by the server once connection_timeout passes with nothing received,
  // and not before.
  const [trickler, silent] = await Promise.all([
    slowConnection(short.base),
    slowConnection(short.base, { everyMs: 0 }),
  ]);
  const silentSince = performance.now();
  try {
    await sleep(TIMEOUT_S * 1000 + 500);   // the trickler outlives the timeout by sending
    assert.ok(!trickler.isClosed(), `a connection still sending was closed after ${trickler.sent} bytes`);
    trickler.stop();
    const quietSince = trickler.lastByteAt;

    assert.ok(await closedWithin(silent, 5_000), 'a connection that never sent a byte is still open');
    const silentIdle = (await silent.closed) - silentSince;
    assert.ok(await closedWithin(trickler, 5_000), 'a connection that stopped sending is still open');
    const tricklerIdle = (await trickler.closed) - quietSince;
    t.diagnostic(`silent connection closed after ${silentIdle.toFixed(0)} ms; `
      + `trickler (${trickler.sent} bytes) closed ${tricklerIdle.toFixed(0)} ms after its last byte`);
    for (const [what, ms] of [['silent', silentIdle], ['trickler', tricklerIdle]]) {
      assert.ok(ms >= TIMEOUT_S * 1000 - 500, `${what} connection closed after ${ms.toFixed(0)} ms, before the timeout`);
      assert.ok(ms < TIMEOUT_S * 1000 + 3000, `${what} connection closed ${ms.toFixed(0)} ms after its last byte`);
    }
    assert.equal(trickler.received, '', `the server answered an unfinished request: ${trickler.received}`);
  } finally {
    trickler.destroy();
    silent.destroy();
  }
  // Still serving.
  const res = await tokenRequest(short);
  assert.equal(res.status, 200, describeResponse(res));
  seen.add(res.json.access_token);
});

test('per_address_connections_cap', async (t) => {
  const held = [];
  const over = [];
  try {
    // PER_ADDRESS idle connections, one after another: all stay open.
    for (let i = 0; i < PER_ADDRESS; i++) held.push(await slowConnection(capped.base, { everyMs: 0 }));
    await sleep(300);
    assert.equal(held.filter((c) => c.isClosed()).length, 0, 'connections within the cap were closed');

    // The 21st..50th are refused: closed by the server at once.
    for (let i = PER_ADDRESS; i < IDLE; i++) {
      try {
        over.push(await slowConnection(capped.base, { everyMs: 0 }));
      } catch {
        over.push(null);   // refused outright: as good
      }
    }
    const closed = await Promise.all(over.map((c) => (c === null ? true : closedWithin(c, 3_000))));
    const stillOpen = closed.filter((x) => !x).length;
    assert.equal(stillOpen, 0, `${stillOpen} of ${over.length} connections over the cap stayed open`);
    assert.equal(held.filter((c) => c.isClosed()).length, 0, 'connections within the cap were closed');
    t.diagnostic(`${PER_ADDRESS} held, ${over.length} over the cap closed`);

    // A normal request from the same address is over the cap as well.
    let during;
    try {
      during = await tokenRequest(capped);
    } catch (err) {
      during = err;
    }
    assert.ok(during instanceof Error || during.status !== 200,
      `a request over the cap was served: ${during instanceof Error ? during.message : describeResponse(during)}`);
  } finally {
    for (const c of [...held, ...over]) c?.destroy();
  }

  // Once they are gone, a normal request succeeds (the server may take a moment to
  // notice the closed connections).
  let res;
  const deadline = performance.now() + 3_000;
  for (;;) {
    try {
      res = await tokenRequest(capped);
      if (res.status === 200 || performance.now() > deadline) break;
    } catch (err) {
      if (performance.now() > deadline) throw err;
    }
    await sleep(100);
  }
  assert.equal(res.status, 200, describeResponse(res));
  seen.add(res.json.access_token);
});

test('servers_alive_and_no_errors_logged', () => {
  for (const s of servers) {
    assert.equal(s.pa.proc?.exitCode, null, `${s.name} still running`);
    const errors = s.pa.log.split('\n').filter((l) => /\blevel=error\b/.test(l));
    assert.deepEqual(errors, [], `${s.name} logged errors`);
  }
});
