// Streaming through the gateway (issue 10): an upstream answer of type text/event-stream
// reaches the client as it comes, not when it ends. The upstream here is a node:http
// server whose event streams the tests drive by hand: each event is sent when the test
// says so, and most tests wait until the client has received one event before the
// upstream sends the next, so nothing depends on timing.

import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { after, before, test } from 'node:test';

import { basic, describeResponse, postToken } from './lib/http.js';
import { createPlugauth } from './lib/server.js';

const WAIT_MS = 8000; // the deadline of every wait for a condition

// --- the upstream ------------------------------------------------------------------------

// /api/sse/<id>: 200 text/event-stream, held open; streams.get(id) sends and ends it.
// /api/json: a JSON answer with Content-Length. Anything else: 404.
function startUpstream() {
  const streams = new Map();
  const seen = [];
  const server = http.createServer((req, res) => {
    seen.push(req.url);
    const m = /^\/api\/sse\/([A-Za-z0-9_-]+)/.exec(req.url);
    if (m) {
      const s = { res, closed: false, sent: 0 };
      res.on('close', () => { s.closed = true; });
      res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache', 'X-Upstream': 'sse' });
      res.flushHeaders();
      s.send = (data) => { s.sent += 1; return res.write(`data: ${data}\n\n`); };
      streams.set(m[1], s);
      return;
    }
    if (req.url.startsWith('/api/json')) {
      const body = JSON.stringify({ ok: true, url: req.url });
      res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
      res.end(body);
      return;
    }
    res.writeHead(404).end();
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      resolve({
        url: `http://127.0.0.1:${server.address().port}`,
        streams,
        seen,
        close: () => new Promise((r) => { server.closeAllConnections(); server.close(() => r()); }),
      });
    });
  });
}

// --- helpers ------------------------------------------------------------------------------

async function waitFor(what, cond) {
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    const v = await cond();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

// A GET through the gateway whose body is read as it comes: {status, headers, text(),
// events(), ended, aborted, destroy()}; resolves once the head is in.
function openStream(base, path, tok, { accept = 'text/event-stream', method = 'GET', body } = {}) {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const chunks = [];
    const st = { ended: false, aborted: false };
    const req = http.request({
      host: url.hostname, port: url.port, path, method, agent: false,
      headers: {
        authorization: `Bearer ${tok}`, accept,
        ...(body === undefined ? {} : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }),
      },
    }, (res) => {
      st.status = res.statusCode;
      st.headers = res.headers;
      st.res = res;
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => { st.ended = true; });
      res.on('aborted', () => { st.aborted = true; });
      res.on('error', () => { st.aborted = true; });
      res.on('close', () => { if (!st.ended) st.aborted = true; });
      resolve(st);
    });
    st.bytes = () => Buffer.concat(chunks);
    st.text = () => st.bytes().toString('utf8');
    st.events = () => st.text().split('\n\n').filter((e) => e !== '').map((e) => e.replace(/^data: /, ''));
    st.destroy = () => req.destroy();
    req.on('error', (e) => { st.aborted = true; if (st.status === undefined) reject(e); });
    req.end(body);
  });
}

function rssKiB(pid) {
  const m = /VmRSS:\s+([0-9]+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m[1]);
}

// utime + stime of a process, in clock ticks (1/100 s).
function cpuTicks(pid) {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return Number(f[11]) + Number(f[12]);
}

async function clientToken(base, c) {
  const res = await postToken(base, {
    body: { grant_type: 'client_credentials' },
    authorization: basic(c.client_id, c.client_secret),
  });
  assert.equal(res.status, 200, describeResponse(res));
  return res.json.access_token;
}

let up;
const servers = [];

// A plugauth in front of up with env; {pa, base, tokens: [n tokens]}.
async function startGateway(env, ntokens = 1) {
  const pa = createPlugauth();
  servers.push(pa);
  const c = pa.addClient({ name: 'stream-e2e' });
  const base = await pa.start({ env: { PLUGAUTH_GATEWAY_UPSTREAM: up.url, ...env } });
  const tokens = [];
  for (let i = 0; i < ntokens; i++) tokens.push(await clientToken(base, c));
  return { pa, base, tokens };
}

let gw; // timeout 1 s, idle 2 s, caps 2 per token and 3 per address

before(async () => {
  up = await startUpstream();
  gw = await startGateway({
    PLUGAUTH_GATEWAY_TIMEOUT: '1',
    PLUGAUTH_GATEWAY_STREAM_IDLE_TIMEOUT: '2',
    PLUGAUTH_GATEWAY_MAX_STREAMS_PER_TOKEN: '2',
    PLUGAUTH_GATEWAY_MAX_STREAMS_PER_ADDRESS: '3',
  }, 4);
});

after(async () => {
  const logs = servers.map((s) => s.log).join('\n');
  for (const s of servers) await s.cleanup();
  // Under the ASan build (PLUGAUTH_BIN=build-asan/plugauth) a report goes to the log.
  assert.doesNotMatch(logs, /Sanitizer|runtime error:/);
  await up?.close();
});

const newId = () => randomBytes(6).toString('hex');

// Opens a stream through base with tok, checks its head and, with first, has the
// upstream send that event and waits until the client has it: {id, st, s}.
async function openLive(base, tok, first) {
  const id = newId();
  const st = await openStream(base, `/api/sse/${id}`, tok);
  assert.equal(st.status, 200);
  assert.match(st.headers['content-type'], /^text\/event-stream/);
  const s = await waitFor('the upstream stream', () => up.streams.get(id));
  if (first !== undefined) {
    s.send(first);
    await waitFor('the first event at the client', () => st.events().length === 1);
  }
  return { id, st, s };
}

// --- tests --------------------------------------------------------------------------------

test('stream_event_reaches_client_before_the_next_is_sent', async () => {
  const id = newId();
  const tok = gw.tokens[0];
  const st = await openStream(gw.base, `/api/sse/${id}`, tok);
  assert.equal(st.status, 200);
  assert.match(st.headers['content-type'], /^text\/event-stream/);
  assert.equal(st.headers['x-upstream'], 'sse');
  assert.equal(st.headers['content-length'], undefined);
  const s = await waitFor('the upstream stream', () => up.streams.get(id));
  s.send('one');
  // The upstream sends event 2 only once the client has event 1: a gateway that buffers
  // the answer until it ends never gets there.
  await waitFor('event 1 at the client', () => st.events().length === 1);
  assert.deepEqual(st.events(), ['one']);
  s.send('two');
  await waitFor('event 2 at the client', () => st.events().length === 2);
  s.res.end();
  await waitFor('the end of the stream', () => st.ended || st.aborted);
  assert.equal(st.ended, true, 'a stream the upstream ends ends cleanly');
  assert.deepEqual(st.events(), ['one', 'two']);
});

test('stream_post_answered_with_an_event_stream_mcp_style', async () => {
  // MCP's Streamable HTTP: a JSON-RPC POST answered with text/event-stream.
  const id = newId();
  const st = await openStream(gw.base, `/api/sse/${id}`, gw.tokens[0], {
    method: 'POST', accept: 'application/json, text/event-stream',
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
  });
  assert.equal(st.status, 200);
  const s = await waitFor('the upstream stream', () => up.streams.get(id));
  s.send('{"jsonrpc":"2.0","method":"notifications/progress"}');
  await waitFor('the notification', () => st.events().length === 1);
  s.send('{"jsonrpc":"2.0","id":1,"result":{"tools":[]}}');
  s.res.end();
  await waitFor('the end', () => st.ended);
  assert.deepEqual(st.events().map((e) => JSON.parse(e).method ?? 'result'),
    ['notifications/progress', 'result']);
});

test('stream_outlives_gateway_timeout_while_events_keep_coming', async () => {
  // [gateway] timeout = 1 s covers the head; events every ~300 ms for ~3 s keep it open
  // (idle timeout 2 s).
  const { st, s } = await openLive(gw.base, gw.tokens[0]);
  const t0 = Date.now();
  for (let i = 1; i <= 10; i++) {
    s.send(`e${i}`);
    await waitFor(`event ${i}`, () => st.events().length === i);
    await new Promise((r) => setTimeout(r, 300)); // the pace of the stream, not a wait
  }
  assert.ok(Date.now() - t0 > 2500, 'the stream lasted longer than both timeouts');
  assert.equal(st.aborted, false);
  s.res.end();
  await waitFor('the end', () => st.ended);
  assert.equal(st.events().length, 10);
});

test('stream_idle_timeout_closes_a_silent_stream', async () => {
  const { st, s } = await openLive(gw.base, gw.tokens[0], 'only');
  const t0 = Date.now();
  const cpu0 = cpuTicks(gw.pa.proc.pid);
  await waitFor('the gateway to close the silent stream', () => st.aborted || st.ended);
  await waitFor('the upstream to see its connection close', () => s.closed);
  const took = Date.now() - t0;
  const spent = cpuTicks(gw.pa.proc.pid) - cpu0;
  assert.ok(took >= 1500, `closed after ${took} ms, before the 2 s idle timeout`);
  // Waiting costs nothing: a connection that spun while its stream is silent would
  // burn a core for the whole ~2 s (about 200 ticks).
  assert.ok(spent < 50, `plugauth used ${spent} CPU ticks while the stream was silent`);
  assert.equal(st.ended, false, 'an idle-closed stream is cut short, not ended');
});

test('stream_client_disconnect_closes_the_upstream_connection', async () => {
  // The default idle timeout (300 s): only the client's close can end this silent stream.
  const g = await startGateway({}, 1);
  const { st, s } = await openLive(g.base, g.tokens[0], 'first');
  st.destroy();
  await waitFor('the upstream connection to close', () => s.closed);
  assert.equal(s.sent, 1, 'the upstream sent nothing after the client left');
  // Its place is free again: the caps count only live streams.
  const again = await openLive(g.base, g.tokens[0], 'again');
  again.s.res.end();
  await waitFor('the end', () => again.st.ended);
  await g.pa.cleanup();
});

test('stream_caps_answer_429_per_token_and_per_address', async () => {
  const [a, b] = [gw.tokens[2], gw.tokens[3]];
  const open = [];
  for (let i = 0; i < 2; i++) open.push(await openLive(gw.base, a));
  // A third for token a asks for a stream (GET, Accept): refused before the upstream.
  const id3 = newId();
  const third = await openStream(gw.base, `/api/sse/${id3}`, a);
  await waitFor('the refusal body', () => third.ended);
  assert.equal(third.status, 429, third.text());
  const body = JSON.parse(third.text());
  assert.equal(body.error, 'too_many_streams');
  assert.ok(body.error_description);
  assert.ok(!up.seen.some((u) => u.includes(id3)), 'refused before reaching the upstream');
  // Without Accept: text/event-stream it is refused when the answer turns out a stream.
  const id4 = newId();
  const fourth = await openStream(gw.base, `/api/sse/${id4}`, a, { accept: '*/*' });
  await waitFor('the refusal body', () => fourth.ended);
  assert.equal(fourth.status, 429, fourth.text());
  await waitFor('the refused upstream stream to close', () => up.streams.get(id4)?.closed);
  // Token b: one more stream fills the address (3); the next is over its cap.
  const { st: sb, s: upb } = await openLive(gw.base, b);
  const over = await openStream(gw.base, `/api/sse/${newId()}`, b);
  await waitFor('the refusal body', () => over.ended);
  assert.equal(over.status, 429, over.text());
  // A JSON answer is no stream: not capped.
  const j = await openStream(gw.base, '/api/json', a, { accept: 'application/json' });
  await waitFor('json', () => j.ended);
  assert.equal(j.status, 200);
  // A stream that ends frees its place.
  open[0].s.res.end();
  await waitFor('the end', () => open[0].st.ended);
  const { st: again, s: upn } = await openLive(gw.base, a);
  for (const s of [open[1].s, upb, upn]) s.res.end();
  await waitFor('all ended', () => open[1].st.ended && sb.ended && again.ended);
});

test('stream_json_answer_is_unchanged', async () => {
  const st = await openStream(gw.base, '/api/json?x=1', gw.tokens[0], { accept: 'application/json' });
  await waitFor('the body', () => st.ended);
  assert.equal(st.status, 200);
  assert.equal(st.headers['content-length'], String(st.bytes().length));
  assert.equal(st.headers['transfer-encoding'], undefined);
  assert.deepEqual(JSON.parse(st.text()), { ok: true, url: '/api/json?x=1' });
});

test('stream_big_data_arrives_intact_with_bounded_memory', async (t) => {
  // 32 MiB in 4 KiB events while the client does not read: the upstream must be held
  // back (it waits for 'drain') with the gateway's memory nearly unchanged; then the
  // client reads it all, byte for byte.
  const id = newId();
  const rss0 = rssKiB(gw.pa.proc.pid);
  const st = await openStream(gw.base, `/api/sse/${id}`, gw.tokens[1]);
  st.res.pause();
  const s = await waitFor('the upstream stream', () => up.streams.get(id));
  const hash = createHash('sha256');
  const TOTAL = 8192;
  let n = 0;
  let blocked = false;
  const pump = () => {
    while (n < TOTAL) {
      const data = randomBytes(3072).toString('base64'); // 4096 bytes, no newline
      hash.update(`data: ${data}\n\n`);
      n += 1;
      if (!s.send(data)) { blocked = true; s.res.once('drain', () => { blocked = false; pump(); }); return; }
    }
    s.res.end();
  };
  pump();
  // Held back: blocked with the count unchanged over a few polls.
  let last = -1;
  let still = 0;
  await waitFor('the upstream to be held back', () => {
    still = blocked && n === last ? still + 1 : 0;
    last = n;
    return still >= 5;
  });
  assert.ok(n < TOTAL, `the upstream was never held back (${n} events sent)`);
  const grown = rssKiB(gw.pa.proc.pid) - rss0;
  t.diagnostic(`held back after ${n} of ${TOTAL} events; RSS grew ${grown} KiB`);
  assert.ok(grown < 16 * 1024, `the gateway grew by ${grown} KiB while the client did not read`);
  st.res.resume();
  await waitFor('the end of 32 MiB', () => st.ended || st.aborted);
  assert.equal(st.ended, true);
  const got = st.bytes();
  assert.equal(got.length, TOTAL * 4104);
  assert.equal(createHash('sha256').update(got).digest('hex'), hash.digest('hex'));
});

test('stream_does_not_hold_shutdown_past_the_drain', async () => {
  const g = await startGateway({}, 1);
  const { st, s } = await openLive(g.base, g.tokens[0], 'x');
  const t0 = Date.now();
  g.pa.proc.kill('SIGTERM');
  const code = await Promise.race([g.pa.exited, new Promise((r) => setTimeout(() => r('late'), 16_000))]);
  assert.equal(code, 0, `plugauth exited ${code} after ${Date.now() - t0} ms`);
  await waitFor('the client stream to close', () => st.aborted || st.ended);
  await waitFor('the upstream connection to close', () => s.closed);
});
