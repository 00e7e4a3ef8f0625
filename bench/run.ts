// `npm run bench`: ingest and detect throughput, memory and scaling on large generated inputs
// (bench/generate.ts), against a baseline that merely stores the rows (bench/baseline.ts).
//   node dist/bench/run.js [--sizes 1000000,5000000] [--repeat 3] [--gzip 1000000|none] [--only ftrace|mixed|console|startup]
//                          [--keep] [--out DIR] [--cli PATH/dist/cli/main.js]
// --cli measures another build of ipitrace (e.g. a copy with a patch applied) on the same inputs.
// Every step runs in its own child process, so that its peak RSS and CPU time can be measured (GNU
// time's %M %U %S, or process.resourceUsage() from a preloaded hook when /usr/bin/time is missing).
// Wall times include the child's start-up. CPU time (user + system, all threads) shows what the
// wall time hides: ingest parses in a worker thread while its main thread stores the rows. Baseline
// and ingest run alternately, `--repeat` times, and the best time of each is kept. The last line
// printed is a JSON summary.
import Database from 'better-sqlite3';
import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, rmSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateInputs, label, type GeneratedInput } from './generate.js';
import { measureStartup, type StartupResult } from './startup.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = join(HERE, '..', '..');
const DEFAULT_CLI = join(ROOT, 'dist', 'cli', 'main.js');
const BASELINE = join(HERE, 'baseline.js');
const RSS_HOOK = join(HERE, 'rss-hook.js');
const GNU_TIME = '/usr/bin/time';
/**
 * "Flat in input size": the peak RSS at the largest input at most this many times the one at the
 * smallest (by default 5 x the events). A run's collector timing moves a peak by ~10 %; more than
 * that is growth.
 */
const FLAT_RSS = 1.2;

interface Options {
  sizes: number[];
  repeat: number;
  gzip: number | null;
  only: 'ftrace' | 'mixed' | 'console' | 'startup' | null;
  keep: boolean;
  out: string;
  cli: string;
}

interface Run {
  seconds: number;
  rssMb: number;
  /** User + system CPU time of the child, all its threads, s. */
  cpuSeconds: number;
}

interface StepResult {
  /** Best wall time over the runs, s. */
  seconds: number;
  runs: number[];
  /** Highest peak RSS over the runs, MB. */
  rssMb: number;
  /** CPU time of the run with the best wall time, s. */
  cpuSeconds: number;
}

interface InputResult {
  name: string;
  kind: GeneratedInput['kind'];
  events: number;
  lines: number;
  mb: number;
  storedEvents: number;
  findings: number | null;
  baseline: StepResult | null;
  ingest: StepResult;
  detect: StepResult | null;
}

function parseArgs(argv: string[]): Options {
  const options: Options = {
    sizes: [1_000_000, 5_000_000], repeat: 3, gzip: 1_000_000, only: null, keep: false, out: join(ROOT, 'bench', 'out'),
    cli: DEFAULT_CLI,
  };
  for (let i = 0; i < argv.length; i++) {
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${argv[i - 1]} needs a value`);
      return v;
    };
    switch (argv[i]) {
      case '--sizes': options.sizes = value().split(',').map((s) => Number(s.trim())); break;
      case '--repeat': options.repeat = Number(value()); break;
      case '--gzip': { const v = value(); options.gzip = v === 'none' ? null : Number(v); break; }
      case '--only': options.only = value() as Options['only']; break;
      case '--keep': options.keep = true; break;
      case '--out': options.out = value(); break;
      case '--cli': options.cli = value(); break;
      default: throw new Error(`unknown option ${argv[i]}`);
    }
  }
  if (options.sizes.some((n) => !Number.isInteger(n) || n <= 0)) throw new Error('--sizes: positive integers');
  if (!Number.isInteger(options.repeat) || options.repeat < 1) throw new Error('--repeat: a positive integer');
  if (options.gzip !== null && !options.sizes.includes(options.gzip)) options.gzip = options.sizes[0];
  return options;
}

/** Runs `node args...` with output to `logPath`; returns wall time, peak RSS and CPU time. */
function runChild(args: string[], logPath: string): Run {
  const rssFile = `${logPath}.rss`;
  rmSync(rssFile, { force: true });
  const useTime = existsSync(GNU_TIME);
  const command = useTime ? GNU_TIME : process.execPath;
  const full = useTime ? ['-f', '%M %U %S', '-o', rssFile, process.execPath, ...args] : ['--import', RSS_HOOK, ...args];
  const log = openSync(logPath, 'w');
  const started = performance.now();
  const result = spawnSync(command, full, {
    stdio: ['ignore', log, log], env: { ...process.env, IPITRACE_BENCH_RSS_FILE: rssFile },
  });
  const seconds = (performance.now() - started) / 1000;
  closeSync(log);
  if (result.status !== 0 && !(result.status === 1 && args.includes('detect'))) {
    const tail = readFileSync(logPath, 'utf8').split('\n').slice(-10).join('\n');
    throw new Error(`${args.join(' ')}: exit ${result.status ?? result.signal}\n${tail}`);
  }
  // The last line: GNU time writes "Command exited with non-zero status" before it.
  const [kb, user, system] = (readFileSync(rssFile, 'utf8').trim().split('\n').pop() ?? '').split(' ').map(Number);
  return { seconds, rssMb: kb / 1024, cpuSeconds: user + system };
}

function removeDb(path: string): void {
  for (const suffix of ['', '-journal', '-wal', '-shm']) rmSync(path + suffix, { force: true });
}

function best(runs: Run[]): StepResult {
  const fastest = runs.reduce((a, b) => (b.seconds < a.seconds ? b : a));
  return {
    seconds: fastest.seconds,
    runs: runs.map((r) => round(r.seconds, 3)),
    rssMb: Math.max(...runs.map((r) => r.rssMb)),
    cpuSeconds: fastest.cpuSeconds,
  };
}

function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

function measure(input: GeneratedInput, options: Options, log: (text: string) => void): InputResult {
  const db = join(options.out, `${input.name}.db`);
  const baseDb = join(options.out, `${input.name}.baseline.db`);
  const logs = join(options.out, input.name);
  const baselineRuns: Run[] = [];
  const ingestRuns: Run[] = [];
  const detectRuns: Run[] = [];
  const baselineKind = input.kind === 'mixed' || input.kind === 'console' ? 'mixed' : 'ftrace';
  const withBaseline = input.kind !== 'ftrace-gz';
  const withDetect = input.kind !== 'ftrace-gz';
  for (let rep = 1; rep <= options.repeat; rep++) {
    if (withBaseline) {
      const run = runChild([BASELINE, baselineKind, input.path, baseDb], `${logs}.baseline.log`);
      baselineRuns.push(run);
      removeDb(baseDb);
      log(`  ${input.name} run ${rep}: baseline ${run.seconds.toFixed(2)} s (cpu ${run.cpuSeconds.toFixed(2)} s), ${run.rssMb.toFixed(0)} MB`);
    }
    removeDb(db);
    const ingest = runChild([options.cli, 'ingest', '--db', db, input.path], `${logs}.ingest.log`);
    ingestRuns.push(ingest);
    let line = `  ${input.name} run ${rep}: ingest ${ingest.seconds.toFixed(2)} s (cpu ${ingest.cpuSeconds.toFixed(2)} s), ${ingest.rssMb.toFixed(0)} MB`;
    if (withDetect) {
      const detect = runChild([options.cli, 'detect', '--db', db, '--fail-on', 'never'], `${logs}.detect.log`);
      detectRuns.push(detect);
      line += `; detect ${detect.seconds.toFixed(2)} s (cpu ${detect.cpuSeconds.toFixed(2)} s), ${detect.rssMb.toFixed(0)} MB`;
    }
    log(line);
  }
  const check = new Database(db, { readonly: true });
  const storedEvents = (check.prepare('SELECT count(*) AS n FROM events').get() as { n: number }).n;
  const findings = withDetect ? (check.prepare('SELECT count(*) AS n FROM findings').get() as { n: number }).n : null;
  check.close();
  if (!options.keep) removeDb(db);
  return {
    name: input.name, kind: input.kind, events: input.events, lines: input.lines, mb: round(input.bytes / 1e6, 1),
    storedEvents, findings,
    baseline: withBaseline ? best(baselineRuns) : null,
    ingest: best(ingestRuns),
    detect: withDetect ? best(detectRuns) : null,
  };
}

function machine(): Record<string, string | number> {
  let model = cpus()[0]?.model ?? 'unknown';
  try {
    const line = readFileSync('/proc/cpuinfo', 'utf8').split('\n').find((l) => l.startsWith('model name'));
    if (line) model = line.split(':')[1].trim();
  } catch { /* not Linux */ }
  const db = new Database(':memory:');
  const sqlite = (db.prepare('SELECT sqlite_version() AS v').get() as { v: string }).v;
  db.close();
  return {
    cpus: cpus().length, cpu_model: model, memory_gb: round(totalmem() / 2 ** 30, 1), node: process.version, sqlite,
    load_at_start: round(loadavg()[0], 2),
  };
}

const eps = (events: number, seconds: number) => events / seconds;
const fmtRate = (x: number) => `${(x / 1000).toFixed(0)}k/s`;
const fmtInt = (n: number) => n.toLocaleString('en-US');
const pad = (s: string, n: number) => s.padStart(n);

function report(results: InputResult[], startup: StartupResult, options: Options, host: Record<string, string | number>): void {
  const out: string[] = [];
  out.push('');
  out.push(`machine: ${host.cpus} CPUs (${host.cpu_model}), ${host.memory_gb} GB, node ${host.node}, SQLite ${host.sqlite}; best of ${options.repeat}, wall time incl. process start`);
  // Other work on a shared machine shows in the load before the run; the one at its end includes the bench.
  out.push(`load average (1 min): ${host.load_at_start} before the run, ${host.load_at_end} at its end`);
  if (options.cli !== DEFAULT_CLI) out.push(`ipitrace measured: ${options.cli}`);
  out.push('');
  out.push(`${'input'.padEnd(14)}${pad('events', 11)}${pad('MB', 6)} | ${pad('baseline', 9)}${pad('ev/s', 9)}${pad('RSS', 7)} | ${pad('ingest', 9)}${pad('ev/s', 9)}${pad('RSS', 7)}${pad('b/a', 6)} | ${pad('detect', 9)}${pad('s/M ev', 8)}${pad('RSS', 7)}${pad('findings', 9)}`);
  for (const r of results) {
    const base = r.baseline ? `${pad(r.baseline.seconds.toFixed(2) + ' s', 9)}${pad(fmtRate(eps(r.events, r.baseline.seconds)), 9)}${pad(r.baseline.rssMb.toFixed(0) + ' MB', 7)}` : pad('-', 25);
    const ratio = r.baseline ? (r.baseline.seconds / r.ingest.seconds).toFixed(2) : '-';
    const det = r.detect
      ? `${pad(r.detect.seconds.toFixed(2) + ' s', 9)}${pad((r.detect.seconds / (r.events / 1e6)).toFixed(2), 8)}${pad(r.detect.rssMb.toFixed(0) + ' MB', 7)}${pad(String(r.findings), 9)}`
      : pad('-', 33);
    out.push(`${r.name.padEnd(14)}${pad(fmtInt(r.events), 11)}${pad(r.mb.toFixed(0), 6)} | ${base} | ${pad(r.ingest.seconds.toFixed(2) + ' s', 9)}${pad(fmtRate(eps(r.events, r.ingest.seconds)), 9)}${pad(r.ingest.rssMb.toFixed(0) + ' MB', 7)}${pad(ratio, 6)} | ${det}`);
  }
  out.push('');
  out.push(`CPU time (user + system, all threads) of the best run: ${results.map((r) => `${r.name} ${cpuLine(r)}`).join('; ')}`);
  const mismatched = results.filter((r) => r.storedEvents !== r.events);
  for (const r of mismatched) out.push(`note: ${r.name}: ${fmtInt(r.storedEvents)} events stored for ${fmtInt(r.events)} generated`);

  out.push(`start-up: node -e 0 ${startup.node_s.toFixed(3)} s, ipitrace --version ${startup.version_s.toFixed(3)} s`
    + (startup.small_console ? `, analyze of a ${startup.small_console.bytes} B console ${startup.analyze_small_s!.toFixed(3)} s` : ''));
  if (startup.batch) {
    out.push(`batch: ${startup.batch.consoles} syzkaller consoles in ${startup.batch.s.toFixed(1)} s, ${(startup.batch.per_console_s * 1000).toFixed(0)} ms each; `
      + `one analyze process per console: ${(startup.batch.process_per_console_s * 1000).toFixed(0)} ms each`);
  }
  const summary = summarize(results, startup, options, host);
  out.push('');
  const t = summary.targets as Record<string, { value: number | null; target: string; met: boolean | null }>;
  for (const [name, { value, target, met }] of Object.entries(t)) {
    out.push(`${name.padEnd(34)} ${pad(value === null ? '-' : String(value), 8)}  target ${target.padEnd(8)} ${met === null ? 'n/a' : met ? 'met' : 'MISSED'}`);
  }
  out.push('');
  out.push(JSON.stringify(summary));
  process.stdout.write(out.join('\n') + '\n');
}

function cpuLine(r: InputResult): string {
  const parts = [r.baseline && `baseline ${r.baseline.cpuSeconds.toFixed(2)} s`, `ingest ${r.ingest.cpuSeconds.toFixed(2)} s`,
    r.detect && `detect ${r.detect.cpuSeconds.toFixed(2)} s`];
  return parts.filter(Boolean).join(', ');
}

function summarize(results: InputResult[], startup: StartupResult, options: Options, host: Record<string, string | number>): Record<string, unknown> {
  const plain = results.filter((r) => r.kind !== 'ftrace-gz');
  const ratios = plain.filter((r) => r.baseline).map((r) => r.baseline!.seconds / r.ingest.seconds);
  const detectPerM = plain.filter((r) => r.detect).map((r) => r.detect!.seconds / (r.events / 1e6));
  const largest = Math.max(...options.sizes);
  const smallest = Math.min(...options.sizes);
  const at = (kind: string, events: number) => results.find((r) => r.kind === kind && r.events === events);
  const rssLargest = plain.filter((r) => r.events === largest)
    .flatMap((r) => [r.ingest.rssMb, r.detect?.rssMb ?? 0]);
  const growth = (kind: string, step: 'ingest' | 'detect'): number | null => {
    const small = at(kind, smallest)?.[step];
    const big = at(kind, largest)?.[step];
    if (!small || !big || largest === smallest) return null;
    return round(Math.log(big.seconds / small.seconds) / Math.log(largest / smallest), 2);
  };
  const rssGrowth = (kind: string, step: 'ingest' | 'detect'): number | null => {
    const small = at(kind, smallest)?.[step];
    const big = at(kind, largest)?.[step];
    return small && big && largest !== smallest ? round(big.rssMb / small.rssMb, 2) : null;
  };
  const gz = results.find((r) => r.kind === 'ftrace-gz');
  const gzPlain = gz ? at('ftrace', gz.events) : undefined;
  const gzRatio = gz && gzPlain ? round(gz.ingest.seconds / gzPlain.ingest.seconds, 2) : null;
  const minRatio = ratios.length ? round(Math.min(...ratios), 2) : null;
  const cpuRatios = plain.filter((r) => r.baseline).map((r) => r.ingest.cpuSeconds / r.baseline!.cpuSeconds);
  const maxCpuRatio = cpuRatios.length ? round(Math.max(...cpuRatios), 2) : null;
  const maxDetect = detectPerM.length ? round(Math.max(...detectPerM), 2) : null;
  const maxRss = rssLargest.length ? round(Math.max(...rssLargest), 0) : null;
  const exps = [growth('ftrace', 'detect'), growth('mixed', 'detect'), growth('console', 'detect')].filter((x): x is number => x !== null);
  const rssGrowths = (['ftrace', 'mixed', 'console'] as const).flatMap((k) => [rssGrowth(k, 'ingest'), rssGrowth(k, 'detect')])
    .filter((x): x is number => x !== null);
  return {
    bench: 'ipitrace', machine: host, repeat: options.repeat, cli: options.cli === DEFAULT_CLI ? null : options.cli,
    inputs: results.map((r) => ({
      name: r.name, kind: r.kind, events: r.events, stored_events: r.storedEvents, lines: r.lines, mb: r.mb,
      findings: r.findings,
      baseline: r.baseline && { s: round(r.baseline.seconds, 3), runs: r.baseline.runs, eps: Math.round(eps(r.events, r.baseline.seconds)), rss_mb: round(r.baseline.rssMb, 0), cpu_s: round(r.baseline.cpuSeconds, 2) },
      ingest: { s: round(r.ingest.seconds, 3), runs: r.ingest.runs, eps: Math.round(eps(r.events, r.ingest.seconds)), rss_mb: round(r.ingest.rssMb, 0), cpu_s: round(r.ingest.cpuSeconds, 2) },
      detect: r.detect && { s: round(r.detect.seconds, 3), runs: r.detect.runs, s_per_m: round(r.detect.seconds / (r.events / 1e6), 3), rss_mb: round(r.detect.rssMb, 0), cpu_s: round(r.detect.cpuSeconds, 2) },
      ingest_vs_baseline: r.baseline ? round(r.baseline.seconds / r.ingest.seconds, 2) : null,
    })),
    scaling: {
      from: smallest, to: largest,
      ingest_exponent: { ftrace: growth('ftrace', 'ingest'), mixed: growth('mixed', 'ingest'), console: growth('console', 'ingest') },
      detect_exponent: { ftrace: growth('ftrace', 'detect'), mixed: growth('mixed', 'detect'), console: growth('console', 'detect') },
      rss_ratio: { ftrace_ingest: rssGrowth('ftrace', 'ingest'), ftrace_detect: rssGrowth('ftrace', 'detect'), mixed_ingest: rssGrowth('mixed', 'ingest'), mixed_detect: rssGrowth('mixed', 'detect'), console_ingest: rssGrowth('console', 'ingest'), console_detect: rssGrowth('console', 'detect') },
    },
    gzip_vs_plain: gzRatio,
    startup,
    targets: {
      'ingest ev/s / baseline ev/s (min)': { value: minRatio, target: '>= 1.0', met: minRatio === null ? null : minRatio >= 1.0 },
      'ingest CPU / baseline CPU (max)': { value: maxCpuRatio, target: '<= 1.5', met: maxCpuRatio === null ? null : maxCpuRatio <= 1.5 },
      'replay+detect s per M events (max)': { value: maxDetect, target: '<= 1.0', met: maxDetect === null ? null : maxDetect <= 1.0 },
      [`peak RSS MB at ${label(largest)} (max)`]: { value: maxRss, target: '< 300', met: maxRss === null ? null : maxRss < 300 },
      [`peak RSS ${label(largest)}/${label(smallest)} (max)`]: { value: rssGrowths.length ? Math.max(...rssGrowths) : null, target: `<= ${FLAT_RSS}`, met: rssGrowths.length ? Math.max(...rssGrowths) <= FLAT_RSS : null },
      'detect growth exponent (max)': { value: exps.length ? Math.max(...exps) : null, target: '~1', met: exps.length ? Math.max(...exps) < 1.3 : null },
      '.gz ingest / plain ingest': { value: gzRatio, target: '<= 1.3', met: gzRatio === null ? null : gzRatio <= 1.3 },
      ...startupTargets(startup),
    },
  };
}

function startupTargets(startup: StartupResult): Record<string, { value: number | null; target: string; met: boolean | null }> {
  const version = round(startup.version_s / startup.node_s, 2);
  const small = startup.analyze_small_s === null ? null : round(startup.analyze_small_s / startup.node_s, 2);
  const batch = startup.batch ? round(startup.batch.per_console_s / startup.batch.process_per_console_s, 2) : null;
  return {
    'ipitrace --version / node -e 0': { value: version, target: '<= 2', met: version <= 2 },
    'analyze 10 KB console / node -e 0': { value: small, target: '<= 3', met: small === null ? null : small <= 3 },
    'batch per console / analyze process': { value: batch, target: '< 1', met: batch === null ? null : batch < 1 },
  };
}

async function main(): Promise<void> {
  const options = parseArgs(process.argv.slice(2));
  const log = (text: string) => process.stderr.write(text + '\n');
  if (!existsSync(options.cli)) throw new Error(`${options.cli}: not built (npm run build)`);
  const host = machine();
  const startup = measureStartup(options.cli, ROOT, options.repeat, log);
  const kinds = options.only === 'startup' ? [] : options.only ? [options.only] : (['ftrace', 'mixed', 'console'] as const).slice();
  const inputs = kinds.length ? await generateInputs(options.out, kinds, options.sizes, options.only === 'mixed' || options.only === 'console' ? null : options.gzip, log) : [];
  const results: InputResult[] = [];
  for (const input of inputs) {
    log(`${input.name}: ${fmtInt(input.events)} events, ${fmtInt(input.lines)} lines, ${(input.bytes / 1e6).toFixed(0)} MB`);
    results.push(measure(input, options, log));
  }
  report(results, startup, options, { ...host, load_at_end: round(loadavg()[0], 2) });
}

main().catch((error: unknown) => {
  process.stderr.write(`bench: ${(error as Error).message}\n`);
  process.exitCode = 1;
});
