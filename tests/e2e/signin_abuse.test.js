// Sign-in under attack: many wrong passwords at once.
//
// - A burst of concurrent wrong passwords for one user reaches the password check at most
//   login_max_failures times: the attempt is counted before the argon2id run, not after,
//   so the ones in flight cannot all pass the limit check together.
// - Concurrent argon2id runs are capped, so a burst of sign-ins that all reach the
//   password check (other users, a generous per-address limit) keeps the server's peak
//   memory (VmHWM) bounded instead of 19 MiB per attempt in flight.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, test } from 'node:test';

import { describeResponse } from './lib/http.js';
import {
  Browser, PASSWORD, addClient, addUser, assertHtmlPage, authorizePath, isConsentForm,
  isLoginForm, newState, theForm,
} from './lib/flow.js';
import { createPlugauth } from './lib/server.js';

const CB = 'http://127.0.0.1:9/cb';
const BURST = 32;
const PER_USER = 5;            // the default [auth] login_max_failures
const HWM_LIMIT_KB = 150 * 1024;

const servers = [];
const seen = new Set([PASSWORD]);   // secrets: none may reach a log

after(async () => {
  const logs = servers.map((p) => p.log).join('\n');
  for (const p of servers) await p.cleanup();
  const leaked = [...seen].filter((s) => logs.includes(s));
  assert.deepEqual(leaked, [], 'a secret reached the server log');
});

// A server with one client and the given users.
async function server(users, env = {}) {
  const pa = createPlugauth();
  servers.push(pa);
  const client = addClient(pa, 'abuse', ['--redirect-uri', CB]);
  seen.add(client.client_secret);
  for (const u of users) addUser(pa, u);
  const base = await pa.start({ env });
  return { pa, client, base };
}

const params = (client) => ({
  response_type: 'code', client_id: client.client_id, redirect_uri: CB, state: newState(),
});

// Peak resident memory of the server so far, in kB.
function vmHwmKb(pa) {
  const m = /^VmHWM:\s+([0-9]+) kB$/m.exec(readFileSync(`/proc/${pa.proc.pid}/status`, 'utf8'));
  assert.ok(m, 'VmHWM in /proc/<pid>/status');
  return Number(m[1]);
}

// n browsers, each on a login page of its own (own cookie, own CSRF token).
async function loginPages(base, client, n) {
  const out = [];
  for (let i = 0; i < n; i++) {
    const b = new Browser(base, seen);
    const page = await b.get(authorizePath(params(client)));
    assertHtmlPage(page, 200);
    assert.ok(isLoginForm(theForm(page)), describeResponse(page));
    out.push({ b, page });
  }
  return out;
}

// Submits every login form at once; user(i) and password(i) fill form i.
function burst(pages, user, password) {
  return Promise.all(pages.map(({ b, page }, i) => {
    seen.add(password(i));
    return b.submit(page, { username: user(i), password: password(i) });
  }));
}

const count = (s, re) => (s.match(re) ?? []).length;

test('concurrent_wrong_passwords_for_one_user_checked_at_most_limit_times', async (t) => {
  const { pa, client, base } = await server(['alice']);
  const pages = await loginPages(base, client, BURST);
  const hwmBefore = vmHwmKb(pa);
  const res = await burst(pages, () => 'alice', (i) => `wrong password number ${i}`);
  const hwmAfter = vmHwmKb(pa);

  const byStatus = {};
  for (const r of res) byStatus[r.status] = (byStatus[r.status] ?? 0) + 1;
  t.diagnostic(`answers ${JSON.stringify(byStatus)}; VmHWM ${hwmBefore} kB -> ${hwmAfter} kB`);
  for (const r of res) {
    assert.ok(r.status === 400 || r.status === 429, `wrong password: ${describeResponse(r)}`);
    assert.ok(!isConsentForm(theForm(r)), `signed in with a wrong password: ${describeResponse(r)}`);
    if (r.status === 429) assert.match(r.headers.get('retry-after') ?? '', /^[1-9][0-9]*$/, describeResponse(r));
  }
  const checked = byStatus[400] ?? 0;
  assert.ok(checked <= PER_USER, `${checked} of ${BURST} concurrent attempts reached the password check `
    + `(limit ${PER_USER})`);
  assert.equal(checked + (byStatus[429] ?? 0), BURST);
  // The log agrees: at most PER_USER failures were judged on their password.
  assert.ok(count(pa.log, /event=login_failed user=alice\b/g) <= PER_USER, pa.log.slice(-3000));
  assert.ok(hwmAfter < HWM_LIMIT_KB, `peak RSS ${hwmAfter} kB after the burst (before: ${hwmBefore} kB)`);

  assert.ok(checked >= 1, `no attempt was judged: ${JSON.stringify(byStatus)}`);
  // With all PER_USER failures counted, alice's window is full: the right password is
  // refused as well. (On a machine too loaded to give every reserved attempt a hash turn
  // within its wait, some were answered "busy" and given back; then the window is not
  // full and the right password signs in.)
  const [{ b, page }] = await loginPages(base, client, 1);
  const late = await b.submit(page, { username: 'alice', password: PASSWORD });
  if (checked === PER_USER) {
    assert.equal(late.status, 429, describeResponse(late));
  } else {
    t.diagnostic(`${PER_USER - checked} reserved attempts were answered busy`);
    assert.ok(isConsentForm(theForm(late)), describeResponse(late));
  }
});

test('concurrent_password_checks_are_capped_peak_memory_bounded', async (t) => {
  // Every attempt reaches the password check: other users (known and unknown), and an
  // address limit above the burst. Without a cap each one holds 19 MiB of argon2id memory.
  const users = Array.from({ length: BURST / 2 }, (_, i) => `user${i}`);
  const { pa, client, base } = await server(users, {
    PLUGAUTH_AUTH_LOGIN_MAX_FAILURES_PER_ADDRESS: '1000',
  });
  const pages = await loginPages(base, client, BURST);
  const hwmBefore = vmHwmKb(pa);
  const res = await burst(pages, (i) => (i < users.length ? users[i] : `nobody${i}`),
    (i) => `another wrong password ${i}`);
  const hwmAfter = vmHwmKb(pa);

  const byStatus = {};
  for (const r of res) byStatus[r.status] = (byStatus[r.status] ?? 0) + 1;
  t.diagnostic(`answers ${JSON.stringify(byStatus)}; VmHWM ${hwmBefore} kB -> ${hwmAfter} kB`);
  for (const r of res) {
    // 400: judged and wrong; 429: too many sign-ins at once, try again in a moment.
    assert.ok(r.status === 400 || r.status === 429, describeResponse(r));
    if (r.status === 429) assert.match(r.headers.get('retry-after') ?? '', /^[1-9][0-9]*$/, describeResponse(r));
  }
  assert.ok((byStatus[400] ?? 0) >= 1, `no attempt was judged: ${JSON.stringify(byStatus)}`);
  assert.ok(hwmAfter < HWM_LIMIT_KB, `peak RSS ${hwmAfter} kB after the burst (before: ${hwmBefore} kB)`);

  // Afterwards a user signs in as usual.
  const [{ b, page }] = await loginPages(base, client, 1);
  const ok = await b.submit(page, { username: users[0], password: PASSWORD });
  assertHtmlPage(ok, 200);
  assert.ok(isConsentForm(theForm(ok)), describeResponse(ok));
});
