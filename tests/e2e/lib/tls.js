// Throwaway TLS material for the e2e tests, made with the openssl CLI (installed by
// scripts/install-deps).

import { spawnSync } from 'node:child_process';
import { readFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';

// A self-signed certificate for IP 127.0.0.1 written to `cert`/`key` in dir (via temp
// names then rename: a reload never reads half a file). `kind` 'ec' or 'rsa'.
export function makeCert(dir, { kind = 'ec', cn = '127.0.0.1' } = {}) {
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  const args = kind === 'ec'
    ? ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1']
    : ['-newkey', 'rsa:2048'];
  const r = spawnSync('openssl', ['req', '-x509', ...args, '-nodes',
    '-keyout', `${key}.new`, '-out', `${cert}.new`, '-days', '2', '-subj', `/CN=${cn}`,
    '-addext', 'subjectAltName=IP:127.0.0.1'], { encoding: 'utf8' });
  if (r.error || r.status !== 0) {
    throw new Error(`openssl could not make a certificate: ${r.error?.message ?? r.stderr.trim()}`);
  }
  renameSync(`${key}.new`, key);
  renameSync(`${cert}.new`, cert);
  return { cert, key, pem: readFileSync(cert, 'utf8') };
}
