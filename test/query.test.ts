// `ipitrace query` (issue 22 items 13-16, issue 23 saved queries) and text output safety: read-only
// in every way, big results streamed in bounded memory, exact JSON, saved .sql files with named
// parameters, wide rows, control characters from logs never reaching the terminal, and file names
// that start with '-'. Each test runs the compiled CLI.
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { inputPaths, markArgs } from '../cli/options.js';
import { openReadOnly } from '../store/db.js';
import { prepareQuery } from '../store/query.js';
import { safeOutput, safeText } from '../store/terminal-text.js';
import { ipitrace, tempDir } from './helpers/cli.js';

const ROOT = join(import.meta.dirname, '..');
const FIXTURE = join(ROOT, 'fixtures', 'faulty-x86-offline-async');
const BOOT = 'offline-async';
/** Any control character but a line end: what must never reach a terminal from a log. */
const RAW_CONTROL = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/;

let dir: string;
let db: string;
beforeAll(() => {
  dir = tempDir('query');
  db = join(dir, 'run.db');
  const r = ipitrace(['ingest', '--db', db, '--boot', BOOT, join(FIXTURE, 'console.log'), join(FIXTURE, 'trace.txt.gz')]);
  expect(r.status).toBe(0);
  expect(ipitrace(['detect', '--db', db]).status).toBe(1);
});

const json = (...args: string[]) => {
  const r = ipitrace(['query', '--db', db, '--json', ...args]);
  expect(r.stderr).toBe('');
  return JSON.parse(r.stdout) as Record<string, unknown>[];
};

function expectRefused(sql: string, verb: string): void {
  const r = ipitrace(['query', '--db', db, sql]);
  expect(r.status).toBe(2);
  expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
  expect(r.stderr).toContain(`ipitrace: query is read-only: ${verb}`);
}

describe('13. query is read-only in every way', () => {
  it('VACUUM INTO through the CLI: refused in one line, no file written, the database unchanged', () => {
    const sha = () => createHash('sha256').update(readFileSync(db)).digest('hex');
    const before = sha();
    const copy = join(dir, 'copy.db');
    expectRefused(`VACUUM INTO '${copy}'`, 'VACUUM');
    expect(existsSync(copy)).toBe(false);
    expect(sha()).toBe(before);
  });

  it('ATTACH, writes and PRAGMAs that change something are refused; reads are allowed', () => {
    // In-process (store/query.ts, as the CLI runs it): one CLI run per statement would be slow.
    const ro = openReadOnly(db);
    try {
      const refused = (sql: string) => {
        expect(() => prepareQuery(ro, sql), sql).toThrow(/^query is read-only: /);
      };
      refused(`ATTACH '${join(dir, 'other.db')}' AS other`);
      refused('DETACH other');
      refused('/* hidden */ DELETE FROM events');
      refused('CREATE TABLE mine (x)');
      refused('PRAGMA user_version = 7');
      refused('PRAGMA journal_mode = DELETE');
      refused('PRAGMA wal_checkpoint(TRUNCATE)');
      refused('BEGIN IMMEDIATE');
      refused('REINDEX');
      refused('ANALYZE');
      expect(() => prepareQuery(ro, "SELECT load_extension('/nonexistent')").get()).toThrow(/not authorized/);
      expect(existsSync(join(dir, 'other.db'))).toBe(false);
      for (const sql of ['WITH x(n) AS (VALUES (1), (2)) SELECT sum(n) FROM x', 'PRAGMA integrity_check', 'PRAGMA user_version',
        'EXPLAIN QUERY PLAN SELECT * FROM events', 'SELECT * FROM events_v LIMIT 1']) {
        expect(() => prepareQuery(ro, sql), sql).not.toThrow();
      }
    } finally {
      ro.close();
    }
  });
});

describe('14. big results stream', () => {
  // 300,000 rows in a V8 heap of 24 MB: holding them (or their text) would not fit; streamed, it does.
  const ROWS = 300_000;
  const SQL = `WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < ${ROWS}) SELECT x, 'row ' || x AS t FROM c`;
  const small = { NODE_OPTIONS: '--max-old-space-size=24' };
  const run = (...args: string[]) => {
    const r = ipitrace(['query', '--db', db, ...args, SQL], undefined, small);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    return r.stdout;
  };

  it.each([['table'], ['--json'], ['--csv']])('%s: every row, in a small heap', (format) => {
    const out = run(...(format === 'table' ? [] : [format]));
    const lines = out.trimEnd().split('\n');
    if (format === 'table') {
      expect(lines).toHaveLength(ROWS + 3);
      expect(lines.at(-1)).toBe(`(${ROWS} rows)`);
      expect(lines.at(-2)).toBe(`${ROWS}  row ${ROWS}`);
    } else if (format === '--json') {
      const rows = JSON.parse(out) as { x: number }[];
      expect(rows).toHaveLength(ROWS);
      expect(rows.at(-1)).toEqual({ x: ROWS, t: `row ${ROWS}` });
    } else {
      expect(lines).toHaveLength(ROWS + 1);
      expect(lines.at(-1)).toBe(`${ROWS},row ${ROWS}`);
    }
  });

  it('--json: text stays text whatever it looks like; integers are exact over 64 bits', () => {
    const r = ipitrace(['query', '--db', db, '--json', "SELECT 'bigint:42' AS a, '42' AS b, 9007199254740993 AS c, -9223372036854775808 AS d, 1.5 AS e, NULL AS f"]);
    expect(r.stdout).toContain('"c":9007199254740993');
    expect(r.stdout).toContain('"d":-9223372036854775808');
    expect(JSON.parse(r.stdout)).toEqual([{ a: 'bigint:42', b: '42', c: 9007199254740993, d: -9223372036854775808, e: 1.5, f: null }]);
  });
});

describe('saved queries (issue 23)', () => {
  it("a detector's own .sql file runs as it is, with -f and --param", () => {
    const rows = json('-f', join(ROOT, 'queries', 'csd-never-released.sql'), '--param', `boot=${BOOT}`);
    // fixture.json: one csd-never-released, ipi_fault_func queued by CPU1 to CPU2.
    expect(rows.map((r) => [r.detector, r.cpu, r.target_cpu, r.func])).toEqual([['csd-never-released', 1, 2, 'ipi_fault_func']]);
  });

  it('SQL on stdin (- or -f -); integer parameters bind as integers', () => {
    const sql = 'SELECT count(*) AS n FROM events WHERE source_id = :s AND cpu = $cpu';
    for (const args of [['-'], ['-f', '-']]) {
      const r = ipitrace(['query', '--db', db, '--json', ...args, '--param', 's=2', '--param', 'cpu=1'], sql);
      expect(r.stderr).toBe('');
      const [{ n }] = JSON.parse(r.stdout) as { n: number }[];
      expect(n).toBeGreaterThan(0);
    }
  });

  it('a --param the SQL does not use, a parameter not given, an unreadable file: one line, exit 2', () => {
    for (const [args, message] of [
      [['--param', 'bot=x', 'SELECT :boot'], '--param bot: the query has no parameter :bot'],
      [['SELECT :boot'], 'query failed: Missing named parameter "boot"'],
      [['-f', join(dir, 'nope.sql')], 'nope.sql: cannot read the SQL: no such file'],
      [[], 'give one SQL statement, -f FILE.sql, or - to read it from stdin'],
    ] as const) {
      const r = ipitrace(['query', '--db', db, ...args]);
      expect(r.status).toBe(2);
      expect(r.stderr).toMatch(/^ipitrace: [^\n]*\n$/);
      expect(r.stderr).toContain(message);
    }
  });

  it('wide rows: the table cuts long cells at --max-width; --vertical shows whole values', () => {
    const long = 'x'.repeat(200);
    const table = ipitrace(['query', '--db', db, `SELECT 1 AS n, '${long}' AS message`]).stdout.split('\n');
    expect(table[2]).toBe(`1  ${'x'.repeat(59)}…`);
    expect(ipitrace(['query', '--db', db, '--max-width', '0', `SELECT '${long}' AS m`]).stdout.split('\n')[2]).toBe(long);
    const vertical = ipitrace(['query', '--db', db, '--vertical', `SELECT 1 AS n, '${long}' AS message`]).stdout;
    expect(vertical).toBe(`-[ row 1 ]---\nn       | 1\nmessage | ${long}\n(1 row)\n`);
  });
});

describe('15. no terminal control sequence from a log reaches the output', () => {
  // OSC 52 (write the clipboard), CSI (clear the screen), a bare CR and a C1 CSI, in a function name.
  const EVIL = 'evil\u001b]52;c;aGFja2Vk\u0007\u001b[2J\r\u009b31m';

  it('unit: values are escaped visibly; ipitrace\'s own colours pass the output guard, a log\'s OSC does not', () => {
    expect(safeText(EVIL)).toBe('evil\\u001b]52;c;aGFja2Vk\\u0007\\u001b[2J\\u000d\\u009b31m');
    expect(safeOutput('a\n\tb \u001b[1;31mERROR\u001b[0m\r\u001b[K')).toBe('a\n\tb \u001b[1;31mERROR\u001b[0m\r\u001b[K');
    expect(safeOutput('\u001b]52;c;x\u0007 \u001b[8m \u001b[2J')).toBe('\\u001b]52;c;x\\u0007 \\u001b[8m \\u001b[2J');
    expect(JSON.parse(safeOutput(JSON.stringify({ v: '\u009b\u2028' })))).toEqual({ v: '\u009b\u2028' });
    // A serial console's CRLF line ends stay (record shows the console as it grows); a lone CR does not.
    expect(safeOutput('a\r\nb\rc\r', false)).toBe('a\r\nb\\u000dc\\u000d');
    // Piped: ipitrace colours nothing, so nothing passes.
    expect(safeOutput('\u001b[1;31mERROR\u001b[0m\n', false)).toBe('\\u001b[1;31mERROR\\u001b[0m\n');
  });

  it('ingest, detect, analyze and query print none of it; --json keeps the exact text', () => {
    // Without the CR, which ends a line in a log.
    const EVIL = 'evil\u001b]52;c;aGFja2Vk\u0007\u001b[2J\u009b31m';
    const trace = join(dir, 'evil-trace.txt');
    const line = (ts: string, cpu: number) => `            init-1       [00${cpu}] .....     ${ts}: csd_queue_cpu: cpu=7 callsite=${EVIL}+0x1/0x2 func=${EVIL} csd=ffffffff819f4b80`;
    writeFileSync(trace, `${line('4.074854', 1)}\n${EVIL} junk line\n${line('9.000000', 1)}\n`);
    const evilDb = join(dir, 'evil.db');
    const outputs = [
      ipitrace(['ingest', '--db', evilDb, trace]),
      ipitrace(['detect', '--db', evilDb]),
      ipitrace(['analyze', trace]),
      ipitrace(['query', '--db', evilDb, 'SELECT func, callsite FROM events']),
      ipitrace(['query', '--db', evilDb, '--csv', 'SELECT func FROM events']),
      ipitrace(['query', '--db', evilDb, '--vertical', 'SELECT * FROM unparsed']),
    ];
    for (const r of outputs) expect(r.stdout + r.stderr).not.toMatch(RAW_CONTROL);
    // With colour forced, ipitrace's own SGR sequences pass, and still nothing of the log's.
    const coloured = ipitrace(['detect', '--db', evilDb], undefined, { FORCE_COLOR: '1' });
    expect(coloured.stdout.replace(/\u001b\[[0-9;]*m/g, '')).not.toMatch(RAW_CONTROL);
    expect(coloured.stdout).toContain('evil\\u001b]52;c;aGFja2Vk\\u0007');
    expect(outputs[3].stdout).toContain('evil\\u001b]52;c;aGFja2Vk');
    const funcs = JSON.parse(ipitrace(['query', '--db', evilDb, '--json', 'SELECT DISTINCT func FROM events WHERE func IS NOT NULL']).stdout) as { func: string }[];
    // (ingest drops CSI sequences, colour codes in consoles, but keeps the rest as it was)
    expect(funcs).toHaveLength(1);
    expect(funcs[0].func).toContain('evil\u001b]52;c;aGFja2Vk\u0007');
  });
});

describe('16. file names that start with -', () => {
  it('unit: after --, every argument is positional and comes back as given; record keeps its --', () => {
    const marked = markArgs(['batch', '--out', 'o', '--', '-x', '-', '--json']);
    expect(marked.slice(0, 3)).toEqual(['batch', '--out', 'o']);
    expect(marked.slice(3).every((a) => !a.startsWith('-'))).toBe(true);
    expect(inputPaths(marked.slice(3))).toEqual(['-x', '-', '--json']);
    expect(markArgs(['record', '--', 'qemu-system-x86_64', '-smp', '2'])).toEqual(['record', '--', 'qemu-system-x86_64', '-smp', '2']);
  });

  it('are taken after --, by ingest, analyze and query', () => {
    const file = join(dir, '-x.log');
    copyFileSync(join(FIXTURE, 'console.log'), file);
    const x = join(dir, 'dash.db');
    const r = ipitrace(['ingest', '--db', x, '--boot', 'dash', '--', '-x.log'], undefined, {}, dir);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(ipitrace(['analyze', '--', '-x.log'], undefined, {}, dir).status).toBe(0);
    const q = ipitrace(['query', '--db', x, '--json', '--', 'SELECT path FROM sources']);
    expect(JSON.parse(q.stdout)).toEqual([{ path: '-x.log' }]);
  });
});
