// The farm side of `npm run bench` (issue 24): start-up against `node -e 0`, analyze of a ~10 KB
// console, and `ipitrace batch` over the syzkaller consoles of ../shared/corpus (when present)
// against one `ipitrace analyze` process per console. Each command runs `repeat` times in turn, in
// the same run as its baseline, and the best wall time is kept.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';

export interface StartupResult {
  node_s: number;
  version_s: number;
  analyze_small_s: number | null;
  /** The ~10 KB console analyzed and its size. */
  small_console: { path: string; bytes: number } | null;
  /** batch over `consoles` files with `threads` threads, and the sum of one analyze process per console (sampled). */
  batch: { consoles: number; threads: number; s: number; per_console_s: number; process_per_console_s: number } | null;
}

/** Wall time of `node args...`; an exit code above `maxStatus` is an error (named with the command's first words). */
function wall(args: string[], maxStatus = 1): number {
  const started = performance.now();
  const r = spawnSync(process.execPath, args, { stdio: 'ignore' });
  if (r.status === null || r.status > maxStatus) throw new Error(`node ${args.slice(0, 4).join(' ')}${args.length > 4 ? ` ... (${args.length} arguments)` : ''}: exit ${r.status ?? r.signal}`);
  return (performance.now() - started) / 1000;
}

const bestOf = (repeat: number, fn: () => number) => Math.min(...Array.from({ length: repeat }, fn));

/** The corpus's syzkaller consoles (files only), or [] without ../shared. */
function syzkallerConsoles(root: string): string[] {
  const dir = join(root, '..', 'shared', 'corpus', 'syzkaller');
  if (!existsSync(dir)) return [];
  return readdirSync(dir).filter((f) => /^(report|guilty)_\d+$/.test(f)).map((f) => join(dir, f)).sort();
}

export function measureStartup(cli: string, root: string, repeat: number, log: (t: string) => void): StartupResult {
  const consoles = syzkallerConsoles(root);
  const small = consoles.map((path) => ({ path, bytes: statSync(path).size }))
    .sort((a, b) => Math.abs(a.bytes - 10_000) - Math.abs(b.bytes - 10_000))[0] ?? null;
  let node = 0;
  let version = 0;
  let analyze: number | null = null;
  // Alternate so that a burst of load on a shared machine hits all three alike.
  const runs = { node: [] as number[], version: [] as number[], analyze: [] as number[] };
  for (let i = 0; i < repeat * 3; i++) {
    runs.node.push(wall(['-e', '0']));
    runs.version.push(wall([cli, '--version']));
    if (small) runs.analyze.push(wall([cli, 'analyze', '--fail-on', 'never', small.path]));
  }
  node = Math.min(...runs.node);
  version = Math.min(...runs.version);
  analyze = small ? Math.min(...runs.analyze) : null;
  log(`  start-up: node -e 0 ${node.toFixed(3)} s, ipitrace --version ${version.toFixed(3)} s${small ? `, analyze ${small.bytes} B console ${analyze!.toFixed(3)} s` : ''}`);
  let batch: StartupResult['batch'] = null;
  if (consoles.length) {
    // Exit 2 is the batch's own verdict when some logs hold nothing to analyze (syzkaller keeps a few
    // that are no kernel console: Go runtime errors, executor failures).
    const s = bestOf(repeat, () => wall([cli, 'batch', '--fail-on', 'never', ...consoles], 2));
    // One process per console, timed on a sample of 20 spread over the set, scaled to the set.
    const sample = consoles.filter((_, i) => i % Math.ceil(consoles.length / 20) === 0);
    const perProcess = sample.reduce((sum, path) => sum + wall([cli, 'analyze', '--fail-on', 'never', path], 2), 0) / sample.length;
    batch = { consoles: consoles.length, threads: Math.min(consoles.length, availableParallelism()), s, per_console_s: s / consoles.length, process_per_console_s: perProcess };
    log(`  batch: ${consoles.length} syzkaller consoles in ${s.toFixed(1)} s (${(s / consoles.length * 1000).toFixed(0)} ms each); one analyze process each: ${(perProcess * 1000).toFixed(0)} ms`);
  }
  return { node_s: node, version_s: version, analyze_small_s: analyze, small_console: small, batch };
}
