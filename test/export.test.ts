// ipitrace export and batch --export: the warehouse rows load into DuckDB and answer a fleet
// question. Ground truth: the fixtures' fixture.json (written before the code): offline-async and
// ci-offline-async are the same injected bug recorded twice (a csd of ipi_fault_func never released,
// queued to offline CPU2), nonexistent-async is another (to nonexistent CPU6), clean-control has no
// finding at warning or error.
import { DuckDBInstance } from '@duckdb/node-api';
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runExport } from '../cli/export.js';
import { detect } from '../detect/detect.js';
import { ingestFiles } from '../ingest/ingest.js';
import { openWritable } from '../store/db.js';
import { ipitrace, tempDir } from './helpers/cli.js';

const FIXTURES = join(import.meta.dirname, '..', 'fixtures');
const BOOTS = ['faulty-x86-offline-async', 'faulty-x86-ci-offline-async', 'faulty-x86-nonexistent-async', 'faulty-x86-clean-control'];
const fixture = (name: string) => JSON.parse(readFileSync(join(FIXTURES, name, 'fixture.json'), 'utf8')) as { files: string[]; kernel: string };

let dir: string;
let db: string;

beforeAll(async () => {
  dir = tempDir('export');
  db = join(dir, 'fleet.db');
  const handle = openWritable(db);
  for (const boot of BOOTS) await ingestFiles(handle, fixture(boot).files.map((f) => join(FIXTURES, boot, f)), { boot });
  detect(handle);
  handle.close();
}, 60_000);

async function duck(sql: string): Promise<Record<string, unknown>[]> {
  const instance = await DuckDBInstance.create(':memory:');
  const conn = await instance.connect();
  try {
    return (await conn.runAndReadAll(sql)).getRowObjectsJson() as Record<string, unknown>[];
  } finally {
    conn.closeSync();
  }
}

/** The fleet question: which signatures affect the most boots. */
const TOP_SIGNATURES = (findings: string) => `SELECT signature, count(DISTINCT boot) AS boots, min(detector) AS detector
  FROM ${findings} WHERE severity = 'error' GROUP BY signature ORDER BY boots DESC, signature`;

describe.each(['jsonl', 'parquet'] as const)('ipitrace export --format %s', (format) => {
  let out: string;
  afterAll(() => undefined);

  it('loads into DuckDB and answers "top signatures by boots affected"', async () => {
    out = join(dir, format);
    const result = await runExport({ db, out, format });
    expect(result.boots).toBe(BOOTS.length);
    const reader = format === 'jsonl' ? `read_json_auto('${out}/findings.jsonl')` : `'${out}/findings.parquet'`;
    const top = await duck(TOP_SIGNATURES(reader));
    // The bug recorded twice is one signature on two boots, ranked first; it names the function.
    expect(top[0]).toMatchObject({ boots: '2' });
    expect(top[0].signature).toMatch(/ipi_fault_func/);
    // The other bug has its own signatures, on one boot; clean-control contributes none.
    const all = await duck(`SELECT DISTINCT boot FROM ${reader} WHERE severity <> 'info'`);
    expect(all.map((r) => r.boot).sort()).toEqual(BOOTS.filter((b) => b !== 'faulty-x86-clean-control').sort());
    const nonexistent = await duck(`SELECT DISTINCT signature FROM ${reader} WHERE boot = 'faulty-x86-nonexistent-async' AND severity = 'error'`);
    for (const row of nonexistent) expect(top.find((t) => t.signature === row.signature)?.boots).toBe('1');
  });

  it('writes a row per boot with its kernel, architecture and CPU lists', async () => {
    const reader = format === 'jsonl' ? `read_json_auto('${out}/boots.jsonl')` : `'${out}/boots.parquet'`;
    const rows = await duck(`SELECT boot, kernel, arch, cpus_possible, cpus_present, errors FROM ${reader} ORDER BY boot`);
    expect(rows.map((r) => r.boot)).toEqual([...BOOTS].sort());
    for (const row of rows) {
      // fixture.json: "6.12.107 tinyconfig + fault-injection knob"; x86_64 under QEMU; -smp 4,maxcpus=8.
      // (ci-offline-async's banner, boot.log:71, is glued after a console fragment split by QEMU records.)
      expect(String(row.kernel)).toMatch(/^6\.12\.107/);
      expect(fixture(String(row.boot)).kernel).toMatch(/\b6\.12\.107\b/);
      expect(row).toMatchObject({ arch: 'x86_64', cpus_possible: '0-7', cpus_present: '0-3' });
      expect(Number(row.errors) > 0).toBe(row.boot !== 'faulty-x86-clean-control');
    }
  });
});

describe('ipitrace batch --export', () => {
  it('writes the same rows as export, boot by boot', async () => {
    const out = join(dir, 'batch-export');
    const r = ipitrace(['batch', '--export', out, ...BOOTS.slice(0, 2).map((b) => join(FIXTURES, b))]);
    expect(r.status, r.stderr).toBe(1);
    const top = await duck(TOP_SIGNATURES(`read_json_auto('${out}/findings.jsonl')`));
    expect(top[0]).toMatchObject({ boots: '2' });
    const boots = await duck(`SELECT count(*) AS n FROM read_json_auto('${out}/boots.jsonl')`);
    expect(boots[0].n).toBe('2');
  });
});

describe('export output files: whole or not at all', () => {
  it('a folder where the export cannot be renamed into place: one line, exit 2, no temporary file left', () => {
    const out = join(dir, 'blocked');
    // findings.jsonl is a directory here: the staged file cannot be renamed over it.
    mkdirSync(join(out, 'findings.jsonl'), { recursive: true });
    const r = ipitrace(['export', '--db', db, '--out', out]);
    expect(r.status).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/export not written/);
    expect(readdirSync(out).sort()).toEqual(['findings.jsonl']);
    const b = ipitrace(['batch', '--export', out, join(FIXTURES, 'faulty-x86-clean-control')]);
    expect(b.status).toBe(2);
    expect(b.stderr).toMatch(/export not written/);
    expect(readdirSync(out).sort()).toEqual(['findings.jsonl']);
  });
});
