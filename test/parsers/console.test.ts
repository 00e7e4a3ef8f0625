// Tests for parsers/console.ts. Every line below is copied verbatim from a real console log; the
// comment above each block names the file (paths under /work/shared/corpus, or the public mail the
// line was quoted in, by the search-index id of the stored copy). The few lines that no stored log
// contains are marked "format string": they are built from the kernel's printk format, and say so.
// Expected fields were written from reading the lines.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { consoleParser } from '../../parsers/console/index.js';
import { newSourceState, type LineContext, type SourceState } from '../../parsers/types.js';
import {
  blankConsole, ConsoleRecord, CpuFactRecord,
  type ConsoleKind, type CpuFactKind, type ParsedItem,
} from '../../schema/records.js';

// ---------------------------------------------------------------------------------------------
// What the reader does before us: strip the syslog prefix, the printk stamp and the caller field.

const PREFIX = /^(?:[A-Z][a-z]{2} +\d+ [\d:]{8} \S+ kernel: )?\[ *(\d+)\.(\d+)\](?:\[ *([CT])(\d+)\])? ?/;

function lineCtx(raw: string, state: SourceState = newSourceState()): { body: string; ctx: LineContext } {
  const m = PREFIX.exec(raw);
  const ctx: LineContext = {
    consoleTsNs: m ? Number(m[1]) * 1e9 + Number(m[2]) * 1e3 : null,
    callerCpu: m?.[3] === 'C' ? Number(m[4]) : null,
    fromConsole: m !== null,
    state,
  };
  return { body: m ? raw.slice(m[0].length) : raw, ctx };
}

function parseLine(raw: string, state?: SourceState): ParsedItem[] | undefined {
  const { body, ctx } = lineCtx(raw, state);
  return consoleParser.parse(body, ctx);
}

/** The line yields exactly one console record: `kind` with `want` and every other column NULL. */
function expectOne(raw: string, kind: ConsoleKind, want: Partial<ConsoleRecord>): void {
  const { body, ctx } = lineCtx(raw);
  const message = { ...blankConsole(kind, body, ctx.consoleTsNs), ...want };
  expect(consoleParser.parse(body, ctx)).toEqual([{ type: 'console', message }]);
}

type Row = [line: string, kind: ConsoleKind, want: Partial<ConsoleRecord>];

// ---------------------------------------------------------------------------------------------

describe('CSD lock messages', () => {
  it.each<Row>([
    // faulty-x86/offline-hang/console.log.gz (lines 172, 173, 175, 193)
    ['[    5.963479] smp: csd: Detected non-responsive CSD lock (#1) on CPU#1, waiting 2000000109 ns for CPU#02 ipi_fault_func+0x0/0x2e(0xffff88801f46be40).',
      'csd_detected', { cpu: 1, target_cpu: 2, seq: 1, wait_ns: 2000000109, func: 'ipi_fault_func', info: '0xffff88801f46be40' }],
    ['[    5.963887] smp: \tcsd: CSD lock (#1) unresponsive.', 'csd_state', { seq: 1, info: 'unresponsive' }],
    ['[   18.472346] smp: csd: Re-sending CSD lock (#1) IPI from CPU#01 to CPU#02', 'csd_resend', { seq: 1, cpu: 1, target_cpu: 2 }],
    ['[   18.473632] smp: csd: Continued non-responsive CSD lock (#1) on CPU#1, waiting 14510274892 ns for CPU#02 ipi_fault_func+0x0/0x2e(0xffff88801f46be40).',
      'csd_continued', { cpu: 1, target_cpu: 2, seq: 1, wait_ns: 14510274892, func: 'ipi_fault_func', info: '0xffff88801f46be40' }],
    // external/arm64-grace-csd-early-boot-6.16-rc5.log (lines 812, 878, 899)
    ['[    5.414515] smp: csd: Detected non-responsive CSD lock (#1) on CPU#0, waiting 5001000000 ns for CPU#01 do_nothing+0x0/0x10(0x0).',
      'csd_detected', { cpu: 0, target_cpu: 1, seq: 1, wait_ns: 5001000000, func: 'do_nothing', info: '0x0' }],
    ['[    5.415540] smp: csd: Re-sending CSD lock (#1) IPI from CPU#00 to CPU#01', 'csd_resend', { seq: 1, cpu: 0, target_cpu: 1 }],
    ['[    8.826703] smp: csd: CSD lock (#1) got unstuck on CPU#00, CPU#01 released the lock.', 'csd_unstuck', { seq: 1, cpu: 0, target_cpu: 1 }],
    // external/arm64-qemu-lkdtm-csdlockup-never-released-6.9-rc4.log (lines 5, 64): no stamps, tab as spaces
    ['smp:     csd: CSD lock (#1) handling this request.', 'csd_state', { seq: 1, info: 'handling this request' }],
    ['smp: csd: Continued non-responsive CSD lock (#1) on CPU#0, waiting 10000001888 ns for CPU#01 __lkdtm_CSDLOCKUP+0x0/0x8(0x0).',
      'csd_continued', { cpu: 0, target_cpu: 1, seq: 1, wait_ns: 10000001888, func: '__lkdtm_CSDLOCKUP', info: '0x0' }],
    // lkml, CentOS-7 backport without `smp: `, syslog prefix (search index id 15532287316)
    ['Jan 23 23:39:43 worker0 kernel: [285737.522743] csd: Detected non-responsive CSD lock (#1) on CPU#3, waiting 5000000042 ns for CPU#55 flush_tlb_func+0x0/0xb0(0xffff8e0b3e2afbe8).',
      'csd_detected', { cpu: 3, target_cpu: 55, seq: 1, wait_ns: 5000000042, func: 'flush_tlb_func', info: '0xffff8e0b3e2afbe8' }],
    ['Jan 23 23:39:43 worker0 kernel: [285737.522744]  csd: CSD lock (#1) unresponsive.', 'csd_state', { seq: 1, info: 'unresponsive' }],
    ['Jan 23 23:39:43 worker0 kernel: [285737.522845] csd: CSD lock (#1) got unstuck on CPU#03, CPU#55 released the lock.',
      'csd_unstuck', { seq: 1, cpu: 3, target_cpu: 55 }],
    // lkml, 6.10 x86 with a 3-digit waiter CPU (id 28606832967)
    ['[  163.697057] smp: csd: Detected non-responsive CSD lock (#1) on CPU#206, waiting 1000000292 ns for CPU#17 do_kernel_range_flush+0x0/0xb0(0xffff888dfd943d80).',
      'csd_detected', { cpu: 206, target_cpu: 17, seq: 1, wait_ns: 1000000292, func: 'do_kernel_range_flush', info: '0xffff888dfd943d80' }],
    // lkml, commit message of the csd history patch (id 45509302602)
    ['\tcsd: CSD lock (#1) handling prior scf_handler_1+0x0/0x50(0xffffa2a8813823c0) request.',
      'csd_state', { seq: 1, info: 'handling prior', func: 'scf_handler_1' }],
    // lkml, arm64 report run through decode_stacktrace.sh (id 24127238927)
    ['smp: csd: Detected non-responsive CSD lock (#1) on CPU#0, waiting 5001000000 ns for CPU#02 do_nothing (kernel/smp.c:1058)',
      'csd_detected', { cpu: 0, target_cpu: 2, seq: 1, wait_ns: 5001000000, func: 'do_nothing' }],
    // lkml stable backport mail, line cut by the author (id 14516351606)
    ['smp: csd: Detected non-responsive CSD lock (#1) on CPU#0', 'csd_detected', { cpu: 0, seq: 1 }],
    // format string (kernel/smp.c 5.10-era RFC): "... got unstuck on CPU#%02d, CPU#%02d released the lock after all. Phew!"
    ['csd: CSD lock (#1) got unstuck on CPU#03, CPU#55 released the lock after all. Phew!', 'csd_unstuck', { seq: 1, cpu: 3, target_cpu: 55 }],
    // format string: "... got unstuck on CPU#%02d, the lock was released after all. Phew!"
    ['csd: CSD lock (#2) got unstuck on CPU#04, the lock was released after all. Phew!', 'csd_unstuck', { seq: 2, cpu: 4 }],
    // format string: WARN_ONCE(cpu < 0 || cpu >= nr_cpu_ids, "%s: cpu = %d\n", __func__, cpu)
    ['csd_lock_wait_toolong: cpu = -1', 'csd_toolong_warning', { target_cpu: -1, func: 'csd_lock_wait_toolong' }],
  ])('%s', (line, kind, want) => expectOne(line, kind, want));

  it('keeps the printk time of the line as ts_ns', () => {
    // faulty-x86/offline-hang/console.log.gz line 172
    const items = parseLine('[    5.963479] smp: csd: Detected non-responsive CSD lock (#1) on CPU#1, waiting 2000000109 ns for CPU#02 ipi_fault_func+0x0/0x2e(0xffff88801f46be40).');
    expect(items?.[0]).toMatchObject({ type: 'console', message: { ts_ns: 5963479000 } });
  });

  it('splits the 5.10-era one-line report into the report and its state', () => {
    // format string (lkml RFC): "csd: %s non-responsive CSD lock (#%d) on CPU#%d, waiting %llu.%03u secs
    // for CPU#%02d %pS(%ps), currently %s." with the target printed as -1
    const line = 'csd: Continued non-responsive CSD lock (#2) on CPU#5, waiting 10.250 secs for CPU#-1 do_nothing+0x0/0x10(0x0), currently handling prior scf_handler_1+0x0/0x50(0xffffa2a8813823c0) request.';
    const { body, ctx } = lineCtx(line);
    expect(consoleParser.parse(body, ctx)).toEqual([
      { type: 'console', message: { ...blankConsole('csd_continued', body, null), cpu: 5, target_cpu: -1, seq: 2, wait_ns: 10250000000, func: 'do_nothing', info: '0x0' } },
      { type: 'console', message: { ...blankConsole('csd_state', body, null), seq: 2, info: 'handling prior', func: 'scf_handler_1' } },
    ]);
  });

  it('reads the first RFC wording "currently handling prior request" without a function', () => {
    // format string (lkml, 0-day report quoting kernel/smp.c:136 of the RFC)
    const items = parseLine('csd: Detected non-responsive CSD lock (#1) on CPU#3, waiting 5.001 secs for CPU#01 flush_tlb_func+0x0/0xb0(0xffff8e0b3e2afbe8), currently handling prior request.');
    expect(items?.map((i) => (i.type === 'console' ? [i.message.kind, i.message.wait_ns, i.message.info, i.message.func] : i.type)))
      .toEqual([['csd_detected', 5001000000, '0xffff8e0b3e2afbe8', 'flush_tlb_func'], ['csd_state', null, 'handling prior', null]]);
  });
});

describe('IPIs to offline CPUs', () => {
  it.each<Row>([
    // format strings of kernel/smp.c __flush_smp_call_function_queue (no stored log contains them)
    ['IPI on offline CPU 3', 'ipi_offline_warning', { cpu: 3 }],
    ['smp: IPI callback nohz_csd_func+0x0/0x30 sent to offline CPU', 'ipi_offline_callback', { func: 'nohz_csd_func', info: 'callback' }],
    ['IPI callback generic_smp_call_function_single_interrupt+0x0/0x30 sent to offline CPU',
      'ipi_offline_callback', { func: 'generic_smp_call_function_single_interrupt', info: 'callback' }],
    ['smp: IPI task-wakeup sent to offline CPU', 'ipi_offline_callback', { info: 'task-wakeup' }],
    ['smp: IPI callback, unknown type 5, sent to offline CPU', 'ipi_offline_callback', { info: 'unknown type 5' }],
    // format string with a PRINTK_CALLER field: the printing (offline) CPU fills cpu
    ['[   12.000001][    C3] smp: IPI task-wakeup sent to offline CPU', 'ipi_offline_callback', { info: 'task-wakeup', cpu: 3 }],
    // lkml, 4.17 x86 (search index id 30830862374)
    ['[    2.004583] sched: Unexpected reschedule of offline CPU#2!', 'resched_offline', { cpu: 2 }],
    ['[    2.010063] WARNING: CPU: 0 PID: 1 at ../arch/x86/kernel/smp.c:128 native_smp_send_reschedule+0x2b/0x40',
      'warning', { cpu: 0, info: '../arch/x86/kernel/smp.c:128', func: 'native_smp_send_reschedule' }],
  ])('%s', (line, kind, want) => expectOne(line, kind, want));
});

describe('CPUs smp_send_stop could not stop', () => {
  it.each<Row>([
    // format strings of arch/arm64/kernel/smp.c and arch/riscv/kernel/smp.c smp_send_stop ("%*pbl"),
    // arch/arm/kernel/smp.c (no list)
    ['[  120.200000] SMP: failed to stop secondary CPUs 1-3', 'stop_failed', { cpus: '1-3' }],
    ['SMP: failed to stop secondary CPUs 2,5', 'stop_failed', { cpus: '2,5' }],
    // external/riscv-qemu-hotplug-flush_smp_call_function_queue-warn-6.5-rc1.log line 67
    ['SMP: failed to stop secondary CPUs 0-1', 'stop_failed', { cpus: '0-1' }],
    ['SMP: failed to stop secondary CPUs', 'stop_failed', {}],
  ])('%s', (line, kind, want) => expectOne(line, kind, want));
});

describe('NMI backtraces', () => {
  it.each<Row>([
    // faulty-x86/offline-hang/console.log.gz line 174
    ['[    5.964005] Sending NMI from CPU 1 to CPUs 2:', 'nmi_backtrace_request', { cpu: 1, cpus: '2' }],
    // external/syzkaller-350-softlockup-smp_call_function_many-ftrace-dump-4.20.log lines 64, 65
    ['[ 1098.701358][    C2] Sending NMI from CPU 2 to CPUs 0-1,3:', 'nmi_backtrace_request', { cpu: 2, cpus: '0-1,3' }],
    ['[ 1098.702519][    C1] NMI backtrace for cpu 1', 'nmi_backtrace', { cpu: 1 }],
    // external/arm64-qemu-lkdtm-csdlockup-never-released-6.9-rc4.log line 7
    ['NMI backtrace for cpu 1', 'nmi_backtrace', { cpu: 1 }],
    // format string (lib/nmi_backtrace.c): "NMI backtrace for cpu %d skipped: idling at %pS\n"
    ['NMI backtrace for cpu 3 skipped: idling at intel_idle+0x59/0xa0', 'nmi_backtrace', { cpu: 3, info: 'skipped: idling at intel_idle+0x59/0xa0' }],
  ])('%s', (line, kind, want) => expectOne(line, kind, want));
});

describe('lockups, stalls, hangs, panics, warnings', () => {
  it.each<Row>([
    // syzkaller report_493 line 6, report_289 line 7: the detecting CPU (its stack may follow)
    ['[ 3024.981320] rcu: \t(detected by 1, t=10546 jiffies, g=301501, q=390)', 'rcu_stall', { cpu: 1, info: 'detected by' }],
    ['[ 2355.201792] \t(detected by 0, t=10502 jiffies, g=98916, c=98915, q=146)', 'rcu_stall', { cpu: 0, info: 'detected by' }],
    // syzkaller report_268 line 6: '!' flag (4.x: the grace-period kthread starved), "GPs behind"
    ['[  328.830097] rcu: \t1-...!: (3 GPs behind) idle=19a/1/0x4000000000000002 softirq=12356/12357 fqs=2 ', 'rcu_stall', { cpu: 1, info: 'stalled cpu' }],
    // syzkaller report_287 line 11 (RCU stall without NMI backtraces: dump_cpu_task)
    ['[  268.657826] Task dump for CPU 1:', 'task_dump', { cpu: 1 }],
    // faulty-x86/offline-hang/console.log.gz lines 237, 199, 200, 264
    ['[   66.548485] watchdog: BUG: soft lockup - CPU#1 stuck for 59s! [init:1]', 'soft_lockup', { cpu: 1, wait_ns: 59e9, info: 'init:1' }],
    ['[   24.968581] rcu: INFO: rcu_sched self-detected stall on CPU', 'rcu_stall', { info: 'rcu_sched self-detected stall' }],
    ['[   24.968886] rcu: \t1-....: (2099 ticks this GP) idle=a334/1/0x4000000000000000 softirq=76/76 fqs=951', 'rcu_stall', { cpu: 1, info: 'stalled cpu' }],
    ['[   66.549036] Kernel panic - not syncing: softlockup: hung tasks', 'panic', { info: 'softlockup: hung tasks' }],
    // external/syzkaller-503-softlockup-smp_call_function_single-5.8.log lines 8, 104 (caller field C0)
    ['[ 1117.938056][    C0] watchdog: BUG: soft lockup - CPU#0 stuck for 123s! [syz-executor.1:2970]',
      'soft_lockup', { cpu: 0, wait_ns: 123e9, info: 'syz-executor.1:2970' }],
    ['[ 1118.311638][    C0] Kernel panic - not syncing: softlockup: hung tasks', 'panic', { cpu: 0, info: 'softlockup: hung tasks' }],
    // external/syzkaller-guilty59-arm64-csd_lock_wait.log line 4 (no stamp)
    ['watchdog: BUG: soft lockup - CPU#1 stuck for 23s! [syz-executor.2:3705]', 'soft_lockup', { cpu: 1, wait_ns: 23e9, info: 'syz-executor.2:3705' }],
    // lkml hard lockups: plain (id 42100059078), buddy detector (id 32581534068), perf NMI watchdog (id 39275792252)
    ['[   95.974379] watchdog: Watchdog detected hard LOCKUP on cpu 3', 'hard_lockup', { cpu: 3 }],
    ['[164.964389] watchdog: CPU3: Watchdog detected hard LOCKUP on cpu 3', 'hard_lockup', { cpu: 3 }],
    ['[   75.213852] NMI watchdog: Watchdog detected hard LOCKUP on cpu 0', 'hard_lockup', { cpu: 0 }],
    // lkml, hardlockup_panic (id 268972803)
    ['Kernel panic - not syncing: Watchdog detected hard LOCKUP on cpu 0', 'panic', { info: 'Watchdog detected hard LOCKUP on cpu 0' }],
    // lkml, 5.10 arm64 bring-up failure followed by a stall of the offline CPU 4 ('O' flag) (id 5490358709)
    ['[ 8599.142560] rcu: INFO: rcu_preempt detected stalls on CPUs/tasks:', 'rcu_stall', { info: 'rcu_preempt detected stalls' }],
    ['[ 8599.149806] rcu: \t4-O...: (0 ticks this GP) idle=002/1/0x4000000000000000 softirq=0/0 fqs=2435 ', 'rcu_stall', { cpu: 4, info: 'stalled cpu' }],
    // lkml, pre-4.19 one-line form without `rcu: ` (ids 14259430782, 43693347983)
    // lkml, expedited stall (id 27473107950)
    ['[  201.476199] rcu: INFO: rcu_sched detected expedited stalls on CPUs/tasks: { 11-...D } 31660 jiffies s: 28553 root: 0x2/.',
      'rcu_stall', { info: 'rcu_sched detected expedited stalls', cpus: '11' }],
    // lkml hung tasks (ids 8402631384, 1829028505: thread caller field T28 gives no CPU)
    ['[23720.243905] INFO: task kworker/61:1:556 blocked for more than 122 seconds.', 'hung_task', { info: 'kworker/61:1:556', wait_ns: 122e9 }],
    ['[  714.735393][   T28] INFO: task kworker/1:1H:52 blocked for more than 143 seconds.', 'hung_task', { info: 'kworker/1:1H:52', wait_ns: 143e9 }],
    // external/riscv-qemu-hotplug-flush_smp_call_function_queue-warn-6.5-rc1.log lines 6, 37, 68
    ['WARNING: CPU: 0 PID: 215 at kernel/smp.c:437 __flush_smp_call_function_queue+0x90/0x292',
      'warning', { cpu: 0, info: 'kernel/smp.c:437', func: '__flush_smp_call_function_queue' }],
    ['kernel BUG at kernel/irq_work.c:245!', 'bug', { info: 'kernel/irq_work.c:245' }],
    ['---[ end Kernel panic - not syncing: Fatal exception in interrupt ]---', 'panic', { info: 'end: Fatal exception in interrupt' }],
    // external/lkft-arm32-smp_call_function_many_cond-warn-6.0-next.log line 2 (LAVA residue `"}`)
    ['[    1.146063] WARNING: CPU: 0 PID: 1 at kernel/smp.c:912 smp_call_function_many_cond+0x3c4/0x3c8"}',
      'warning', { cpu: 0, info: 'kernel/smp.c:912', func: 'smp_call_function_many_cond' }],
    // external/x86-qemu-hotplug-irq_work_queue_on-offline-cpu-5.15-rc1.log line 2 (function wrapped away)
    ['WARNING: CPU: 6 PID: 124 at kernel/irq_work.c:95', 'warning', { cpu: 6, info: 'kernel/irq_work.c:95' }],
    // external/lkft-x86-suspend-hotplug-cycles-5.2-collage.log lines 118, 1554, 209, 1519, 653
    ['[58857.640075] WARNING: CPU: 3 PID: 2549 at ../drivers/gpu/drm/radeon/radeon_object.c:84 radeon_ttm_bo_destroy+0xec/0xf0 [radeon]',
      'warning', { cpu: 3, info: '../drivers/gpu/drm/radeon/radeon_object.c:84', func: 'radeon_ttm_bo_destroy' }],
    ['[    3.792262] WARNING: CPU: 1 PID: 30 at drivers/regulator/core.c:2042 _regulator_put.part.8+0x3c/#',
      'warning', { cpu: 1, info: 'drivers/regulator/core.c:2042', func: '_regulator_put.part.8' }],
    ['[   80.766937] ---[ end Kernel panic - not syncing: stack-protector: Kernel stack is corrupted in: ffffffffc0c88942',
      'panic', { info: 'end: stack-protector: Kernel stack is corrupted in: ffffffffc0c88942' }],
    ['[58857.645226] Oops: 0003 [#5] PREEMPT SMP', 'oops', { info: '0003 [#5] PREEMPT SMP' }],
    ['[  541.952218] Internal error: : 8 [#1] SMP ARM', 'oops', { info: ': 8 [#1] SMP ARM' }],
    // lkml, 6.18-style WARNING line (id 57695865089)
    ['[   21.858745] WARNING: kernel/workqueue.c:2338 at __queue_work+0x5e0/0x790, CPU#2: kworker/2:2/116',
      'warning', { cpu: 2, info: 'kernel/workqueue.c:2338', func: '__queue_work' }],
  ])('%s', (line, kind, want) => expectOne(line, kind, want));
});

describe('CPU hotplug', () => {
  it.each<Row>([
    // x86/hotplug-smp4/console.log lines 391, 400, 153
    ['[    7.677437] smpboot: CPU 1 is now offline', 'cpu_offline', { cpu: 1 }],
    ['[    8.005222] smpboot: Booting Node 0 Processor 1 APIC 0x1', 'cpu_online', { cpu: 1, info: 'APIC 0x1' }],
    ['[    0.430858] .... node  #0, CPUs:      #1 #2 #3', 'cpu_online', { cpus: '1-3' }],
    // external/lkft-x86-suspend-hotplug-cycles-5.2-collage.log line 1327 (resume)
    ['[22183.415160] CPU1 is up', 'cpu_online', { cpu: 1 }],
    // arm64-gicv3/hotplug/console.log lines 298, 299, 101, 1
    ['[    3.519307] CPU3: shutdown', 'cpu_dying', { cpu: 3 }],
    ['[    3.532637] psci: CPU3 killed (polled 0 ms)', 'cpu_offline', { cpu: 3 }],
    ['[    0.100005] CPU1: Booted secondary processor 0x0000000001 [0x411fd070]', 'cpu_online', { cpu: 1, info: '0x1' }],
    ['[    0.000000] Booting Linux on physical CPU 0x0000000000 [0x411fd070]', 'cpu_online', { cpu: 0, info: '0x0' }],
    // external/arm64-grace-csd-early-boot-6.16-rc5.log lines 125, 522
    ['[    0.000000] Booting Linux on physical CPU 0x0000020000 [0x410fd4f0]', 'cpu_online', { cpu: 0, info: '0x20000' }],
    ['[    0.071758] CPU40: Booted secondary processor 0x00002f0000 [0x410fd4f0]', 'cpu_online', { cpu: 40, info: '0x2f0000' }],
    // arm32-gicv2/boot/console.log lines 76, 1
    ['[    0.100671] CPU1: thread -1, cpu 1, socket 0, mpidr 80000001', 'cpu_online', { cpu: 1, info: '0x80000001' }],
    ['[    0.000000] Booting Linux on physical CPU 0x0', 'cpu_online', { cpu: 0, info: '0x0' }],
    // recorders/arm/NOTES.md (arm32 hotplug run with dyndbg): pr_debug bring-up line without MPIDR, kill
    ['[    0.099654] CPU1: Booted secondary processor', 'cpu_online', { cpu: 1 }],
    ['[    5.727585] CPU3 killed.', 'cpu_offline', { cpu: 3 }],
    // external/x86-asus-f2a85-cpu1-failed-to-report-alive-6.3-rc6.log line 9
    ['[   10.260990] CPU1 failed to report alive state', 'cpu_up_failed', { cpu: 1, info: 'failed to report alive state' }],
    // external/riscv-qemu-hotplug-flush_smp_call_function_queue-warn-6.5-rc1.log lines 3, 4
    ['CPU1: off', 'cpu_offline', { cpu: 1 }],
    ['CPU1: failed to come online', 'cpu_up_failed', { cpu: 1, info: 'failed to come online' }],
    // lkml, arm64 bring-up error injection (ids 5490358709, 54629519159)
    ['[ 8569.025525] CPU4: will not boot', 'cpu_up_failed', { cpu: 4, info: 'will not boot' }],
    ['[ 8574.282258] CPU4: died during early boot', 'cpu_up_failed', { cpu: 4, info: 'died during early boot' }],
    ['[   31.432408] psci: CPU16 killed (polled 0 ms)', 'cpu_offline', { cpu: 16 }],
    // format strings: arm64 __cpu_up "CPU%u: may not have shut down cleanly" (bring-up path)
    ['CPU4: may not have shut down cleanly', 'cpu_up_failed', { cpu: 4, info: 'may not have shut down cleanly' }],
    // format strings of the offline path: x86 "CPU %u didn't die...", 6.5+ kernel/cpu.c, arm64, psci
    ["smpboot: CPU 3 didn't die...", 'cpu_offline', { cpu: 3, info: "unclean: didn't die" }],
    ['CPU2 failed to report dead state', 'cpu_offline', { cpu: 2, info: 'unclean: failed to report dead state' }],
    ['CPU2 may not have shut down cleanly: -110', 'cpu_offline', { cpu: 2, info: 'unclean: may not have shut down cleanly: -110' }],
    ['psci: CPU2 may not have shut down cleanly (AFFINITY_INFO reports 1)',
      'cpu_offline', { cpu: 2, info: 'unclean: may not have shut down cleanly (AFFINITY_INFO reports 1)' }],
  ])('%s', (line, kind, want) => expectOne(line, kind, want));
});

describe('CPU-count facts', () => {
  type FactRow = [line: string, facts: [CpuFactKind, number][]];
  it.each<FactRow>([
    // x86/hotplug-smp4/console.log lines 162, 163, 77, 94, 99, 89
    ['[    0.966289] smp: Brought up 1 node, 4 CPUs', [['brought_up', 4]]],
    ['[    0.966581] smpboot: Total of 4 processors activated (20744.33 BogoMIPS)', [['brought_up', 4]]],
    ['[    0.000000] setup_percpu: NR_CPUS:8192 nr_cpumask_bits:4 nr_cpu_ids:4 nr_node_ids:1', [['possible', 4]]],
    ['[    0.000000] rcu: \tRCU restricting CPUs from NR_CPUS=8192 to nr_cpu_ids=4.', [['possible', 4]]],
    ['[    0.000000] rcu: Adjusting geometry for rcu_fanout_leaf=16, nr_cpu_ids=4', [['possible', 4]]],
    ['[    0.000000] SLUB: HWalign=64, Order=0-3, MinObjects=0, CPUs=4, Nodes=1', [['possible', 4]]],
    // faulty-x86/offline-hang/console.log.gz line 75
    ['[    0.026658] CPU topo: Allowing 4 present CPUs plus 4 hotplug CPUs', [['present', 4], ['hotplug_cpus', 4], ['possible', 8]]],
    // external/lkft-x86-suspend-hotplug-cycles-5.2-collage.log line 388
    ['[    0.060189] smpboot: Allowing 16 CPUs, 8 hotplug CPUs', [['possible', 16], ['hotplug_cpus', 8]]],
    // external/x86-asus-f2a85-cpu1-failed-to-report-alive-6.3-rc6.log line 10
    ['[   10.261070] smp: Brought up 1 node, 1 CPU', [['brought_up', 1]]],
    // external/arm64-grace-csd-early-boot-6.16-rc5.log line 647
    ['[    0.129411] smp: Brought up 1 node, 72 CPUs', [['brought_up', 72]]],
    // arm64-gicv3/smp-maxcpus/console.log line 101; arm32-gicv2/boot/console.log line 83
    ['[    0.087707] SMP: Total of 2 processors activated.', [['brought_up', 2]]],
    ['[    0.133599] SMP: Total of 4 processors activated (500.00 BogoMIPS).', [['brought_up', 4]]],
  ])('%s', (line, facts) => {
    const { body, ctx } = lineCtx(line);
    expect(consoleParser.parse(body, ctx)).toEqual([
      { type: 'console', message: blankConsole('text', body, ctx.consoleTsNs) },
      ...facts.map(([fact, count]) => ({ type: 'cpu_fact', fact: { fact, count, cpus: null, text: body } })),
    ]);
  });

  it('types the kernel command line and takes maxcpus= as a fact', () => {
    // arm64-gicv3/smp-maxcpus/console.log line 39
    const { body, ctx } = lineCtx('[    0.000000] Kernel command line: console=ttyAMA0 panic=-1 trace_event=ipi:*,csd:*,cpuhp:* trace_buf_size=1M maxcpus=2 ipitrace.scenario=smp-maxcpus');
    const info = 'console=ttyAMA0 panic=-1 trace_event=ipi:*,csd:*,cpuhp:* trace_buf_size=1M maxcpus=2 ipitrace.scenario=smp-maxcpus';
    expect(consoleParser.parse(body, ctx)).toEqual([
      { type: 'console', message: { ...blankConsole('cmdline', body, 0), info } },
      { type: 'cpu_fact', fact: { fact: 'nr_cpus_cmdline', count: 2, cpus: null, text: body } },
    ]);
  });

  it('takes "ACPI: CPUn has been hot-added" as a fact: CPU n is present (not online)', () => {
    // external/arm64-grace-csd-early-boot-6.16-rc5.log line 800
    const { body, ctx } = lineCtx('[    0.307455] ACPI: CPU62 has been hot-added');
    expect(consoleParser.parse(body, ctx)).toEqual([
      { type: 'console', message: blankConsole('text', body, 307455000) },
      { type: 'cpu_fact', fact: { fact: 'hot_added', count: 63, cpus: null, text: body } },
    ]);
  });

  it('types the early x86 "Command line:" without a CPU fact when there is no maxcpus/nr_cpus', () => {
    // faulty-x86/offline-hang/console.log.gz line 2
    expectOne('[    0.000000] Command line: console=ttyS0,115200 no_hash_pointers printk.devkmsg=on csdlock_debug=1 smp.csd_lock_timeout=2000 watchdog_thresh=5 softlockup_panic=1 ftrace_dump_on_oops panic=-1 ipifault=offline-hang',
      'cmdline', { info: 'console=ttyS0,115200 no_hash_pointers printk.devkmsg=on csdlock_debug=1 smp.csd_lock_timeout=2000 watchdog_thresh=5 softlockup_panic=1 ftrace_dump_on_oops panic=-1 ipifault=offline-hang' });
  });
});

describe('lines that are no typed kernel message', () => {
  it.each([
    // faulty-x86/offline-hang/console.log.gz lines 115, 170, 81, 152, 109, 176, 201, 177
    '[    0.311637] smp: Bringing up secondary CPUs ...',
    '[    3.962742] smp: ipi_fault: CPU1 queues locked csd=ffff88801f46be40 func=ipi_fault_func to OFFLINE CPU2',
    '[    0.036155] Unknown kernel command line parameters "ipifault=offline-hang", will be passed to user space.',
    '[    1.066205] IPI shorthand broadcast: enabled',
    '[    0.306419] smpboot: CPU0: AMD QEMU Virtual CPU version 2.5+ (family: 0xf, model: 0x6b, stepping: 0x1)',
    '[   18.472797] CPU: 1 UID: 0 PID: 1 Comm: init Not tainted 6.12.107 #5 ',
    '[   24.969062] rcu: \t(t=2100 jiffies g=-1007 q=9 ncpus=3)',
    '[   18.473046] Call Trace:',
    // external/arm64-grace-csd-early-boot-6.16-rc5.log line 810 (and the mail headers before the log)
    '[    0.307809] ARMH0011:00: ttyAMA0 at MMIO 0xc280000 (irq = 66, base_baud = 0) is a SBSA',
    'Subject: Re: arm64: csdlock at early boot due to slow serial (?)',
    // arm64-gicv3/hotplug/console.log line 281 (init script echo, no stamp); arm64-gicv3/boot/console.log line 96
    'ipitrace: cmdline: console=ttyAMA0 panic=-1 trace_event=ipi:*,csd:*,cpuhp:* trace_buf_size=1M dyndbg="file smp.c +p" loglevel=8 ipitrace.scenario=hotplug',
    '[    0.134954] Detected PIPT I-cache on CPU1',
    // external/lkft-x86-suspend-hotplug-cycles-5.2-collage.log lines 1, 646, 491, 1313
    '[    0.000000] Boot CPU: AArch64 Processor [410fd033]',
    '[  541.908669] Alignment trap: not handling instruction f46107cf at [<004e5c4c>]',
    '[    0.273399] smpboot: Max logical packages: 2',
    '[22183.382189] Disabling non-boot CPUs ...',
    // external/lkft-arm32-smp_call_function_many_cond-warn-6.0-next.log line 1
    '[    1.143924] ------------[ cut here ]------------"}',
    // external/syzkaller-guilty59-arm64-csd_lock_wait.log line 8: an address and symbol, but no frame line
    'hardirqs last  enabled at (7237): [<ffff80000bfb8138>] exit_to_kernel_mode+0xe8/0x118 arch/arm64/kernel/entry-common.c:94',
    // a frame line and a CPU-list continuation seen outside a trace / outside SMP bring-up
    // (external/syzkaller-503... line 31; external/lkft-x86-suspend-hotplug-cycles-5.2-collage.log line 489)
    '[ 1118.160223][    C0]  smp_call_function_many_cond+0x1a4/0x990',
    '[    0.267885]   #5  #6  #7',
    '',
  ])('%j -> undefined', (line) => {
    expect(parseLine(line)).toBeUndefined();
  });
});

// ---------------------------------------------------------------------------------------------
// Stack traces and other multi-line state

type Want = Partial<ConsoleRecord> | null;

/** Feeds consecutive lines through one source state; null = the line yields nothing. */
function expectSequence(lines: string[], wants: Want[]): void {
  expect(wants).toHaveLength(lines.length);
  const state = newSourceState();
  lines.forEach((line, i) => {
    const items = parseLine(line, state);
    const want = wants[i];
    if (want === null) expect(items, line).toBeUndefined();
    else expect(items?.map((it) => (it.type === 'console' ? it.message : it)), line).toEqual([expect.objectContaining(want)]);
  });
}

const F = (func: string, cpu: number | null, info: string = 'frame'): Want => ({ kind: 'frame', func, info, cpu });
const U = 'unreliable';

describe('RCU stall one-liners (pre-4.19)', () => {
  it('give the header and the detecting CPU', () => {
    // lkml, pre-4.19 one-line form without `rcu: ` (ids 14259430782, 43693347983)
    for (const [line, cpus, by] of [
      ['[  130.604032] INFO: rcu_sched detected stalls on CPUs/tasks: { 14} (detected by 10, t=60002 jiffies, g=4006, c=4005, q=14130)', '14', 10],
      ['[ 1273.079260] INFO: rcu_sched detected stalls on CPUs/tasks: { 12 13} (detected by 17, t=60002 jiffies)', '12-13', 17],
    ] as const) {
      const { body, ctx } = lineCtx(line);
      expect(consoleParser.parse(body, ctx)?.map((i) => (i.type === 'console' ? i.message : i))).toEqual([
        expect.objectContaining({ kind: 'rcu_stall', info: 'rcu_sched detected stalls', cpus }),
        expect.objectContaining({ kind: 'rcu_stall', info: 'detected by', cpu: by }),
      ]);
    }
  });
});

describe('stack traces', () => {
  it('x86: soft lockup in __csd_lock_wait, frames carry the CPU of the trace', () => {
    // faulty-x86/offline-hang/console.log.gz lines 237-264
    expectSequence([
      '[   66.548485] watchdog: BUG: soft lockup - CPU#1 stuck for 59s! [init:1]',
      '[   66.548559] CPU: 1 UID: 0 PID: 1 Comm: init Not tainted 6.12.107 #5 ',
      '[   66.548578] RIP: 0010:__csd_lock_wait+0x2ab/0x2bf',
      '[   66.548620] Code: a7 88 6f 81 44 89 e9 e8 65 e0 fc ff 44 89 ef e8 30 f3 ff ff 85 ed 75 05 e8 2d b2 18 00 8b 2c 24 4c 8b 7c 24 08 4c 89 e1 f3 90 <e9> 71 fd ff ff 48 83 c4 20 5b 5d 41 5c 41 5d 41 5e 41 5f c3 41 57',
      '[   66.548629] RSP: 0018:ffffc90000013d08 EFLAGS: 00000216',
      '[   66.548646] RAX: 0000000000000001 RBX: ffff88801f46be40 RCX: 0000000cafa98317',
      '[   66.548652] RDX: 0000000000000001 RSI: 0000000342770c00 RDI: 00000002cfb45283',
      '[   66.548656] RBP: 0000000000000001 R08: 0000000000000002 R09: ffffc90000013b88',
      '[   66.548660] R10: ffffffff8182b5c0 R11: ffffc90000013b80 R12: 0000000f7f5dd59a',
      '[   66.548664] R13: 0000000077359400 R14: 00000000ed03dfed R15: 0000000000000006',
      '[   66.548670] FS:  000000002712e3c0(0000) GS:ffff88801f440000(0000) knlGS:0000000000000000',
      '[   66.548676] CS:  0010 DS: 0000 ES: 0000 CR0: 0000000080050033',
      '[   66.548681] CR2: 0000000027133048 CR3: 0000000000544000 CR4: 00000000000006b0',
      '[   66.548687] Call Trace:',
      '[   66.548703]  <TASK>',
      '[   66.548708]  ? do_nothing+0x5/0x5',
      '[   66.548718]  ? smp_call_function_single+0x95/0x102',
      '[   66.548727]  ? ipi_fault_write+0x207/0x221',
      '[   66.548736]  ? full_proxy_write+0x42/0x5d',
      '[   66.548745]  ? full_proxy_poll+0x46/0x46',
      '[   66.548752]  ? vfs_write+0x8f/0x143',
      '[   66.548762]  ? f_dupfd+0x48/0x4d',
      '[   66.548770]  ? filp_close+0x20/0x29',
      '[   66.548777]  ? ksys_write+0x6d/0x9a',
      '[   66.548784]  ? do_syscall_64+0x4e/0xa4',
      '[   66.548796]  ? entry_SYSCALL_64_after_hwframe+0x4b/0x53',
      '[   66.548807]  </TASK>',
      '[   66.549036] Kernel panic - not syncing: softlockup: hung tasks',
    ], [
      { kind: 'soft_lockup', cpu: 1 }, null, F('__csd_lock_wait', 1, 'rip'),
      null, { kind: 'regs', info: 'irqs_on', cpu: 1 }, null, null, null, null, null, null, null, null, null, null,
      // `?` frames: stale return addresses the unwinder could not prove
      F('do_nothing', 1, U), F('smp_call_function_single', 1, U), F('ipi_fault_write', 1, U), F('full_proxy_write', 1, U),
      F('full_proxy_poll', 1, U), F('vfs_write', 1, U), F('f_dupfd', 1, U), F('filp_close', 1, U), F('ksys_write', 1, U),
      F('do_syscall_64', 1, U), F('entry_SYSCALL_64_after_hwframe', 1, U),
      null, { kind: 'panic', info: 'softlockup: hung tasks', cpu: null },
    ]);
  });

  it('x86 NMI backtraces: each trace takes the CPU its header names, not the printing CPU', () => {
    // external/syzkaller-350-softlockup-smp_call_function_many-ftrace-dump-4.20.log: lines 64-116 in order,
    // some register and frame lines left out
    expectSequence([
      '[ 1098.701358][    C2] Sending NMI from CPU 2 to CPUs 0-1,3:',
      '[ 1098.702519][    C1] NMI backtrace for cpu 1',
      '[ 1098.702523][    C1] CPU: 1 PID: 22149 Comm: kworker/1:1 Not tainted 4.20.0-next-20190102+ #5',
      '[ 1098.702527][    C1] Hardware name: QEMU Standard PC (i440FX + PIIX, 1996), BIOS 1.10.2-1 04/01/2014',
      '[ 1098.702529][    C1] Workqueue: rcu_gp process_srcu',
      '[ 1098.702533][    C1] RIP: 0010:delay_tsc+0x33/0xc0',
      '[ 1098.702542][    C1] RSP: 0018:ffff88803ce475a0 EFLAGS: 00000286',
      '[ 1098.702569][    C1] CR2: ffffffffff600400 CR3: 000000005ad83004 CR4: 00000000001606e0',
      '[ 1098.702570][    C1] Call Trace:',
      '[ 1098.702573][    C1]  __const_udelay+0x5f/0x80',
      '[ 1098.702691][    C1]  ret_from_fork+0x3a/0x50',
      '[ 1098.703114][    C2] NMI backtrace for cpu 0',
      '[ 1098.703118][    C2] CPU: 0 PID: 3681 Comm: udevd Not tainted 4.20.0-next-20190102+ #5',
      '[ 1098.703121][    C2] Hardware name: QEMU Standard PC (i440FX + PIIX, 1996), BIOS 1.10.2-1 04/01/2014',
      '[ 1098.703124][    C2] RIP: 0010:native_queued_spin_lock_slowpath+0x323/0x1290',
      '[ 1098.703162][    C2] Call Trace:',
      '[ 1098.703163][    C2]  <IRQ>',
      '[ 1098.703180][    C2]  do_raw_spin_lock+0x2af/0x360',
      '[ 1098.703261][    C2]  </IRQ>',
      '[ 1098.703263][    C2] RIP: 0033:0x4179c0',
      '[ 1098.703273][    C2] RSP: 002b:00007fff245ca880 EFLAGS: 00000297 ORIG_RAX: ffffffffffffff13',
    ], [
      { kind: 'nmi_backtrace_request', cpu: 2, cpus: '0-1,3' }, { kind: 'nmi_backtrace', cpu: 1 }, null, null, null,
      F('delay_tsc', 1, 'rip'), { kind: 'regs', info: 'irqs_on', cpu: 1 }, null, null, F('__const_udelay', 1), F('ret_from_fork', 1),
      { kind: 'nmi_backtrace', cpu: 0 }, null, null,
      F('native_queued_spin_lock_slowpath', 0, 'rip'), null, null, F('do_raw_spin_lock', 0), null, null, { kind: 'regs', info: 'irqs_on', cpu: 0 },
    ]);
  });

  it('powerpc: [sp] [pc] frames, "(unreliable)" frames apart, the interrupt marker inside the trace', () => {
    // github open-power/op-build#2035 ("smp_call_function_single/many core hang issue with stop4 alone")
    expectSequence([
      '[12469.236833] [c000003fe566b730] [c000000000024d0c] timer_interrupt+0x9c/0xe0',
      '[12469.236841] --- interrupt: 901 at doorbell_global_ipi+0x34/0x50',
      '[12469.236841]     LR = arch_send_call_function_ipi_mask+0x120/0x130',
      '[12469.236843] [c000003fe566ba50] [c00000000004876c] arch_send_call_function_ipi_mask+0x4c/0x130 (unreliable)',
      '[12469.236846] [c000003fe566ba90] [c0000000001d59f0] smp_call_function_many+0x340/0x450',
      '[12469.236849] [c000003fe566bb00] [c000000000075f18] pmdp_invalidate+0x98/0xe0',
    ], [
      F('timer_interrupt', null), null, null, F('arch_send_call_function_ipi_mask', null, U),
      F('smp_call_function_many', null), F('pmdp_invalidate', null),
    ]);
  });

  it('arm64 syzkaller: symbolized pc/lr and inlined frames', () => {
    // external/syzkaller-guilty59-arm64-csd_lock_wait.log lines 13-21, 31-35 (no printk stamps)
    expectSequence([
      'CPU: 1 PID: 3705 Comm: syz-executor.2 Not tainted 6.0.0-rc7-syzkaller-18095-gbbed346d5a96 #0',
      'Hardware name: Google Google Compute Engine/Google Compute Engine, BIOS Google 09/30/2022',
      'pstate: 80400005 (Nzcv daif +PAN -UAO -TCO -DIT -SSBS BTYPE=--)',
      'pc : csd_lock_wait kernel/smp.c:443 [inline]',
      'pc : smp_call_function_many_cond+0x958/0xa04 kernel/smp.c:988',
      'lr : csd_lock_wait kernel/smp.c:443 [inline]',
      'lr : smp_call_function_many_cond+0x964/0xa04 kernel/smp.c:988',
      'sp : ffff80001394b9c0',
      'x29: ffff80001394ba10 x28: 0000000000000008 x27: ffff0001fefefc80',
      'Call trace:',
      ' __cmpwait_case_32 arch/arm64/include/asm/cmpxchg.h:252 [inline]',
      ' __cmpwait arch/arm64/include/asm/cmpxchg.h:278 [inline]',
      ' csd_lock_wait kernel/smp.c:443 [inline]',
      ' smp_call_function_many_cond+0x958/0xa04 kernel/smp.c:988',
    ], [
      null, null, { kind: 'regs', info: 'irqs_on', cpu: 1 }, F('csd_lock_wait', 1, 'pc'), F('smp_call_function_many_cond', 1, 'pc'),
      F('csd_lock_wait', 1, 'lr'), F('smp_call_function_many_cond', 1, 'lr'), null, null, null,
      F('__cmpwait_case_32', 1), F('__cmpwait', 1), F('csd_lock_wait', 1), F('smp_call_function_many_cond', 1),
    ]);
  });

  it('arm64 6.16: "(P)"/"(C)" frame marks, and a CSD message ends the trace', () => {
    // external/arm64-grace-csd-early-boot-6.16-rc5.log lines 815, 816, 819, 820, 833, 834, 878, 879, 882, 883
    expectSequence([
      '[    5.414541] NMI backtrace for cpu 1',
      '[    5.414545] CPU: 1 UID: 0 PID: 1 Comm: swapper/0 Not tainted 6.16.0-rc5-00056-gd7753fd13f9e #86 NONE ',
      '[    5.414552] pc : pl011_console_write_atomic+0x94/0x170',
      '[    5.414559] lr : pl011_console_write_atomic+0x84/0x170',
      '[    5.414624] Call trace:',
      '[    5.414626]  pl011_console_write_atomic+0x94/0x170 (P)',
      '[    5.415540] smp: csd: Re-sending CSD lock (#1) IPI from CPU#00 to CPU#01',
      '[    5.415544] CPU: 0 UID: 0 PID: 14 Comm: kworker/u288:1 Not tainted 6.16.0-rc5-00056-gd7753fd13f9e #86 NONE ',
      '[    5.415557] Call trace:',
      '[    5.415560]  show_stack+0x1c/0x30 (C)',
    ], [
      { kind: 'nmi_backtrace', cpu: 1 }, null, F('pl011_console_write_atomic', 1, 'pc'), F('pl011_console_write_atomic', 1, 'lr'),
      null, F('pl011_console_write_atomic', 1), { kind: 'csd_resend', cpu: 0, target_cpu: 1 }, null, null, F('show_stack', 0),
    ]);
  });

  it('arm32 "X from Y" frames with LAVA residue; register dumps keep the trace open', () => {
    // external/lkft-arm32-smp_call_function_many_cond-warn-6.0-next.log lines 1-7, 11, 27-30
    expectSequence([
      '[    1.143924] ------------[ cut here ]------------"}',
      '[    1.146063] WARNING: CPU: 0 PID: 1 at kernel/smp.c:912 smp_call_function_many_cond+0x3c4/0x3c8"}',
      '[    1.146677] Modules linked in:"}',
      '[    1.147156] CPU: 0 PID: 1 Comm: init Not tainted 6.0.0-rc3-next-20220901 #1"}',
      '[    1.147363] Hardware name: Generic DT based system"}',
      '[    1.147556]  unwind_backtrace from show_stack+0x18/0x1c"}',
      '[    1.147692]  show_stack from dump_stack_lvl+0x58/0x70"}',
      '[    1.148071]  smp_call_function_many_cond from smp_call_function+0x34/0x3c"}',
      '[    1.149759]  call_with_stack from __irq_svc+0x9c/0xb8"}',
      '[    1.149881] Exception stack(0xf0825bd0 to 0xf0825c18)"}',
      '[    1.150095] 5bc0:                                     00000000 00000000 00000000 f0825cac"}',
      '[    1.150466]  __irq_svc from blk_mq_dispatch_rq_list+0x424/0x934"}',
    ], [
      null, { kind: 'warning', cpu: 0, func: 'smp_call_function_many_cond' }, null, null, null,
      F('unwind_backtrace', 0), F('show_stack', 0), F('smp_call_function_many_cond', 0), F('call_with_stack', 0),
      null, null, F('__irq_svc', 0),
    ]);
  });

  it('riscv: epc/ra are pc/lr; [<addr>] frames stand alone after the author\'s "..." elision', () => {
    // external/riscv-qemu-hotplug-flush_smp_call_function_queue-warn-6.5-rc1.log lines 5-15
    expectSequence([
      '------------[ cut here ]------------',
      'WARNING: CPU: 0 PID: 215 at kernel/smp.c:437 __flush_smp_call_function_queue+0x90/0x292',
      'Modules linked in:',
      'CPU: 0 PID: 215 Comm: bash Not tainted 6.5.0-rc1+ #7524',
      'Hardware name: riscv-virtio,qemu (DT)',
      'epc : __flush_smp_call_function_queue+0x90/0x292',
      '  ra : smpcfd_dying_cpu+0xe/0x1c',
      '...',
      '[<ffffffff800c904a>] __flush_smp_call_function_queue+0x90/0x292',
      '[<ffffffff800c9ae8>] smpcfd_dying_cpu+0xe/0x1c',
      '[<ffffffff80012b2e>] cpuhp_invoke_callback+0x124/0x322',
    ], [
      null, { kind: 'warning', cpu: 0 }, null, null, null,
      F('__flush_smp_call_function_queue', 0, 'pc'), F('smpcfd_dying_cpu', 0, 'lr'), null,
      F('__flush_smp_call_function_queue', null), F('smpcfd_dying_cpu', null), F('cpuhp_invoke_callback', null),
    ]);
  });

  it('x86-64 trace with a user-space RIP and a [module] frame (collage panic)', () => {
    // external/lkft-x86-suspend-hotplug-cycles-5.2-collage.log lines 157, 159, 161-163, 183, 190, 201, 208, then
    // line 200 again: a frame-shaped line after the trace ended yields nothing
    expectSequence([
      '[   80.766408] Kernel panic - not syncing: stack-protector: Kernel stack is corrupted in: ffffffffc0c88942',
      '[   80.766428] CPU: 1 PID: 1594 Comm: modprobe Not tainted 4.11.3+ #2',
      '[   80.766434] Call Trace:',
      '[   80.766445]  dump_stack+0x63/0x90',
      '[   80.766451]  panic+0xe8/0x236',
      '[   80.766790]  ? 0xffffffffc09a8000',
      '[   80.766850]  amdgpu_init+0x9b/0xac [amdgpu]',
      '[   80.766899] RIP: 0033:0x7fa525e60709',
      '[   80.766931] Kernel Offset: 0x22800000 from 0xffffffff81000000 (relocation range: 0xffffffff80000000-0xffffffffbfffffff)',
      '[   80.766896]  entry_SYSCALL_64_fastpath+0x1e/0xad',
    ], [
      { kind: 'panic' }, null, null, F('dump_stack', 1), F('panic', 1), null, F('amdgpu_init', 1), null, null, null,
    ]);
  });

  it('no frames while the reader is inside an ftrace dump', () => {
    const state = newSourceState();
    parseLine('[   66.548687] Call Trace:', state);
    state.dump = 'body';
    // faulty-x86/offline-hang/console.log.gz line 299 (a dump line that mentions a +0x symbol)
    expect(parseLine('[   66.554836]      cat-53        2d.... 1487656us : csd_queue_cpu: cpu=3 callsite=ttwu_queue_wakelist+0xcd/0xd9 func=sched_ttwu_pending csd=ffff888000206038', state)).toBeUndefined();
    state.dump = 'none';
    expect(parseLine('[   66.551284]  ? __csd_lock_wait+0x2ab/0x2bf', state)).toBeUndefined();
  });
});

describe('x86 boot-time CPU list', () => {
  it('continues the list across an interleaved message until "smp: Brought up"', () => {
    // external/lkft-x86-suspend-hotplug-cycles-5.2-collage.log lines 487-490, then 489 again
    expectSequence([
      '[    0.261339] .... node  #0, CPUs:        #1  #2  #3  #4',
      '[    0.267885] MDS CPU bug present and SMT on, data leak possible. See https://www.kernel.org/doc/html/latest/admin-guide/hw-vuln/mds.html for more details.',
      '[    0.267885]   #5  #6  #7',
    ], [{ kind: 'cpu_online', cpus: '1-4', cpu: null }, null, { kind: 'cpu_online', cpus: '5-7', cpu: null }]);

    const state = newSourceState();
    parseLine('[    0.261339] .... node  #0, CPUs:        #1  #2  #3  #4', state);
    expect(parseLine('[    0.273399] smp: Brought up 1 node, 8 CPUs', state)?.map((i) => i.type)).toEqual(['console', 'cpu_fact']);
    expect(parseLine('[    0.267885]   #5  #6  #7', state)).toBeUndefined();
  });

  it('reads single "#2" lines split off by tp_printk output', () => {
    // x86/tp-printk/console.log lines 454, 487, 520
    expectSequence([
      '[    0.606230] .... node  #0, CPUs:      #1',
      '[    0.667911]  #2',
      '[    0.711210]  #3',
    ], [{ kind: 'cpu_online', cpus: '1' }, { kind: 'cpu_online', cpus: '2' }, { kind: 'cpu_online', cpus: '3' }]);
  });
});

describe('robustness and sniff', () => {
  it('never throws: a non-string body or a broken state object yields undefined', () => {
    const { ctx } = lineCtx('[    1.000000] x');
    expect(consoleParser.parse(null as unknown as string, ctx)).toBeUndefined();
    const broken = { ...ctx, state: { ...ctx.state, console: null as unknown as Record<string, unknown> } };
    expect(consoleParser.parse('CPU1 is up', broken)).toBeUndefined();
  });

  it('handles 64 KiB lines in linear time (no regex backtracking blow-up)', () => {
    const state = newSourceState();
    parseLine('[   66.548687] Call Trace:', state); // inside a trace, where the register/hex-dump patterns run
    const lines = [
      `[    1.000000] ${'csd: CSD lock (#'.repeat(4000)}`,
      `[    1.000000] ${' '.repeat(65000)}x`,
      `[    1.000000] ${'f'.repeat(65000)}x`,
      `[    1.000000] WARNING: ${'a:1'.repeat(20000)}`,
      `[    1.000000] INFO: task ${'x:1 '.repeat(15000)}`,
    ];
    const t0 = Date.now();
    for (const line of lines) expect(parseLine(line, state)).toBeUndefined();
    expect(Date.now() - t0).toBeLessThan(2000);
  });

  it('sniffs console lines, known headers and open traces; not QEMU trace lines', () => {
    const state = newSourceState();
    const ctx = (fromConsole: boolean): LineContext => ({ consoleTsNs: null, callerCpu: null, fromConsole, state });
    expect(consoleParser.sniff('anything', ctx(true))).toBe(true);
    // external/arm64-qemu-lkdtm-csdlockup-never-released-6.9-rc4.log line 6
    expect(consoleParser.sniff('Sending NMI from CPU 0 to CPUs 1:', ctx(false))).toBe(true);
    // recorders/arm/NOTES.md, QEMU log backend line
    expect(consoleParser.sniff('4242@1795308281.438740:gicv3_icc_generate_sgi GICv3 CPU i/f 0x1 generating SGI 1 IRM 0 target affinity 0x0xx targetlist 0x1', ctx(false))).toBe(false);
  });

  it('is the console module of the LineParser contract', () => {
    expect(consoleParser.name).toBe('console');
  });
});

// ---------------------------------------------------------------------------------------------
// Whole recordings: no throw, every record valid, counts equal to what grep finds in the files.

const CORPUS = '/work/shared/corpus';

/** A minimal stand-in for the reader: prefix stripping and the ftrace-dump section. */
function parseFile(path: string): ParsedItem[] {
  let data = readFileSync(path);
  if (path.endsWith('.gz')) data = gunzipSync(data);
  const state = newSourceState();
  const out: ParsedItem[] = [];
  for (const raw of data.toString('utf8').split('\n')) {
    const line = raw.replace(/[\r\0]/g, '');
    const { body, ctx } = lineCtx(line, state);
    if (state.dump === 'none' && body.startsWith('Dumping ftrace buffer:')) { state.dump = 'header'; continue; }
    if (state.dump !== 'none') {
      if (/^-{20,}$/.test(body)) state.dump = state.dump === 'header' ? 'body' : 'none';
      else if (state.dump === 'header') state.dump = 'none';
      continue;
    }
    out.push(...(consoleParser.parse(body, ctx) ?? []));
  }
  return out;
}

function kindCounts(items: ParsedItem[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const it of items) {
    const key = it.type === 'console' ? it.message.kind : it.type === 'cpu_fact' ? `fact:${it.fact.fact}` : it.type;
    counts[key] = (counts[key] ?? 0) + 1;
  }
  return counts;
}

describe.skipIf(!existsSync(CORPUS))('corpus consoles', () => {
  it('parses every console in the corpus into valid records', () => {
    const files = [
      'x86/boot-smp4/console.log', 'x86/hotplug-smp4/console.log', 'x86/panic-dump/console.log', 'x86/tp-printk/console.log',
      'x86/smp2-maxcpus4/console.log', 'x86/big/console.log.gz', 'arm64-gicv3/hotplug/console.log',
      'arm64-gicv3/panic-dump/console.log', 'arm64-gicv2/hotplug/console.log', 'arm32-gicv2/boot/console.log',
      'faulty-x86/offline-hang/console.log.gz', 'faulty-x86/ci-offline-async/boot.log',
      ...['arm64-grace-csd-early-boot-6.16-rc5.log', 'lkft-x86-suspend-hotplug-cycles-5.2-collage.log',
        'syzkaller-350-softlockup-smp_call_function_many-ftrace-dump-4.20.log'].map((f) => `external/${f}`),
    ].map((f) => join(CORPUS, f)).filter((f) => existsSync(f));
    expect(files.length).toBeGreaterThan(10);
    for (const file of files) {
      for (const it of parseFile(file)) {
        if (it.type === 'console') expect(() => ConsoleRecord.parse(it.message), file).not.toThrow();
        else if (it.type === 'cpu_fact') expect(() => CpuFactRecord.parse(it.fact), file).not.toThrow();
        else expect.fail(`unexpected item type ${it.type} in ${file}`);
      }
    }
  });

  it('offline-hang: one record per message grep finds before the ftrace dump', () => {
    const counts = kindCounts(parseFile(join(CORPUS, 'faulty-x86/offline-hang/console.log.gz')));
    expect(counts).toMatchObject({
      csd_detected: 1, csd_continued: 5, csd_resend: 6, csd_state: 6, nmi_backtrace_request: 1, soft_lockup: 1,
      panic: 1, rcu_stall: 2, cpu_offline: 1, cpu_online: 1, cmdline: 2, frame: 59,
      'fact:present': 1, 'fact:hotplug_cpus': 1, 'fact:possible': 3, 'fact:brought_up': 2,
    });
  });

  it('arm64 Grace: the CSD episode and 72 CPUs online', () => {
    const counts = kindCounts(parseFile(join(CORPUS, 'external/arm64-grace-csd-early-boot-6.16-rc5.log')));
    expect(counts).toMatchObject({
      csd_detected: 1, csd_state: 1, nmi_backtrace_request: 1, nmi_backtrace: 1, csd_resend: 1, csd_unstuck: 1,
      cpu_online: 72, 'fact:brought_up': 2,
    });
  });

  it('x86 suspend collage: 21 offline, 21 + 21 online plus the two boot-list records', () => {
    const counts = kindCounts(parseFile(join(CORPUS, 'external/lkft-x86-suspend-hotplug-cycles-5.2-collage.log')));
    expect(counts).toMatchObject({ cpu_offline: 21, cpu_online: 44 });
  });
});
