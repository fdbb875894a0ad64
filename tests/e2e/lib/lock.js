// Holding a SQLite database's write lock from another process, as a CLI command or a
// backup would: the server's writes then wait in SQLite's busy handler.

import { spawn } from 'node:child_process';

// Holds SQLite's write lock on db from another process (python3's sqlite3 module):
// `BEGIN EXCLUSIVE` until release() (or until this test process exits).
export async function lockDatabase(db) {
  const script = [
    'import sqlite3, sys',
    'c = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=10)',
    "c.execute('BEGIN EXCLUSIVE')",
    "print('locked', flush=True)",
    'sys.stdin.read()',
    "c.execute('ROLLBACK')",
    'c.close()',
  ].join('\n');
  const child = spawn('python3', ['-c', script, db], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8');
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (d) => { err += d; });
  const exited = new Promise((res) => child.on('exit', (code, sig) => res(code ?? sig)));
  process.once('exit', () => child.kill('SIGKILL'));
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`python3 took no lock on ${db}: ${err}`)), 15_000);
    child.on('error', (e) => { clearTimeout(timer); reject(new Error(`cannot run python3: ${e.message}`)); });
    child.stdout.on('data', (d) => {
      out += d;
      if (out.includes('locked')) { clearTimeout(timer); resolve(); }
    });
    exited.then((code) => { clearTimeout(timer); reject(new Error(`python3 exited (${code}) before locking ${db}: ${err}`)); });
  });
  return {
    async release() {
      child.stdin.end();
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}
