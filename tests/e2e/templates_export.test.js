// `plugauth templates export DIR` (issue 12, item 6): writes the built-in login, consent
// and error pages under the names [server] templates_dir reads, so a server pointed at DIR
// serves the same pages, and an edit to an exported file is what users then see. It
// refuses to overwrite without --force, creates DIR, needs no config or database, and
// fails with exit 1 and one clear line when DIR cannot be written.

import assert from 'node:assert/strict';
import {
  existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, unlinkSync, writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';

import {
  Browser, PASSWORD, addClient, addUser, assertErrorPage, assertHtmlPage, authorizePath, isConsentForm,
  isLoginForm, theForm,
} from './lib/flow.js';
import { describeResponse } from './lib/http.js';
import { createPlugauth, run } from './lib/server.js';

const REDIRECT = 'http://127.0.0.1:9/cb';
const FILES = ['login.html', 'consent.html', 'error.html'];
const STATE = 'templates-export-state';

// `plugauth templates export <args…>` in cwd, with no config file anywhere near.
function exportTo(args, cwd) {
  return run(['templates', 'export', ...args], { cwd });
}

// Points inst's config at dir: replaces the commented `; templates_dir = …` example.
function useTemplates(inst, dir) {
  const conf = readFileSync(inst.conf, 'utf8');
  assert.match(conf, /^; templates_dir = .*$/m, 'init writes a commented templates_dir example');
  writeFileSync(inst.conf, conf.replace(/^; templates_dir = .*$/m, `templates_dir = ${dir}`));
}

// The page's HTML with the values that differ between sign-ins (the CSRF token) masked.
const masked = (html) => html.replace(/name="csrf" value="[^"]*"/g, 'name="csrf" value="…"');

// The login, consent and error pages of inst's running server at base, for client.
async function pages(base, client) {
  const b = new Browser(base);
  const login = await b.get(authorizePath({
    response_type: 'code', client_id: client.client_id, redirect_uri: REDIRECT, scope: 'todo.read', state: STATE,
  }));
  assertHtmlPage(login, 200);
  assert.ok(isLoginForm(theForm(login)), describeResponse(login));
  const consent = await b.submit(login, { username: 'alice', password: PASSWORD });
  assertHtmlPage(consent, 200);
  assert.ok(isConsentForm(theForm(consent)), describeResponse(consent));
  const error = await b.get(authorizePath({ response_type: 'code', client_id: 'nobody', redirect_uri: REDIRECT }));
  assertErrorPage(error, 400);
  return {
    login: masked(login.text), consent: masked(consent.text), error: error.text,
    csp: login.headers.get('content-security-policy'),
    errorCsp: error.headers.get('content-security-policy'),
  };
}

test('exported_templates_serve_identical_pages', async () => {
  const pa = createPlugauth();
  const cwd = mkdtempSync(join(tmpdir(), 'plugauth-tpl-cwd-'));
  try {
    addUser(pa, 'alice');
    const client = addClient(pa, 'Notes <app>', ['--redirect-uri', REDIRECT, '--scope', 'todo.read']);
    const builtin = await pages(await pa.start(), client);
    await pa.stop();

    // A directory two levels down that does not exist yet, from a cwd with no config.
    const dir = join(cwd, 'site', 'templates');
    const r = exportTo([dir], cwd);
    assert.equal(r.status, 0, `export: ${r.stderr}`);
    for (const f of FILES) assert.match(r.stdout, new RegExp(`^wrote ${join(dir, f)}$`, 'm'));
    assert.match(r.stdout, new RegExp(`templates_dir = ${dir}$`, 'm'));
    assert.deepEqual(readdirSync(dir).sort(), [...FILES].sort());
    assert.deepEqual(readdirSync(cwd), ['site'], 'no config or database created');
    assert.match(readFileSync(join(dir, 'login.html'), 'utf8'), /\{\{\{hidden\}\}\}/);

    useTemplates(pa, dir);
    const exported = await pages(await pa.start(), client);
    assert.equal(exported.login, builtin.login);
    assert.equal(exported.consent, builtin.consent);
    assert.equal(exported.error, builtin.error);
    assert.equal(exported.csp, builtin.csp);
    // The header docs/templates.md quotes, with the client's redirect origin.
    assert.equal(exported.csp, "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' https: data:;"
      + " form-action 'self' http://127.0.0.1:9; frame-ancestors 'none'; base-uri 'none'");
    assert.equal(exported.errorCsp, "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' https: data:;"
      + " form-action 'self'; frame-ancestors 'none'; base-uri 'none'");
    await pa.stop();

    // An edit to the exported login page is what the server then shows, escaped values
    // and all; the other pages stay as they were.
    const login = join(dir, 'login.html');
    writeFileSync(login, readFileSync(login, 'utf8').replace(
      '<h1>', '<p id="custom">Welcome back, {{client_name}} user</p>\n<h1>'));
    const edited = await pages(await pa.start(), client);
    assert.match(edited.login, /<p id="custom">Welcome back, Notes &lt;app&gt; user<\/p>/);
    assert.equal(edited.login.replace(/<p id="custom">.*<\/p>\n/, ''), builtin.login);
    assert.equal(edited.consent, builtin.consent);
  } finally {
    await pa.cleanup();
    rmSync(cwd, { recursive: true, force: true });
  }
});

test('export_refuses_to_overwrite_without_force', () => {
  const cwd = mkdtempSync(join(tmpdir(), 'plugauth-tpl-cwd-'));
  try {
    const dir = join(cwd, 't');
    assert.equal(exportTo([dir], cwd).status, 0);
    const original = readFileSync(join(dir, 'login.html'), 'utf8');
    writeFileSync(join(dir, 'login.html'), 'my own page');
    unlinkSync(join(dir, 'consent.html'));

    // Refused as a whole: the edited file kept, the missing one not written either.
    const r = exportTo([dir], cwd);
    assert.equal(r.status, 1, `stdout ${r.stdout} stderr ${r.stderr}`);
    assert.match(r.stderr, /^plugauth: .*login\.html exists: use --force to overwrite it/);
    assert.equal(r.stdout, '');
    assert.equal(readFileSync(join(dir, 'login.html'), 'utf8'), 'my own page');
    assert.equal(existsSync(join(dir, 'consent.html')), false);

    const f = exportTo(['--force', dir], cwd);
    assert.equal(f.status, 0, f.stderr);
    assert.equal(readFileSync(join(dir, 'login.html'), 'utf8'), original);
    assert.deepEqual(readdirSync(dir).sort(), [...FILES].sort());
  } finally {
    rmSync(cwd, { recursive: true, force: true });
  }
});

test('export_to_unwritable_dir_fails_clearly', () => {
  const cwd = mkdtempSync(join(tmpdir(), 'plugauth-tpl-cwd-'));
  try {
    const file = join(cwd, 'file');
    writeFileSync(file, 'not a directory');

    let r = exportTo([join(file, 'sub')], cwd);
    assert.equal(r.status, 1, `stdout ${r.stdout} stderr ${r.stderr}`);
    assert.match(r.stderr, /^plugauth: cannot create directory .*file\/sub: Not a directory\n$/);
    assert.equal(r.stdout, '');

    r = exportTo([file], cwd);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /^plugauth: .*file exists and is not a directory\n$/);
    assert.equal(readFileSync(file, 'utf8'), 'not a directory');

    // A directory without write permission (root may write anyway: checked as others).
    if (process.getuid() !== 0) {
      const ro = join(cwd, 'ro');
      mkdirSync(ro, { mode: 0o555 });
      r = exportTo([ro], cwd);
      assert.equal(r.status, 1);
      assert.match(r.stderr, /^plugauth: cannot write .*login\.html: Permission denied\n$/);
    }

    r = exportTo([], cwd);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /name the directory/);
    assert.deepEqual(readdirSync(cwd), ['file']);
  } finally {
    rmSync(cwd, { recursive: true, force: true });
  }
});

test('templates_export_help', () => {
  const top = run(['--help']);
  assert.equal(top.status, 0);
  assert.match(top.stdout, /^ {2}templates\b/m, 'plugauth --help lists templates');
  for (const args of [['templates', '--help'], ['templates', 'export', '--help']]) {
    const r = run(args);
    assert.equal(r.status, 0, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stdout, /^usage: plugauth templates export DIR \[--force\]/);
    assert.match(r.stdout, /--force/);
  }
  const bad = run(['templates', 'import', 'x']);
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /the subcommand is 'export'/);
});
