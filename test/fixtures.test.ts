// Golden tests: every fixture in fixtures/ is ingested and replayed, and compared with the ground
// truth its fixture.json wrote down (from grep and the recordings' meta.json) before the code
// existed. Expectations are never regenerated from ipitrace's output (fixtures/README.md).
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { detect, type Finding } from '../detect/detect.js';
import { ingestFiles } from '../ingest/ingest.js';
import { formatCpuList, parseCpuList } from '../parsers/patterns.js';
import { openWritable, type Db } from '../store/db.js';

const FIXTURES = join(import.meta.dirname, '..', 'fixtures');

const ExpectedFinding = z.object({
  detector: z.string(),
  severity: z.enum(['error', 'warning', 'info']).optional(),
  cpu: z.number().nullable().optional(),
  sender_cpu: z.number().nullable().optional(),
  target_cpu: z.number().nullable().optional(),
  csd: z.string().nullable().optional(),
  func: z.string().nullable().optional(),
  classification: z.enum(['leak', 'late']).nullable().optional(),
  evidence: z.array(z.object({ file: z.string(), line: z.number().int() }).passthrough()).optional(),
}).passthrough();

const Fixture = z.object({
  boot: z.string(),
  files: z.array(z.string()).min(1),
  expected_counts: z.record(z.string(), z.record(z.string(), z.number().int())),
  expected_console: z.record(z.string(), z.record(z.string(), z.number().int())).optional(),
  expected_cpus: z.record(z.string(), z.string().nullable()).optional(),
  expected_findings: z.array(ExpectedFinding),
  /** Lines that are malformed beyond repair (unparsed rows), found with grep. */
  expected_unparsed: z.array(z.number().int()).optional(),
  /** Input defects ipitrace repairs and counts: stat name -> its keys (lines, names), found with grep. */
  expected_stats: z.record(z.string(), z.array(z.string())).optional(),
  /** How the printk clock maps onto the ftrace clock, where the files say (lines found with grep). */
  expected_clock: z.object({
    method: z.string(),
    printk_offset_ns: z.number().int(),
    reset_line: z.number().int(),
    dump_begin_line: z.number().int(),
    dump_event_lines: z.array(z.number().int()),
  }).passthrough().optional(),
  /**
   * Checks this fixture is known to fail today, each with the issue item that will fix it: the check runs
   * as `it.fails` (so it must still fail; when the fix lands, the entry has to go). Keys: counts, console,
   * findings, cpus, clock, stats.
   */
  pending: z.partialRecord(z.enum(['counts', 'console', 'findings', 'cpus', 'clock', 'stats']), z.string()).optional(),
}).passthrough();
type Fixture = z.infer<typeof Fixture>;

/**
 * fixture.json console kinds (named by the grep that counted them) -> ipitrace console kinds.
 * Only kinds whose grep counts exactly the lines ipitrace types are compared.
 */
const CONSOLE_KINDS: Record<string, string> = {
  csd_lock_nonresponsive: "kind = 'csd_detected'",
  csd_lock_continued: "kind = 'csd_continued'",
  csd_lock_resend: "kind = 'csd_resend'",
  csd_lock_unstuck: "kind = 'csd_unstuck'",
  nmi_backtrace_request: "kind = 'nmi_backtrace_request'",
  soft_lockup: "kind = 'soft_lockup'",
  ftrace_dump_begin: "kind = 'dump_begin'",
  cpu_offline_x86: "kind = 'cpu_offline' AND text LIKE '%is now offline%'",
  arm_cpu_shutdown: "kind = 'cpu_dying'",
};

/** Counts in expected_counts that are not event names: what they count, as SQL over the file's events. */
const DERIVED_COUNTS: Record<string, string> = {
  ipi_send_sgi_writes: "kind = 'gic_dist_write' AND op = 'ipi_send'",
};

function loadFixtures(): { name: string; fixture: Fixture }[] {
  return readdirSync(FIXTURES, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name).sort()
    .map((name) => ({ name, fixture: Fixture.parse(JSON.parse(readFileSync(join(FIXTURES, name, 'fixture.json'), 'utf8'))) }));
}

async function ingestFixture(name: string, fixture: Fixture): Promise<Db> {
  const db = openWritable(':memory:');
  const outcomes = await ingestFiles(db, fixture.files.map((f) => join(FIXTURES, name, f)), { boot: fixture.boot, validate: true });
  for (const outcome of outcomes) expect(outcome.status, `${outcome.path}`).toBe('ingested');
  return db;
}

/**
 * One ingest per fixture, shared by its checks (they only read the store; detect() rebuilds its derived
 * tables each time): ingesting the bigger real recordings four times made this file the suite's slowest.
 * One slot, since describe.each runs the fixtures one after the other.
 */
let slot: { name: string; db: Promise<Db> } | undefined;
function ingestOnce(name: string, fixture: Fixture): Promise<Db> {
  if (slot?.name !== name) {
    void slot?.db.then((db) => db.close(), () => undefined);
    slot = { name, db: ingestFixture(name, fixture) };
  }
  return slot.db;
}

function sourceId(db: Db, file: string): number {
  const row = db.prepare('SELECT source_id FROM sources WHERE path LIKE ?').get(`%/${file}`) as { source_id: number };
  return row.source_id;
}

/** Whether a finding is the one an expectation describes (fields the expectation leaves out are free). */
function matches(finding: Finding, want: z.infer<typeof ExpectedFinding>): boolean {
  if (finding.detector !== want.detector) return false;
  const cpu = want.sender_cpu ?? want.cpu;
  if (cpu !== undefined && cpu !== null && finding.cpu !== cpu) return false;
  if (want.target_cpu !== undefined && finding.target_cpu !== want.target_cpu) return false;
  if (want.csd && finding.csd !== want.csd) return false;
  if (want.func && finding.func !== want.func) return false;
  // A named severity is part of the truth: an 'unknown' case reported as an error is not a match.
  if (want.severity && finding.severity !== want.severity) return false;
  if (want.classification === 'late' && finding.severity !== 'warning') return false;
  if (want.classification === 'leak' && finding.severity !== 'error') return false;
  const first = want.evidence?.[0];
  if (first && !finding.evidence.some((e) => e.file.endsWith(`/${first.file}`) && e.line === first.line)) return false;
  return true;
}

describe.each(loadFixtures())('fixture $name', ({ name, fixture }) => {
  /** `it`, or `it.fails` with the reason in the name where the fixture marks the check as pending. */
  const check = (key: keyof NonNullable<Fixture['pending']>, title: string, fn: () => Promise<void>) => {
    const why = fixture.pending?.[key];
    if (why === undefined) it(title, fn);
    else it.fails(`${title} [pending: ${why}]`, fn);
  };

  check('counts', 'stores as many events per kind and file as grep counted', async () => {
    const db = await ingestOnce(name, fixture);
    for (const [file, counts] of Object.entries(fixture.expected_counts)) {
      const id = sourceId(db, file);
      const rows = db.prepare('SELECT kind, count(*) AS n FROM events WHERE source_id = ? GROUP BY kind').all(id) as { kind: string; n: number }[];
      const actual = new Map(rows.map((r) => [r.kind, r.n]));
      for (const [kind, count] of Object.entries(counts)) {
        const derived = DERIVED_COUNTS[kind];
        const value = derived === undefined ? actual.get(kind) ?? 0
          : (db.prepare(`SELECT count(*) AS n FROM events WHERE source_id = ? AND ${derived}`).get(id) as { n: number }).n;
        expect(value, `${file} ${kind}`).toBe(count);
      }
    }
    // Lines the fixture knows are malformed (its expected_unparsed, found with grep); none elsewhere.
    const unparsed = db.prepare('SELECT line, reason, sample FROM unparsed ORDER BY line').all() as { line: number }[];
    expect(unparsed.map((u) => u.line), JSON.stringify(unparsed)).toEqual(fixture.expected_unparsed ?? []);
  });

  // The next checks exist only for fixtures whose ground truth has the field (no test, rather than
  // a skipped one, for the others).
  if (fixture.expected_console) check('console', 'types the console messages grep counted', async () => {
    const db = await ingestOnce(name, fixture);
    for (const [file, counts] of Object.entries(fixture.expected_console ?? {})) {
      const id = sourceId(db, file);
      for (const [key, where] of Object.entries(CONSOLE_KINDS)) {
        if (counts[key] === undefined) continue;
        const row = db.prepare(`SELECT count(*) AS n FROM console_messages WHERE source_id = ? AND ${where}`).get(id) as { n: number };
        expect(row.n, `${file} ${key}`).toBe(counts[key]);
      }
    }
  });

  check('findings', 'finds exactly the ground-truth findings (warning and error), citing their evidence', async () => {
    const db = await ingestOnce(name, fixture);
    const findings = detect(db).filter((f) => f.severity !== 'info');
    const wanted = fixture.expected_findings.filter((w) => w.severity !== 'info');
    const unmatched = wanted.filter((w) => !findings.some((f) => matches(f, w)));
    const extra = findings.filter((f) => !wanted.some((w) => matches(f, w)));
    expect({ unmatched, extra: extra.map((f) => `${f.detector}: ${f.title} @ ${f.evidence.map((e) => e.line).join(',')}`) })
      .toEqual({ unmatched: [], extra: [] });
    expect(findings.length).toBe(wanted.length);
  });

  if (fixture.expected_cpus) check('cpus', 'knows which CPUs exist and which are online at the end', async () => {
    const db = await ingestOnce(name, fixture);
    detect(db);
    const cpus = fixture.expected_cpus!;
    const universe = db.prepare('SELECT cpu, possible, present FROM cpu_universe').all() as { cpu: number; possible: number | null; present: number | null }[];
    if (cpus.present) expect(formatCpuList(universe.filter((u) => u.present === 1).map((u) => u.cpu)), 'present').toBe(cpus.present);
    if (cpus.possible) expect(formatCpuList(universe.filter((u) => u.possible === 1).map((u) => u.cpu)), 'possible').toBe(cpus.possible);
    if (cpus.nonexistent) {
      const want = parseCpuList(cpus.nonexistent)!;
      for (const cpu of want) expect(universe.find((u) => u.cpu === cpu)?.present ?? 0, `CPU${cpu} nonexistent`).toBe(0);
    }
    if (cpus.online_at_end) {
      const online = db.prepare(`SELECT cpu FROM cpu_states WHERE end_ns IS NULL AND state = 'online'`).all() as { cpu: number }[];
      expect(formatCpuList(online.map((o) => o.cpu)), 'online at end').toBe(cpus.online_at_end);
    }
    // CPUs the ground truth knows were not online at the end (never came up, or went down): where the
    // files leave the others open (online_at_end null), these still must not be online.
    for (const key of ['never_online', 'known_offline_at_end'] as const) {
      if (!cpus[key]) continue;
      const online = db.prepare(`SELECT cpu FROM cpu_states WHERE end_ns IS NULL AND state = 'online'`).pluck().all() as number[];
      for (const cpu of parseCpuList(cpus[key])!) expect(online, `CPU${cpu} ${key}`).not.toContain(cpu);
    }
  });

  if (fixture.expected_clock) check('clock', 'maps the printk clock onto the ftrace clock as the console says', async () => {
    const db = await ingestOnce(name, fixture);
    detect(db);
    const want = fixture.expected_clock!;
    expect(db.prepare("SELECT method, offset_ns FROM clock_offsets WHERE clock = 'printk'").get())
      .toEqual({ method: want.method, offset_ns: want.printk_offset_ns });
    // The dump's events, put on the printk clock, fall between the reset and the dump itself.
    const printkAt = (line: number) => (db.prepare('SELECT ts_ns FROM console_messages WHERE line = ?').get(line) as { ts_ns: number }).ts_ns;
    const events = db.prepare(`SELECT line, ts_ns - ? AS printk_ns FROM events WHERE format = 'ftrace-dump' ORDER BY line`)
      .all(want.printk_offset_ns) as { line: number; printk_ns: number }[];
    expect(events.map((e) => e.line)).toEqual(want.dump_event_lines);
    for (const e of events) {
      expect(e.printk_ns).toBeGreaterThan(printkAt(want.reset_line));
      expect(e.printk_ns).toBeLessThan(printkAt(want.dump_begin_line));
    }
  });

  if (fixture.expected_stats) check('stats', 'counts the input defects it repaired, as grep found them', async () => {
    const db = await ingestOnce(name, fixture);
    for (const [stat, keys] of Object.entries(fixture.expected_stats!)) {
      const rows = db.prepare('SELECT key FROM stats WHERE name = ? ORDER BY key').pluck().all(stat) as string[];
      expect(rows, stat).toEqual([...keys].sort());
    }
  });
});
