// The CLI contract scripts rely on, and bad input: each bad input gives a one-line error naming the
// file (and line) or a counted unparsed row, never a stack trace, and the database stays intact
// and queryable.
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { beforeAll, describe, expect, it } from 'vitest';
import { ipitrace, tempDir } from './helpers/cli.js';

const FIXTURE = join(import.meta.dirname, '..', 'fixtures', 'faulty-x86-offline-async');
// One real trace line from that fixture, for building small inputs.
const TRACE_LINE = '            init-1       [001] .....     4.074854: csd_queue_cpu: cpu=2 callsite=ipi_fault_write+0x1cf/0x221 func=ipi_fault_func csd=ffffffff819f4b80';

function query(db: string, sql: string): Record<string, unknown>[] {
  const result = ipitrace(['query', '--db', db, '--json', sql]);
  expect(result.stderr).toBe('');
  return JSON.parse(result.stdout) as Record<string, unknown>[];
}

/** A database that already holds one good file, to check that failures leave it intact. */
function seededDb(dir: string): string {
  const db = join(dir, 'x.db');
  const r = ipitrace(['ingest', '--db', db, '--boot', 'seed', join(FIXTURE, 'console.log')]);
  expect(r.status).toBe(0);
  return db;
}

function expectOneLineError(stderr: string, ...parts: string[]): void {
  const lines = stderr.trimEnd().split('\n');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(/^ipitrace: /);
  for (const part of parts) expect(lines[0]).toContain(part);
  expect(stderr).not.toMatch(/\n\s+at /);
}

describe('bad input', () => {
  let dir: string;
  beforeAll(() => {
    dir = tempDir('bad');
  });

  it.each([
    ['a missing path', () => join(dir, 'nope.log'), 'nope.log: no such file'],
    ['a directory', () => dir, 'is a directory'],
    ['binary junk', () => {
      const path = join(dir, 'junk.bin');
      writeFileSync(path, Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 37 + 11) % 32)));
      return path;
    }, 'junk.bin: not a text log (binary data at line 1)'],
    ['a corrupt .gz (damaged from its first block on)', () => {
      const path = join(dir, 'bad.log.gz');
      const gz = gzipSync(readFileSync(join(FIXTURE, 'console.log')));
      // The first deflate block's header: nothing decodes.
      for (let i = 10; i < 40; i++) gz[i] = 0xff;
      writeFileSync(path, gz);
      return path;
    }, 'bad.log.gz: corrupt gzip data'],
  ])('%s: one-line error, exit 2, database intact', (_name, makePath, message) => {
    const db = seededDb(tempDir('seed'));
    const before = query(db, 'SELECT count(*) AS n FROM console_messages');
    const r = ipitrace(['ingest', '--db', db, makePath()]);
    expect(r.status).toBe(2);
    expectOneLineError(r.stderr, message);
    expect(query(db, 'SELECT count(*) AS n FROM console_messages')).toEqual(before);
    expect(query(db, 'SELECT count(*) AS n FROM sources')).toEqual([{ n: 1 }]);
  });

  it('a failing file does not stop the others, and what was ingested stays', () => {
    const sub = tempDir('multi');
    const db = join(sub, 'x.db');
    const r = ipitrace(['ingest', '--db', db, '--boot', 'b', join(FIXTURE, 'console.log'), join(sub, 'missing.log'), join(FIXTURE, 'trace.txt.gz')]);
    expect(r.status).toBe(2);
    expectOneLineError(r.stderr, 'missing.log: no such file');
    expect(query(db, 'SELECT count(*) AS n FROM sources')).toEqual([{ n: 2 }]);
  });

  it('NUL bytes, CRLF line ends and non-UTF-8 bytes: the line is still parsed, and counted', () => {
    const sub = tempDir('bytes');
    const path = join(sub, 'trace.txt');
    writeFileSync(path, Buffer.concat([
      Buffer.from(`\0\0${TRACE_LINE}\r\n`), Buffer.from(`${TRACE_LINE.replace('4.074854', '4.074855')} \xff\xfe junk\r\n`, 'latin1'),
    ]));
    const db = join(sub, 'x.db');
    expect(ipitrace(['ingest', '--db', db, path]).status).toBe(0);
    expect(query(db, "SELECT count(*) AS n FROM events WHERE kind = 'csd_queue_cpu' AND target_cpu = 2")).toEqual([{ n: 2 }]);
    expect(query(db, "SELECT name, value FROM stats WHERE name IN ('nul_bytes', 'invalid_utf8_lines') ORDER BY name"))
      .toEqual([{ name: 'invalid_utf8_lines', value: 1 }, { name: 'nul_bytes', value: 2 }]);
  });

  it('a 1 MB line is an unparsed row and the lines after it are read', () => {
    const sub = tempDir('long');
    const path = join(sub, 'trace.txt');
    writeFileSync(path, `${'x'.repeat(1024 * 1024)}\n${TRACE_LINE}\n`);
    const db = join(sub, 'x.db');
    const r = ipitrace(['ingest', '--db', db, path]);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain(`unparsed ${path}:1: line longer than`);
    expect(query(db, 'SELECT line, format FROM unparsed')).toEqual([{ line: 1, format: 'input' }]);
    expect(query(db, "SELECT line FROM events WHERE kind = 'csd_queue_cpu'")).toEqual([{ line: 2 }]);
  });

  it('a file cut mid-line: the cut event is an unparsed row with file:line, the rest is stored', () => {
    const sub = tempDir('cut');
    const path = join(sub, 'trace.txt');
    writeFileSync(path, `${TRACE_LINE}\n${TRACE_LINE.slice(0, 95)}`);
    const db = join(sub, 'x.db');
    const r = ipitrace(['ingest', '--db', db, path]);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain(`unparsed ${path}:2: csd_queue_cpu arguments do not parse`);
    expect(query(db, "SELECT count(*) AS n FROM events WHERE kind = 'csd_queue_cpu'")).toEqual([{ n: 1 }]);
  });

  it('an empty file is ingested with zero lines', () => {
    const sub = tempDir('empty');
    const path = join(sub, 'empty.log');
    writeFileSync(path, '');
    const db = join(sub, 'x.db');
    expect(ipitrace(['ingest', '--db', db, path]).status).toBe(0);
    expect(query(db, 'SELECT lines, unparsed FROM sources')).toEqual([{ lines: 0, unparsed: 0 }]);
  });

  it('a database file that is not SQLite: one-line error', () => {
    const sub = tempDir('notdb');
    const db = join(sub, 'x.db');
    writeFileSync(db, 'this is not a database, just text that is long enough to have a header\n'.repeat(20));
    const r = ipitrace(['query', '--db', db, 'SELECT 1']);
    expect(r.status).toBe(2);
    expectOneLineError(r.stderr, 'x.db');
  });
});

describe('CLI contract', () => {
  let db: string;
  let dir: string;
  beforeAll(() => {
    dir = tempDir('contract');
    db = join(dir, 'run.db');
    const r = ipitrace(['ingest', '--db', db, '--boot', 'offline-async', ...['console.log', 'trace.txt.gz', 'qemu-trace.log.gz'].map((f) => join(FIXTURE, f))]);
    expect(r.status).toBe(0);
  });

  it('query --json prints a JSON array of row objects and nothing else', () => {
    const r = ipitrace(['query', '--db', db, '--json', 'SELECT boot, count(*) AS n FROM sources GROUP BY boot']);
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual([{ boot: 'offline-async', n: 3 }]);
  });

  it('query --csv prints a header and rows; the default is an aligned table', () => {
    expect(ipitrace(['query', '--db', db, '--csv', "SELECT 'a,b' AS x, 1 AS y"]).stdout).toBe('x,y\n"a,b",1\n');
    const table = ipitrace(['query', '--db', db, 'SELECT 1 AS one']).stdout.split('\n');
    expect(table.slice(0, 3)).toEqual(['one', '---', '  1']);
  });

  it('query is read-only: a write is refused with a one-line error', () => {
    const r = ipitrace(['query', '--db', db, 'DELETE FROM events']);
    expect(r.status).toBe(2);
    expectOneLineError(r.stderr, 'query is read-only: DELETE');
  });

  it('a bad SQL statement is a one-line error', () => {
    const r = ipitrace(['query', '--db', db, 'SELEC nonsense']);
    expect(r.status).toBe(2);
    expectOneLineError(r.stderr, 'query failed');
  });

  it('re-ingesting the same bytes into the same boot is a no-op; --replace redoes it', () => {
    const trace = join(FIXTURE, 'trace.txt.gz');
    // Events, packed chunks and sources in one CLI run each time (one run per count took 27 s on a busy machine).
    const state = () => query(db, `SELECT (SELECT count(*) FROM events) AS events, (SELECT count(*) FROM event_chunks) AS chunks,
      (SELECT sum(events) FROM event_chunks) AS chunk_events, (SELECT count(*) FROM sources) AS sources`)[0];
    const before = state();
    expect(before.sources).toBe(3);
    const again = ipitrace(['ingest', '--db', db, '--boot', 'offline-async', trace]);
    expect(again.stdout).toContain('skipped, already ingested');
    expect(state()).toEqual(before);
    expect(ipitrace(['ingest', '--db', db, '--boot', 'offline-async', '--replace', trace]).status).toBe(0);
    expect(state()).toEqual(before);
  });

  it('--replace leaves no row of the file it replaces, in any table (a QEMU log: events, targets, log buckets)', () => {
    const fresh = join(tempDir('replace'), 'x.db');
    const log = join(FIXTURE, 'qemu-trace.log.gz');
    // Row counts of every table, in two runs of the CLI (one per table took 50 s on a busy machine).
    const counts = () => {
      const tables = query(fresh, "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name");
      const sql = tables.map(({ name }) => `SELECT '${String(name)}' AS name, count(*) AS n FROM "${String(name)}"`).join(' UNION ALL ');
      return Object.fromEntries(query(fresh, sql).map(({ name, n }) => [name, n]));
    };
    expect(ipitrace(['ingest', '--db', fresh, '--boot', 'q', log]).status).toBe(0);
    const once = counts();
    expect(once.qemu_log_buckets).toBeGreaterThan(0);
    expect(ipitrace(['ingest', '--db', fresh, '--boot', 'q', '--replace', log]).status).toBe(0);
    expect(counts()).toEqual(once);
  });

  it('detect exits 1 on errors, 0 with --fail-on never; --json prints only the findings document', () => {
    const r = ipitrace(['detect', '--db', db, '--json']);
    expect(r.status).toBe(1);
    const doc = JSON.parse(r.stdout) as { boots: { findings: { detector: string; evidence: { file: string; line: number }[] }[] }[] };
    const findings = doc.boots.flatMap((b) => b.findings);
    expect(findings.map((f) => f.detector).sort()).toEqual(['csd-never-released', 'ipi-to-offline']);
    expect(findings.every((f) => f.evidence.length > 0)).toBe(true);
    expect(ipitrace(['detect', '--db', db, '--fail-on', 'never']).status).toBe(0);
  });

  it('detect --junit writes one failing testcase per finding', () => {
    const junit = join(dir, 'findings.xml');
    ipitrace(['detect', '--db', db, '--junit', junit, '--fail-on', 'never']);
    const xml = readFileSync(junit, 'utf8');
    expect(xml.match(/<failure /g)).toHaveLength(2);
  });

  it('findings are rows of the findings table', () => {
    ipitrace(['detect', '--db', db, '--fail-on', 'never']);
    expect(query(db, 'SELECT detector, cpu, target_cpu FROM findings ORDER BY detector')).toEqual([
      { detector: 'csd-never-released', cpu: 1, target_cpu: 2 },
      { detector: 'ipi-to-offline', cpu: 1, target_cpu: 2 },
    ]);
  });

  it('usage errors exit 2 with one line', () => {
    const r = ipitrace(['detect', '--db', db, '--fail-on', 'sometimes']);
    expect(r.status).toBe(2);
    expectOneLineError(r.stderr, 'fail-on');
    const unknown = ipitrace(['detect', '--db', db, '--boot', 'nosuchboot']);
    expect(unknown.status).toBe(2);
    expectOneLineError(unknown.stderr, 'nosuchboot');
  });

  it('stdin is read with -', () => {
    const sub = tempDir('stdin');
    const stdinDb = join(sub, 'x.db');
    const r = ipitrace(['ingest', '--db', stdinDb, '-'], `${TRACE_LINE}\n`);
    expect(r.status).toBe(0);
    expect(query(stdinDb, "SELECT boot, path FROM sources")).toEqual([{ boot: 'stdin', path: '-' }]);
  });

  it('gzip on stdin is recognised by its magic bytes', () => {
    const sub = tempDir('stdin-gz');
    const stdinDb = join(sub, 'x.db');
    const r = ipitrace(['ingest', '--db', stdinDb, '-'], gzipSync(`${TRACE_LINE}\n`));
    expect(r.status).toBe(0);
    expect(query(stdinDb, "SELECT count(*) AS n FROM events WHERE kind = 'csd_queue_cpu'")).toEqual([{ n: 1 }]);
  });

  it('the boot name defaults to the folder of generic file names', () => {
    const sub = tempDir('bootname');
    mkdirSync(join(sub, 'run-42'));
    copyFileSync(join(FIXTURE, 'console.log'), join(sub, 'run-42', 'console.log'));
    const named = join(sub, 'x.db');
    ipitrace(['ingest', '--db', named, join(sub, 'run-42', 'console.log')]);
    expect(query(named, 'SELECT boot FROM sources')).toEqual([{ boot: 'run-42' }]);
  });

  it('schema prints the documented tables', () => {
    const r = ipitrace(['schema']);
    expect(r.stdout).toContain('CREATE TABLE IF NOT EXISTS events');
    expect(r.stdout).toContain('CREATE TABLE IF NOT EXISTS csd_lifecycle');
  });
});

describe('several boots in one database', () => {
  it('replays each boot on its own: findings per boot, csd ids do not collide', () => {
    const dir = tempDir('two-boots');
    const db = join(dir, 'x.db');
    const fixtures = join(import.meta.dirname, '..', 'fixtures');
    expect(ipitrace(['ingest', '--db', db, '--boot', 'faulty', join(FIXTURE, 'console.log'), join(FIXTURE, 'trace.txt.gz')]).status).toBe(0);
    const clean = join(fixtures, 'faulty-x86-clean-control');
    expect(ipitrace(['ingest', '--db', db, '--boot', 'clean', join(clean, 'console.log'), join(clean, 'trace.txt.gz')]).status).toBe(0);
    const r = ipitrace(['detect', '--db', db, '--json']);
    expect(r.stderr).toBe('');
    const doc = JSON.parse(r.stdout) as { boots: { findings: { boot: string; detector: string }[] }[] };
    const findings = doc.boots.flatMap((b) => b.findings);
    expect(findings.map((f) => `${f.boot} ${f.detector}`).sort()).toEqual(['faulty csd-never-released', 'faulty ipi-to-offline']);
    expect(query(db, 'SELECT count(DISTINCT boot) AS n FROM csd_lifecycle')).toEqual([{ n: 2 }]);
  });
});

describe('the package', () => {
  it('holds the files ipitrace reads at run time (schema and detector .sql), not only dist/', () => {
    const root = join(import.meta.dirname, '..');
    const r = spawnSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: root, encoding: 'utf8' });
    expect(r.status).toBe(0);
    const packed = new Set((JSON.parse(r.stdout) as { files: { path: string }[] }[])[0].files.map((f) => f.path));
    const needed = ['schema/schema.sql', 'schema/replay.sql', ...readdirSync(join(root, 'queries')).map((f) => `queries/${f}`), 'dist/cli/main.js'];
    expect(needed.filter((f) => !packed.has(f))).toEqual([]);
  });
});
