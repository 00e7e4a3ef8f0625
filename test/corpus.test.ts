// Every recording in ../shared/corpus (used only where present): rows per event kind equal the
// counts the recorders obtained independently before ipitrace existed (x86: meta.json
// trace_txt_event_counts; ARM: the summarize.py output in recorders/arm/NOTES.md), and the findings
// equal meta.json's expected_findings (healthy recordings: nothing at warning or error).
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runAnalyze } from '../cli/analyze.js';
import { detect } from '../detect/detect.js';
import { ingestFiles } from '../ingest/ingest.js';
import { openWritable, type Db } from '../store/db.js';

const CORPUS = join(import.meta.dirname, '..', '..', 'shared', 'corpus');
const present = existsSync(join(CORPUS, 'README.md'));
if (!present) console.warn(`corpus tests skipped: ${CORPUS} is not there (it is used only where present)`);

interface Recording {
  name: string;
  dir: string;
  meta: {
    expected_findings?: { detector: string; target_cpu?: number; csd?: string }[];
    trace_txt_event_counts?: Record<string, number>;
    guest_cpus_end?: { possible: string; present: string; online: string };
  };
  inputs: string[];
}

function recordings(): Recording[] {
  if (!present) return [];
  const found: Recording[] = [];
  for (const machine of readdirSync(CORPUS)) {
    if (machine === 'external' || machine === 'recorders' || !existsSync(join(CORPUS, machine)) || machine.includes('.')) continue;
    for (const scenario of readdirSync(join(CORPUS, machine))) {
      const dir = join(CORPUS, machine, scenario);
      if (!existsSync(join(dir, 'meta.json'))) continue;
      const inputs = readdirSync(dir).filter((f) => /^(console\.log|trace\.txt|qemu-trace\.log|boot\.log)(\.gz)?$/.test(f)).sort();
      found.push({ name: `${machine}/${scenario}`, dir, meta: JSON.parse(readFileSync(join(dir, 'meta.json'), 'utf8')), inputs });
    }
  }
  return found;
}

/** recorders/arm/NOTES.md: "### arm64-gicv3/boot" then "- trace.txt events: name N, name N" (and qemu, console lines). */
function armSummaries(): Map<string, Map<string, Record<string, number>>> {
  const summaries = new Map<string, Map<string, Record<string, number>>>();
  if (!present) return summaries;
  let current: Map<string, Record<string, number>> | null = null;
  for (const line of readFileSync(join(CORPUS, 'recorders', 'arm', 'NOTES.md'), 'utf8').split('\n')) {
    const heading = /^### (\S+\/\S+)$/.exec(line);
    if (heading) summaries.set(heading[1], current = new Map());
    const counts = /^- (trace\.txt events|qemu-trace\.log events|console\.log ftrace_dump_on_oops lines|console\.log tp_printk lines): (.*)$/.exec(line);
    if (current && counts) {
      current.set(counts[1], Object.fromEntries(counts[2].split(', ').map((pair) => {
        const [name, n] = pair.split(' ');
        return [name, Number(n)];
      })));
    }
  }
  return summaries;
}

async function ingestRecording(r: Recording): Promise<Db> {
  const db = openWritable(':memory:');
  const outcomes = await ingestFiles(db, r.inputs.map((f) => join(r.dir, f)), { boot: r.name });
  for (const o of outcomes) expect(o.status, o.path).toBe('ingested');
  return db;
}

function kindCounts(db: Db, file: string): Map<string, number> {
  const rows = db.prepare(`SELECT kind, count(*) AS n FROM events JOIN sources USING (source_id)
    WHERE path LIKE ? GROUP BY kind`).all(`%/${file}`) as { kind: string; n: number }[];
  return new Map(rows.map((r) => [r.kind, r.n]));
}

const arm = armSummaries();

// Ingested once per recording (in the hook), then counts and findings in two tests: in one, the
// biggest recording (x86/big) took 64 s of vitest's 60 s limit in a full run on a busy 2-core machine.
describe.skipIf(!present).each(recordings())('corpus $name', (r) => {
  let db: Db;
  beforeAll(async () => {
    db = await ingestRecording(r);
  }, 120_000);
  afterAll(() => db?.close());

  it('stores the events the recorder counted', () => {
    const expectedCounts: [string, Record<string, number>][] = [];
    if (r.meta.trace_txt_event_counts) expectedCounts.push([r.inputs.find((f) => f.startsWith('trace.txt'))!, r.meta.trace_txt_event_counts]);
    const summary = arm.get(r.name);
    if (summary) {
      const traceFile = r.inputs.find((f) => f.startsWith('trace.txt'));
      const qemuFile = r.inputs.find((f) => f.startsWith('qemu-trace.log'));
      const consoleFile = r.inputs.find((f) => f.startsWith('console.log'));
      if (traceFile && summary.has('trace.txt events')) expectedCounts.push([traceFile, summary.get('trace.txt events')!]);
      if (qemuFile && summary.has('qemu-trace.log events')) expectedCounts.push([qemuFile, summary.get('qemu-trace.log events')!]);
      for (const key of ['console.log ftrace_dump_on_oops lines', 'console.log tp_printk lines']) {
        if (consoleFile && summary.has(key)) expectedCounts.push([consoleFile, summary.get(key)!]);
      }
    }
    for (const [file, counts] of expectedCounts) {
      const actual = kindCounts(db, file);
      for (const [kind, n] of Object.entries(counts)) expect(actual.get(kind) ?? 0, `${file} ${kind}`).toBe(n);
    }
  });

  it('finds its ground-truth findings only', () => {
    const findings = detect(db).filter((f) => f.severity !== 'info');
    // One finding per expected entry (same detector; same target CPU and csd where meta.json gives
    // them), and no finding left over.
    const unused = [...findings];
    const missing = (r.meta.expected_findings ?? []).filter((want) => {
      const detector = want.detector.split(' ')[0];
      const index = unused.findIndex((f) => f.detector === detector
        && (want.target_cpu === undefined || f.target_cpu === want.target_cpu)
        && (want.csd === undefined || f.detector === 'kernel-reported' || f.csd === want.csd));
      if (index >= 0) unused.splice(index, 1);
      return index < 0;
    });
    expect({ missing, extra: unused.map((f) => `${f.detector}: ${f.title}`) }).toEqual({ missing: [], extra: [] });
  });
});

// `ipitrace analyze` (the one-command post-mortem) on every recording: the same findings, and the
// CPU table the recorder read from the guest's sysfs at the end (meta.json guest_cpus_end, x86).
describe.skipIf(!present).each(recordings())('analyze $name', (r) => {
  it('prints the ground-truth findings and the CPU table', async () => {
    let stdout = '';
    const code = await runAnalyze({
      files: r.inputs.map((f) => join(r.dir, f)), boot: r.name, json: true, failOn: 'error', csdTimeout: 5, grace: 1,
    } as Parameters<typeof runAnalyze>[0], { stdout: (t) => { stdout += t; }, stderr: () => {} });
    const boot = (JSON.parse(stdout) as { boots: { summary: { cpus: { possible: string | null; present: string | null; online_at_end: string } };
      findings: { detector: string; severity: string }[] }[] }).boots[0];
    const wanted = (r.meta.expected_findings ?? []).map((f) => f.detector.split(' ')[0]).sort();
    expect(boot.findings.filter((f) => f.severity !== 'info').map((f) => f.detector).sort()).toEqual(wanted);
    expect(code).toBe(wanted.length > 0 ? 1 : 0);
    const end = r.meta.guest_cpus_end;
    if (end) expect(boot.summary.cpus).toMatchObject({ possible: end.possible, present: end.present, online_at_end: end.online });
  }, 120_000);
});

