// Ingest-level repairs of corrupted consoles (ingest/timestamps.ts, parsers/ftrace-text.ts), on
// small hand-made consoles; each states what it models. The real case is the fixture
// x86-debian61-maxcpus-crash-dump.
import { describe, expect, it } from 'vitest';
import { detect } from '../detect/detect.js';
import { ingestTexts } from './helpers/ingest.js';

const stamp = (secs: number, text: string) => `[${secs.toFixed(6).padStart(12)}] ${text}`;

async function consoleTimes(lines: string[]): Promise<{ times: (number | null)[]; spikes: string[] }> {
  const db = await ingestTexts({ 'console.log': lines.join('\n') + '\n' });
  const times = (db.prepare('SELECT ts_ns FROM console_messages ORDER BY line').pluck().all() as (number | null)[]);
  const spikes = db.prepare("SELECT key FROM stats WHERE name = 'timestamp_spikes' ORDER BY key").pluck().all() as string[];
  return { times, spikes };
}

describe('printk stamps corrupted on the serial line', () => {
  it('one stamp far ahead of two neighbours that agree is taken as the previous line\'s', async () => {
    // [ 2.804794] x, [ 22.804794] y (a doubled digit), [ 2.804794] z
    const r = await consoleTimes([stamp(2.804794, 'a'), stamp(22.804794, 'b'), stamp(2.804794, 'c')]);
    expect(r.times).toEqual([2804794000, 2804794000, 2804794000]);
    expect(r.spikes).toEqual(['2']);
  });

  it('a doubled digit is undone where that puts the time between its neighbours', async () => {
    // armhf dump (not kept as a fixture): 498964us printed as 4989664us between 489463us and 502806us.
    const dump = ['Dumping ftrace buffer:', '---------------------------------',
      '  <idle>-0         2dnh.. 489463us : ipi_exit: (Function call interrupts)',
      '    init-1         3d.... 4989664us : ipi_raise: target_mask=00000001 (Function call interrupts)',
      '    init-1         3d.... 502806us : ipi_raise: target_mask=00000001 (Function call interrupts)',
      '---------------------------------'].map((l) => stamp(7.5, l));
    const db = await ingestTexts({ 'console.log': dump.join('\n') + '\n' });
    expect(db.prepare('SELECT ts_ns FROM events ORDER BY line').pluck().all()).toEqual([489463000, 498964000, 502806000]);
  });

  it('a secondary CPU\'s early stamps dip below their neighbours: left alone', async () => {
    // x86 calibrate_delay_direct() lines printed by an AP before its clock is synchronised.
    const r = await consoleTimes([stamp(0.59763, 'a'), stamp(0.050339, 'b'), stamp(0.850753, 'c')]);
    expect(r.times).toEqual([597630000, 50339000, 850753000]);
    expect(r.spikes).toEqual([]);
  });

  it('a jump ahead that later lines follow is time passing, and a restart is a new boot: left alone', async () => {
    const r = await consoleTimes([stamp(1, 'a'), stamp(30, 'b'), stamp(31, 'c'), stamp(0.5, 'd'), stamp(0.6, 'e')]);
    expect(r.times).toEqual([1e9, 30e9, 31e9, 0.5e9, 0.6e9]);
    expect(r.spikes).toEqual([]);
  });
});

describe('event names with a doubled character', () => {
  it('are stored under the typed name they repeat, and counted; other unknown names are kept as printed', async () => {
    const dump = ['Dumping ftrace buffer:', '---------------------------------',
      '  <idle>-0         1d.h1. 10328us : ccall_function_single_entry: vector=251',
      '  cpuhp/1-19        1..... 853538us : cppuhp_exit:  cpu: 0001  state: 155 step: 156 ret: 0',
      '  <idle>-0         1d.h1. 10400us : sched_wakeupp: comm=x pid=1',
      '---------------------------------'].map((l) => stamp(2.8, l));
    const db = await ingestTexts({ 'console.log': dump.join('\n') + '\n' });
    expect(db.prepare('SELECT kind, op, vector, target_cpu FROM events ORDER BY line').all()).toEqual([
      { kind: 'call_function_single_entry', op: 'ipi_entry', vector: 251, target_cpu: null },
      { kind: 'cpuhp_exit', op: 'hp_exit', vector: null, target_cpu: 1 },
      { kind: 'sched_wakeupp', op: null, vector: null, target_cpu: null },
    ]);
    expect(db.prepare("SELECT key FROM stats WHERE name = 'repaired_event_names' ORDER BY key").pluck().all())
      .toEqual(['ccall_function_single_entry', 'cppuhp_exit']);
  });
});

describe('other characters a serial line repeated, inside an oops-time dump', () => {
  it('IPI names, argument keywords and the us unit are read as what they repeat', async () => {
    // Lines of the fixture arm64-debian61-gicv2-maxcpus-crash-dump (console.log 339, 386, 278, 465).
    const dump = ['Dumping ftrace buffer:', '---------------------------------',
      'kthreadd-2         0d.... 114699us : ipi_raise: target_mask=00000000,00000002 (Resccheduling interrupts)',
      '  <idle>-0         1dnh.. 241028us : ipi_entry: (Reschhhhhheduling interrupts)',
      '    init-1         0..... 90414us : cpuhp_exit:  cpu: 0001  statee:  33 step:  33 ret: 0',
      '  <idle>-0         1dnh.. 380194uuuuuuuuuuuus : ipi_entry: (Rescheduling interrupts)',
      '---------------------------------'].map((l) => stamp(2.3, l));
    const db = await ingestTexts({ 'console.log': dump.join('\n') + '\n' });
    expect(db.prepare('SELECT line, kind, reason, hp_state, ts_ns FROM events ORDER BY line').all()).toEqual([
      { line: 3, kind: 'ipi_raise', reason: 'Rescheduling interrupts', hp_state: null, ts_ns: 114699000 },
      { line: 4, kind: 'ipi_entry', reason: 'Rescheduling interrupts', hp_state: null, ts_ns: 241028000 },
      { line: 5, kind: 'cpuhp_exit', reason: null, hp_state: 33, ts_ns: 90414000 },
      { line: 6, kind: 'ipi_entry', reason: 'Rescheduling interrupts', hp_state: null, ts_ns: 380194000 },
    ]);
    expect(db.prepare('SELECT count(*) FROM unparsed').pluck().get()).toBe(0);
  });

  it('a dump line garbled beyond that is an unparsed row, not console text', async () => {
    const dump = ['Dumping ftrace buffer:', '---------------------------------',
      '  <idle>-0         1dnh.. 38x194us : ipi_entry: (Rescheduling interrupts)',
      '---------------------------------'].map((l) => stamp(2.3, l));
    const db = await ingestTexts({ 'console.log': dump.join('\n') + '\n' });
    expect(db.prepare('SELECT line, reason FROM unparsed').all()).toEqual([{ line: 3, reason: 'ftrace dump line whose columns do not parse' }]);
  });
});


describe('one console that holds the ring buffer twice', () => {
  it('the trace file cat to the console and the oops-time dump of the same buffer are replayed once', async () => {
    // A CI script that cats /sys/kernel/tracing/trace and then crashes the kernel prints every event
    // twice (a real armhf 6.1 boot did; there the dump's copy also had 'target_mmask' garbled).
    const trace = ['# tracer: nop', '#', '# entries-in-buffer/entries-written: 3/3   #P:4', '#',
      '            init-1       [000] d....     0.114728: ipi_raise: target_mask=00000004 (Rescheduling interrupts)',
      '          <idle>-0       [002] d.h..     0.114801: ipi_entry: (Rescheduling interrupts)',
      '          <idle>-0       [002] d.h..     0.114812: ipi_exit: (Rescheduling interrupts)'];
    const dump = ['Dumping ftrace buffer:', '---------------------------------',
      '    init-1         0d.... 114728us : ipi_raise: target_mmask=00000004 (Rescheduling interrupts)',
      '  <idle>-0         2d.h.. 114801us : ipi_entry: (Rescheduling interrupts)',
      '  <idle>-0         2d.h.. 114812us : ipi_exit: (Rescheduling interrupts)',
      '---------------------------------'].map((l) => stamp(7.38, l));
    const db = await ingestTexts({ 'console.log': [...trace, ...dump].join('\n') + '\n' });
    detect(db);
    expect(db.prepare('SELECT src_cpu, target_cpu, reason FROM ipi_sends').all())
      .toEqual([{ src_cpu: 0, target_cpu: 2, reason: 'Rescheduling interrupts' }]);
  });
});

describe('when QEMU was logging (qemu_log_buckets)', () => {
  it('each 20 ms bucket of QEMU line times keeps its first and last time; a line out of order adds a row to its bucket', async () => {
    // Host times in us after 1795308000 s: two lines in the bucket at 0, two in the one at 20 ms, then
    // a thread's line from 19.9 ms (bucket 0 again) after them, and one at 45 ms.
    const us = [1000, 4000, 21_000, 22_500, 19_900, 45_000];
    const log = us.map((t) => `5000@1795308000.${String(t).padStart(6, '0')}:apic_local_deliver vector 0 delivery mode 0`);
    const db = await ingestTexts({ 'qemu-trace.log': log.join('\n') + '\n' });
    const rows = db.prepare('SELECT bucket_ns, first_ns, last_ns FROM qemu_log_buckets ORDER BY rowid').safeIntegers(true).raw().all();
    const ns = (t: number) => 1_795_308_000_000_000_000n + BigInt(t) * 1000n;
    expect(rows).toEqual([
      [ns(0), ns(1000), ns(4000)],
      [ns(20_000), ns(21_000), ns(22_500)],
      [ns(0), ns(19_900), ns(19_900)],
      [ns(40_000), ns(45_000), ns(45_000)],
    ]);
  });
});
