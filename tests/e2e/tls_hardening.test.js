// Built-in TLS, hardened (docs/deploy.md "Option 1: TLS in plugauth"):
// - TLS 1.2 and 1.3 only by default (RFC 8996 deprecates 1.0 and 1.1); `[server]
//   tls_priorities` overrides the GnuTLS priority string, and a bad one stops start-up
//   with a clear error;
// - Strict-Transport-Security (RFC 6797) on every answer when the issuer is https, never
//   under a plain http loopback issuer;
// - SIGHUP reads the certificate and key files again: new connections see the new
//   certificate while the server keeps running; bad files keep the old one.
//
// The client side is Node's OpenSSL: TLS 1.0 and 1.1 need `@SECLEVEL=0` there, so the
// refusal seen is the server's, not our own client's.

import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import tls from 'node:tls';
import { after, before, test } from 'node:test';

import { freePort, readBody } from './lib/http.js';
import { createPlugauth } from './lib/server.js';
import { makeCert } from './lib/tls.js';

const DEADLINE_MS = 5_000;
const HSTS = 'max-age=31536000';

let pa;
let base;        // https://127.0.0.1:<port>, also the issuer
let files;       // {cert, key}
const servers = [];


// The SHA-256 fingerprint of a PEM certificate, as Node prints it.
function fingerprint(pem) {
  return new X509Certificate(pem).fingerprint256;
}


// Starts p with TLS under the issuer https://127.0.0.1:<port>.
async function startTls(p, f, env = {}) {
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const origin = `https://127.0.0.1:${port}`;
    try {
      return await p.start({
        env: {
          PLUGAUTH_SERVER_LISTEN: `127.0.0.1:${port}`,
          PLUGAUTH_SERVER_ISSUER: origin,
          PLUGAUTH_SERVER_TLS_CERT: f.cert,
          PLUGAUTH_SERVER_TLS_KEY: f.key,
          ...env,
        },
      });
    } catch (err) {
      if (attempt >= 3 || !/cannot listen/.test(p.log)) throw err;
    }
  }
}

// One TLS handshake with these options. Resolves {ok, protocol, fingerprint} or
// {ok: false, error}. The certificate is not verified here: the fingerprint is compared.
function handshake(url, opts = {}) {
  const u = new URL(url);
  return new Promise((resolve) => {
    const sock = tls.connect({
      host: u.hostname, port: Number(u.port), rejectUnauthorized: false, ...opts,
    });
    const timer = setTimeout(() => { sock.destroy(); resolve({ ok: false, error: 'timeout' }); }, DEADLINE_MS);
    sock.once('secureConnect', () => {
      clearTimeout(timer);
      const r = { ok: true, protocol: sock.getProtocol(), fingerprint: sock.getPeerCertificate().fingerprint256 };
      sock.end();
      resolve(r);
    });
    sock.once('error', (err) => { clearTimeout(timer); resolve({ ok: false, error: err.code ?? err.message }); });
  });
}

// GET over https, the server's certificate the only CA.
function get(url, ca) {
  return new Promise((resolve, reject) => {
    const req = https.request(new URL(url), { ca, agent: false }, (res) => {
      readBody(res).then((b) => resolve({ status: res.statusCode, headers: res.headers, ...b }), reject);
    });
    req.on('error', reject);
    req.setTimeout(10_000, () => req.destroy(new Error('request timed out')));
    req.end();
  });
}

async function getPlain(url) {
  const res = await fetch(url);
  return { status: res.status, headers: Object.fromEntries(res.headers), text: await res.text() };
}

before(async () => {
  pa = createPlugauth();
  servers.push(pa);
  files = makeCert(pa.dir);
  base = await startTls(pa, files);
});

after(async () => {
  for (const p of servers) await p.cleanup();
});

test('tls_1_0_and_1_1_refused', async () => {
  for (const v of ['TLSv1', 'TLSv1.1']) {
    const r = await handshake(base, { minVersion: v, maxVersion: v, ciphers: 'DEFAULT@SECLEVEL=0' });
    assert.equal(r.ok, false, `${v} was negotiated: ${JSON.stringify(r)}`);
  }
  // The server is fine after them.
  const ok = await handshake(base);
  assert.ok(ok.ok, JSON.stringify(ok));
});

test('tls_1_2_and_1_3_accepted', async () => {
  for (const v of ['TLSv1.2', 'TLSv1.3']) {
    const r = await handshake(base, { minVersion: v, maxVersion: v });
    assert.ok(r.ok, `${v}: ${JSON.stringify(r)}`);
    assert.equal(r.protocol, v);
  }
});

test('hsts_on_every_answer_under_https_issuer', async () => {
  const ca = readFileSync(files.cert);
  for (const path of ['/healthz', '/.well-known/oauth-authorization-server', '/no/such/endpoint']) {
    const res = await get(`${base}${path}`, ca);
    assert.equal(res.headers['strict-transport-security'], HSTS, `${path}: HTTP ${res.status} ${JSON.stringify(res.headers)}`);
  }
});

test('hsts_absent_under_http_loopback_issuer', async () => {
  const p = createPlugauth();
  servers.push(p);
  const plain = await p.start();
  for (const path of ['/healthz', '/no/such/endpoint']) {
    const res = await getPlain(`${plain}${path}`);
    assert.ok(res.status === 200 || res.status === 404, JSON.stringify(res));
    assert.equal(res.headers['strict-transport-security'], undefined, JSON.stringify(res.headers));
  }
  await p.stop();
});

test('hsts_under_https_issuer_behind_a_tls_proxy', async () => {
  // TLS terminated in front: the browser reaches the https issuer, so the header is sent.
  const p = createPlugauth();
  servers.push(p);
  const plain = await p.start({ env: { PLUGAUTH_SERVER_ISSUER: 'https://plugin.example.com' } });
  const res = await getPlain(`${plain}/healthz`);
  assert.equal(res.headers['strict-transport-security'], HSTS, JSON.stringify(res.headers));
  await p.stop();
});

test('tls_priorities_override_and_bad_string', async () => {
  const p = createPlugauth();
  servers.push(p);
  const f = makeCert(p.dir);
  // TLS 1.2 only: 1.3 is then refused, 1.2 still accepted.
  const url = await startTls(p, f, { PLUGAUTH_SERVER_TLS_PRIORITIES: 'NORMAL:-VERS-ALL:+VERS-TLS1.2' });
  const t13 = await handshake(url, { minVersion: 'TLSv1.3' });
  assert.equal(t13.ok, false, JSON.stringify(t13));
  const t12 = await handshake(url, { maxVersion: 'TLSv1.2' });
  assert.equal(t12.protocol, 'TLSv1.2', JSON.stringify(t12));
  await p.stop();
  // A string GnuTLS does not take stops start-up, naming the key and the bad part.
  await assert.rejects(startTls(p, f, { PLUGAUTH_SERVER_TLS_PRIORITIES: 'NORMAL:+NO-SUCH-THING' }),
    /exited/);
  assert.match(p.log, /tls_priorities/);
  assert.match(p.log, /NO-SUCH-THING/);
});

test('sighup_reloads_certificate', async () => {
  const before1 = await handshake(base);
  assert.equal(before1.fingerprint, fingerprint(files.pem));
  // New files (an RSA key this time), then SIGHUP.
  const next = makeCert(pa.dir, { kind: 'rsa', cn: 'renewed' });
  const want = fingerprint(next.pem);
  assert.notEqual(want, before1.fingerprint);
  pa.proc.kill('SIGHUP');
  const deadline = Date.now() + DEADLINE_MS;
  let seen;
  while (Date.now() < deadline) {
    seen = await handshake(base);
    if (seen.fingerprint === want) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.equal(seen?.fingerprint, want, `still the old certificate after SIGHUP: ${JSON.stringify(seen)}`);
  assert.equal(pa.proc?.exitCode, null, 'the server stopped');
  assert.match(pa.log, /event=tls_reloaded/);
  const res = await get(`${base}/healthz`, next.pem);
  assert.equal(res.status, 200);
  files = next;
});

test('sighup_with_bad_files_keeps_the_certificate', async () => {
  const want = fingerprint(files.pem);
  writeFileSync(files.cert, '-----BEGIN CERTIFICATE-----\nbroken\n-----END CERTIFICATE-----\n');
  pa.proc.kill('SIGHUP');
  const deadline = Date.now() + DEADLINE_MS;
  while (!/event=tls_reload_failed/.test(pa.log) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 20));
  }
  assert.match(pa.log, /event=tls_reload_failed[^\n]*kept=previous_certificate/);
  const r = await handshake(base);
  assert.equal(r.fingerprint, want, JSON.stringify(r));
  assert.equal(pa.proc?.exitCode, null, 'the server stopped');
});
