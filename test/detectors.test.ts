// Detector unit tests on small hand-made event sequences. Each sequence is ftrace text in the exact
// 6.x layout (shared/docs/formats.md B.2) and states what it models; the expected findings were
// written from kernel/smp.c semantics, before running the detectors on them.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { detect, type DetectOptions, type Finding } from '../detect/detect.js';
import { ingestFiles } from '../ingest/ingest.js';
import { DERIVED_TABLES } from '../replay/replay.js';
import { openWritable, type Db } from '../store/db.js';
import { ingestTexts } from './helpers/ingest.js';

/** One ftrace line: `cpu` runs `body` at `secs`. */
function ev(cpu: number, secs: number, body: string, task = 'init-1'): string {
  return `${task.padStart(16)} [${String(cpu).padStart(3, '0')}] d.... ${secs.toFixed(6).padStart(12)}: ${body}`;
}

/** A trace file: the header (entries-in-buffer/entries-written, #P) and the lines. */
function trace(lines: string[], written = lines.length): string {
  return [
    '# tracer: nop', '#', `# entries-in-buffer/entries-written: ${lines.length}/${written}   #P:4`, '#',
    '#           TASK-PID     CPU#  |||||  TIMESTAMP  FUNCTION', ...lines, '',
  ].join('\n');
}

/** Every CPU in `cpus` records a timer tick at `secs`: the CPU is alive and traced then. */
function ticks(secs: number, cpus = [0, 1, 2, 3]): string[] {
  return cpus.map((cpu) => ev(cpu, secs, 'local_timer_entry: vector=236', '<idle>-0'));
}

const queue = (src: number, secs: number, target: number, csd: string, func = 'do_work') =>
  ev(src, secs, `csd_queue_cpu: cpu=${target} callsite=generic_exec_single+0x33/0x130 func=${func} csd=${csd}`);
const ipi = (src: number, secs: number, target: number) =>
  ev(src, secs, `ipi_send_cpu: cpu=${target} callsite=generic_exec_single+0x33/0x130 callback=generic_smp_call_function_single_interrupt+0x0/0x20`);
const handler = (cpu: number, secs: number) => ev(cpu, secs, 'call_function_single_entry: vector=251', '<idle>-0');
const entry = (cpu: number, secs: number, csd: string, func = 'do_work') => ev(cpu, secs, `csd_function_entry: func=${func}, csd=${csd}`, '<idle>-0');
const exit = (cpu: number, secs: number, csd: string, func = 'do_work') => ev(cpu, secs, `csd_function_exit: func=${func}, csd=${csd}`, '<idle>-0');

/** CPU `cpu` is taken down from CPU0: takedown_cpu from `from` to `to` seconds (kernel/cpu.c). */
function takedown(cpu: number, from: number, to: number): string[] {
  const c = String(cpu).padStart(4, '0');
  return [
    ev(0, from, `cpuhp_enter: cpu: ${c} target:   0 step: 145 (takedown_cpu)`, 'kworker/0:1-10'),
    ev(0, to, `cpuhp_exit:  cpu: ${c}  state:  87 step: 145 ret: 0`, 'kworker/0:1-10'),
  ];
}

/** CPU `cpu` is brought up from CPU0: cpuhp_bringup_ap from `from` to `to` seconds. */
function bringup(cpu: number, from: number, to: number): string[] {
  const c = String(cpu).padStart(4, '0');
  return [
    ev(0, from, `cpuhp_enter: cpu: ${c} target: 236 step:  86 (cpuhp_bringup_ap)`),
    ev(0, to, `cpuhp_exit:  cpu: ${c}  state:  86 step:  86 ret: 0`),
  ];
}

async function findingsOf(files: Record<string, string>, options: DetectOptions = {}, withInfo = false): Promise<Finding[]> {
  const db = await ingestTexts(files);
  return detect(db, options).filter((f) => withInfo || f.severity !== 'info');
}

const summary = (findings: Finding[]) => findings.map((f) => `${f.detector} ${f.severity} ${f.cpu}->${f.target_cpu}`).sort();

describe('detectors on hand-made sequences', () => {
  it('a healthy single call (queue, IPI, handler, entry, exit) is no finding', async () => {
    const f = await findingsOf({ 'trace.txt': trace([
      ...ticks(1), queue(0, 1.1, 1, 'ffff0001'), ipi(0, 1.1, 1), handler(1, 1.2), entry(1, 1.2, 'ffff0001'), exit(1, 1.3, 'ffff0001'),
      ...ticks(5),
    ]) });
    expect(summary(f)).toEqual([]);
  });

  it('batched remote wake-ups: three queues, one IPI, one entry naming the first csd are all released', async () => {
    const f = await findingsOf({ 'trace.txt': trace([
      ...ticks(1),
      queue(3, 1.1, 1, 'aaaa01', 'sched_ttwu_pending'), ipi(3, 1.1, 1),
      queue(3, 1.11, 1, 'aaaa02', 'sched_ttwu_pending'), queue(3, 1.12, 1, 'aaaa03', 'sched_ttwu_pending'),
      handler(1, 1.13), entry(1, 1.13, 'aaaa01', 'sched_ttwu_pending'), exit(1, 1.14, 'aaaa01', 'sched_ttwu_pending'),
      ...ticks(5),
    ]) });
    expect(summary(f)).toEqual([]);
  });

  it('a local call (csd=0) is neither queued nor an IPI', async () => {
    const f = await findingsOf({ 'trace.txt': trace([...ticks(1), entry(2, 1.1, '0000000000000000'), exit(2, 1.2, '0000000000000000'), ...ticks(5)]) });
    expect(summary(f)).toEqual([]);
  });

  it('a csd queued to a CPU after takedown_cpu returned: IPI to offline CPU and a lock never released', async () => {
    const f = await findingsOf({ 'trace.txt': trace([
      ...ticks(1), ev(2, 1.5, 'local_timer_entry: vector=236'), ...takedown(2, 1.4, 1.6),
      queue(1, 2.0, 2, 'ffffffff819f4b80', 'ipi_fault_func'), ipi(1, 2.0, 2), ...ticks(4, [0, 1, 3]),
    ]) });
    expect(summary(f)).toEqual(['csd-never-released error 1->2', 'ipi-to-offline error 1->2']);
    const offline = f.find((x) => x.detector === 'ipi-to-offline')!;
    expect(offline.csd).toBe('0xffffffff819f4b80');
    expect(offline.func).toBe('ipi_fault_func');
    expect(offline.evidence.map((e) => e.line)).toEqual([13, 14]); // 5 header lines, 4 ticks, 1 tick, 2 takedown lines
  });

  it('IPIs while takedown_cpu runs but the CPU still records events are normal (it is still online)', async () => {
    const f = await findingsOf({ 'trace.txt': trace([
      ...ticks(1), ev(0, 1.40, 'cpuhp_enter: cpu: 0002 target:   0 step: 145 (takedown_cpu)'),
      ev(0, 1.41, 'ipi_send_cpu: cpu=2 callsite=wakeup_preempt+0x2f/0x54 callback=0x0'),
      ev(2, 1.42, 'reschedule_entry: vector=253'), ev(2, 1.43, 'reschedule_exit: vector=253'),
      ev(0, 1.60, 'cpuhp_exit:  cpu: 0002  state:  87 step: 145 ret: 0'), ...ticks(4, [0, 1, 3]),
    ]) });
    expect(summary(f)).toEqual([]);
  });

  // Issue 20 item 2: the outgoing CPU leaves cpu_online_mask in take_cpu_down, untraced, then its CPU_DYING
  // flush (smpcfd_dying_cpu) runs whatever is queued to it with tracepoints off (include/linux/tracepoint.h).
  const dyingWindow = (more: string[] = [], after: string[] = ticks(4, [0, 1, 3])) => [
    ...ticks(1), ev(0, 1.40, 'cpuhp_enter: cpu: 0002 target:   0 step: 145 (takedown_cpu)'),
    ev(2, 1.42, 'local_timer_entry: vector=236'),
    queue(1, 1.50, 2, 'ffff0002'), ipi(1, 1.50, 2),
    ev(0, 1.60, 'cpuhp_exit:  cpu: 0002  state:  87 step: 145 ret: 0'), ...more, ...after,
  ];

  it('a csd queued after the dying CPU went quiet inside takedown_cpu, never seen running: unknown (info), not an error', async () => {
    const f = await findingsOf({ 'trace.txt': trace(dyingWindow()) }, {}, true);
    expect(summary(f)).toEqual(['pending-at-offline info 1->2']);
    expect(f[0].title).toBe('unknown: do_work from CPU1 to CPU2 possibly flushed at CPU_DYING');
    expect(f[0].message).toContain('possibly flushed at CPU_DYING');
  });

  it('the same csd queued again later without a hang: released by the CPU_DYING flush, no finding at all', async () => {
    const db = await ingestTexts({ 'trace.txt': trace(dyingWindow([
      queue(1, 2.5, 3, 'ffff0002'), ipi(1, 2.5, 3), handler(3, 2.6), entry(3, 2.6, 'ffff0002'), exit(3, 2.6, 'ffff0002'),
    ])) });
    expect(summary(detect(db))).toEqual([]);
    const rows = db.prepare('SELECT target_cpu, outcome, release_how, released_ns, reused_use_id FROM csd_lifecycle ORDER BY queued_ns').all();
    expect(rows).toEqual([
      { target_cpu: 2, outcome: 'released', release_how: 'untraced', released_ns: 1_600_000_000, reused_use_id: null },
      { target_cpu: 3, outcome: 'released', release_how: 'exit', released_ns: 2_600_000_000, reused_use_id: null },
    ]);
  });

  it('the kernel reports the csd\'s sender waiting for it on the offline CPU: pending-at-offline error with that evidence', async () => {
    const f = await findingsOf({
      'trace.txt': trace(dyingWindow()),
      'console.log': ['[    6.0] smp: csd: Detected non-responsive CSD lock (#1) on CPU#1, waiting 5000000000 ns for CPU#02 do_work+0x0/0x10(0x0).', ''].join('\n'),
    });
    expect(summary(f)).toEqual(['kernel-reported error 1->2', 'pending-at-offline error 1->2']);
    const pending = f.find((x) => x.detector === 'pending-at-offline')!;
    // 5 header lines, 4 ticks, takedown_cpu enter (10), CPU2's tick (11): queue 12, takedown exit 14; console line 1.
    expect(pending.evidence.map((e) => e.line)).toEqual([12, 14, 1]);
  });

  it('a csd seen running only after its CPU came back stayed queued across the offline: pending-at-offline error', async () => {
    const f = await findingsOf({ 'trace.txt': trace(dyingWindow([
      ...bringup(2, 3.0, 3.2), entry(2, 3.1, 'ffff0002'), exit(2, 3.1, 'ffff0002'),
    ], ticks(5))) });
    expect(summary(f)).toEqual(['pending-at-offline error 1->2']);
  });

  it('a queue flushed only by a later flush after the CPU came back is not a late release: unknown, no error or warning', async () => {
    // Before its takedown CPU2 served no flush; once back, an IPI handler flushes its (by then empty) queue.
    const f = await findingsOf({ 'trace.txt': trace(dyingWindow([...bringup(2, 3.0, 3.2), handler(2, 6.0)], ticks(7))) }, {}, true);
    expect(summary(f)).toEqual(['pending-at-offline info 1->2']);
  });

  it('coverage: a csd queued before the target CPU\'s surviving ring-buffer window is unknown, not never released', async () => {
    // entries-written > entries-in-buffer: old events were overwritten, CPU1's window starts at its first event (3.0 s).
    const f = await findingsOf({ 'trace.txt': trace([
      ev(0, 1.0, 'local_timer_entry: vector=236'), queue(0, 2.0, 1, 'ffff0003'), ipi(0, 2.0, 1),
      ...ticks(3.0), ...ticks(6.0),
    ], 500) });
    expect(summary(f)).toEqual([]);
  });

  it('coverage: with nothing overwritten, the same csd is never released', async () => {
    const f = await findingsOf({ 'trace.txt': trace([
      ev(0, 1.0, 'local_timer_entry: vector=236'), queue(0, 2.0, 1, 'ffff0003'), ipi(0, 2.0, 1),
      ...ticks(3.0), ...ticks(6.0),
    ]) });
    expect(summary(f)).toEqual(['csd-never-released error 0->1']);
  });

  it('grace: a csd queued to an online CPU just before the trace ends is in flight, not leaked', async () => {
    const f = await findingsOf({ 'trace.txt': trace([...ticks(1), queue(0, 4.9, 1, 'ffff0004'), ipi(0, 4.9, 1), ...ticks(5.0)]) });
    expect(summary(f)).toEqual([]);
  });

  it('csd-held-too-long: released 6 s after the queue (default threshold 5 s), not with --csd-timeout 10', async () => {
    const lines = [...ticks(1), queue(0, 1.0, 1, 'ffff0005'), ipi(0, 1.0, 1), ...ticks(3), handler(1, 7.0),
      entry(1, 7.0, 'ffff0005'), exit(1, 7.1, 'ffff0005'), ...ticks(9)];
    expect(summary(await findingsOf({ 'trace.txt': trace(lines) }))).toEqual(['csd-held-too-long warning 0->1']);
    expect(summary(await findingsOf({ 'trace.txt': trace(lines) }, { csdTimeoutNs: 10e9 }))).toEqual([]);
  });

  // Issue 20 items 1 and 2: tracepoints do not fire on a CPU outside cpu_online_mask, so an event recorded on
  // a CPU proves it online, whatever the replayed cpuhp steps said: its bring-up is not in the trace (lost).
  it('a queued csd\'s run traced on a CPU after its takedown proves the CPU back online: not a callback on an offline CPU', async () => {
    const db = await ingestTexts({ 'trace.txt': trace([
      ...ticks(1), ev(2, 1.5, 'local_timer_entry: vector=236'), ...takedown(2, 1.4, 1.6),
      entry(2, 2.0, 'ffff0006', 'stray_func'), exit(2, 2.0, 'ffff0006', 'stray_func'), ...ticks(4, [0, 1, 3]),
    ]) });
    expect(summary(detect(db))).toEqual([]);
    const states = db.prepare("SELECT state, start_ns, basis FROM cpu_states WHERE cpu = 2 AND start_ns >= 1600000000 ORDER BY start_ns, rowid").all();
    expect(states).toEqual([
      { state: 'offline', start_ns: 1_600_000_000, basis: 'cpuhp' },
      { state: 'coming_up', start_ns: 1_600_000_000, basis: 'own event later (bring-up not traced)' },
      { state: 'online', start_ns: 2_000_000_000, basis: 'own event (bring-up not traced)' },
    ]);
  });

  it('a csd queued before the takedown and seen running after it stayed queued across the offline; no run counts as offline', async () => {
    const db = await ingestTexts({ 'trace.txt': trace([
      ...ticks(1), queue(1, 1.2, 2, 'ffff0008', 'late_func'), ev(2, 1.5, 'local_timer_entry: vector=236'), ...takedown(2, 1.4, 1.6),
      entry(2, 1.6, 'ffff0009', 'edge_func'), entry(2, 2.0, 'ffff0008', 'late_func'), exit(2, 2.0, 'ffff0008', 'late_func'),
      ...ticks(4, [0, 1, 3]),
    ]) });
    expect(summary(detect(db))).toEqual(['pending-at-offline error 1->2']);
    expect(db.prepare('SELECT count(*) AS n FROM offline_callbacks').get()).toEqual({ n: 0 });
  });

  it('next_offline_ns: the start of the target\'s first offline interval after the queue, NULL when it stays online', async () => {
    const db = await ingestTexts({ 'trace.txt': trace([
      ...ticks(1), queue(1, 1.2, 2, 'ffff0008', 'late_func'), queue(1, 1.3, 3, 'ffff000a', 'stay_func'),
      ev(2, 1.5, 'local_timer_entry: vector=236'), ...takedown(2, 1.4, 1.6),
      entry(3, 1.35, 'ffff000a', 'stay_func'), exit(3, 1.35, 'ffff000a', 'stay_func'), ...ticks(4, [0, 1, 3]),
    ]) });
    detect(db);
    const rows = db.prepare('SELECT func, target_cpu, next_offline_ns FROM csd_lifecycle ORDER BY queued_ns').all();
    expect(rows).toEqual([{ func: 'late_func', target_cpu: 2, next_offline_ns: 1_600_000_000 },
      { func: 'stay_func', target_cpu: 3, next_offline_ns: null }]);
  });

  // The kernel's WARN(1, "IPI on offline CPU %d\n") in __flush_smp_call_function_queue(true), as 6.12 prints it
  // (format strings of kernel/smp.c and kernel/panic.c __warn): message, WARNING line, registers and stack, end
  // of trace, then one pr_warn per queued callback. It then runs the whole queue.
  const offlineWarn = (secs: number, cpu: number, func: string) => [
    `[ ${secs.toFixed(6)}] ------------[ cut here ]------------`,
    `[ ${secs.toFixed(6)}] IPI on offline CPU ${cpu}`,
    `[ ${secs.toFixed(6)}] WARNING: CPU: ${cpu} PID: 0 at kernel/smp.c:815 __flush_smp_call_function_queue+0x2a5/0x330`,
    `[ ${secs.toFixed(6)}] Modules linked in:`,
    `[ ${secs.toFixed(6)}] RIP: 0010:__flush_smp_call_function_queue+0x2a5/0x330`,
    `[ ${secs.toFixed(6)}] Call Trace:`,
    `[ ${secs.toFixed(6)}]  <IRQ>`,
    `[ ${secs.toFixed(6)}]  __sysvec_call_function_single+0x1c/0xb0`,
    `[ ${secs.toFixed(6)}]  </IRQ>`,
    `[ ${secs.toFixed(6)}] ---[ end trace 0000000000000000 ]---`,
    `[ ${secs.toFixed(6)}] smp: IPI callback ${func}+0x0/0x10 sent to offline CPU`,
  ];

  it('"IPI on offline CPU": one WARN is one callback-on-offline-cpu finding, with its callback line past the WARNING line', async () => {
    const f = await findingsOf({ 'console.log': [...offlineWarn(12.5, 2, 'ipi_fault_func'), ''].join('\n') });
    expect(summary(f)).toEqual(['callback-on-offline-cpu error 2->2']);
    expect(f[0].func).toBe('ipi_fault_func');
    expect(f[0].evidence.map((e) => e.line)).toEqual([2, 3, 11]);
  });

  it('"IPI on offline CPU": the csd queued to the offline CPU ran there, so it is released, not leaked', async () => {
    const f = await findingsOf({
      'trace.txt': trace([
        ...ticks(1), ev(2, 1.5, 'local_timer_entry: vector=236'), ...takedown(2, 1.4, 1.6),
        queue(1, 2.0, 2, 'ffffffff819f4b80', 'ipi_fault_func'), ipi(1, 2.0, 2), ...ticks(4, [0, 1, 3]),
      ]),
      // "CPU 2 is now offline" at the takedown's exit lines the two clocks up.
      'console.log': ['[    1.600000] smpboot: CPU 2 is now offline', ...offlineWarn(2.1, 2, 'ipi_fault_func'), ''].join('\n'),
    });
    // The WARN names the function; no event fires on the offline CPU, so the csd it ran is the traced
    // queue of that function to CPU2 before it, and its sender (CPU1) is the finding's cpu.
    expect(summary(f)).toEqual(['callback-on-offline-cpu error 1->2', 'ipi-to-offline error 1->2']);
    expect(f.find((x) => x.detector === 'callback-on-offline-cpu')?.csd).toBe('0xffffffff819f4b80');
  });

  it('csd-released-late: queued to an offline CPU, run from its idle loop after it came back', async () => {
    const f = await findingsOf({ 'trace.txt': trace([
      ...ticks(1), ev(2, 1.5, 'local_timer_entry: vector=236'), ...takedown(2, 1.4, 1.6),
      queue(1, 2.0, 2, 'ffff0007'), ipi(1, 2.0, 2), ...bringup(2, 3.0, 3.2),
      entry(2, 3.1, 'ffff0007'), exit(2, 3.1, 'ffff0007'), ...ticks(5),
    ]) });
    expect(summary(f)).toEqual(['csd-released-late warning 1->2', 'ipi-to-offline error 1->2']);
  });

  it('csd-reuse-while-locked: the same csd queued again before its first use ran', async () => {
    const f = await findingsOf({ 'trace.txt': trace([
      ...ticks(1), queue(0, 1.1, 3, 'ffff0008', 'flush_cache'), ipi(0, 1.1, 3), queue(0, 1.2, 3, 'ffff0008', 'flush_cache'),
      handler(3, 1.3), entry(3, 1.3, 'ffff0008', 'flush_cache'), exit(3, 1.3, 'ffff0008', 'flush_cache'), ...ticks(5),
    ]) });
    expect(summary(f)).toEqual(['csd-reuse-while-locked error 0->3']);
  });

  it('ipi-to-nonexistent: CPU 6 of 8 possible / 4 present, named by the console', async () => {
    const f = await findingsOf({
      'console.log': '[    0.000000] CPU topo: Allowing 4 present CPUs plus 4 hotplug CPUs\r\n',
      'trace.txt': trace([...ticks(1), queue(3, 1.1, 6, 'ffffffff819f4c00'), ipi(3, 1.1, 6), ...ticks(5)]),
    });
    expect(summary(f)).toEqual(['csd-never-released error 3->6', 'ipi-to-nonexistent error 3->6']);
  });

  it('kernel-reported: a CSD episode that got unstuck is a late release, one that did not is a leak', async () => {
    const detected = (seq: number, waiter: number, target: number) =>
      `[    6.0] smp: csd: Detected non-responsive CSD lock (#${seq}) on CPU#${waiter}, waiting 5000000000 ns for CPU#0${target} do_nothing+0x0/0x10(0x0).`;
    const late = await findingsOf({ 'console.log': [detected(1, 0, 1), '[    8.0] smp: csd: CSD lock (#1) got unstuck on CPU#00, CPU#01 released the lock.', ''].join('\n') });
    expect(summary(late)).toEqual(['kernel-reported warning 0->1']);
    const leak = await findingsOf({ 'console.log': [detected(1, 2, 3), ''].join('\n') });
    expect(summary(leak)).toEqual(['kernel-reported error 2->3']);
  });

  it('kernel-reported: one failed bring-up printed on two lines is one finding; a later attempt is another', async () => {
    // arm64 __cpu_up prints both lines for one attempt (raspberrypi/linux #7291, an RPi CM5 log); the
    // psci failure 95 s later is a second attempt.
    const f = await findingsOf({ 'console.log': [
      '[ 1654.502987] psci: CPU1 killed (polled 0 ms)',
      '[ 1677.441585] CPU1: failed to come online',
      '[ 1677.445450] CPU1: failed in unknown state : 0x0',
      '[ 1772.549796] psci: failed to boot CPU1 (-22)',
      '[ 1772.549806] CPU1: failed to boot: -22', ''].join('\n') });
    expect(summary(f)).toEqual(['kernel-reported warning 1->1', 'kernel-reported warning 1->1']);
    expect(f.map((x) => x.evidence.at(-1)?.line)).toEqual([3, 5]);
  });

  it('kernel-reported: CPUs that smp_send_stop could not stop are a warning, the panicking CPU left out', async () => {
    // arm64 prints cpu_online_mask, the stopping (panicking) CPU included: here CPU1 panicked
    // ([ C1] caller field), so CPU2 is the one that did not stop; it had been in hotplug.
    const console_ = [
      '[    0.000000] smp: Brought up 1 node, 4 CPUs',
      '[    5.000000] CPU2: shutdown',
      '[    5.000100] psci: CPU2 killed (polled 0 ms)',
      '[    9.000000][    C1] Kernel panic - not syncing: Fatal exception',
      '[    9.000100][    C1] SMP: stopping secondary CPUs',
      '[   10.000000][    C1] SMP: failed to stop secondary CPUs 1-2', ''].join('\n');
    const all = (await findingsOf({ 'console.log': console_ }, {}, true)).filter((x) => x.title.startsWith('smp_send_stop'));
    expect(all.map((x) => `${x.detector} ${x.severity} ${x.cpu}->${x.target_cpu}`)).toEqual(['kernel-reported warning 1->2']);
    expect(all[0].title).toBe('smp_send_stop failed to stop CPU2');
    expect(all[0].message).toContain('CPU1 panicked');
    expect(all[0].evidence.map((e) => e.line)).toEqual([3, 6]);
  });

  it('kernel-reported: arm32 names no CPU: the CPUs known online, less the panicking one', async () => {
    const console_ = [
      '[    0.000000] smp: Brought up 1 node, 2 CPUs',
      '[    0.100000] CPU1: Booted secondary processor',
      '[    9.000000][    C0] Kernel panic - not syncing: Fatal exception',
      '[   10.000000][    C0] SMP: failed to stop secondary CPUs', ''].join('\n');
    const all = (await findingsOf({ 'console.log': console_ }, {}, true)).filter((x) => x.title.startsWith('smp_send_stop'));
    expect(all.map((x) => `${x.severity} ${x.cpu}->${x.target_cpu}`)).toEqual(['warning 0->1']);
  });

  it('kernel-reported: a reschedule IPI after a panic (CPUs stopped on purpose) is context, one finding for its WARN', async () => {
    // lkml, Ville Syrjala's 4.17-rc5 x86-32 log (Dell Latitude E5410): after "end Kernel panic", kick_ilb
    // sends a reschedule to CPU2, which smp_send_stop took offline; the WARNING line repeats at the end.
    const console_ = [
      '[    1.929799] Kernel panic - not syncing: VFS: Unable to mount root fs on unknown-block(0,0)',
      '[    1.938048] CPU: 0 PID: 1 Comm: swapper/0 Not tainted 4.17.0-rc5-elk+ #146',
      '[    1.990512] ---[ end Kernel panic - not syncing: VFS: Unable to mount root fs on unknown-block(0,0) ]---',
      '[    1.999976] ------------[ cut here ]------------',
      '[    2.004583] sched: Unexpected reschedule of offline CPU#2!',
      '[    2.010063] WARNING: CPU: 0 PID: 1 at ../arch/x86/kernel/smp.c:128 native_smp_send_reschedule+0x2b/0x40',
      '[    2.036641] EIP: native_smp_send_reschedule+0x2b/0x40',
      '[    2.041680] EFLAGS: 00210086 CPU: 0',
      '[    2.069306] Call Trace:',
      '[    2.071749]  kick_ilb+0x80/0x90',
      '[    2.074884]  trigger_load_balance+0x108/0x370',
      '[    2.230149] WARNING: CPU: 0 PID: 1 at ../arch/x86/kernel/smp.c:128 native_smp_send_reschedule+0x2b/0x40',
      '[    2.239522] ---[ end trace 36642faeb7bb25ab ]---', ''].join('\n');
    const all = await findingsOf({ 'console.log': console_ }, {}, true);
    expect(all.filter((x) => x.severity !== 'info')).toEqual([]);
    expect(all.filter((x) => x.title.startsWith('reschedule')).map((x) => `${x.severity} ${x.cpu}->${x.target_cpu}: ${x.title}`))
      .toEqual(['info 0->2: reschedule IPI to offline CPU2 from CPU0']);
  });

  it('kernel-reported: a reschedule IPI to an offline CPU is one finding, sender -> target, not a cross-call', async () => {
    // x86 native_smp_send_reschedule: WARN(1, "sched: Unexpected reschedule of offline CPU#%d!\n", cpu)
    // prints the message, then the WARNING line that names the sending CPU.
    const console_ = [
      '[    5.000000] smpboot: CPU 2 is now offline',
      '[    6.000000] ------------[ cut here ]------------',
      '[    6.000001] sched: Unexpected reschedule of offline CPU#2!',
      '[    6.000002] WARNING: CPU: 1 PID: 0 at arch/x86/kernel/smp.c:128 native_smp_send_reschedule+0x3f/0x50',
      '[    6.000003] RIP: 0010:native_smp_send_reschedule+0x3f/0x50', ''].join('\n');
    const f = await findingsOf({ 'console.log': console_ });
    expect(f.map((x) => `${x.detector} ${x.severity} ${x.cpu}->${x.target_cpu}: ${x.title}`))
      .toEqual(['kernel-reported warning 1->2: reschedule IPI to offline CPU2 from CPU1']);
  });

  it('a driver installing a hotplug state runs a callback on the boot CPU with target 0 (before 6.5): no teardown', async () => {
    // cpuhp_issue_call on CPU0 as a real arm64 6.1 boot traced it (fixture arm64-debian61-gicv3-hotplug):
    // the exit's state stays above the step, so CPU0 never left online. A real teardown step's exit
    // reaches a state below its step.
    const statesOf = async (lines: string[]) => {
      const db = await ingestTexts({ 'trace.txt': trace(lines) });
      detect(db);
      return db.prepare('SELECT state FROM cpu_states WHERE cpu = 0 ORDER BY start_ns').pluck().all();
    };
    expect(await statesOf([
      ...ticks(1),
      ev(0, 1.1, 'cpuhp_enter: cpu: 0000 target:   0 step: 123 (arch_timer_starting_cpu)'),
      ev(0, 1.1, 'cpuhp_exit:  cpu: 0000  state: 236 step: 123 ret: 0'),
      ...ticks(5),
    ])).toEqual(['online']);
    expect(await statesOf([
      ...ticks(1),
      ev(0, 1.1, 'cpuhp_enter: cpu: 0000 target:   0 step: 123 (arch_timer_starting_cpu)'),
      ev(0, 1.1, 'cpuhp_exit:  cpu: 0000  state: 122 step: 123 ret: 0'),
      ...ticks(5),
    ])).toEqual(['online', 'going_down']);
  });

  it('a CPU number beyond nr_cpu_ids on a couple of events is a garbled digit, not a CPU', async () => {
    // A real armhf dump printed '11d.h..' for '1d.h..' twice; the console said 4 CPUs.
    const universeOf = async (extra: number) => {
      const db = await ingestTexts({
        'console.log': '[    0.000000] smpboot: Allowing 4 CPUs, 0 hotplug CPUs\n',
        'trace.txt': trace([...ticks(1), ...Array.from({ length: extra }, (_, i) => ev(11, 1.5 + i / 1000, 'local_timer_entry: vector=236')), ...ticks(5)]),
      });
      detect(db);
      return {
        present: db.prepare('SELECT group_concat(cpu) FROM cpu_universe WHERE present = 1').pluck().get(),
        lanes: db.prepare('SELECT group_concat(DISTINCT cpu) FROM cpu_states').pluck().get(),
      };
    };
    expect(await universeOf(2)).toEqual({ present: '0,1,2,3', lanes: '0,1,2,3' });
    // A CPU that keeps recording events is real, whatever the console said.
    expect((await universeOf(50)).present).toBe('0,1,2,3,4,5,6,7,8,9,10,11');
  });
});

describe('detect run again', () => {
  const FIXTURES = join(import.meta.dirname, '..', 'fixtures');
  const boots = ['faulty-x86-nonexistent-async', 'faulty-x86-offline-async'];
  const expected = (boot: string) => (JSON.parse(readFileSync(join(FIXTURES, boot, 'fixture.json'), 'utf8')) as { expected_findings: unknown[] }).expected_findings.length;

  async function ingestBoots(names: string[]): Promise<Db> {
    const db = openWritable(':memory:');
    for (const boot of names) {
      const { files } = JSON.parse(readFileSync(join(FIXTURES, boot, 'fixture.json'), 'utf8')) as { files: string[] };
      await ingestFiles(db, files.map((file) => join(FIXTURES, boot, file)), { boot });
    }
    return db;
  }

  /** Every derived row of `boot` (all boots: undefined), in rowid order. */
  function derivedRows(db: Db, boot?: string): Record<string, unknown[]> {
    return Object.fromEntries(DERIVED_TABLES.map((table) => [table,
      db.prepare(`SELECT * FROM ${table} WHERE :boot IS NULL OR boot = :boot ORDER BY rowid`).raw().all({ boot: boot ?? null })]));
  }

  it('a one-boot database: the same rows and ids as the first time', async () => {
    const db = await ingestBoots([boots[0]]);
    expect(detect(db)).toHaveLength(expected(boots[0]));
    const first = derivedRows(db);
    expect(first.csd_lifecycle.length).toBeGreaterThan(0);
    expect(detect(db)).toHaveLength(expected(boots[0]));
    expect(derivedRows(db)).toEqual(first);
  });

  it("two boots: detecting one again leaves the other's rows as they were", async () => {
    const db = await ingestBoots(boots);
    expect(detect(db)).toHaveLength(expected(boots[0]) + expected(boots[1]));
    const other = derivedRows(db, boots[1]);
    const counts = Object.fromEntries(Object.entries(derivedRows(db, boots[0])).map(([table, rows]) => [table, rows.length]));
    expect(detect(db, { boot: boots[0] })).toHaveLength(expected(boots[0]));
    expect(derivedRows(db, boots[1])).toEqual(other);
    expect(Object.fromEntries(Object.entries(derivedRows(db, boots[0])).map(([table, rows]) => [table, rows.length]))).toEqual(counts);
  });
});
