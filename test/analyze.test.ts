// End-to-end tests of `ipitrace analyze` (and `ipitrace timeline`): the compiled CLI is run on
// fixtures and its exit code and output are compared with the ground truth in fixture.json
// (expected_cpus, expected_findings, expected_counts), never with recorded ipitrace output.
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCpuList } from '../parsers/patterns.js';
import { CLI } from './helpers/cli.js';

const ROOT = join(import.meta.dirname, '..');
const FIXTURES = join(ROOT, 'fixtures');

interface Fixture {
  boot: string;
  files: string[];
  expected_counts: Record<string, Record<string, number>>;
  expected_cpus: { possible: string; present: string; online_at_end: string };
  expected_findings: { detector: string; sender_cpu?: number; target_cpu?: number; csd?: string; evidence: { file: string; line: number }[] }[];
}
const fixture = (name: string) => JSON.parse(readFileSync(join(FIXTURES, name, 'fixture.json'), 'utf8')) as Fixture;
const files = (name: string) => fixture(name).files.map((f) => relative(ROOT, join(FIXTURES, name, f)));

function run(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  return runIn({}, ...args);
}

function runIn(env: NodeJS.ProcessEnv, ...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [CLI, ...args], { cwd: ROOT, encoding: 'utf8', maxBuffer: 64 << 20, timeout: 120_000, env: { ...process.env, ...env } });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

interface Summary {
  boots: {
    boot: string;
    clock: string | null;
    cpus: { possible: string | null; present: string | null; online_at_end: string; transitions: { cpu: number; state: string; at_s: number; evidence: string | null }[] };
    pairs: { src: number | null; target: number; ipis: number; csds: number }[];
    findings: { detector: string; cpu: number | null; target_cpu: number | null; csd: string | null; evidence: { file: string; line: number }[] }[];
  }[];
}

/** The JSON document (report/json.ts) with each boot's summary fields beside its findings. */
function summaryOf(stdout: string): Summary {
  const doc = JSON.parse(stdout) as { boots: Record<string, unknown>[] };
  return { boots: doc.boots.map((b) => ({ ...(b.summary as object), ...b })) } as unknown as Summary;
}

let work: string;
beforeAll(() => {
  // dist/ is built by test/global-setup.ts.
  work = mkdtempSync(join(tmpdir(), 'ipitrace-analyze-test-'));
});
afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});


describe('ipitrace analyze', () => {
  it('ci-offline-async (mixed boot.log + trace): exit 1, ipi-to-offline CPU1->CPU2 and csd-never-released', () => {
    const truth = fixture('faulty-x86-ci-offline-async');
    const text = run('analyze', ...files('faulty-x86-ci-offline-async'));
    expect(text.stderr).toBe('');
    expect(text.status).toBe(1);
    for (const f of truth.expected_findings) expect(text.stdout).toContain(`ERROR ${f.detector}:`);
    expect(text.stdout).toContain(`boot ${truth.boot}: 2 findings`);

    const json = run('analyze', '--json', ...files('faulty-x86-ci-offline-async'));
    expect(json.status).toBe(1);
    const summary = summaryOf(json.stdout);
    expect(summary.boots.map((b) => b.boot)).toEqual([truth.boot]);
    const found = summary.boots[0].findings;
    expect(found.map((f) => f.detector).sort()).toEqual(truth.expected_findings.map((f) => f.detector).sort());
    for (const want of truth.expected_findings) {
      const got = found.find((f) => f.detector === want.detector);
      if (want.sender_cpu !== undefined) expect(got?.cpu).toBe(want.sender_cpu);
      expect(got?.target_cpu).toBe(want.target_cpu);
      expect(got?.csd).toBe(want.csd);
      const queue = want.evidence[0];
      expect(got?.evidence.map((e) => `${e.file.split('/').pop()}:${e.line}`)).toContain(`${queue.file}:${queue.line}`);
    }
    const ipi = found.find((f) => f.detector === 'ipi-to-offline');
    expect([ipi?.cpu, ipi?.target_cpu, ipi?.csd]).toEqual([1, 2, '0xffffffff819f4b80']);
  }, 120_000);

  it('clean control: exit 0 and "no IPI or CSD problem found"', () => {
    const result = run('analyze', ...files('faulty-x86-clean-control'));
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(result.stdout).toContain('no IPI or CSD problem found');
    expect(result.stdout).not.toMatch(/^\s+(ERROR|WARNING) /m);
  }, 120_000);

  it('files of one folder are one boot whatever their names; files of two folders are two boots', () => {
    const truth = fixture('faulty-x86-offline-async');
    const folder = join(work, 'ci-job-17');
    mkdirSync(folder);
    const [consoleFile, traceFile] = ['console.log', 'trace.txt.gz'].map((f) => join(FIXTURES, 'faulty-x86-offline-async', f));
    copyFileSync(consoleFile, join(folder, 'job17-serial.log'));
    copyFileSync(traceFile, join(folder, 'job17-ftrace.txt.gz'));
    const one = summaryOf(run('analyze', '--json', join(folder, 'job17-serial.log'), join(folder, 'job17-ftrace.txt.gz')).stdout);
    expect(one.boots.map((b) => b.boot)).toEqual(['ci-job-17']);
    expect(one.boots[0].findings.map((f) => f.detector).sort()).toEqual(truth.expected_findings.map((f) => f.detector).sort());
    const two = summaryOf(run('analyze', '--json', join(folder, 'job17-serial.log'), relative(ROOT, traceFile)).stdout);
    expect(two.boots.map((b) => b.boot).sort()).toEqual(['faulty-x86-offline-async', 'job17-serial']);
  }, 120_000);

  it('a stock 6.1 kernel hotplugging under busybox, one console: CPU table and IPI handler entries as grep counted', () => {
    const name = 'x86-debian61-hotplug-busybox';
    const truth = fixture(name);
    const result = run('analyze', ...files(name));
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    const want = truth.expected_cpus;
    expect(result.stdout).toContain(`CPUs: possible ${want.possible}, present ${want.present}, online at end ${want.online_at_end}`);
    const counts = truth.expected_counts['console.log'];
    const entries = counts.call_function_single_entry + counts.call_function_entry + counts.reschedule_entry;
    const line = /IPI handler entries received: (.*)$/m.exec(result.stdout);
    expect(line).not.toBeNull();
    expect([...line![1].matchAll(/CPU\d+ (\d+)/g)].reduce((n, m) => n + Number(m[1]), 0)).toBe(entries);
    // The x86 hotplug messages (grep -c 'is now offline' = 4: CPU2 three times, CPU3 once).
    const json = summaryOf(run('analyze', '--json', ...files(name)).stdout);
    const offline = json.boots[0].cpus.transitions.filter((t) => t.state === 'offline');
    expect(offline.map((t) => t.cpu)).toEqual([2, 2, 2, 3]);
  }, 120_000);

  it('clean control with its QEMU log: the guest IPIs are linked to QEMU writes, vCPU threads as qemu-cpus.txt', () => {
    // qemu-cpus.txt was written by the recorder (QEMU's `info cpus`), before ipitrace existed.
    const truth = [...readFileSync(join(FIXTURES, 'faulty-x86-clean-control', 'qemu-cpus.txt'), 'utf8')
      .matchAll(/CPU #(\d+): thread_id=(\d+)/g)].map((m) => ({ host_tid: Number(m[2]), cpu: Number(m[1]) }));
    const json = run('analyze', '--json', ...files('faulty-x86-clean-control'));
    const boot = (summaryOf(json.stdout) as Summary & { boots: { qemu: { guest_sends: number; linked: number; method: string;
      vcpus: { host_tid: number; cpu: number }[] } | null }[] }).boots[0];
    const ipis = boot.pairs.reduce((n, p) => n + p.ipis, 0);
    expect(boot.qemu).not.toBeNull();
    expect(boot.qemu!.guest_sends).toBe(ipis);
    expect(boot.qemu!.linked / ipis).toBeGreaterThanOrEqual(0.95);
    expect(boot.qemu!.method).toBe('time');
    expect(boot.qemu!.vcpus.map(({ host_tid, cpu }) => ({ host_tid, cpu }))).toEqual(truth);
    const text = run('analyze', ...files('faulty-x86-clean-control'));
    expect(text.stdout).toMatch(new RegExp(`^QEMU: \\d+ IPI sends logged; \\d+ of ${ipis} guest IPI sends linked to one .*by time`, 'm'));
  }, 120_000);

  it('offline-async: the CPU table says possible, present and online at end as fixture.json', () => {
    const truth = fixture('faulty-x86-offline-async');
    const want = truth.expected_cpus;
    const json = run('analyze', '--json', '--boot', truth.boot, ...files('faulty-x86-offline-async'));
    expect(json.status).toBe(1);
    const boot = (summaryOf(json.stdout)).boots[0];
    expect(boot.boot).toBe(truth.boot);
    expect(boot.clock).toBe('ftrace');
    expect(parseCpuList(boot.cpus.possible ?? 'x')).toEqual(parseCpuList(want.possible));
    expect(parseCpuList(boot.cpus.present ?? 'x')).toEqual(parseCpuList(want.present));
    expect(parseCpuList(boot.cpus.online_at_end)).toEqual(parseCpuList(want.online_at_end));
    // CPU2 went offline (console line 164 and the cpuhp events say so) and stayed so.
    const cpu2 = boot.cpus.transitions.filter((t) => t.cpu === 2);
    expect(cpu2.at(-1)?.state).toBe('offline');
    expect(cpu2.at(-1)?.at_s).toBeLessThan(4.007916);
    // Every csd_queue_cpu line of the trace is one csd in the pair counts, every ipi_send_cpu at least one IPI.
    const counts = truth.expected_counts['trace.txt.gz'];
    expect(boot.pairs.reduce((n, p) => n + p.csds, 0)).toBe(counts.csd_queue_cpu);
    expect(boot.pairs.reduce((n, p) => n + p.ipis, 0)).toBeGreaterThanOrEqual(counts.ipi_send_cpu + counts.ipi_send_cpumask);
    expect(boot.pairs.find((p) => p.src === 1 && p.target === 2)?.csds).toBeGreaterThanOrEqual(1);

    const text = run('analyze', '--boot', truth.boot, ...files('faulty-x86-offline-async'));
    expect(text.stdout).toContain(`CPUs: possible ${want.possible}, present ${want.present}, online at end ${want.online_at_end}`);
    expect(text.stdout).toMatch(/CPU1 -> CPU2 +\d+ IPIs +\d+ csds/);
  }, 120_000);

  it('a single mixed console log alone is analyzed (CPU table from the console)', () => {
    const truth = fixture('faulty-x86-ci-offline-async');
    const log = files('faulty-x86-ci-offline-async').find((f) => f.endsWith('boot.log.gz')) as string;
    const result = run('analyze', log);
    expect(result.stderr).toBe('');
    expect([0, 1]).toContain(result.status);
    const want = truth.expected_cpus;
    expect(result.stdout).toContain(`CPUs: possible ${want.possible}, present ${want.present}, online at end ${want.online_at_end}`);
  }, 120_000);

  it('removes its temporary database; --db keeps one that `timeline` can draw', () => {
    const db = join(work, 'kept.db');
    const html = join(work, 'analyze.html');
    const result = run('analyze', '--db', db, '--html', html, ...files('faulty-x86-offline-async'));
    expect(result.status).toBe(1);
    expect(result.stdout).toContain(`HTML timeline written to ${html}`);
    expect(readFileSync(html, 'utf8')).toContain('<svg id="timeline"');
    expect(existsSync(db)).toBe(true);
    // A temporary folder of its own (TMPDIR), so that other analyze runs on the machine do not count.
    const own = join(work, 'own-tmp');
    mkdirSync(own);
    expect(runIn({ TMPDIR: own }, 'analyze', '--json', '--html', join(work, 'tmp.html'), ...files('faulty-x86-clean-control')).status).toBe(0);
    expect(readdirSync(own)).toEqual([]);

    const zoom = join(work, 'zoom.html');
    const timeline = run('timeline', '--db', db, '--from', '3.9', '--to', '4.1', '--html', zoom);
    expect(timeline.stderr).toBe('');
    expect(timeline.status).toBe(0);
    const page = readFileSync(zoom, 'utf8');
    expect(page).toContain('Shown: 3.900 to 4.100 s');
    expect(page).toMatch(/class="finding sev-error" data-detector="csd-never-released"/);
  }, 120_000);

  it('--json prints one JSON object and nothing else; --fail-on never exits 0', () => {
    const result = run('analyze', '--json', '--fail-on', 'never', ...files('faulty-x86-ci-offline-async'));
    expect(result.status).toBe(0);
    expect(result.stdout.trim().startsWith('{')).toBe(true);
    expect(Object.keys(JSON.parse(result.stdout) as object)).toEqual(['format', 'version', 'boots']);
  }, 120_000);

  it('reads a console log from stdin (-)', () => {
    const truth = fixture('faulty-x86-offline-async');
    const result = spawnSync(process.execPath, [CLI, 'analyze', '--boot', truth.boot, '-'],
      { cwd: ROOT, encoding: 'utf8', input: readFileSync(join(FIXTURES, truth.boot, 'console.log')) });
    expect(result.stderr).toBe('');
    expect([0, 1]).toContain(result.status);
    expect(result.stdout).toContain(`CPUs: possible ${truth.expected_cpus.possible}, present ${truth.expected_cpus.present}`);
  });

  it('exits 2 on usage and input errors', () => {
    const missing = run('analyze', join(work, 'no-such-file.log'));
    expect(missing.status).toBe(2);
    expect(missing.stderr).toMatch(/no-such-file\.log/);
    expect(run('analyze').status).toBe(2);
    expect(run('analyze', '--csd-timeout', '0', ...files('faulty-x86-clean-control')).status).toBe(2);
    expect(run('timeline', '--db', join(work, 'none.db'), '--html', join(work, 'x.html')).status).toBe(2);
    expect(run('timeline', '--db', join(work, 'kept.db'), '--from', '5', '--to', '4', '--html', join(work, 'x.html')).status).toBe(2);
    expect(run('timeline', '--db', join(work, 'kept.db'), '--boot', 'nope', '--html', join(work, 'x.html')).status).toBe(2);
  }, 120_000);
});
