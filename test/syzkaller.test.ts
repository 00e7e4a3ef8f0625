// syzkaller's own golden consoles (../shared/corpus/syzkaller, 814 real crash logs), table-driven
// in syzkaller's manner: test/data/syzkaller-expected.tsv gives each log its expected outcome,
// written from a reading of the log before the code: `none` (no finding at warning or error: the
// crash has nothing to do with cross-calls), or `waiter=N [awaited=LIST]` (a cross-call-wait finding
// naming waiting CPU N, and the CPUs it waits for where the log shows them). Every log is analyzed
// in this one process, each in its own in-memory database, and must not crash.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { detect } from '../detect/detect.js';
import { ingestFiles } from '../ingest/ingest.js';
import { openWritable } from '../store/db.js';

const DIR = join(import.meta.dirname, '..', '..', 'shared', 'corpus', 'syzkaller');
const present = existsSync(join(DIR, 'README.md'));
if (!present) console.warn(`syzkaller corpus test skipped: ${DIR} is not there (it is used only where present)`);

interface Expected { file: string; waiter: number | null; awaited: string | null; reason: string }

function expectations(): Expected[] {
  return readFileSync(join(import.meta.dirname, 'data', 'syzkaller-expected.tsv'), 'utf8').split('\n')
    .filter((l) => l !== '' && !l.startsWith('#')).map((l) => {
      const [file, expected, reason] = l.split('\t');
      const waiter = /waiter=(\d+)/.exec(expected!);
      const awaited = /awaited=([\d,]+)/.exec(expected!);
      return { file: file!, waiter: waiter ? Number(waiter[1]) : null, awaited: awaited ? awaited[1]! : null, reason: reason! };
    });
}

interface Outcome { file: string; findings: { detector: string; severity: string; cpu: number | null; title: string }[]; crash?: string }

async function analyze(file: string): Promise<Outcome> {
  const db = openWritable(':memory:');
  try {
    await ingestFiles(db, [join(DIR, file)], { boot: file });
    const findings = detect(db).filter((f) => f.severity !== 'info')
      .map((f) => ({ detector: f.detector, severity: f.severity, cpu: f.cpu, title: f.title }));
    return { file, findings };
  } catch (error) {
    return { file, findings: [], crash: (error as Error).message };
  } finally {
    db.close();
  }
}

describe.skipIf(!present)('syzkaller consoles', () => {
  it('the table covers every log of the corpus', () => {
    const listed = expectations().map((e) => e.file).sort();
    const files = readdirSync(DIR).filter((f) => f !== 'README.md').sort();
    expect(listed).toEqual(files);
  });

  // In slices of 100 logs: all 814 in one test took 19 s in a full nice'd run on a busy 2-core
  // machine, close to a third of vitest's limit, and growing with the table.
  const SLICE = 100;
  const table = present ? expectations() : [];
  for (let from = 0; from < table.length; from += SLICE) {
    const slice = table.slice(from, from + SLICE);
    it(`logs ${from + 1}-${from + slice.length}: every cross-call wait found with its waiter (and awaited CPUs), nothing at warning or error elsewhere`, async () => {
      const wrong: string[] = [];
      let crossCall = 0;
      let found = 0;
      for (const want of slice) {
        const got = await analyze(want.file);
        if (got.crash) {
          wrong.push(`${want.file}: crashed: ${got.crash}`);
          continue;
        }
        if (want.waiter === null) {
          if (got.findings.length > 0) wrong.push(`${want.file}: expected none (${want.reason}), got ${got.findings.map((f) => `${f.severity} ${f.detector}: ${f.title}`).join(' | ')}`);
          continue;
        }
        crossCall++;
        const waits = got.findings.filter((f) => f.detector === 'cross-call-wait');
        const hit = waits.find((f) => f.cpu === want.waiter
          && (want.awaited === null ? !/ for CPU/.test(f.title) : f.title.includes(` for CPU${want.awaited} `)));
        if (hit && waits.length === 1 && got.findings.length === 1) found++;
        else wrong.push(`${want.file}: expected waiter CPU${want.waiter}${want.awaited ? ` awaiting CPU${want.awaited}` : ''} (${want.reason}), got ${got.findings.map((f) => `${f.detector}: ${f.title}`).join(' | ') || 'nothing'}`);
      }
      expect(wrong).toEqual([]);
      expect(found).toBe(crossCall);
    });
  }

  it('the table expects cross-call waits in some logs', () => {
    expect(table.filter((t) => t.waiter !== null).length).toBeGreaterThan(0);
  });
});
