// `ipitrace record`: (1) the pure argv rewriting (cli/record-args.ts); (2) end to end with a fake
// qemu-system-x86_64 that writes real corpus files where the rewritten command tells it to;
// (3) a fake QEMU that hangs: the limit stops it and the partial files are analyzed; (4) a real
// QEMU + kernel boot, only where both exist (skipped with a message otherwise, as on CI).
import { spawnSync } from 'node:child_process';
import { accessSync, chmodSync, constants, existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildRecordArgs, extendCmdline, type RecordPlan } from '../cli/record-args.js';
import { findExecutable } from '../cli/record-run.js';
import { shellQuote } from '../cli/record.js';
import { CLI, tempDir } from './helpers/cli.js';

const ROOT = join(import.meta.dirname, '..');
const HANG = join(ROOT, 'fixtures', 'faulty-x86-offline-hang');
const OUT = '/rec/run1';
const EVENTS = 'ipi:*,csd:*,cpuhp:*';
const X86_EVENTS = `${EVENTS},irq_vectors:call_function_entry,irq_vectors:call_function_exit,irq_vectors:call_function_single_entry,irq_vectors:call_function_single_exit,irq_vectors:reschedule_entry,irq_vectors:reschedule_exit`;
const TO_FILE = ['-serial', `file:${OUT}/console.log`];

const plan = (...argv: string[]): RecordPlan => buildRecordArgs(argv, OUT);
/** The value following option `name` in argv (last occurrence). */
const valueOf = (argv: string[], name: string) => argv[argv.lastIndexOf(name) + 1];
const traces = (argv: string[]) => argv.flatMap((a, i) => (a === '-trace' ? [argv[i + 1]] : []));

describe('buildRecordArgs: x86', () => {
  it('-nographic with -append: apic_*, -D, -msg, console straight to a file, -no-reboot, kernel events and log_buf_len', () => {
    const p = plan('qemu-system-x86_64', '-smp', '4', '-kernel', 'bzImage', '-append', 'console=ttyS0 panic=-1', '-nographic');
    expect(p.argv).toEqual([
      'qemu-system-x86_64', '-trace', 'apic_*', '-D', `${OUT}/qemu-trace.log`, '-msg', 'timestamp=on', ...TO_FILE, '-no-reboot',
      '-smp', '4', '-kernel', 'bzImage', '-append', `console=ttyS0 panic=-1 trace_event=${X86_EVENTS} ftrace_dump_on_oops log_buf_len=16M`, '-nographic',
    ]);
    expect(p.changes.join('\n')).toContain('log_buf_len=16M: the oops-time trace dump stalls');
    expect(p.outputs).toEqual({ console: `${OUT}/console.log`, qemuTrace: `${OUT}/qemu-trace.log`, owned: [`${OUT}/qemu-trace.log`, `${OUT}/console.log`] });
    expect(p.arch).toBe('x86');
    expect(p.notes).toEqual([]);
  });

  it('without -append and without -nographic: -serial file:DIR/console.log, the command line left alone (noted)', () => {
    const p = plan('qemu-system-x86_64', '-kernel', 'bzImage', '-display', 'none');
    expect(p.argv).toEqual(['qemu-system-x86_64', '-trace', 'apic_*', '-D', `${OUT}/qemu-trace.log`, '-msg', 'timestamp=on',
      '-serial', `file:${OUT}/console.log`, '-no-reboot', '-kernel', 'bzImage', '-display', 'none']);
    expect(p.argv).not.toContain('-append');
    expect(p.notes.join('\n')).toContain('no -append');
  });

  it("the user's own -trace, -D and -msg are kept; nothing of the same kind is added", () => {
    const p = plan('qemu-system-x86_64', '-trace', 'apic_deliver_irq', '-D', 'my.log', '-msg', 'guest-name=on', '-serial', 'file:con.txt', '-append', 'console=ttyS0');
    expect(traces(p.argv)).toEqual(['apic_deliver_irq']);
    expect(p.argv.filter((a) => a === '-D')).toHaveLength(1);
    expect(valueOf(p.argv, '-D')).toBe('my.log');
    expect(p.argv.filter((a) => a === '-msg')).toHaveLength(1);
    expect(valueOf(p.argv, '-msg')).toBe('guest-name=on,timestamp=on');
    expect(p.outputs).toEqual({ console: 'con.txt', qemuTrace: 'my.log', owned: [] });
  });

  it("a user -trace that only disables events: apic_* is added before it, so the user's exclusion still applies", () => {
    const p = plan('qemu-system-x86_64', '-trace', '-apic_mem_*', '-append', 'console=ttyS0');
    expect(traces(p.argv)).toEqual(['apic_*', '-apic_mem_*']);
    expect(p.argv.indexOf('apic_*')).toBeLessThan(p.argv.indexOf('-apic_mem_*'));
  });

  it('-trace events=FILE, -trace enable=apic_*, -trace "*" and -d trace:apic_* all count as the user managing tracing', () => {
    for (const extra of [['-trace', 'events=ev.txt'], ['-trace', 'enable=apic_*,file=x'], ['-trace', '*'], ['-d', 'guest_errors,trace:apic_deliver_irq']]) {
      expect(traces(plan('qemu-system-x86_64', ...extra).argv).filter((t) => t === 'apic_*')).toEqual([]);
    }
  });

  it('a wrapper before QEMU (taskset) keeps its place; -- options and qemu-kvm are recognised', () => {
    const p = plan('taskset', '-c', '0', '/usr/bin/qemu-system-x86_64', '--append', 'console=ttyS0', '--nographic');
    expect(p.argv.slice(0, 6)).toEqual(['taskset', '-c', '0', '/usr/bin/qemu-system-x86_64', '-trace', 'apic_*']);
    expect(valueOf(p.argv, '--append')).toBe(`console=ttyS0 trace_event=${X86_EVENTS} ftrace_dump_on_oops panic=-1 log_buf_len=16M`);
    expect(p.argv).toContain(`file:${OUT}/console.log`);
    expect(plan('qemu-kvm').arch).toBe('x86');
  });

  it('notes an x86 -append without console= (nothing would reach the serial log)', () => {
    expect(plan('qemu-system-x86_64', '-append', 'quiet').notes.join('\n')).toContain('console=');
  });
});

describe('buildRecordArgs: arm', () => {
  const gicTraces = (...argv: string[]) => traces(plan(...argv).argv);

  it('-M virt,gic-version=3: gicv3_* without gicv3_cpuif_virt_*; kernel events without the x86 irq_vectors list', () => {
    const p = plan('qemu-system-aarch64', '-M', 'virt,gic-version=3', '-cpu', 'cortex-a57', '-nographic', '-kernel', 'Image', '-append', 'console=ttyAMA0 panic=-1');
    expect(p.gic).toBe('v3');
    expect(traces(p.argv)).toEqual(['gicv3_*', '-gicv3_cpuif_virt_*']);
    expect(valueOf(p.argv, '-append')).toBe(`console=ttyAMA0 panic=-1 trace_event=${EVENTS} ftrace_dump_on_oops log_buf_len=16M`);
    expect(p.notes).toEqual([]);
  });

  it('virt without gic-version under TCG is GICv2 (QEMU 7.2 default): gic_*', () => {
    expect(gicTraces('qemu-system-aarch64', '-M', 'virt', '-append', 'x')).toEqual(['gic_*']);
    expect(gicTraces('qemu-system-arm', '-machine', 'virt', '-smp', '4')).toEqual(['gic_*']);
    expect(gicTraces('qemu-system-aarch64', '-machine', 'type=virt-7.2', '-machine', 'gic-version=2')).toEqual(['gic_*']);
    expect(gicTraces('qemu-system-aarch64', '-M', 'virt,gic-version=4')).toEqual(['gicv3_*', '-gicv3_cpuif_virt_*']);
  });

  it('when the GIC version cannot be told (max, host, KVM, > 8 CPUs, other machines): both sets', () => {
    const both = ['gic_*', 'gicv3_*', '-gicv3_cpuif_virt_*'];
    expect(gicTraces('qemu-system-aarch64', '-M', 'virt,gic-version=max')).toEqual(both);
    expect(gicTraces('qemu-system-aarch64', '-M', 'virt', '-accel', 'kvm')).toEqual(both);
    expect(gicTraces('qemu-system-aarch64', '-M', 'virt', '-enable-kvm')).toEqual(both);
    expect(gicTraces('qemu-system-aarch64', '-M', 'virt', '-smp', 'cpus=4,maxcpus=16')).toEqual(both);
    expect(gicTraces('qemu-system-aarch64', '-M', 'sbsa-ref')).toEqual(both);
    expect(gicTraces('qemu-system-aarch64', '-M', 'virt', '-trace', 'gic_dist_write')).toEqual(['gic_dist_write']);
  });

  it('other architectures: no controller tracing (noted), the rest as usual', () => {
    const p = plan('qemu-system-riscv64', '-M', 'virt', '-append', 'console=ttyS0');
    expect(traces(p.argv)).toEqual([]);
    expect(p.argv).toContain('-D');
    expect(valueOf(p.argv, '-append')).toBe(`console=ttyS0 trace_event=${EVENTS} ftrace_dump_on_oops panic=-1 log_buf_len=16M`);
    expect(p.notes.join('\n')).toContain('no interrupt-controller tracing');
  });
});

describe('kernel command line', () => {
  it("extends the user's trace_event= in place with only the missing events (the kernel keeps only the last one)", () => {
    expect(extendCmdline('console=ttyS0 trace_event=ipi:*,sched:sched_switch quiet', ['ipi:*', 'csd:*', 'cpuhp:*']))
      .toBe('console=ttyS0 trace_event=ipi:*,sched:sched_switch,csd:*,cpuhp:* quiet ftrace_dump_on_oops');
    expect(extendCmdline('trace_event=ipi:ipi_send_cpu,csd:* ftrace_dump_on_oops', ['ipi:*', 'csd:*']))
      .toBe('trace_event=ipi:ipi_send_cpu,csd:*,ipi:* ftrace_dump_on_oops');
    expect(extendCmdline('trace_event=*:* ftrace_dump_on_oops=orig_cpu', ['ipi:*', 'irq_vectors:reschedule_entry'])).toBe('trace_event=*:* ftrace_dump_on_oops=orig_cpu');
    expect(extendCmdline('trace_event=irq_vectors:* x', ['irq_vectors:reschedule_entry'])).toBe('trace_event=irq_vectors:* x ftrace_dump_on_oops');
    expect(extendCmdline('a trace_event=ipi:* b trace_event=csd:*', ['ipi:*', 'csd:*'])).toBe('a trace_event=ipi:* b trace_event=csd:*,ipi:* ftrace_dump_on_oops');
  });

  it('puts additions before " -- " (init arguments), handles quotes and an empty line', () => {
    expect(extendCmdline('console=ttyS0 -- single trace_event=x', ['ipi:*'])).toBe('console=ttyS0 trace_event=ipi:* ftrace_dump_on_oops -- single trace_event=x');
    expect(extendCmdline('trace_event=csd:* -- ftrace_dump_on_oops', ['ipi:*', 'csd:*'])).toBe('trace_event=csd:*,ipi:* ftrace_dump_on_oops -- ftrace_dump_on_oops');
    expect(extendCmdline('dyndbg="file smp.c +p" ', ['ipi:*'])).toBe('dyndbg="file smp.c +p" trace_event=ipi:* ftrace_dump_on_oops');
    expect(extendCmdline('', ['ipi:*'])).toBe('trace_event=ipi:* ftrace_dump_on_oops');
  });
});

describe('buildRecordArgs: serial console', () => {
  const con = `logfile=${OUT}/console.log`;
  it('-serial stdio and mon:stdio become -serial file: (straight to the file); pty a chardev with a logfile; -serial file: is kept', () => {
    const stdio = plan('qemu-system-x86_64', '-serial', 'stdio', '-append', 'console=ttyS0');
    expect(stdio.argv).toEqual(expect.arrayContaining(TO_FILE));
    expect(stdio.argv).not.toContain('stdio');
    const mon = plan('qemu-system-x86_64', '-serial', 'mon:stdio', '-serial', 'file:trace.txt');
    expect(mon.argv.slice(-4)).toEqual([...TO_FILE, '-serial', 'file:trace.txt']);
    expect(plan('qemu-system-x86_64', '-serial', 'pty').argv).toContain(`pty,id=ipitrace-console,${con}`);
    expect(plan('qemu-system-x86_64', '-serial', 'file:c.log', '-serial', 'stdio').outputs.console).toBe('c.log');
  });

  it('-serial chardev:ID: logfile= added to that chardev, or its own file/logfile used', () => {
    const sock = plan('qemu-system-x86_64', '-chardev', 'socket,id=s0,path=/tmp/s,server=on,wait=off', '-serial', 'chardev:s0');
    expect(valueOf(sock.argv, '-chardev')).toBe(`socket,id=s0,path=/tmp/s,server=on,wait=off,${con}`);
    expect(sock.outputs.console).toBe(`${OUT}/console.log`);
    expect(plan('qemu-system-x86_64', '-chardev', 'file,id=f,path=a,,b.log', '-serial', 'chardev:f').outputs.console).toBe('a,b.log');
    expect(plan('qemu-system-x86_64', '-chardev', 'pty,id=p,logfile=mine.log', '-serial', 'chardev:p').outputs.console).toBe('mine.log');
  });

  it('-serial tcp:... or none: left alone, console not captured (noted)', () => {
    for (const s of ['tcp::4444,server=on', 'none']) {
      const p = plan('qemu-system-x86_64', '-serial', s);
      expect(p.outputs.console).toBeNull();
      expect(valueOf(p.argv, '-serial')).toBe(s);
      expect(p.notes.join('\n')).toContain('not captured');
    }
  });

  it('-nographic, with or without a monitor or -nodefaults: the console goes to the file', () => {
    for (const argv of [['-nographic'], ['-nographic', '-monitor', 'unix:mon.sock,server=on,wait=off'], ['-nodefaults', '-nographic']]) {
      const p = plan('qemu-system-x86_64', ...argv);
      expect(p.argv).toContain(`file:${OUT}/console.log`);
      expect(p.argv.join(' ')).not.toContain('stdio');
    }
  });

  it('paths with commas are kept as they are in -serial file: (QEMU takes the rest of the word as the path)', () => {
    expect(buildRecordArgs(['qemu-system-x86_64', '-nographic'], '/a,b').argv).toContain('file:/a,b/console.log');
  });
});

describe('buildRecordArgs: a first boot ends when the kernel does', () => {
  it('adds -no-reboot, panic=-1 and log_buf_len= unless set; each is said', () => {
    const p = plan('qemu-system-x86_64', '-append', 'console=ttyS0 -- init=/bin/sh');
    expect(p.argv).toContain('-no-reboot');
    expect(valueOf(p.argv, '-append')).toBe(`console=ttyS0 trace_event=${X86_EVENTS} ftrace_dump_on_oops panic=-1 log_buf_len=16M -- init=/bin/sh`);
    expect(p.changes.join('\n')).toMatch(/-no-reboot \(with panic=-1/);
    const own = plan('qemu-system-x86_64', '-no-reboot', '-append', 'console=ttyS0 panic=10 log_buf_len=1M');
    expect(own.argv.filter((a) => a === '-no-reboot')).toHaveLength(1);
    expect(valueOf(own.argv, '-append')).toBe(`console=ttyS0 panic=10 log_buf_len=1M trace_event=${X86_EVENTS} ftrace_dump_on_oops`);
  });

  it('notes that KVM hides IPIs from QEMU (x86: -enable-kvm, -accel kvm, -M accel=kvm)', () => {
    for (const argv of [['-enable-kvm'], ['-accel', 'kvm'], ['-M', 'q35,accel=kvm']]) {
      expect(plan('qemu-system-x86_64', ...argv).notes.join('\n')).toContain('KVM: the in-kernel irqchip');
    }
    expect(plan('qemu-system-x86_64', '-accel', 'tcg').notes.join('\n')).not.toContain('KVM');
  });
});

describe('buildRecordArgs is idempotent', () => {
  const cases: string[][] = [
    ['qemu-system-x86_64', '-smp', '4', '-kernel', 'bzImage', '-append', 'console=ttyS0', '-nographic'],
    ['qemu-system-x86_64', '-kernel', 'bzImage', '-append', 'console=ttyS0 -- init', '-display', 'none', '-msg', 'guest-name=on'],
    ['qemu-system-x86_64', '-serial', 'mon:stdio', '-trace', '-apic_mem_*'],
    ['qemu-system-x86_64', '-chardev', 'socket,id=s0,path=/tmp/s', '-serial', 'chardev:s0', '-D', 'x.log'],
    ['qemu-system-aarch64', '-M', 'virt,gic-version=3', '-nographic', '-append', 'console=ttyAMA0 trace_event=sched:*'],
    ['qemu-system-aarch64', '-M', 'virt', '-nographic', '-monitor', 'none'],
    ['qemu-system-aarch64', '-M', 'virt,gic-version=max', '-serial', 'stdio'],
    ['qemu-system-arm', '-M', 'virt', '-serial', 'tcp::4444'],
  ];
  it.each(cases.map((c) => [c.join(' '), c]))('%s', (_name, argv) => {
    const once = buildRecordArgs(argv, OUT);
    const twice = buildRecordArgs(once.argv, OUT);
    expect(twice.argv).toEqual(once.argv);
    expect(twice.changes).toEqual([]);
    expect(twice.outputs.console).toBe(once.outputs.console);
    expect(twice.outputs.qemuTrace).toBe(once.outputs.qemuTrace);
  });
});

describe('helpers', () => {
  it('shellQuote quotes only what a shell would split or expand', () => {
    expect(['a', 'apic_*', "it's", 'x y', 'file:/a/b.log'].map(shellQuote)).toEqual(['a', "'apic_*'", `'it'\\''s'`, "'x y'", 'file:/a/b.log']);
  });
  it('findExecutable searches PATH like a shell', () => {
    expect(findExecutable('node', { PATH: [join(process.execPath, '..'), '/nonexistent'].join(delimiter) })).toBe(process.execPath);
    expect(findExecutable('no-such-qemu-system-x86_64', { PATH: '/usr/bin' })).toBeNull();
  });
});

// ---------------------------------------------------------------------------------------------
// End to end with a fake QEMU.

// A stand-in for qemu-system-x86_64: it reads -D, -serial file:/chardev logfile= from its argv, like
// QEMU, and writes the corpus files there (FAKE_CONSOLE, FAKE_TRACE: .gz; FAKE_CONSOLE_LINES: only
// the first N lines), echoes the console on stdout when it is on stdio, then does FAKE_QEMU_MODE:
// ok (exit 0), hang (until SIGTERM, which it handles as QEMU does), stubborn (ignores SIGTERM),
// fail (an option error, nothing written).
const FAKE_QEMU = `#!${process.execPath}
const fs = require('fs'), zlib = require('zlib'), path = require('path');
const args = process.argv.slice(2);
fs.writeFileSync(path.join(__dirname, 'argv.json'), JSON.stringify(args));
const mode = process.env.FAKE_QEMU_MODE || 'ok';
if (mode === 'fail') { process.stderr.write('qemu-system-x86_64: -bogus: invalid option\\n'); process.exit(1); }
const opt = (name) => args.flatMap((a, i) => (a === name ? [args[i + 1]] : []));
const kv = (value) => Object.fromEntries(value.split(',').map((p) => p.split('=')));
let consoleFile = null, toStdout = false;
const serial = opt('-serial')[0];
if (serial && serial.startsWith('file:')) consoleFile = serial.slice(5);
if (serial && serial.startsWith('chardev:')) {
  const dev = opt('-chardev').map(kv).find((o) => o.id === serial.slice(8));
  consoleFile = dev.logfile || dev.path || null;
  toStdout = Object.keys(dev)[0] === 'stdio';
}
const read = (file) => zlib.gunzipSync(fs.readFileSync(file)).toString('latin1');
let text = read(process.env.FAKE_CONSOLE);
const lines = Number(process.env.FAKE_CONSOLE_LINES || 0);
if (process.env.FAKE_CONSOLE_EMPTY) text = '';
if (lines && text) text = text.split('\\n').slice(0, lines).join('\\n') + '\\n';
if (consoleFile) fs.writeFileSync(consoleFile, text, 'latin1');
if (toStdout) process.stdout.write(text.slice(0, 2000));
const log = opt('-D').pop();
if (log) fs.writeFileSync(log, read(process.env.FAKE_TRACE), 'latin1');
process.stderr.write('qemu-system-x86_64: warning: fake QEMU, mode ' + mode + '\\n');
if (mode === 'hang') {
  process.on('SIGTERM', () => { process.stderr.write('qemu-system-x86_64: terminating on signal 15\\n'); process.exit(0); });
  setInterval(() => {}, 1000);
} else if (mode === 'stubborn') {
  process.on('SIGTERM', () => {});
  setInterval(() => {}, 1000);
}
`;

interface Run { status: number | null; stdout: string; stderr: string; ms: number }
function ipitrace(args: string[], env: Record<string, string> = {}, timeout = 120_000): Run {
  const started = Date.now();
  const r = spawnSync(process.execPath, [CLI, ...args], {
    cwd: ROOT, encoding: 'utf8', maxBuffer: 64 << 20, timeout, env: { ...process.env, ...env }, input: '',
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, ms: Date.now() - started };
}

function expectOneLineError(stderr: string, part: string): void {
  const lines = stderr.trimEnd().split('\n');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(/^ipitrace: /);
  expect(lines[0]).toContain(part);
  expect(stderr).not.toMatch(/\n\s+at /);
}

interface Summary { boots: { boot: string; findings: { detector: string; cpu: number | null; target_cpu: number | null; csd: string | null }[] }[] }

describe('ipitrace record with a fake QEMU', () => {
  let work: string;
  let fake: string;
  const files = { FAKE_CONSOLE: join(HANG, 'console.log.gz'), FAKE_TRACE: join(HANG, 'qemu-trace.log.gz') };
  // The boot is the fixture's: its kernel panics after a csd hangs on offline CPU2 (fixture.json).
  const qemuArgs = ['-machine', 'pc,accel=tcg', '-smp', '4,maxcpus=8', '-m', '512', '-kernel', 'bzImage', '-initrd', 'initramfs.cpio.gz',
    '-append', 'console=ttyS0,115200 csdlock_debug=1 panic=-1', '-display', 'none', '-no-reboot'];

  beforeAll(() => {
    work = tempDir('record');
    fake = join(work, 'fake-qemu-system-x86_64');
    writeFileSync(fake, FAKE_QEMU);
    chmodSync(fake, 0o755);
  });
  afterAll(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('records (tracing added, command.txt), then exits and reports as analyze does on the same files', () => {
    const dir = join(work, 'offline-hang');
    const rec = ipitrace(['record', '--out', dir, '--json', '--', fake, ...qemuArgs], files);
    expect(rec.status).toBe(1);
    // What QEMU got: the user's command plus ipitrace's tracing.
    const argv = JSON.parse(readFileSync(join(work, 'argv.json'), 'utf8')) as string[];
    expect(argv.slice(0, 8)).toEqual(['-trace', 'apic_*', '-D', join(dir, 'qemu-trace.log'), '-msg', 'timestamp=on', '-serial', `file:${join(dir, 'console.log')}`]);
    expect(valueOf(argv, '-append')).toBe(`console=ttyS0,115200 csdlock_debug=1 panic=-1 trace_event=${X86_EVENTS} ftrace_dump_on_oops log_buf_len=16M`);
    expect(readFileSync(join(dir, 'command.txt'), 'utf8')).toBe([fake, ...argv].map(shellQuote).join(' ') + '\n');
    expect(readFileSync(join(dir, 'qemu-stderr.log'), 'utf8')).toContain('fake QEMU, mode ok');
    expect(rec.stderr).toContain('QEMU exited with status 0');

    // Same answer as `ipitrace analyze --boot offline-hang` on what the fake wrote.
    const direct = ipitrace(['analyze', '--json', '--boot', 'offline-hang', join(dir, 'console.log'), join(dir, 'qemu-trace.log')]);
    expect(direct.status).toBe(1);
    expect(rec.stdout).toBe(direct.stdout);
    const summary = JSON.parse(rec.stdout) as Summary;
    expect(summary.boots.map((b) => b.boot)).toEqual(['offline-hang']);
    // fixture.json of faulty-x86-offline-hang: CPU1 queued csd ffff88801f46be40 to offline CPU2, never released.
    const found = summary.boots[0].findings;
    const ipi = found.find((f) => f.detector === 'ipi-to-offline');
    expect([ipi?.cpu, ipi?.target_cpu, ipi?.csd]).toEqual([1, 2, '0xffff88801f46be40']);
    expect(found.find((f) => f.detector === 'csd-never-released')?.target_cpu).toBe(2);
  }, 120_000);

  it('text summary; the console (-nographic) is written to its file and shown on stderr as it grows; --no-analyze only records', () => {
    const dir = join(work, 'stdio-run');
    const rec = ipitrace(['record', '--out', dir, '--', fake, '-nographic', '-append', 'console=ttyS0'], files);
    expect(rec.status).toBe(1);
    expect(rec.stdout.split('\n')[0]).toMatch(/^ERROR /);
    expect(rec.stdout).toMatch(/^== boot stdio-run /m);
    expect(rec.stdout).toContain('ERROR ipi-to-offline: cross-call to offline CPU2 from CPU1');
    expect(rec.stderr).toContain('Linux version'); // the console echo
    expect(readFileSync(join(dir, 'console.log'), 'latin1')).toContain('ipi_fault: CPU1 queues locked csd');

    const only = ipitrace(['record', '--out', join(work, 'no-analyze'), '--no-analyze', '--', fake, '-append', 'console=ttyS0'], files);
    expect(only.status).toBe(0);
    expect(only.stdout).toBe('');
    expect(readdirSync(join(work, 'no-analyze')).sort()).toEqual(['command.txt', 'console.log', 'qemu-stderr.log', 'qemu-trace.log']);
  }, 120_000);

  it('a hung boot: the limit sends SIGTERM, and the partial console and QEMU trace are analyzed', () => {
    const dir = join(work, 'hung');
    const rec = ipitrace(['record', '--out', dir, '--timeout', '2', '--', fake, ...qemuArgs], { ...files, FAKE_QEMU_MODE: 'hang', FAKE_CONSOLE_LINES: '240' });
    expect(rec.ms).toBeGreaterThanOrEqual(2000);
    expect(rec.stderr).toContain('timeout: QEMU still ran after 2 s');
    expect(rec.stderr).toContain('terminating on signal 15');
    expect(rec.stderr).not.toContain('SIGKILL');
    // The first 240 console lines have the CSD_LOCK_WAIT_DEBUG reports (the trace dump came later).
    expect(readFileSync(join(dir, 'console.log'), 'latin1').split('\n')).toHaveLength(241);
    expect(rec.status).toBe(1);
    expect(rec.stdout).toContain('== boot hung ');
    expect(rec.stdout).toContain('ERROR kernel-reported: CSD lock never released: CPU1 waits for CPU2 (ipi_fault_func)');
    expect(rec.stdout).not.toContain('ipi-to-offline');
  }, 60_000);

  it('a boot that printed nothing on its console: said so, and only what QEMU logged is analyzed', () => {
    const dir = join(work, 'silent');
    const rec = ipitrace(['record', '--out', dir, '--', fake, '-append', 'console=ttyS0'], { ...files, FAKE_CONSOLE_EMPTY: '1' });
    expect(rec.stderr).toContain(`the guest printed nothing on the serial console (${join(dir, 'console.log')} is empty)`);
    expect([0, 1]).toContain(rec.status);
    expect(rec.stdout).toContain("cannot tell: no guest console or ftrace: only QEMU's view");
  }, 60_000);

  it('a QEMU that ignores SIGTERM is killed after --kill-after, and still analyzed', () => {
    const dir = join(work, 'stubborn');
    const rec = ipitrace(['record', '--out', dir, '--timeout', '1', '--kill-after', '1', '--', fake, '-append', 'console=ttyS0'],
      { ...files, FAKE_QEMU_MODE: 'stubborn', FAKE_CONSOLE_LINES: '240' });
    expect(rec.ms).toBeGreaterThanOrEqual(2000);
    expect(rec.stderr).toMatch(/sent SIGTERM, then SIGKILL after 1 s; it was ended by SIGKILL/);
    expect(rec.status).toBe(1);
    expect(rec.stdout).toContain('== boot stubborn ');
  }, 60_000);

  it('usage errors exit 2 with one line: no command after --, QEMU binary not found; nothing written: exit 2', () => {
    const none = ipitrace(['record', '--out', join(work, 'x')]);
    expect(none.status).toBe(2);
    expectOneLineError(none.stderr, 'give the QEMU command after --');
    const missing = ipitrace(['record', '--out', join(work, 'y'), '--', 'qemu-system-nonexistent-arch', '-M', 'virt']);
    expect(missing.status).toBe(2);
    expectOneLineError(missing.stderr, 'QEMU binary not found: qemu-system-nonexistent-arch');
    expect(existsSync(join(work, 'y'))).toBe(false);

    // An output path that cannot be written is refused before QEMU runs (nothing recorded).
    const badHtml = ipitrace(['record', '--out', join(work, 'z'), '--html', join(work, 'no-dir', 'x.html'), '--', fake, '-append', 'console=ttyS0'], files);
    expect(badHtml.status).toBe(2);
    expectOneLineError(badHtml.stderr, '--html');
    expect(existsSync(join(work, 'z'))).toBe(false);

    const failed = ipitrace(['record', '--out', join(work, 'failed'), '--', fake, '-bogus'], { ...files, FAKE_QEMU_MODE: 'fail' });
    expect(failed.status).toBe(2);
    expect(failed.stderr).toContain('-bogus: invalid option');
    expect(failed.stderr).toContain('QEMU exited with status 1');
    expect(failed.stderr).toContain('nothing to analyze');
  }, 60_000);
});

// ---------------------------------------------------------------------------------------------
// A real boot: qemu-system-x86_64 and a kernel image ($IPITRACE_TEST_KERNEL or /boot/vmlinuz-*).
// Without an initramfs the kernel panics at mount time; ftrace_dump_on_oops then dumps the trace to
// the console, and panic=-1 with -no-reboot ends QEMU.

function readable(path: string): boolean {
  try {
    accessSync(path, constants.R_OK);
    return true;
  } catch {
    return false;
  }
}
function findKernel(): string | null {
  const env = process.env.IPITRACE_TEST_KERNEL;
  if (env) return readable(env) ? env : null;
  const boot = existsSync('/boot') ? readdirSync('/boot').filter((n) => n.startsWith('vmlinuz-')).sort().reverse() : [];
  return boot.map((n) => join('/boot', n)).find(readable) ?? null;
}
const REAL_QEMU = findExecutable('qemu-system-x86_64');
const REAL_KERNEL = findKernel();
const realMissing = !REAL_QEMU ? 'qemu-system-x86_64 not on PATH' : !REAL_KERNEL ? 'no readable kernel image ($IPITRACE_TEST_KERNEL or /boot/vmlinuz-*)' : null;
if (realMissing) console.warn(`record.test.ts: real QEMU boot test skipped: ${realMissing}`);

describe('ipitrace record with a real QEMU', () => {
  it.skipIf(realMissing !== null)('boots a kernel to its panic, records console + apic trace, analyzes them', () => {
    const dir = join(tempDir('record-real'), 'real-boot');
    try {
      const rec = ipitrace(['record', '--out', dir, '--timeout', '240', '--', 'qemu-system-x86_64', '-accel', 'tcg', '-smp', '2', '-m', '256',
        '-kernel', REAL_KERNEL as string, '-append', 'console=ttyS0 panic=-1 trace_buf_size=64K', '-nographic', '-no-reboot'], {}, 300_000);
      expect(rec.stderr).toMatch(/QEMU exited with status 0|timeout: QEMU still ran/);
      expect([0, 1]).toContain(rec.status);
      const console_ = readFileSync(join(dir, 'console.log'), 'latin1');
      expect(console_).toContain('Linux version');
      // The kernel echoes its command line twice (x86 'Command line:', then 'Kernel command line:'); an
      // emulated serial console on a loaded machine has been seen to double a character of one echo.
      const echoes = console_.split('\n').filter((line) => /[Cc]ommand line: /.test(line)).join('\n');
      expect(echoes).toMatch(/trace_event=ipi:\*,csd:\*,cpuhp:\*,irq_vectors:call_function_entry.* ftrace_dump_on_oops/);
      expect(readFileSync(join(dir, 'qemu-trace.log'), 'utf8')).toMatch(/^\d+@\d+\.\d+:apic_/m);
      expect(rec.stdout).toMatch(/^== boot real-boot /m);
      expect(rec.stdout).toMatch(/CPUs: possible .*, present 0-1,/);
    } finally {
      rmSync(join(dir, '..'), { recursive: true, force: true });
    }
  }, 320_000);
});
