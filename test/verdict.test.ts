// The contract with people and pipelines (issue 23): never a silent pass on input ipitrace did not
// understand, the answer first, one versioned JSON document, JUnit with every finding, and a
// signature per finding that is the same for the same bug on other boots and differs between bugs.
// Expectations come from the fixtures' ground truth (fixture.json, meta.json of the recordings) and
// from the inputs themselves (a file with no kernel line), never from ipitrace's own output.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { gzipSync } from 'node:zlib';
import { beforeAll, describe, expect, it } from 'vitest';
import { progressLine } from '../cli/progress.js';
import { ownWarnings } from '../cli/record.js';
import { followFile } from '../cli/record-run.js';
import { callsiteFunction, normalizeText, signature } from '../detect/signature.js';
import { FindingsDocument } from '../report/json.js';
import { displayPath, useColour } from '../report/style.js';
import { CLI, tempDir } from './helpers/cli.js';

const ROOT = join(import.meta.dirname, '..');
const FIXTURES = join(ROOT, 'fixtures');

interface Fixture { boot: string; files: string[] }
const fixture = (name: string) => JSON.parse(readFileSync(join(FIXTURES, name, 'fixture.json'), 'utf8')) as Fixture;
const files = (name: string) => fixture(name).files.map((f) => relative(ROOT, join(FIXTURES, name, f)));

function run(args: string[], env: NodeJS.ProcessEnv = {}, cwd = ROOT): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], {
    cwd, encoding: 'utf8', maxBuffer: 64 << 20, timeout: 60_000, env: { ...process.env, NO_COLOR: '', FORCE_COLOR: '', ...env },
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function expectOneLineError(stderr: string, ...parts: string[]): void {
  const lines = stderr.trimEnd().split('\n');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(/^ipitrace: /);
  for (const part of parts) expect(lines[0]).toContain(part);
}

let dir: string;
/** faulty-x86-offline-hang analyzed once into a database (the slowest fixture): later tests run detect on it. */
let hangDb: string;
let hang: { status: number | null; stdout: string; stderr: string };
beforeAll(() => {
  dir = tempDir('verdict');
  hangDb = join(dir, 'hang.db');
  hang = run(['analyze', '--db', hangDb, ...files('faulty-x86-offline-hang')]);
}, 120_000);

describe('never a silent pass', () => {
  it('detect on a database path that does not exist: exit 2, one line, no file created', () => {
    const db = join(dir, 'missing.db');
    const r = run(['detect', '--db', db]);
    expect(r.status).toBe(2);
    expectOneLineError(r.stderr, 'missing.db: no such database');
    expect(existsSync(db)).toBe(false);
  });

  it('a text file with no kernel, ftrace or QEMU line (a passwd file): nothing to analyze, exit 2', () => {
    const path = join(dir, 'passwd');
    writeFileSync(path, 'root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n');
    const r = run(['analyze', path]);
    expect(r.status).toBe(2);
    expectOneLineError(r.stderr, 'passwd: nothing to analyze', 'in its 2 lines', 'expected a kernel console');
    expect(r.stdout).not.toContain('no IPI or CSD problem found');
    const db = join(dir, 'passwd.db');
    expect(run(['ingest', '--db', db, path]).status).toBe(0);
    const d = run(['detect', '--db', db]);
    expect(d.status).toBe(2);
    expectOneLineError(d.stderr, 'nothing to analyze');
  });

  it('a binary trace.dat: exit 2, says how to get text from it', () => {
    const path = join(dir, 'trace.dat');
    // trace-cmd.dat(5): 0x17 0x08 0x44 "tracing" "6\0", then the header's text.
    writeFileSync(path, Buffer.concat([Buffer.from([0x17, 0x08, 0x44]), Buffer.from('tracing6\0\0\0\0\0\x10\0\0header_page\0field: u64 timestamp\n')]));
    const r = run(['analyze', path]);
    expect(r.status).toBe(2);
    expectOneLineError(r.stderr, 'trace.dat', 'trace-cmd report -i');
  });

  it('a QEMU boot that printed nothing (an empty console), alone or with an empty QEMU log: exit 2', () => {
    const boot = join(dir, 'silent');
    mkdirSync(boot);
    writeFileSync(join(boot, 'console.log'), '');
    const r = run(['analyze', join(boot, 'console.log')]);
    expect(r.status).toBe(2);
    expectOneLineError(r.stderr, 'console.log: nothing to analyze: empty (0 lines)');
    writeFileSync(join(boot, 'qemu-trace.log'), '');
    const both = run(['analyze', join(boot, 'console.log'), join(boot, 'qemu-trace.log')]);
    expect(both.status).toBe(2);
    expectOneLineError(both.stderr, 'nothing to analyze');
  });

  it('a file that holds nothing beside good ones is named in a warning; the verdict stands', () => {
    const extra = join(dir, 'notes.txt');
    writeFileSync(extra, 'hello\n');
    const [console_, trace] = files('faulty-x86-clean-control').filter((f) => /console|trace\.txt/.test(f));
    const r = run(['analyze', '--boot', 'b', console_, trace, extra]);
    expect(r.status).toBe(0);
    expect(r.stderr).toMatch(/^ipitrace: warning: .*notes\.txt: no kernel console, ftrace or QEMU trace line in its 1 line; ignored/);
  });

  it('output paths are checked before the work: no database made, no work done', () => {
    const db = join(dir, 'never.db');
    for (const [flag, path, message] of [
      ['--junit', join(dir, 'no-such-dir', 'x.xml'), 'does not exist'],
      ['--html', dir, 'is a directory'],
      ['--db', join(dir, 'no-such-dir', 'x.db'), 'does not exist'],
    ]) {
      const args = flag === '--db' ? ['analyze', flag, path, ...files('faulty-x86-clean-control')] : ['analyze', '--db', db, flag, path, ...files('faulty-x86-clean-control')];
      const r = run(args);
      expect(r.status).toBe(2);
      expectOneLineError(r.stderr, flag, message);
      expect(existsSync(db)).toBe(false);
    }
  });

  it('says what the input cannot answer: a 6.1 kernel that has no csd events, and what it printed about them', () => {
    const r = run(['analyze', ...files('x86-debian61-hotplug-busybox')]);
    expect(r.status).toBe(0);
    // The console says so itself (grep: lines 97-98 and 140-141).
    expect(r.stdout).toMatch(/cannot tell: no cross-call events traced .*"Failed to enable trace event: ipi:\*", "Failed to enable trace event: csd:\*" \(.*console\.log:97\)/);
    expect(r.stdout.split('\n')[0]).toMatch(/^OK no IPI or CSD problem found .*but the input could not answer everything/);
  });
});

describe('what the input cannot answer', () => {
  it('a console fragment with a CSD-lock report and nothing about hotplug: says so below the finding', () => {
    const r = run(['analyze', ...files('external-lkdtm-csdlockup-never-released')]);
    expect(r.status).toBe(1);
    expect(r.stdout).toMatch(/cannot tell: no hotplug information .*whether a target CPU was offline cannot be told/);
    expect(r.stdout).toMatch(/cannot tell: no cross-call events traced .*the input has no ftrace events/);
  });

  it('a guest under KVM whose QEMU log has no IPI write: says why QEMU saw none', async () => {
    const { ingestTexts } = await import('./helpers/ingest.js');
    const { detect } = await import('../detect/detect.js');
    const { checkInputs } = await import('../detect/input-check.js');
    const db = await ingestTexts({
      'console.log': '[    0.000000] Hypervisor detected: KVM\n[    0.000000] smpboot: Allowing 2 CPUs, 0 hotplug CPUs\n',
    });
    detect(db, { boot: 'unit' });
    const limits = checkInputs(db, 'unit', (f) => f.split('/').pop() as string).limits;
    expect(limits.some((l) => /^the guest ran under KVM \(\d+-console\.log:1\): QEMU's -trace sees no IPI/.test(l))).toBe(true);
    db.close();
  });
});

describe('the answer first', () => {
  it('offline-hang: one verdict line naming the waiter, the function, the offline target and when it went offline', () => {
    const r = hang;
    expect(r.status).toBe(1);
    const lines = r.stdout.split('\n');
    // meta.json: CPU1 queues ipi_fault_func to offline cpu2 and hangs in csd_lock_wait; the kernel reports the wait.
    expect(lines[0]).toMatch(/^ERROR CPU1 waits forever in csd_lock_wait: it queued ipi_fault_func to CPU2, which had gone offline at \d+\.\d{3} s \(fixtures\/faulty-x86-offline-hang\/console\.log\.gz:\d+\)$/);
    expect(lines[1]).toBe('');
    // One story: csd-never-released, ipi-to-offline and the kernel's CSD-lock report are one group.
    const header = lines.find((l) => l.startsWith('boot faulty-x86-offline-hang: '))!;
    const n = Number(/: (\d+) findings/.exec(header)![1]);
    const listed = lines.filter((l) => /^ {5}(ERROR|WARNING|INFO) [a-z-]+: /.test(l));
    expect(listed).toHaveLength(n);
    const first = lines.findIndex((l) => l.startsWith('  1. '));
    const second = lines.findIndex((l) => l.startsWith('  2. '));
    const group1 = lines.slice(first, second === -1 ? undefined : second).join('\n');
    for (const d of ['csd-never-released', 'ipi-to-offline', 'kernel-reported: CSD lock never released']) expect(group1).toContain(`ERROR ${d}`);
  });

  it('evidence shows the line itself, a few by default, all with --verbose', () => {
    const r = run(['analyze', ...files('faulty-x86-ci-offline-async')]);
    // fixture.json: the queue of ipi_fault_func is trace.txt.gz line 2299 (zcat | sed -n 2299p).
    expect(r.stdout).toMatch(/fixtures\/faulty-x86-ci-offline-async\/trace\.txt\.gz:2299 +init-1 +\[001\] .* csd_queue_cpu: cpu=2 callsite=ipi_fault_write/);
    const verbose = run(['detect', '--db', hangDb, '--verbose']);
    expect(hang.stdout).toMatch(/\.\.\. \d+ more \(--verbose shows all\)/);
    expect(verbose.stdout).not.toContain('--verbose shows all');
    const count = (text: string) => text.split('\n').filter((l) => /console\.log\.gz:\d+ /.test(l)).length;
    expect(count(verbose.stdout)).toBeGreaterThan(count(hang.stdout));
  });

  it('a progress line for analyze on a terminal (file, MB, %, then the replay step), erased when done; none when piped', () => {
    const written: string[] = [];
    const tty = { isTTY: true, columns: 100, write: (t: string) => written.push(t) } as unknown as NodeJS.WriteStream;
    const p = progressLine(tty)!;
    p.file('big.log', 50e6, 100e6);
    p.step('replaying and detecting boot big...');
    p.done();
    expect(written).toEqual(['\r\x1b[Kbig.log: 50.0 MB 50%', '\r\x1b[Kreplaying and detecting boot big...', '\r\x1b[K']);
    expect(progressLine({ isTTY: false } as NodeJS.WriteStream)).toBeUndefined();
    // Piped (as here): nothing but the verdict and the detail on stdout, nothing on stderr.
    const r = run(['analyze', ...files('faulty-x86-clean-control')]);
    expect(r.stderr).toBe('');
  });

  it('paths are shown relative to the working directory', () => {
    expect(displayPath('/a/b/c.log', '/a')).toBe('b/c.log');
    expect(displayPath('/x/c.log', '/a/b/c/d')).toBe('/x/c.log');
    expect(displayPath('-', '/a')).toBe('-');
    const sub = join(ROOT, 'fixtures');
    const r = run(['analyze', ...files('faulty-x86-ci-offline-async').map((f) => join(ROOT, f))], {}, sub);
    expect(r.stdout.split('\n')[0]).toContain('(faulty-x86-ci-offline-async/trace.txt.gz:1466)');
    expect(r.stdout).not.toContain(ROOT);
    expect(r.stdout).toMatch(/ offline +faulty-x86-ci-offline-async\/trace\.txt\.gz:1466 \(cpuhp\)/);
  });

  it('colour on a terminal or FORCE_COLOR, none when piped or with NO_COLOR', () => {
    expect(useColour({ isTTY: true }, {})).toBe(true);
    expect(useColour({ isTTY: false }, {})).toBe(false);
    expect(useColour({ isTTY: true }, { NO_COLOR: '1' })).toBe(false);
    expect(useColour({ isTTY: true }, { TERM: 'dumb' })).toBe(false);
    const args = ['analyze', ...files('faulty-x86-ci-offline-async')];
    expect(run(args).stdout).not.toContain('\x1b[');
    expect(run(args, { FORCE_COLOR: '1' }).stdout).toMatch(/^\x1b\[1;31mERROR\x1b\[0m /);
    expect(run(args, { FORCE_COLOR: '1', NO_COLOR: '1' }).stdout).not.toContain('\x1b[');
  });
});

describe('pipelines', () => {
  it('detect --json and analyze --json print one versioned document (zod), with headlines and groups', () => {
    const a = run(['detect', '--json', '--db', hangDb]);
    expect(a.status).toBe(1);
    const doc = FindingsDocument.parse(JSON.parse(a.stdout));
    expect(doc.format).toBe('ipitrace-findings');
    expect(doc.version).toBe(1);
    const boot = doc.boots[0];
    expect(boot.verdict).toBe('problem');
    expect(boot.headlines[0]).toMatch(/^CPU1 waits forever in csd_lock_wait/);
    expect(boot.groups.reduce((n, g) => n + g.findings, 0)).toBe(boot.findings.length);
    expect(boot.findings.every((f) => f.group < boot.groups.length)).toBe(true);
    expect(boot.findings.some((f) => f.evidence.some((e) => e.text?.includes('csd_queue_cpu')))).toBe(true);
    // The text's verdict line is the document's headline.
    expect(hang.stdout.split('\n')[0]).toBe(`ERROR ${boot.headlines[0]}`);
    const an = run(['analyze', '--json', ...files('faulty-x86-ci-offline-async')]);
    expect(an.status).toBe(1);
    expect(FindingsDocument.parse(JSON.parse(an.stdout)).boots[0].summary?.cpus.present).toBe('0-3');
  });

  it('nothing to analyze is a verdict of the JSON document too', () => {
    const path = join(dir, 'empty-for-json.log');
    writeFileSync(path, 'nothing here\n');
    const n = run(['analyze', '--json', path]);
    expect(n.status).toBe(2);
    expect(FindingsDocument.parse(JSON.parse(n.stdout)).boots[0].verdict).toBe('nothing-to-analyze');
  });

  it('JUnit carries every finding: errors and warnings fail, info passes with its text', () => {
    const junit = join(dir, 'hang.xml');
    const r = run(['detect', '--db', hangDb, '--json', '--junit', junit]);
    expect(r.status).toBe(1);
    const xml = readFileSync(junit, 'utf8');
    const json = FindingsDocument.parse(JSON.parse(r.stdout));
    const all = json.boots[0].findings;
    expect(xml.match(/<testcase /g)).toHaveLength(all.length);
    expect(xml.match(/<failure /g)).toHaveLength(all.filter((f) => f.severity !== 'info').length);
    // meta.json: the guest panics ("Kernel panic - not syncing: softlockup: hung tasks")
    expect(xml).toMatch(/<system-out>kernel panic\npanic: Kernel panic - not syncing: softlockup: hung tasks/);
  });

  it('signature: no CPU numbers, addresses, offsets or times; detector + function + callsite', () => {
    expect(callsiteFunction('ipi_fault_write+0x1cf/0x221')).toBe('ipi_fault_write');
    expect(callsiteFunction('foo.cold+0x1/0x2')).toBe('foo');
    expect(signature({ detector: 'csd-never-released', func: 'ipi_fault_func', title: 't', message: 'm', callsite: 'ipi_fault_write+0x1cf/0x221', targetState: 'offline' }))
      .toBe('csd-never-released: ipi_fault_func from ipi_fault_write to offline CPU');
    // Two panics differ by what the kernel said; the same panic on another boot is the same.
    expect(signature({ detector: 'kernel-reported', func: null, title: 'kernel panic', message: 'panic: Kernel panic - not syncing: softlockup: hung tasks' }))
      .toBe('kernel-reported: kernel panic: Kernel panic - not syncing: softlockup: hung tasks');
    expect(signature({ detector: 'kernel-reported', func: null, title: 'kernel panic', message: 'panic: Kernel panic - not syncing: VFS: Unable to mount root fs on unknown-block(0,0)' }))
      .toBe('kernel-reported: kernel panic: Kernel panic - not syncing: VFS: Unable to mount root fs on unknown-block(N,N)');
    expect(normalizeText('soft lockup in cross-call smp_call_function_many_cond on CPU1 after 22 s at 0xffff8880'))
      .toBe('soft lockup in cross-call smp_call_function_many_cond on CPU after T at ADDR');
  });

  const cache = new Map<string, Set<string>>();
  const sigs = (name: string) => {
    if (!cache.has(name)) {
      const args = name === 'faulty-x86-offline-hang' ? ['detect', '--json', '--db', hangDb] : ['analyze', '--json', ...files(name)];
      const doc = FindingsDocument.parse(JSON.parse(run(args).stdout));
      cache.set(name, new Set(doc.boots[0].findings.filter((f) => f.detector === 'csd-never-released').map((f) => f.signature)));
    }
    return cache.get(name) as Set<string>;
  };

  it('signature on real recordings: the same bug on three boots (offline-async, ci-offline-async, offline-hang: another run, recorder and hang) is one signature', () => {
    // meta.json of each: CPU1 -> offline cpu2 (offline-async, ci-offline-async, offline-hang: three boots, two kernels' runs)
    const a = sigs('faulty-x86-offline-async');
    expect(a.size).toBe(1);
    expect([...a][0]).toBe('csd-never-released: ipi_fault_func from ipi_fault_write to offline CPU');
    expect(sigs('faulty-x86-ci-offline-async')).toEqual(a);
    expect(sigs('faulty-x86-offline-hang')).toEqual(a);
  });

  it('signature on real recordings: another bug (CPU3 -> CPU6 of 4 present) has another signature', () => {
    const a = sigs('faulty-x86-offline-async');
    const other = sigs('faulty-x86-nonexistent-async');
    expect(other.size).toBe(1);
    expect([...other][0]).not.toBe([...a][0]);
    for (const s of [...a, ...other]) expect(s).not.toMatch(/CPU\d|0x|\d+\.\d+/);
  });

  it('the signature is stored in the findings table', () => {
    const db = join(dir, 'sig.db');
    run(['analyze', '--db', db, ...files('faulty-x86-ci-offline-async')]);
    const q = run(['query', '--db', db, '--json', 'SELECT detector, signature FROM findings ORDER BY detector']);
    expect(JSON.parse(q.stdout)).toEqual([
      { detector: 'csd-never-released', signature: 'csd-never-released: ipi_fault_func from ipi_fault_write to offline CPU' },
      { detector: 'ipi-to-offline', signature: 'ipi-to-offline: ipi_fault_func from ipi_fault_write' },
    ]);
  });

  it('gzip of a passwd file is still nothing to analyze', () => {
    const path = join(dir, 'passwd.gz');
    writeFileSync(path, gzipSync('root:x:0:0:root:/root:/bin/bash\n'));
    const r = run(['analyze', path]);
    expect(r.status).toBe(2);
    expectOneLineError(r.stderr, 'nothing to analyze');
  });
});

describe('record and clocks, as a first-time user meets them', () => {
  it("QEMU's and the kernel's own warnings are passed on after the run, once each, with file:line", () => {
    const stderrLog = join(dir, 'qemu-stderr.log');
    const consoleLog = join(dir, 'rec-console.log');
    writeFileSync(stderrLog, 'qemu-system-x86_64: warning: host doesn\'t support requested feature: CPUID.01H:ECX.vmx [bit 5]\nqemu-system-x86_64: terminating on signal 15\n');
    // Lines 97-98 and 140-141 of the 6.1 fixture: the kernel says twice that it has no ipi/csd events.
    writeFileSync(consoleLog, readFileSync(join(FIXTURES, 'x86-debian61-hotplug-busybox', 'console.log')));
    const said = ownWarnings(stderrLog, consoleLog);
    expect(said).toEqual([
      "QEMU said: qemu-system-x86_64: warning: host doesn't support requested feature: CPUID.01H:ECX.vmx [bit 5]",
      'the kernel said: Failed to enable trace event: ipi:* (rec-console.log:97)',
      'the kernel said: Failed to enable trace event: csd:* (rec-console.log:98)',
      'the kernel said: Unstable clock detected, switching default tracing clock to "global" (rec-console.log:356)',
    ]);
  });

  it('the console file is followed as it grows (shown live, not through a pipe)', () => {
    const path = join(dir, 'growing.log');
    const seen: string[] = [];
    const poll = followFile(path, (b) => seen.push(b.toString()));
    poll(); // not there yet
    writeFileSync(path, 'Linux version 6.12\n');
    poll();
    writeFileSync(path, 'Linux version 6.12\nsmp: Bringing up secondary CPUs\n');
    poll();
    expect(seen.join('')).toBe('Linux version 6.12\nsmp: Bringing up secondary CPUs\n');
  });

  it('after "Unstable clock detected" (ring buffer reset) no time is negative: shown on the printk clock', () => {
    const doc = FindingsDocument.parse(JSON.parse(run(['analyze', '--json', ...files('x86-debian61-unstable-clock-panic')]).stdout));
    const summary = doc.boots[0].summary!;
    expect(summary.span_s!.start).toBeGreaterThanOrEqual(0);
    // console.log:143 '[    0.597630] .... node  #0, CPUs:      #1 #2 #3' brings CPUs 1-3 up.
    expect(summary.cpus.transitions.filter((t) => t.state === 'online').map((t) => [t.cpu, t.at_s])).toEqual([[1, 0.59763], [2, 0.59763], [3, 0.59763]]);
    const times = summary.cpus.transitions.map((t) => t.at_s);
    expect(times).toEqual([...times].sort((a, b) => a - b));
    // The HTML timeline shows the same clock: its window starts at 0, not at -2.285 s.
    const html = join(dir, 'unstable.html');
    expect(run(['analyze', '--html', html, ...files('x86-debian61-unstable-clock-panic')]).status).toBe(0);
    const page = readFileSync(html, 'utf8');
    expect(Number(/data-from-ns="(-?\d+)"/.exec(page)?.[1])).toBeGreaterThanOrEqual(0);
    expect(page).toContain("boot's <b>printk</b> clock");
    expect(page).toMatch(/<title>CPU1 online from 0\.597630 s/);
  });
});
