// Console-only post-mortems (issue 21, issue 20 item 5): what the kernel's own console messages say
// about who waits for whom, on real recordings; ground truth from grep of the logs (cited).
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { detect } from '../detect/detect.js';
import { ingestFiles } from '../ingest/ingest.js';
import { openWritable } from '../store/db.js';
import { ingestTexts } from './helpers/ingest.js';

const FIXTURES = join(import.meta.dirname, '..', 'fixtures');

async function findings(files: string[]) {
  const db = openWritable(':memory:');
  await ingestFiles(db, files.map((f) => join(FIXTURES, f)), { boot: 'b' });
  return { db, findings: detect(db) };
}

describe('CSD-lock episodes from the console', () => {
  it('a wait for a CPU that went offline earlier is the cross-call to an offline CPU, citing where it went offline', async () => {
    // faulty-x86-offline-hang with only its console and QEMU log (no ftrace): line 166
    // "smpboot: CPU 2 is now offline", line 172 "csd: Detected non-responsive CSD lock (#1) on CPU#1,
    // waiting ... for CPU#02 ipi_fault_func" (zcat console.log.gz | grep -n).
    const { findings: f } = await findings(['faulty-x86-offline-hang/console.log.gz', 'faulty-x86-offline-hang/qemu-trace.log.gz']);
    const csd = f.filter((x) => x.detector === 'kernel-reported' && x.title.startsWith('CSD lock never released'));
    expect(csd.map((x) => `${x.severity} ${x.cpu}->${x.target_cpu}: ${x.title}`))
      .toEqual(['error 1->2: CSD lock never released: CPU1 waits for CPU2 (ipi_fault_func), a cross-call to offline CPU2']);
    expect(csd[0].message).toContain('faulty-x86-offline-hang/console.log.gz:166');
    expect(csd[0].evidence[0].line).toBe(172);
    // The soft lockup of the same waiter (line 237, in __csd_lock_wait) is the same story: no second finding.
    expect(f.filter((x) => x.detector === 'cross-call-wait')).toEqual([]);
  });

  it('the wait at release is the printed wait plus the time to "got unstuck", and the target\'s NMI backtrace is cited', async () => {
    // external-grace: line 812 at 5.414515 "waiting 5001000000 ns for CPU#01", line 899 at 8.826703
    // "got unstuck": 5.001 + 3.412188 = 8.413 s; CPU1's NMI backtrace at line 815 (pl011_console_write_atomic).
    const { db, findings: f } = await findings(['external-grace-csd-late-release/arm64-grace-csd-early-boot-6.16-rc5.log']);
    const late = f.filter((x) => x.detector === 'kernel-reported' && x.title.startsWith('CSD lock released late'));
    expect(late).toHaveLength(1);
    expect(late[0].message).toContain('released after 8.4 s');
    expect(late[0].message).toContain('its NMI backtrace: CPU1 runs pl011_console_write_atomic');
    expect(late[0].evidence.map((e) => e.line)).toContain(815);
    const row = db.prepare("SELECT released_after_ns FROM csd_episodes WHERE origin = 'csd_debug'").get() as { released_after_ns: number };
    expect(row.released_after_ns).toBe(5_001_000_000 + 3_412_188_000);
  });
});

describe('seven waiters on one CPU (6.3)', () => {
  it('each episode is released after the wait the kernel printed (15 s) plus the time to "got unstuck"', async () => {
    // test/data/lkml-6.3-seven-csd-waiters.log: the csd, NMI and CPU3 lines of the first log in Imran
    // Khan's "[RFC PATCH 0/2] smp: Reduce logging due to dump_stack of CSD waiters" (lkml, 28 Apr 2023,
    // Message-ID <20230428170006.1241472-1-imran.f.khan@oracle.com>), in their order, most waiter stacks
    // and register lines left out. CPUs 0-2 and 4-7 wait for CPU3, which spins with interrupts off
    // (irq_disabling_thread); CPU3's own lines carry a stale stamp (78.717016). Each lock's last
    // "Continued" says 15.0 s; each got unstuck about 0.24 s later.
    const db = openWritable(':memory:');
    await ingestFiles(db, [join(import.meta.dirname, 'data', 'lkml-6.3-seven-csd-waiters.log')], { boot: 'b' });
    const f = detect(db).filter((x) => x.detector === 'kernel-reported' && x.severity !== 'info');
    expect(f.map((x) => `${x.severity} ${x.cpu}->${x.target_cpu}`).sort())
      .toEqual(['warning 0->3', 'warning 1->3', 'warning 2->3', 'warning 4->3', 'warning 5->3', 'warning 6->3', 'warning 7->3']);
    const waits = db.prepare("SELECT seq, released_after_ns FROM csd_episodes WHERE origin = 'csd_debug' ORDER BY seq").all() as
      { seq: number; released_after_ns: number }[];
    // #2 (CPU4): 15000009824 ns at 93.716153, unstuck at 93.960507: 15.244363824 s.
    expect(waits.find((w) => w.seq === 2)?.released_after_ns).toBe(15_000_009_824 + 244_354_000);
    for (const w of waits) expect(w.released_after_ns / 1e9, `lock #${w.seq}`).toBeGreaterThan(15.2);
    for (const x of f) expect(x.message).toMatch(/released after 15\.2 s/);
    // CPU3's NMI backtrace: interrupts off (EFLAGS 00000087), in irq_disabling_thread.
    expect(f[0].message).toContain('CPU3 runs delay_tsc with interrupts off');
  });
});

describe('csdlock_debug=ext history (5.12-6.1)', () => {
  // Hand-made in the kernel's format (kernel/smp.c csd_lock_print_extended: "\tcsd: cnt(%07x): %04x->%04x %s"):
  // the steps share one counter, so a higher count is later.
  const report = (history: string[]) => [
    '[   10.000000] smp: csd: Detected non-responsive CSD lock (#1) on CPU#3, waiting 5000000000 ns for CPU#01 flush_tlb_func+0x0/0xb0(0xffff8e0b3e2afbe8).',
    '[   10.000001] smp: \tcsd: CSD lock (#1) unresponsive.',
    ...history.map((h, i) => `[   10.00001${i}] smp: \tcsd: ${h}`),
    '[   10.000100] smp: \tcsd: cnt now: 0000d41', ''].join('\n');
  const verdict = async (history: string[]) => {
    const db = await ingestTexts({ 'console.log': report(history) });
    return detect(db).find((f) => f.detector === 'kernel-reported')!.message;
  };

  it('a real 3.10-rt backport log: the last IPI to CPU55 never taken, then requests queued behind it', async () => {
    // lkml "Re: Possible reproduction of CSD locking issue", Corey Minyard, 25 Jan 2022,
    // Message-ID <20220125215238.GP34919@minyard.net> (quoted log, "> > " removed; Task dump trimmed).
    const db = await ingestTexts({ 'messages': [
      'Jan 23 23:39:43 worker0 kernel: [285737.522743] csd: Detected non-responsive CSD lock (#1) on CPU#3, waiting 5000000042 ns for CPU#55 flush_tlb_func+0x0/0xb0(0xffff8e0b3e2afbe8).',
      'Jan 23 23:39:43 worker0 kernel: [285737.522744]  csd: CSD lock (#1) unresponsive.',
      'Jan 23 23:39:43 worker0 kernel: [285737.522747]  csd: cnt(0000000): 0000->0000 queue',
      'Jan 23 23:39:43 worker0 kernel: [285737.522748]  csd: cnt(0000001): ffff->0037 idle',
      'Jan 23 23:39:43 worker0 kernel: [285737.522749]  csd: cnt(63d8dd8): 0003->0037 ipi',
      'Jan 23 23:39:43 worker0 kernel: [285737.522750]  csd: cnt(63d8dd9): 0003->0037 ping',
      'Jan 23 23:39:43 worker0 kernel: [285737.522750]  csd: cnt(63d8dda): 0003->ffff pinged',
      'Jan 23 23:39:43 worker0 kernel: [285737.522751]  csd: cnt(63d8dea): 0035->0037 pinged',
      'Jan 23 23:39:43 worker0 kernel: [285737.522752]  csd: cnt(63d8deb): ffff->0037 gotipi',
      'Jan 23 23:39:43 worker0 kernel: [285737.522752]  csd: cnt(63d8dec): ffff->0037 handle',
      'Jan 23 23:39:43 worker0 kernel: [285737.522753]  csd: cnt(63d8ded): ffff->0037 dequeue (src CPU 0 == empty)',
      'Jan 23 23:39:43 worker0 kernel: [285737.522754]  csd: cnt(63d8dee): ffff->0037 hdlend (src CPU 0 == early)',
      'Jan 23 23:39:43 worker0 kernel: [285737.522754]  csd: cnt(63d8e1f): 0003->0037 queue',
      'Jan 23 23:39:43 worker0 kernel: [285737.522755]  csd: cnt(63d8e20): 0003->0037 ipi',
      'Jan 23 23:39:43 worker0 kernel: [285737.522756]  csd: cnt(63d8e21): 0003->0037 ping',
      'Jan 23 23:39:43 worker0 kernel: [285737.522756]  csd: cnt(63d8e22): 0003->0037 queue',
      'Jan 23 23:39:43 worker0 kernel: [285737.522757]  csd: cnt(63d8e23): 0003->0037 noipi',
      'Jan 23 23:39:43 worker0 kernel: [285737.522757]  csd: cnt now: 63fe4cd',
      'Jan 23 23:39:43 worker0 kernel: [285737.522758] Task dump for CPU 55:',
      'Jan 23 23:39:43 worker0 kernel: [285737.522780] csd: Re-sending CSD lock (#1) IPI from CPU#03 to CPU#55',
      'Jan 23 23:39:43 worker0 kernel: [285737.522845] csd: CSD lock (#1) got unstuck on CPU#03, CPU#55 released the lock.',
      ''].join('\n') });
    const f = detect(db).filter((x) => x.detector === 'kernel-reported');
    expect(f.map((x) => `${x.severity} ${x.cpu}->${x.target_cpu}`)).toEqual(['warning 3->55']);
    expect(f[0].message).toContain('the IPI history says CPU3 sent CPU55 an IPI (cnt 63d8e20) that CPU55 never took: a lost IPI, or a target with interrupts off; later requests were queued behind it');
    // The kernel says 5000000042 ns at .522743; unstuck at .522845: 5.000102 s.
    expect(f[0].message).toContain('released after 5.0 s');
  });

  it('an IPI the target never took: a lost IPI or interrupts off', async () => {
    expect(await verdict(['cnt(0000d30): ffff->0001 gotipi', 'cnt(0000d3c): 0003->0001 queue', 'cnt(0000d3d): 0003->0001 ipi']))
      .toContain('the IPI history says CPU3 sent CPU1 an IPI (cnt 0000d3d) that CPU1 never took');
  });

  it('an IPI taken and a queue still running: a busy target', async () => {
    expect(await verdict(['cnt(0000d3c): 0003->0001 queue', 'cnt(0000d3d): 0003->0001 ipi', 'cnt(0000d3e): ffff->0001 gotipi',
      'cnt(0000d3f): ffff->0001 handle', 'cnt(0000d20): ffff->0001 hdlend (src CPU 0 == early)']))
      .toContain('is still running its queue: a busy target');
  });
});

describe('RCU stall chains (hand-made, the issue 21 example)', () => {
  it('a stalled CPU waiting in a cross-call for another stalled CPU that runs with interrupts off', async () => {
    const db = await ingestTexts({ 'console.log': [
      '[  100.000000] rcu: INFO: rcu_preempt detected stalls on CPUs/tasks:',
      '[  100.000001] rcu: \t0-...!: (1 GPs behind) idle=9f4/1/0x4000000000000000 softirq=1234/1235 fqs=0',
      '[  100.000002] rcu: \t1-...!: (0 ticks this GP) idle=a12/1/0x4000000000000000 softirq=99/99 fqs=0',
      '[  100.000003] rcu: \t(detected by 2, t=10502 jiffies, g=5521, q=412 ncpus=4)',
      '[  100.000004] Sending NMI from CPU 2 to CPUs 0:',
      '[  100.000005] NMI backtrace for cpu 0',
      '[  100.000006] CPU: 0 PID: 17 Comm: ksoftirqd/0 Not tainted 6.1.0 #1',
      '[  100.000007] RIP: 0010:__local_bh_enable_ip+0x40/0x80',
      '[  100.000008] RSP: 0018:ffffc90000003e48 EFLAGS: 00000046',
      '[  100.000009] Call Trace:',
      '[  100.000010]  <TASK>',
      '[  100.000011]  run_ksoftirqd+0x2b/0x40',
      '[  100.000012]  smpboot_thread_fn+0xdd/0x1c0',
      '[  100.000013]  kthread+0xe9/0x110',
      '[  100.000014]  </TASK>',
      '[  100.000015] Sending NMI from CPU 2 to CPUs 1:',
      '[  100.000016] NMI backtrace for cpu 1',
      '[  100.000017] CPU: 1 PID: 1 Comm: systemd Not tainted 6.1.0 #1',
      '[  100.000018] RIP: 0010:smp_call_function_many_cond+0x1a4/0x3c0',
      '[  100.000019] RSP: 0018:ffffc90000013d08 EFLAGS: 00000202',
      '[  100.000020] Call Trace:',
      '[  100.000021]  <TASK>',
      '[  100.000022]  on_each_cpu_cond_mask+0x24/0x40',
      '[  100.000023]  text_poke_bp_batch+0x93/0x240',
      '[  100.000024]  text_poke_finish+0x1b/0x30',
      '[  100.000025]  </TASK>', ''].join('\n') });
    const f = detect(db).filter((x) => x.severity !== 'info');
    expect(f.map((x) => `${x.detector} ${x.severity} ${x.cpu}->${x.target_cpu}: ${x.title}`))
      .toEqual(['cross-call-wait error 1->0: CPU1 waits in smp_call_function_many_cond (text_poke_bp_batch) for CPU0 (RCU stall)']);
    expect(f[0].message).toContain('for CPU0, which runs __local_bh_enable_ip with interrupts off (stalled, says RCU)');
  });
});

describe('console snapshots', () => {
  it('record each CPU of an NMI backtrace round with its state', async () => {
    // external-syzkaller-350 lines 64-122: "Sending NMI from CPU 2 to CPUs 0-1,3:", then CPU1 in
    // process context (delay_tsc, EFLAGS 00000286: interrupts on), CPU0 in a spinlock inside an
    // interrupt, CPU3 in _raw_spin_lock_irqsave.
    const { db } = await findings(['external-syzkaller-350-softlockup-ftrace-dump/syzkaller-350-softlockup-smp_call_function_many-ftrace-dump-4.20.log']);
    const rows = db.prepare(`SELECT cpu, report_kind, waiting_in, irqs_off, in_lock, asked_by FROM console_snapshots
      WHERE incident = (SELECT min(incident) FROM console_snapshots) AND report_kind IN ('soft_lockup', 'nmi_backtrace') ORDER BY line`).all();
    expect(rows).toEqual([
      { cpu: 2, report_kind: 'soft_lockup', waiting_in: 'smp_call_function_many', irqs_off: 0, in_lock: null, asked_by: null },
      { cpu: 1, report_kind: 'nmi_backtrace', waiting_in: null, irqs_off: 0, in_lock: null, asked_by: 2 },
      { cpu: 0, report_kind: 'nmi_backtrace', waiting_in: null, irqs_off: 1, in_lock: 'native_queued_spin_lock_slowpath', asked_by: 2 },
      { cpu: 3, report_kind: 'nmi_backtrace', waiting_in: null, irqs_off: 1, in_lock: '_raw_spin_lock_irqsave', asked_by: 2 },
    ]);
  });
});

describe('failed bring-up', () => {
  it('a CPU that oopses in its own start_secondary never came online (hand-made, x86 6.x format)', async () => {
    // The shape issue 21 describes: the boot CPU lists "#3" while bringing CPUs up, then CPU3 itself
    // oopses with start_secondary in its stack (no idle loop yet).
    const db = await ingestTexts({ 'console.log': [
      '[    0.200000] smp: Bringing up secondary CPUs ...',
      '[    0.210000] .... node  #0, CPUs:      #1 #2 #3',
      '[    0.230000] BUG: kernel NULL pointer dereference, address: 0000000000000000',
      '[    0.230001] Oops: 0000 [#1] PREEMPT SMP NOPTI',
      '[    0.230002] CPU: 3 PID: 0 Comm: swapper/3 Not tainted 6.8.0 #1',
      '[    0.230003] RIP: 0010:cpu_init+0x1a/0x300',
      '[    0.230004] Call Trace:',
      '[    0.230005]  <TASK>',
      '[    0.230006]  start_secondary+0x5c/0x150',
      '[    0.230007]  common_startup_64+0x13e/0x141',
      '[    0.230008]  </TASK>',
      '[    0.240000] smp: Brought up 1 node, 3 CPUs', ''].join('\n') });
    const f = detect(db).filter((x) => x.severity !== 'info');
    expect(f.map((x) => `${x.detector} ${x.severity} ${x.target_cpu}: ${x.title}`)).toEqual(['kernel-reported warning 3: CPU3 failed to come online']);
    expect(f[0].message).toContain('crashed (oops) in its own bring-up at cpu_init');
    const state = db.prepare('SELECT state FROM cpu_states WHERE cpu = 3 ORDER BY start_ns DESC LIMIT 1').pluck().get();
    expect(state).toBe('offline');
  });
});
