// ftrace layouts (trace file, trace-cmd report, oops-time dump, tp_printk) and the reader's framing,
// on real lines from the corpus (file named above each block); expected fields decoded by hand.
import { describe, expect, it } from 'vitest';
import type { ConsoleRecord, CpuFactRecord, EventRecord, Format } from '../../schema/records.js';
import { SourceReader, type ReaderSink } from '../../parsers/reader.js';
import { parseCpumask } from '../../parsers/patterns.js';

interface Collected {
  events: (EventRecord & { line: number })[];
  console: (ConsoleRecord & { line: number })[];
  facts: CpuFactRecord[];
  issues: { reason: string; line: number }[];
  formats: Format[];
  stats: Map<string, number>;
}

/** Feeds lines to a reader and collects what it yields. */
function read(lines: string[]): Collected {
  const out: Collected = { events: [], console: [], facts: [], issues: [], formats: [], stats: new Map() };
  const sink: ReaderSink = {
    event: (ev, line) => out.events.push({ ...ev, line }),
    console: (msg, line) => out.console.push({ ...msg, line }),
    cpuFact: (fact) => out.facts.push(fact),
    issue: (issue, line) => out.issues.push({ reason: issue.reason, line }),
    stat: (name, key, add) => out.stats.set(`${name}${key ? `[${key}]` : ''}`, (out.stats.get(`${name}${key ? `[${key}]` : ''}`) ?? 0) + add),
    format: (format) => out.formats.push(format),
  };
  const reader = new SourceReader(sink);
  for (const line of lines) reader.pushLine(line);
  reader.end();
  return out;
}

const one = (line: string) => {
  const { events, issues } = read([line]);
  expect(issues).toEqual([]);
  expect(events).toHaveLength(1);
  return events[0];
};

describe('trace file lines (faulty-x86/offline-async/trace.txt, x86/hotplug-smp4/trace.txt, arm64-gicv3/boot/trace.txt)', () => {
  it.each([
    ['            init-1       [001] .....     4.074854: csd_queue_cpu: cpu=2 callsite=ipi_fault_write+0x1cf/0x221 func=ipi_fault_func csd=ffffffff819f4b80',
      { ts_ns: 4074854000, cpu: 1, task: 'init', pid: 1, flags: '.....', kind: 'csd_queue_cpu', op: 'csd_queue', target_cpu: 2, targets: [2],
        callsite: 'ipi_fault_write+0x1cf/0x221', func: 'ipi_fault_func', csd: '0xffffffff819f4b80' }],
    ['     kworker/1:0-22      [001] .....     2.043922: ipi_send_cpumask: cpumask=00000000,0000000d callsite=on_each_cpu_cond_mask+0x18/0x19 callback=generic_smp_call_function_single_interrupt+0x0/0xe',
      { task: 'kworker/1:0', pid: 22, op: 'ipi_send', targets: [0, 2, 3], reason: 'call_function', callsite: 'on_each_cpu_cond_mask+0x18/0x19' }],
    ['            init-1       [003] d....     1.470473: ipi_send_cpu: cpu=0 callsite=wakeup_preempt+0x2f/0x54 callback=0x0',
      { op: 'ipi_send', target_cpu: 0, reason: 'reschedule', callback: '0x0', flags: 'd....' }],
    ['          <idle>-0       [002] dN...     5.189639: csd_function_entry: func=ipi_fault_func, csd=ffffffff819f4b80',
      { task: '<idle>', pid: 0, cpu: 2, op: 'csd_entry', func: 'ipi_fault_func', csd: '0xffffffff819f4b80' }],
    ['            init-1       [003] d....     1.525082: csd_function_entry: func=ipi_fault_ping_func, csd=0000000000000000',
      { op: 'csd_entry', csd: '0x0' }],
    ['     kworker/0:1-9       [000] .....     2.906482: cpuhp_exit:  cpu: 0002  state:  87 step: 145 ret: 0',
      { op: 'hp_exit', target_cpu: 2, hp_state: 87, hp_step: 145, hp_ret: 0 }],
    ['            init-1       [001] .....     5.192414: cpuhp_multi_enter: cpu: 0002 target: 236 step:  56 (trace_rb_cpu_prepare)',
      { op: 'hp_enter', target_cpu: 2, hp_state: 236, hp_step: 56, func: 'trace_rb_cpu_prepare' }],
    ['          <idle>-0       [002] d.h..     1.582600: call_function_single_entry: vector=251',
      { op: 'ipi_entry', vector: 251, reason: 'call_function_single' }],
    ['          <idle>-0       [002] d.h..     5.411573: local_timer_entry: vector=236',
      { op: null, vector: 236, reason: 'local_timer' }],
    ['            init-1       [001] .....     4.073704: tracing_mark_write: ipitrace-scenario: inject offline-async 2',
      { op: 'marker', text: 'ipitrace-scenario: inject offline-async 2' }],
    ['          <idle>-0       [001] d....     0.166632: ipi_raise: target_mask=00000000,00000001 (Function call interrupts)',
      { op: 'ipi_send', targets: [0], reason: 'Function call interrupts' }],
    ['          <idle>-0       [000] dNh..     0.169175: ipi_exit: (Function call interrupts)',
      { op: 'ipi_exit', reason: 'Function call interrupts' }],
    // arm32-gicv2/boot/trace.txt: 32-bit csd hash and one cpumask word
    ['          <idle>-0       [001] d....     0.100152: csd_queue_cpu: cpu=0 callsite=ttwu_queue_wakelist+0x118/0x120 func=sched_ttwu_pending csd=7c434336',
      { csd: '0x7c434336', func: 'sched_ttwu_pending' }],
    ['            init-1       [000] .n...     0.243312: ipi_send_cpumask: cpumask=0000000e callsite=on_each_cpu_cond_mask+0x24/0x2c callback=generic_smp_call_function_single_interrupt+0x0/0x10',
      { targets: [1, 2, 3] }],
    // x86/boot-smp4-qemu64/trace.txt: hashed-out pointer
    ['          <idle>-0       [001] dN.4.     1.142262: csd_queue_cpu: cpu=0 callsite=ttwu_queue_wakelist+0xdd/0x100 func=sched_ttwu_pending csd=(____ptrval____)',
      { csd: null, op: 'csd_queue' }],
  ])('%s', (line, want) => {
    expect(one(line)).toMatchObject({ format: 'ftrace', clock: 'ftrace', ...want });
  });

  it('reads the header: entries counts and #P (online CPUs when read)', () => {
    const { facts, stats, formats } = read(['# tracer: nop', '#', '# entries-in-buffer/entries-written: 3900/4100   #P:3', '#']);
    expect(facts).toEqual([{ fact: 'online_at_read', count: 3, cpus: null, text: 'entries-in-buffer/entries-written: 3900/4100   #P:3' }]);
    expect(stats.get('ftrace_entries_in_buffer')).toBe(3900);
    expect(stats.get('ftrace_entries_written')).toBe(4100);
    expect(formats).toEqual(['ftrace', 'ftrace', 'ftrace', 'ftrace']);
  });

  it('lost events are gap markers per CPU', () => {
    const { events, stats } = read(['CPU:1 [LOST 12570412 EVENTS]', 'CPU:3 [LOST EVENTS]']);
    expect(events.map((e) => [e.op, e.cpu, e.text])).toEqual([['lost', 1, '12570412'], ['lost', 3, null]]);
    expect(stats.get('lost_events[1]')).toBe(12570412);
    expect(stats.get('lost_events_unknown_count[3]')).toBe(1);
  });

  it('any other event is stored with its raw arguments and counted as unknown', () => {
    const ev = one('           <idle>-0       [003] ..s1.   314.011428: tasklet_entry: tasklet=0xffffa01ef8db2740 function=tcp_tasklet_func');
    expect(ev).toMatchObject({ kind: 'tasklet_entry', op: null, args: 'tasklet=0xffffa01ef8db2740 function=tcp_tasklet_func', cpu: 3 });
  });

  it('a typed event whose arguments do not parse is an issue, not a row', () => {
    const { events, issues } = read(['            init-1       [001] .....     4.074854: csd_queue_cpu: cpu=two']);
    expect(events).toEqual([]);
    expect(issues).toEqual([{ reason: 'csd_queue_cpu arguments do not parse', line: 1 }]);
  });
});

describe('trace-cmd report (formats.md B.6)', () => {
  it('switches layout at the header and takes pid width 5 and the padded event name', () => {
    const { events, facts } = read([
      'version = 6', 'cpus=8',
      '           <...>-3979  [007]   217.975284: sched_stat_runtime:   comm=Thread-103 pid=3979 runtime=1 [ns]',
      'CPU:7 [204600 EVENTS DROPPED]',
    ]);
    expect(facts.map((f) => [f.fact, f.count])).toEqual([['trace_cpus', 8]]);
    expect(events[0]).toMatchObject({ format: 'trace-cmd', task: '<...>', pid: 3979, cpu: 7, kind: 'sched_stat_runtime', ts_ns: 217975284000 });
    expect(events[1]).toMatchObject({ op: 'lost', cpu: 7, text: '204600' });
  });
});

describe('oops-time ftrace dump (x86/panic-dump/console.log, faulty-x86/offline-hang/console.log)', () => {
  const dump = [
    '[   10.591283] Dumping ftrace buffer:\r',
    '[   10.591392] ---------------------------------\r',
    '[   10.592101]   <idle>-0         0d..4.    0us : csd_function_entry: func=do_flush_tlb_all, csd=0000000000000000\r',
    '[   10.593071] kworker/-9         0d..1. 448361us : csd_function_entry: func=do_sync_core, csd=0000000000000000\r',
    '[   58.749223]     init-1         1..... 4187092us : csd_queue_cpu: cpu=2 callsite=ipi_fault_write+0x1cf/0x221 func=ipi_fault_func csd=ffff88801f46be40\r',
    '[   12.078688]     init-1         0..... 10276008us : tracing_mark_write: ipitrace-scenario: sysrq crash\r',
    '[   12.091202] ---------------------------------\r',
    '[   12.091369] Kernel Offset: 0x2e000000 from 0xffffffff81000000\r',
  ];

  it('parses the latency layout: comm cut to 8, CPU glued to the flags, microseconds of the ftrace clock', () => {
    const { events, console: messages, formats } = read(dump);
    expect(events.map((e) => [e.line, e.task, e.cpu, e.flags, e.ts_ns, e.kind, e.format, e.clock])).toEqual([
      [3, '<idle>', 0, 'd..4.', 0, 'csd_function_entry', 'ftrace-dump', 'ftrace'],
      [4, 'kworker/', 0, 'd..1.', 448361000, 'csd_function_entry', 'ftrace-dump', 'ftrace'],
      [5, 'init', 1, '.....', 4187092000, 'csd_queue_cpu', 'ftrace-dump', 'ftrace'],
      [6, 'init', 0, '.....', 10276008000, 'tracing_mark_write', 'ftrace-dump', 'ftrace'],
    ]);
    expect(messages.map((m) => m.kind)).toEqual(['dump_begin', 'dump_end', 'text']);
    expect(formats.slice(0, 7)).toEqual(Array(7).fill('ftrace-dump'));
  });

  it('older kernels: pid width 5, 4 flag characters (formats.md B.4)', () => {
    const { events } = read(['[ 1731.632619]   <idle>-0       2d... 1562233515us : scheduler_ipi: entered']);
    expect(events[0]).toMatchObject({ cpu: 2, flags: 'd...', ts_ns: 1562233515000, kind: 'scheduler_ipi' });
  });

  it('an empty buffer ends the section; a dump cut before its closing fence is counted', () => {
    expect(read(['Dumping ftrace buffer:', '   (ftrace buffer empty)']).stats.get('dump_truncated')).toBeUndefined();
    expect(read(dump.slice(0, 5)).stats.get('dump_truncated')).toBe(1);
  });
});

describe('tp_printk lines (x86/tp-printk/console.log, arm64-gicv3/tp-printk/console.log)', () => {
  it.each([
    ['[    0.886430] csd_queue_cpu: cpu=0 callsite=ttwu_queue_wakelist+0xdd/0x100 func=sched_ttwu_pending csd=(____ptrval____)\r',
      { ts_ns: 886430000, cpu: null, task: null, op: 'csd_queue', target_cpu: 0, csd: null, clock: 'printk', format: 'tp-printk' }],
    ['[    0.319591] cpuhp_exit:  cpu: 0000  state: 236 step: 192 ret: 0\r', { op: 'hp_exit', target_cpu: 0, hp_state: 236 }],
    ['[    0.087354] ipi_raise: target_mask=00000000,00000002 (Rescheduling interrupts)\r', { targets: [1], reason: 'Rescheduling interrupts' }],
  ])('%s', (line, want) => {
    expect(one(line)).toMatchObject(want);
  });

  it('takes the CPU from a PRINTK_CALLER [ Cn] field', () => {
    expect(one('[ 1118.013725][    C3] ipi_entry: (Function call interrupts)')).toMatchObject({ cpu: 3, op: 'ipi_entry' });
  });

  it('a kernel message shaped like "word: text" is not an event', () => {
    expect(read(['[    2.814679] smpboot: CPU 2 is now offline\r']).events).toEqual([]);
  });
});

describe('reader framing', () => {
  // faulty-x86/ci-offline-async/boot.log lines 681-684: a console line split by QEMU records.
  it('glues a console line split by interleaved QEMU records, citing the line it started on', () => {
    const { events, console: messages, stats } = read([
      '[    0.027268] calibrate_delay_5207@1795310002.884691:apic_mem_writel 0xb0 = 0x00000000',
      'direct() failed to get a good estimate for loops_per_jiffy.\r',
      '[    0.027265206@1795310002.884750:apic_mem_writel 0xb0 = 0x00000000',
      '8] Probably due to long platform interrupts. Consider using "lpj=" boot option.\r',
    ]);
    expect(events.map((e) => [e.line, e.kind, e.host_tid])).toEqual([[1, 'apic_mem_writel', 5207], [3, 'apic_mem_writel', 5206]]);
    expect(messages.map((m) => [m.line, m.ts_ns, m.text])).toEqual([
      [1, 27268000, 'calibrate_delay_direct() failed to get a good estimate for loops_per_jiffy.'],
      [3, 27268000, 'Probably due to long platform interrupts. Consider using "lpj=" boot option.'],
    ]);
    expect(stats.get('glued_console_fragments')).toBe(2);
  });

  it('strips a syslog prefix and the LAVA residue, and keeps console noise out of the tables', () => {
    const { console: messages, formats } = read([
      'Jan 23 23:39:43 worker0 kernel: [285737.522743] smpboot: CPU 2 is now offline',
      '[    1.146677] Modules linked in:"}',
      'plain text without a stamp',
    ]);
    expect(messages.map((m) => [m.kind, m.cpu, m.ts_ns])).toEqual([['cpu_offline', 2, 285737522743000], ['text', null, 1146677000]]);
    expect(messages[1].text).toBe('Modules linked in:');
    expect(formats).toEqual(['console', 'console', 'other']);
  });

  it('strips what dmesg and journalctl put before a message: levels, wall-clock stamps, the host', () => {
    // The prefixes util-linux dmesg (-x, -T, --time-format iso) and journalctl (-k, -o
    // short-monotonic) print, around one real line (x86/hotplug-smp4/console.log).
    const { console: messages, formats } = read([
      'kern  :warn  : [    5.100000] smpboot: CPU 3 is now offline',
      '[Wed Dec  2 03:00:00 2026] smpboot: CPU 2 is now offline',
      '2026-12-02T03:00:00,123456+00:00 smpboot: CPU 2 is now offline',
      'Dec 02 03:00:01 host kernel: smpboot: CPU 1 is now offline',
      '[    6.123456] host kernel: smpboot: CPU 2 is now offline',
    ]);
    expect(messages.map((m) => [m.kind, m.cpu, m.ts_ns])).toEqual([
      ['cpu_offline', 3, 5100000000], ['cpu_offline', 2, null], ['cpu_offline', 2, null], ['cpu_offline', 1, null],
      ['cpu_offline', 2, 6123456000],
    ]);
    expect(formats).toEqual(['console', 'console', 'console', 'console', 'console']);
  });
});

describe('cpumasks (formats.md A.5)', () => {
  it.each([
    ['00000000,0000000e', [1, 2, 3]],
    ['0000000e', [1, 2, 3]],
    ['00000001,00000000', [32]],
    ['0,2-5', [0, 2, 3, 4, 5]],
    ['3', [3]],
    // a real arm64 6.1 console (fixture arm64-debian61-gicv3-hotplug, line 2726): a doubled 0 in
    // the first word; read as a CPU list it named CPUs 0 and 8
    ['000000000,00000008', [3]],
  ])('%s', (text, cpus) => {
    expect(parseCpumask(text)).toEqual(cpus);
  });

  it('a garbled word whose extra digits are not zeros is unreadable, not a guess', () => {
    expect(parseCpumask('100000000,00000008')).toBeNull();
  });
});
