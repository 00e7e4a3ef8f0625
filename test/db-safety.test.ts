// The database and the user's files (issue 22, items 8-12): ipitrace writes only its own databases,
// waits for another writer or says so, reads a database a killed writer left, names a full disk and
// leaves no half-written report, and removes analyze's temporary database however it is stopped.
// Each test runs the compiled CLI on a small reproducer.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, ipitrace, tempDir } from './helpers/cli.js';

const FIXTURE = join(import.meta.dirname, '..', 'fixtures', 'faulty-x86-offline-async');
const CONSOLE = join(FIXTURE, 'console.log');
const BETTER_SQLITE3 = join(import.meta.dirname, '..', 'node_modules', 'better-sqlite3');

const sha = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');

function expectOneLine(stderr: string, ...parts: string[]): void {
  const lines = stderr.trimEnd().split('\n');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(/^ipitrace: /);
  expect(lines[0]).not.toContain('internal error');
  for (const part of parts) expect(lines[0]).toContain(part);
}

/** An ftrace text of n csd_queue_cpu lines (45 MB for 300,000): big enough to be caught mid-ingest. */
function bigTrace(path: string, n: number): string {
  const lines: string[] = [];
  for (let i = 0; i < n; i++) {
    const ts = (4 + i * 1e-5).toFixed(6).padStart(11);
    lines.push(`            init-1       [001] .....  ${ts}: csd_queue_cpu: cpu=2 callsite=ipi_fault_write+0x1cf/0x221 func=ipi_fault_func csd=ffffffff819f4b80`);
  }
  writeFileSync(path, lines.join('\n') + '\n');
  return path;
}

interface Exit { code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }

function start(args: string[], env: NodeJS.ProcessEnv = {}): { child: ChildProcess; exit: Promise<Exit> } {
  const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => { stdout += d; });
  child.stderr!.on('data', (d: Buffer) => { stderr += d; });
  const exit = new Promise<Exit>((resolve) => child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr })));
  return { child, exit };
}

/** A process that holds SQLite's write lock on db for holdMs, like a writer in the middle of a transaction. */
function holdWriteLock(db: string, holdMs: number): Promise<{ child: ChildProcess; done: Promise<void> }> {
  const script = `const D = require(${JSON.stringify(BETTER_SQLITE3)}); const db = new D(${JSON.stringify(db)});
    db.exec('BEGIN IMMEDIATE'); process.stdout.write('locked\\n');
    setTimeout(() => { db.exec('COMMIT'); db.close(); }, ${holdMs});`;
  const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  const done = new Promise<void>((resolve) => child.on('close', () => resolve()));
  return new Promise((resolve) => child.stdout!.once('data', () => resolve({ child, done })));
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function waitFor(what: () => boolean, ms: number): Promise<boolean> {
  for (const end = Date.now() + ms; Date.now() < end; await sleep(20)) if (what()) return true;
  return what();
}

let work: string;
beforeAll(() => {
  work = tempDir('dbsafety');
});
afterAll(() => {
  rmSync(work, { recursive: true, force: true });
});

describe('8. only ipitrace databases are written', () => {
  it("another application's SQLite file is refused by ingest, detect and analyze, and left byte for byte as it was", () => {
    const db = join(work, 'app.db');
    const app = new Database(db);
    app.exec("CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT); INSERT INTO notes (text) VALUES ('mine')");
    app.close();
    const before = sha(db);
    for (const args of [['ingest', '--db', db, CONSOLE], ['detect', '--db', db], ['analyze', '--db', db, CONSOLE]]) {
      const r = ipitrace(args);
      expect(r.status).toBe(2);
      expectOneLine(r.stderr, `${db}: not an ipitrace database (it holds tables of its own: notes)`);
    }
    expect(sha(db)).toBe(before);
    expect(existsSync(`${db}-wal`)).toBe(false);
    const check = new Database(db, { readonly: true });
    expect(check.pragma('journal_mode', { simple: true })).toBe('delete');
    expect(check.pragma('user_version', { simple: true })).toBe(0);
    expect(check.prepare("SELECT count(*) FROM sqlite_master WHERE type = 'table'").pluck().get()).toBe(1);
    check.close();
  });

  it('an empty file (0 bytes) becomes an ipitrace database', () => {
    const db = join(work, 'empty.db');
    writeFileSync(db, '');
    expect(ipitrace(['ingest', '--db', db, CONSOLE]).status).toBe(0);
  });

  it('detect, query and timeline do not create a database that does not exist', () => {
    const db = join(work, 'nope.db');
    for (const args of [['detect', '--db', db], ['query', '--db', db, 'SELECT 1'], ['timeline', '--db', db, '--html', join(work, 't.html')]]) {
      const r = ipitrace(args);
      expect(r.status).toBe(2);
      expectOneLine(r.stderr, `${db}: no such database`);
    }
    expect(existsSync(db)).toBe(false);
  });
});

describe('9. concurrent writers wait, or say so in one line', () => {
  it('an ingest waits for another process holding the write lock, then stores its file', async () => {
    const db = join(work, 'wait.db');
    expect(ipitrace(['ingest', '--db', db, '--boot', 'a', CONSOLE]).status).toBe(0);
    const lock = await holdWriteLock(db, 1500);
    const r = await start(['ingest', '--db', db, '--boot', 'b', join(FIXTURE, 'trace.txt.gz')]).exit;
    await lock.done;
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(JSON.parse(ipitrace(['query', '--db', db, '--json', 'SELECT boot FROM sources ORDER BY boot']).stdout)).toEqual([{ boot: 'a' }, { boot: 'b' }]);
  });

  it('two ingests started together into one new database both store their files', async () => {
    const db = join(work, 'two.db');
    const trace = bigTrace(join(work, 'two-trace.txt'), 20_000);
    const [a, b] = await Promise.all([
      start(['ingest', '--db', db, '--boot', 'a', trace]).exit,
      start(['ingest', '--db', db, '--boot', 'b', trace]).exit,
    ]);
    expect([a.stderr, b.stderr]).toEqual(['', '']);
    expect([a.code, b.code]).toEqual([0, 0]);
    expect(JSON.parse(ipitrace(['query', '--db', db, '--json', 'SELECT boot, lines FROM sources ORDER BY boot']).stdout))
      .toEqual([{ boot: 'a', lines: 20_000 }, { boot: 'b', lines: 20_000 }]);
  });

  it('a lock held longer than the busy timeout: one line that says so, exit 2', async () => {
    const db = join(work, 'busy.db');
    expect(ipitrace(['ingest', '--db', db, '--boot', 'a', CONSOLE]).status).toBe(0);
    const lock = await holdWriteLock(db, 4000);
    const r = await start(['ingest', '--db', db, '--boot', 'b', join(FIXTURE, 'trace.txt.gz')], { IPITRACE_BUSY_TIMEOUT: '0.3' }).exit;
    lock.child.kill();
    await lock.done;
    expect(r.code).toBe(2);
    expectOneLine(r.stderr, `${db}: the database is locked by another process`, 'gave up after 0.3 s');
  });
});

describe('10. after kill -9', () => {
  it('query reads what was committed before an ingest was killed mid-file; the database is intact', async () => {
    const db = join(work, 'killed.db');
    expect(ipitrace(['ingest', '--db', db, '--boot', 'seed', CONSOLE]).status).toBe(0);
    const run = start(['ingest', '--db', db, '--boot', 'big', '--parse-thread', 'main', bigTrace(join(work, 'kill-trace.txt'), 300_000)]);
    // The bulk load writes through a rollback journal: once it is there, the file is half-written.
    expect(await waitFor(() => existsSync(`${db}-journal`), 60_000)).toBe(true);
    run.child.kill('SIGKILL');
    expect((await run.exit).signal).toBe('SIGKILL');
    expect(existsSync(`${db}-journal`)).toBe(true);
    const r = ipitrace(['query', '--db', db, '--json', 'SELECT boot FROM sources']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual([{ boot: 'seed' }]);
    expect(JSON.parse(ipitrace(['query', '--db', db, '--json', 'PRAGMA integrity_check']).stdout)).toEqual([{ integrity_check: 'ok' }]);
  });
});

/** A 4 MiB tmpfs (the schema alone, with 64 KiB pages, takes 2 MB); needs root, skipped where mount is refused. */
function tinyDisk(): string | null {
  if (process.platform !== 'linux' || process.getuid?.() !== 0) return null;
  const dir = join(work, 'full');
  mkdirSync(dir, { recursive: true });
  return spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', dir]).status === 0 ? dir : null;
}

describe('11. a full disk', () => {
  let disk: string | null = null;
  beforeAll(() => {
    disk = tinyDisk();
  });
  afterAll(() => {
    if (disk) spawnSync('umount', [disk]);
  });

  it('ingest: "disk full" in one line, exit 2, what was committed before stays readable', (context) => {
    if (!disk) return context.skip();
    const db = join(disk, 'x.db');
    expect(ipitrace(['ingest', '--db', db, '--boot', 'seed', CONSOLE]).status).toBe(0);
    const r = ipitrace(['ingest', '--db', db, '--boot', 'big', bigTrace(join(work, 'full-trace.txt'), 60_000)]);
    expect(r.status).toBe(2);
    expectOneLine(r.stderr, 'disk full', db);
    rmSync(join(work, 'full-trace.txt'));
    const q = ipitrace(['query', '--db', db, '--json', 'SELECT boot FROM sources']);
    expect(q.stderr).toBe('');
    expect(JSON.parse(q.stdout)).toEqual([{ boot: 'seed' }]);
    rmSync(db, { force: true });
    for (const f of readdirSync(disk)) rmSync(join(disk, f), { force: true });
  });

  it("analyze with its temporary database on a full disk: 'disk full' naming it, and the folder removed", (context) => {
    if (!disk) return context.skip();
    const trace = bigTrace(join(work, 'full-trace2.txt'), 60_000);
    const r = ipitrace(['analyze', trace], undefined, { TMPDIR: disk });
    rmSync(trace);
    expect(r.status).toBe(2);
    expectOneLine(r.stderr, 'disk full', `${disk}/ipitrace-analyze-`, 'analyze.db');
    expect(readdirSync(disk)).toEqual([]);
  });

  it('--html and --junit on a full disk: "disk full" in one line, no 0-byte or temporary file left', (context) => {
    if (!disk) return context.skip();
    const filler = join(disk, 'filler');
    spawnSync('dd', ['if=/dev/zero', `of=${filler}`, 'bs=64k', 'count=1000']);
    for (const option of ['--html', '--junit']) {
      const out = join(disk, `report${option}`);
      const r = ipitrace(['analyze', option, out, CONSOLE]);
      expect(r.status).toBe(2);
      expectOneLine(r.stderr, `${out}: not written: disk full`);
      expect(readdirSync(disk)).toEqual(['filler']);
    }
  });

  it('a report replaced on a full disk keeps its previous content', (context) => {
    if (!disk) return context.skip();
    for (const f of readdirSync(disk)) rmSync(join(disk, f), { force: true });
    const out = join(disk, 'report.xml');
    expect(ipitrace(['analyze', '--junit', out, CONSOLE]).status).toBe(0);
    const before = readFileSync(out, 'utf8');
    spawnSync('dd', ['if=/dev/zero', `of=${join(disk, 'filler')}`, 'bs=64k', 'count=1000']);
    expect(ipitrace(['analyze', '--junit', out, CONSOLE]).status).toBe(2);
    expect(readFileSync(out, 'utf8')).toBe(before);
  });
});

describe('12. an interrupted analyze removes its temporary database', () => {
  it.each(['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGKILL'] as const)('%s', async (signal) => {
    const tmp = join(work, `tmp-${signal}`);
    mkdirSync(tmp);
    const trace = join(work, 'signal-trace.txt');
    if (!existsSync(trace)) bigTrace(trace, 100_000);
    const run = start(['analyze', trace], { TMPDIR: tmp });
    expect(await waitFor(() => readdirSync(tmp).some((n) => n.startsWith('ipitrace-analyze-') && existsSync(join(tmp, n, 'analyze.db'))), 60_000)).toBe(true);
    run.child.kill(signal);
    expect((await run.exit).signal).toBe(signal);
    expect(await waitFor(() => readdirSync(tmp).length === 0, 5000)).toBe(true);
  });
});
