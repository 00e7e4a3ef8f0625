// Seeded mutations of real fixture files through the whole pipeline (ingest, replay, detectors, the
// text, JSON and HTML reports), in this process: bit flips, truncation, duplicated and shuffled
// lines, NULs, huge numbers, wide CPU masks, CR line ends, binary noise and compressed formats (cut
// or whole). Every case must end in a result or a clear input error (IpitraceError), never an
// internal error; within a per-case time bound; with the database passing PRAGMA integrity_check;
// and the process's peak RSS stays under 500 MB. The seed is fixed: a failure names its case and
// reproduces.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { runVerdict } from '../cli/detect.js';
import { ingestFiles } from '../ingest/ingest.js';
import { formatSummaryText, summarizeBoot } from '../report/summary.js';
import { buildTimeline, renderTimelinePage } from '../report/timeline.js';
import { openWritable } from '../store/db.js';
import { isIpitraceError } from '../store/errors.js';

const FIXTURES = join(import.meta.dirname, '..', 'fixtures');
const CASES = 240;
/** Per case, generous for a busy 2-core machine: a hang or a quadratic blow-up takes far longer. */
const CASE_MS = 5000;
const MAX_RSS_BYTES = 500 * 1024 * 1024;

/** The first `lines` lines of a fixture file (gunzipped): small real inputs of every format. */
function seed(path: string, lines: number): Buffer {
  const raw = readFileSync(join(FIXTURES, path));
  const text = path.endsWith('.gz') ? gunzipSync(raw) : raw;
  let end = 0;
  for (let n = 0; n < lines && end !== -1; n++) end = text.indexOf(0x0a, end + 1);
  return end === -1 ? text : text.subarray(0, end + 1);
}

const SEEDS: [string, Buffer][] = [
  ['x86 console', seed('faulty-x86-offline-async/console.log', 200)],
  ['x86 ftrace', seed('faulty-x86-offline-async/trace.txt.gz', 300)],
  ['x86 qemu', seed('faulty-x86-offline-async/qemu-trace.log.gz', 300)],
  ['arm64 ftrace', seed('arm64-gicv3-hotplug/trace.txt.gz', 300)],
  ['arm64 qemu', seed('arm64-gicv3-hotplug/qemu-trace.log.gz', 300)],
  ['x86 panic dump', seed('x86-panic-dump/console.log.gz', 400)],
  ['trace-cmd report', seed('x86-debian61-trace-cmd-report/console.log', 300)],
  ['syzkaller csd', seed('external-syzkaller-guilty59-csd-lock-wait/syzkaller-guilty59-arm64-csd_lock_wait.log', 300)],
];

/** mulberry32: small, seedable, good enough to pick mutations. */
function rng(seedValue: number): () => number {
  let a = seedValue >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Mutation = (data: Buffer, r: () => number) => Buffer;
const pick = <T>(items: readonly T[], r: () => number): T => items[Math.floor(r() * items.length)]!;
const lines = (data: Buffer): string[] => data.toString('latin1').split('\n');
const join_ = (parts: string[]): Buffer => Buffer.from(parts.join('\n'), 'latin1');

const hasTool = (tool: string): boolean => spawnSync(tool, ['--version'], { stdio: 'ignore' }).status === 0;
const TOOLS = [['bzip2', '-c'], ['xz', '-c'], ['zstd', '-qc']].filter(([tool]) => hasTool(tool!));

const MUTATIONS: Record<string, Mutation> = {
  'bit flips': (data, r) => {
    const out = Buffer.from(data);
    for (let i = 0, n = 1 + Math.floor(r() * 20); i < n; i++) out[Math.floor(r() * out.length)]! ^= 1 << Math.floor(r() * 8);
    return out;
  },
  truncation: (data, r) => data.subarray(0, Math.floor(r() * data.length)),
  'duplicated lines': (data, r) => {
    const ls = lines(data);
    for (let i = 0, n = 1 + Math.floor(r() * 30); i < n; i++) {
      const at = Math.floor(r() * ls.length);
      ls.splice(at, 0, ...ls.slice(at, at + 1 + Math.floor(r() * 5)));
    }
    return join_(ls);
  },
  'shuffled lines': (data, r) => {
    const ls = lines(data);
    for (let i = 0, n = 1 + Math.floor(r() * 40); i < n; i++) {
      const a = Math.floor(r() * ls.length), b = Math.floor(r() * ls.length);
      [ls[a], ls[b]] = [ls[b]!, ls[a]!];
    }
    return join_(ls);
  },
  NULs: (data, r) => {
    const ls = lines(data);
    for (let i = 0, n = 1 + Math.floor(r() * 20); i < n; i++) {
      const at = Math.floor(r() * ls.length);
      const line = ls[at]!;
      const k = Math.floor(r() * (line.length + 1));
      ls[at] = line.slice(0, k) + '\0'.repeat(1 + Math.floor(r() * 300)) + line.slice(k);
    }
    return join_(ls);
  },
  'huge numbers': (data, r) => {
    const text = data.toString('latin1');
    const runs = [...text.matchAll(/\d+/g)];
    if (runs.length === 0) return data;
    let out = text;
    for (let i = 0, n = 1 + Math.floor(r() * 10); i < n; i++) {
      const m = pick(runs, r);
      const huge = pick(['18446744073709551616', '99999999999999999999999', '340282366920938463463374607431768211456',
        '9007199254740993', '16000000', '4294967297', m[0]! + m[0]!, m[0]!.replace(/(\d)/, '$1$1')], r);
      out = out.slice(0, m.index!) + huge + out.slice(m.index! + m[0]!.length);
    }
    return Buffer.from(out, 'latin1');
  },
  'doubled digits': (data, r) => {
    const out = data.toString('latin1').split('');
    for (let i = 0, n = 1 + Math.floor(r() * 20); i < n; i++) {
      const at = Math.floor(r() * out.length);
      if (/\d/.test(out[at]!)) out[at] = out[at]! + out[at]!;
    }
    return Buffer.from(out.join(''), 'latin1');
  },
  'wide masks': (data, r) => {
    const words = Array.from({ length: pick([33, 257, 1000, 3000], r) }, () => pick(['ffffffff', '00000000', '00000001'], r)).join(',');
    const list = `0-${pick([1023, 8191, 8192, 40000], r)}`;
    const ls = lines(data);
    for (let i = 0, n = 1 + Math.floor(r() * 5); i < n; i++) {
      const at = Math.floor(r() * ls.length);
      ls[at] = ls[at]!.replace(/(cpumask=|target_cpus=|cpu=)\S+/, `$1${r() < 0.5 ? words : list}`)
        + (r() < 0.3 ? ` [    1.000000] NMI backtrace for cpus ${list}` : '');
    }
    ls.splice(Math.floor(r() * ls.length), 0, `[    1.000000] smpboot: Total of ${pick(['16000000', '8193', '64'], r)} processors activated`);
    return join_(ls);
  },
  'CR line ends': (data) => Buffer.from(data.toString('latin1').replaceAll('\n', '\r'), 'latin1'),
  'binary noise': (data, r) => {
    const at = Math.floor(r() * data.length);
    const noise = Buffer.from(Array.from({ length: 1 + Math.floor(r() * 2000) }, () => Math.floor(r() * 256)));
    return Buffer.concat([data.subarray(0, at), noise, data.subarray(at)]);
  },
  'long line': (data, r) => {
    const at = Math.floor(r() * data.length);
    return Buffer.concat([data.subarray(0, at), Buffer.alloc(70000 + Math.floor(r() * 100000), 0x41), data.subarray(at)]);
  },
  gzip: (data, r) => {
    const gz = gzipSync(data);
    return r() < 0.5 ? gz : gz.subarray(0, Math.floor(r() * gz.length));
  },
  'other compression': (data, r) => {
    if (TOOLS.length === 0) return gzipSync(data);
    const [tool, flag] = pick(TOOLS, r);
    const packed = spawnSync(tool!, [flag!], { input: data }).stdout;
    return r() < 0.5 ? packed : packed.subarray(0, Math.floor(r() * packed.length));
  },
};

const MUTATION_NAMES = Object.keys(MUTATIONS);

describe('fuzz: seeded mutations of real fixture files', () => {
  it(`${CASES} cases: no internal error, no hang, integrity_check ok, peak RSS < 500 MB`, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ipitrace-fuzz-'));
    const r = rng(22);
    const failures: string[] = [];
    let slowest = 0;
    let peak = 0;
    const outcomes = new Map<string, number>();
    for (let n = 0; n < CASES; n++) {
      const [seedName, seedData] = SEEDS[n % SEEDS.length]!;
      // One to three mutations, applied in turn; a compression last when drawn.
      const chosen = Array.from({ length: 1 + Math.floor(r() * 3) }, () => pick(MUTATION_NAMES, r));
      let data = seedData;
      for (const name of chosen) data = MUTATIONS[name]!(data, r);
      const label = `case ${n} (${seedName}: ${chosen.join(' + ')})`;
      const path = join(dir, `case-${n}.log`);
      writeFileSync(path, data);
      const started = performance.now();
      const db = openWritable(':memory:');
      try {
        const [outcome] = await ingestFiles(db, [path], { boot: 'fuzz' });
        outcomes.set(outcome!.status, (outcomes.get(outcome!.status) ?? 0) + 1);
        if (outcome!.status === 'ingested') {
          // What `analyze --json` runs: replay, detectors, verdicts, evidence lines, the JSON document.
          let json = '';
          const code = await runVerdict(db, ['fuzz'], { json: true, failOn: 'error', csdTimeout: 5, grace: 1, verbose: false },
            { stdout: (text) => (json += text), stderr: () => undefined });
          expect([0, 1, 2]).toContain(code);
          JSON.parse(json);
          formatSummaryText(summarizeBoot(db, 'fuzz', []));
          renderTimelinePage([buildTimeline(db, 'fuzz', { db: null, files: [path] })]);
        } else if (outcome!.status === 'failed' && !isIpitraceError(outcome!.error)) {
          failures.push(`${label}: ${String(outcome!.error)}`);
        }
        const check = db.pragma('integrity_check', { simple: true });
        if (check !== 'ok') failures.push(`${label}: integrity_check ${String(check)}`);
      } catch (error) {
        failures.push(`${label}: ${isIpitraceError(error) ? 'input error' : 'internal error'}: ${(error as Error).message}`);
      } finally {
        db.close();
      }
      const ms = performance.now() - started;
      slowest = Math.max(slowest, ms);
      if (ms > CASE_MS) failures.push(`${label}: took ${Math.round(ms)} ms`);
      peak = Math.max(peak, process.memoryUsage().rss);
    }
    expect(failures).toEqual([]);
    expect(outcomes.get('ingested') ?? 0).toBeGreaterThan(CASES / 2);
    expect(peak).toBeLessThan(MAX_RSS_BYTES);
    // ru_maxrss (KiB on Linux): the peak between the samples above too.
    expect(process.resourceUsage().maxRSS * 1024).toBeLessThan(MAX_RSS_BYTES);
  }, 120_000);
});
