// Tests for parsers/qemu-trace.ts. Lines are copied from the corpus (file and line cited per row);
// the few synthetic rows (formats the corpus does not contain) say so. Expected values were
// decoded by hand from the line text.
import { describe, expect, it } from 'vitest';
import type { EventRecord, ParsedItem } from '../../schema/records.js';
import {
  BARE_EVENT_FAMILIES, findQemuRecordStart, isBareQemuEventName, knownQemuTids, noteQemuTid, qemuParser, qemuState,
} from '../../parsers/qemu-trace.js';
import { newSourceState, type LineContext, type SourceState } from '../../parsers/types.js';

function ctxFor(state: SourceState = newSourceState(), fromConsole = false): LineContext {
  return { consoleTsNs: null, callerCpu: null, fromConsole, state };
}

/** Parses one line and returns its single event (fails the test otherwise). */
function parseOne(line: string, ctx: LineContext = ctxFor()): EventRecord {
  expect(qemuParser.sniff(line, ctx)).toBe(true);
  const items = qemuParser.parse(line, ctx);
  expect(items).toHaveLength(1);
  const item = (items as ParsedItem[])[0];
  if (item.type !== 'event') throw new Error(`expected an event, got ${JSON.stringify(item)}`);
  return item.event;
}

/** Parses lines in order with one shared state; returns one event per line. */
function parseSeq(lines: string[]): EventRecord[] {
  const ctx = ctxFor();
  return lines.map((line) => parseOne(line, ctx));
}

type Typed = Pick<EventRecord, 'op' | 'cpu' | 'target_cpu' | 'targets' | 'vector' | 'text'>;
const UNTYPED: Typed = { op: null, cpu: null, target_cpu: null, targets: [], vector: null, text: null };

function typed(ev: EventRecord): Typed {
  return { op: ev.op, cpu: ev.cpu, target_cpu: ev.target_cpu, targets: ev.targets, vector: ev.vector, text: ev.text };
}

/** Every column the module may set; fields not given are expected NULL / []. */
function expectEvent(
  ev: EventRecord,
  exp: { kind: string; args: string; ts?: bigint | null; tid?: number | null } & Partial<Typed>,
): void {
  const { kind, args, ts = null, tid = null, ...rest } = exp;
  expect({ format: ev.format, kind: ev.kind, args: ev.args, clock: ev.clock, ts_ns: ev.ts_ns, host_tid: ev.host_tid })
    .toEqual({ format: 'qemu', kind, args, clock: ts === null ? 'none' : 'qemu-host', ts_ns: ts, host_tid: tid });
  expect(typed(ev)).toEqual({ ...UNTYPED, ...rest });
  // Columns the QEMU module never fills.
  expect([ev.task, ev.pid, ev.flags, ev.csd, ev.func, ev.callsite, ev.callback, ev.reason, ev.hp_state])
    .toEqual([null, null, null, null, null, null, null, null, null]);
}

type Row = [string, string, Parameters<typeof expectEvent>[1]];

describe('sniff and parse: x86 APIC, no prefix', () => {
  // x86/boot-smp4/qemu-trace.log (QEMU 7.2, no -msg timestamp=on)
  const rows: Row[] = [
    ['L59 INIT all-but-self (shorthand 3, mode 5)', 'apic_mem_writel 0x300 = 0x000c4500',
      { kind: 'apic_mem_writel', args: '0x300 = 0x000c4500', op: 'ipi_send', vector: 0, text: 'init all-but-self' }],
    ['L60 SIPI all-but-self, vector 0x10', 'apic_mem_writel 0x300 = 0x000c4610',
      { kind: 'apic_mem_writel', args: '0x300 = 0x000c4610', op: 'ipi_send', vector: 16, text: 'startup all-but-self' }],
    ['L813 fixed 0xfb, no ICR-high seen: destination unknown', 'apic_mem_writel 0x300 = 0x000000fb',
      { kind: 'apic_mem_writel', args: '0x300 = 0x000000fb', op: 'ipi_send', vector: 251, text: 'fixed undecoded' }],
    ['L636 ICR high alone: no send', 'apic_mem_writel 0x310 = 0x02000000',
      { kind: 'apic_mem_writel', args: '0x310 = 0x02000000' }],
    ['L106 EOI', 'apic_mem_writel 0xb0 = 0x00000000',
      { kind: 'apic_mem_writel', args: '0xb0 = 0x00000000', text: 'eoi' }],
    ['L548 ICR read is not a send', 'apic_mem_readl 0x300 = 0x0000c500',
      { kind: 'apic_mem_readl', args: '0x300 = 0x0000c500' }],
    ['L104 IOAPIC delivery', 'apic_deliver_irq dest 0 dest_mode 0 delivery_mode 0 vector 48 trigger_mode 0',
      { kind: 'apic_deliver_irq', args: 'dest 0 dest_mode 0 delivery_mode 0 vector 48 trigger_mode 0',
        vector: 48, target_cpu: 0, targets: [0], text: 'fixed' }],
    ['L450 LVT index is not a vector', 'apic_local_deliver vector 0 delivery mode 0',
      { kind: 'apic_local_deliver', args: 'vector 0 delivery mode 0' }],
    ['L2', 'apic_report_irq_delivered coalescing 1',
      { kind: 'apic_report_irq_delivered', args: 'coalescing 1' }],
    ['L51', 'apic_reset_irq_delivered old coalescing 4',
      { kind: 'apic_reset_irq_delivered', args: 'old coalescing 4' }],
  ];
  it.each(rows)('%s', (_desc, line, exp) => expectEvent(parseOne(line), exp));
});

describe('sniff and parse: x86 APIC, TID@SECS.USEC prefix', () => {
  const rows: Row[] = [
    // x86/hotplug-smp4/qemu-trace.log
    ['hotplug-smp4 L730 ICR high', '1821@1795308013.693873:apic_mem_writel 0x310 = 0x03000000',
      { kind: 'apic_mem_writel', args: '0x310 = 0x03000000', ts: 1795308013693873000n, tid: 1821 }],
    ['hotplug-smp4 L2959 call-function to all-but-self', '1821@1795308015.301240:apic_mem_writel 0x300 = 0x000c00fc',
      { kind: 'apic_mem_writel', args: '0x300 = 0x000c00fc', ts: 1795308015301240000n, tid: 1821,
        op: 'ipi_send', vector: 252, text: 'fixed all-but-self' }],
    ['hotplug-smp4 L44040 self IPI 0xf6', '1822@1795308028.201702:apic_mem_writel 0x300 = 0x000400f6',
      { kind: 'apic_mem_writel', args: '0x300 = 0x000400f6', ts: 1795308028201702000n, tid: 1822,
        op: 'ipi_send', vector: 246, text: 'fixed self' }],
    ['hotplug-smp4 L535 ICR read', '1821@1795308013.443044:apic_mem_readl 0x300 = 0x0000c500',
      { kind: 'apic_mem_readl', args: '0x300 = 0x0000c500', ts: 1795308013443044000n, tid: 1821 }],
    ['hotplug-smp4 L9 IOAPIC delivery', '1802@1795308011.493620:apic_deliver_irq dest 0 dest_mode 0 delivery_mode 0 vector 0 trigger_mode 0',
      { kind: 'apic_deliver_irq', args: 'dest 0 dest_mode 0 delivery_mode 0 vector 0 trigger_mode 0',
        ts: 1795308011493620000n, tid: 1802, vector: 0, target_cpu: 0, targets: [0], text: 'fixed' }],
    ['hotplug-smp4 L1', '1802@1795308011.493577:apic_local_deliver vector 3 delivery mode 0',
      { kind: 'apic_local_deliver', args: 'vector 3 delivery mode 0', ts: 1795308011493577000n, tid: 1802 }],
    ['hotplug-smp4 L2', '1802@1795308011.493612:apic_report_irq_delivered coalescing 1',
      { kind: 'apic_report_irq_delivered', args: 'coalescing 1', ts: 1795308011493612000n, tid: 1802 }],
    // faulty-x86/ci-offline-async/boot.log L9604, after the reader split off `[    1.713608] i`
    ['ci-offline-async boot.log L9604 EOI', '5208@1795310003.813836:apic_mem_writel 0xb0 = 0x00000000',
      { kind: 'apic_mem_writel', args: '0xb0 = 0x00000000', ts: 1795310003813836000n, tid: 5208, text: 'eoi' }],
  ];
  it.each(rows)('%s', (_desc, line, exp) => expectEvent(parseOne(line), exp));
});

describe('x86 ICR pairing', () => {
  it('pairs ICR high and low per host thread (x86/big/qemu-trace.log.gz L88974-88981, two threads interleaved)', () => {
    const evs = parseSeq([
      '3284@1795308190.915342:apic_mem_writel 0x310 = 0x00000000',
      '3286@1795308190.915388:apic_mem_writel 0xb0 = 0x00000000',
      '3286@1795308190.915398:apic_mem_writel 0x380 = 0x0003914a',
      '3286@1795308190.915456:apic_mem_writel 0x310 = 0x02000000',
      '3286@1795308190.915457:apic_mem_writel 0x300 = 0x000000fb',
      '3285@1795308190.915482:apic_mem_writel 0xb0 = 0x00000000',
      '3286@1795308190.915504:apic_mem_writel 0x380 = 0x035ae17c',
      '3284@1795308190.915513:apic_mem_writel 0x300 = 0x000000fb',
    ]);
    expect(evs.map((e) => e.op)).toEqual([null, null, null, null, 'ipi_send', null, null, 'ipi_send']);
    expect(typed(evs[4])).toEqual({ ...UNTYPED, op: 'ipi_send', vector: 251, target_cpu: 2, targets: [2], text: 'fixed' });
    // 3284's own ICR high was 0x00000000 (APIC 0), not 3286's later 0x02000000.
    expect(typed(evs[7])).toEqual({ ...UNTYPED, op: 'ipi_send', vector: 251, target_cpu: 0, targets: [0], text: 'fixed' });
    expect(evs.map((e) => e.host_tid)).toEqual([3284, 3286, 3286, 3286, 3286, 3285, 3286, 3284]);
  });

  it('does not borrow another thread\'s ICR high (same file, L88977, L88978, L88981 only)', () => {
    const evs = parseSeq([
      '3286@1795308190.915456:apic_mem_writel 0x310 = 0x02000000',
      '3286@1795308190.915457:apic_mem_writel 0x300 = 0x000000fb',
      '3284@1795308190.915513:apic_mem_writel 0x300 = 0x000000fb',
    ]);
    expect(evs[1].target_cpu).toBe(2);
    expect(typed(evs[2])).toEqual({ ...UNTYPED, op: 'ipi_send', vector: 251, text: 'fixed undecoded' });
  });

  it('decodes INIT assert / de-assert / SIPI without a prefix (x86/boot-smp4/qemu-trace.log L543-555)', () => {
    const evs = parseSeq([
      'apic_mem_writel 0x310 = 0x01000000', // L543
      'apic_mem_writel 0x300 = 0x0000c500', // L544
      'apic_local_deliver vector 0 delivery mode 0', // L545
      'apic_report_irq_delivered coalescing 121', // L546
      'apic_mem_writel 0xb0 = 0x00000000', // L547
      'apic_mem_readl 0x300 = 0x0000c500', // L548
      'apic_mem_writel 0x310 = 0x01000000', // L549
      'apic_mem_writel 0x300 = 0x00008500', // L550
      'apic_mem_writel 0x310 = 0x01000000', // L554
      'apic_mem_writel 0x300 = 0x00000699', // L555
    ]);
    expect(evs.map((e) => e.op)).toEqual([null, 'ipi_send', null, null, null, null, null, 'ipi_send', null, 'ipi_send']);
    expect(typed(evs[1])).toEqual({ ...UNTYPED, op: 'ipi_send', vector: 0, target_cpu: 1, targets: [1], text: 'init' });
    expect(typed(evs[7])).toEqual({ ...UNTYPED, op: 'ipi_send', vector: 0, target_cpu: 1, targets: [1], text: 'init deassert' });
    expect(typed(evs[9])).toEqual({ ...UNTYPED, op: 'ipi_send', vector: 0x99, target_cpu: 1, targets: [1], text: 'startup' });
    expect(evs.every((e) => e.clock === 'none' && e.ts_ns === null && e.host_tid === null)).toBe(true);
  });

  it('decodes the faulty-kernel sends (faulty-x86 qemu-trace logs)', () => {
    // faulty-x86/nonexistent-async/qemu-trace.log L12572-12573: APIC 6 does not exist.
    const [, toSix] = parseSeq([
      '30909@1795309374.156352:apic_mem_writel 0x310 = 0x06000000',
      '30909@1795309374.156354:apic_mem_writel 0x300 = 0x000000fb',
    ]);
    expect(typed(toSix)).toEqual({ ...UNTYPED, op: 'ipi_send', vector: 251, target_cpu: 6, targets: [6], text: 'fixed' });
    // faulty-x86/offline-hang/qemu-trace.log.gz L14571-14572: NMI backtrace request to APIC 2.
    const [, nmi] = parseSeq([
      '30024@1795309302.947207:apic_mem_writel 0x310 = 0x02000000',
      '30024@1795309302.947214:apic_mem_writel 0x300 = 0x00000400',
    ]);
    expect(typed(nmi)).toEqual({ ...UNTYPED, op: 'ipi_send', vector: 0, target_cpu: 2, targets: [2], text: 'nmi' });
    // faulty-x86/NOTES.md "Line formats seen" (timestamps elided there; filled in): physical broadcast.
    const [, broadcast] = parseSeq([
      '26899@1795309400.000001:apic_mem_writel 0x310 = 0xff000000',
      '26899@1795309400.000002:apic_mem_writel 0x300 = 0x00000400',
    ]);
    expect(typed(broadcast)).toEqual({ ...UNTYPED, op: 'ipi_send', vector: 0, text: 'nmi broadcast' });
  });

  it('decodes newer QEMU apic_register_write, xAPIC and x2APIC (synthetic, formats.md C.3)', () => {
    const evs = parseSeq([
      // xAPIC over MMIO: ICR high (index 0x31) then ICR low (0x30), values printed with %PRIx64.
      '7001@1795300000.000001:apic_register_write register 0x31 = 0x2000000',
      '7001@1795300000.000002:apic_register_write register 0x30 = 0xfd',
      // x2APIC: one 64-bit ICR write, destination in bits 63:32.
      '7002@1795300000.000003:apic_register_write register 0x30 = 0x3000000fb',
      // Same thread, now known to be in x2APIC mode: bits 63:32 zero = APIC 0.
      '7002@1795300000.000004:apic_register_write register 0x30 = 0xfb',
      // x2APIC broadcast destination 0xffffffff.
      '7002@1795300000.000005:apic_register_write register 0x30 = 0xffffffff000000fc',
      // x2APIC SELF IPI register.
      '7002@1795300000.000006:apic_register_write register 0x3f = 0xf6',
      // EOI register index.
      '7002@1795300000.000007:apic_register_write register 0x0b = 0x0',
      // A thread whose own mode is unknown takes the mode the machine showed last (x2APIC, on 7002):
      // Linux enables x2APIC on every CPU or on none. Bits 63:32 zero = APIC 0.
      '7003@1795300000.000008:apic_register_write register 0x30 = 0xfb',
    ]);
    expect(typed(evs[0])).toEqual(UNTYPED);
    expect(typed(evs[1])).toEqual({ ...UNTYPED, op: 'ipi_send', vector: 253, target_cpu: 2, targets: [2], text: 'fixed' });
    expect(typed(evs[2])).toEqual({ ...UNTYPED, op: 'ipi_send', vector: 251, target_cpu: 3, targets: [3], text: 'fixed' });
    expect(typed(evs[3])).toEqual({ ...UNTYPED, op: 'ipi_send', vector: 251, target_cpu: 0, targets: [0], text: 'fixed' });
    expect(typed(evs[4])).toEqual({ ...UNTYPED, op: 'ipi_send', vector: 252, text: 'fixed broadcast' });
    expect(typed(evs[5])).toEqual({ ...UNTYPED, op: 'ipi_send', vector: 246, text: 'fixed self' });
    expect(typed(evs[6])).toEqual({ ...UNTYPED, text: 'eoi' });
    expect(typed(evs[7])).toEqual({ ...UNTYPED, op: 'ipi_send', vector: 251, target_cpu: 0, targets: [0], text: 'fixed' });
  });

  it('leaves the destination unknown when neither the thread nor the machine has shown its APIC mode', () => {
    const ev = parseOne('7003@1795300000.000008:apic_register_write register 0x30 = 0xfb');
    expect(typed(ev)).toEqual({ ...UNTYPED, op: 'ipi_send', vector: 251, text: 'fixed undecoded' });
  });

  it('takes the x2APIC mode from cpu_set_apic_base (synthetic, formats.md C.3 format 0x%016x)', () => {
    const evs = parseSeq([
      '7004@1795300000.000001:cpu_set_apic_base 0x00000000fee00d00',
      '7004@1795300000.000002:apic_register_write register 0x30 = 0xfb',
    ]);
    expect(typed(evs[0])).toEqual(UNTYPED);
    expect(typed(evs[1])).toEqual({ ...UNTYPED, op: 'ipi_send', vector: 251, target_cpu: 0, targets: [0], text: 'fixed' });
  });
});

describe('sniff and parse: GICv3', () => {
  const rows: Row[] = [
    // arm64-gicv3/no-timestamp/qemu-trace.log (no prefix)
    ['no-timestamp L39 SGI 1 to Aff0 0', 'gicv3_icc_generate_sgi GICv3 CPU i/f 0x1 generating SGI 1 IRM 0 target affinity 0x0xx targetlist 0x1',
      { kind: 'gicv3_icc_generate_sgi', args: 'GICv3 CPU i/f 0x1 generating SGI 1 IRM 0 target affinity 0x0xx targetlist 0x1',
        op: 'ipi_send', cpu: 1, vector: 1, target_cpu: 0, targets: [0] }],
    ['no-timestamp L203 SGI 1 to 1,2,3', 'gicv3_icc_generate_sgi GICv3 CPU i/f 0x0 generating SGI 1 IRM 0 target affinity 0x0xx targetlist 0xe',
      { kind: 'gicv3_icc_generate_sgi', args: 'GICv3 CPU i/f 0x0 generating SGI 1 IRM 0 target affinity 0x0xx targetlist 0xe',
        op: 'ipi_send', cpu: 0, vector: 1, targets: [1, 2, 3] }],
    ['no-timestamp L46 pending', 'gicv3_redist_send_sgi GICv3 redistributor 0x1 pending SGI 0',
      { kind: 'gicv3_redist_send_sgi', args: 'GICv3 redistributor 0x1 pending SGI 0',
        op: 'ipi_pending', target_cpu: 1, targets: [1], vector: 0 }],
    ['no-timestamp L207 SGI ack', 'gicv3_icc_iar1_read GICv3 ICC_IAR1 read cpu 0x2 value 0x1',
      { kind: 'gicv3_icc_iar1_read', args: 'GICv3 ICC_IAR1 read cpu 0x2 value 0x1', op: 'ipi_ack', cpu: 2, vector: 1 }],
    ['no-timestamp L1 timer PPI read is not an IPI ack', 'gicv3_icc_iar1_read GICv3 ICC_IAR1 read cpu 0x0 value 0x1b',
      { kind: 'gicv3_icc_iar1_read', args: 'GICv3 ICC_IAR1 read cpu 0x0 value 0x1b', cpu: 0, vector: 27 }],
    ['no-timestamp L3340 LPI', 'gicv3_icc_iar1_read GICv3 ICC_IAR1 read cpu 0x1 value 0x2001',
      { kind: 'gicv3_icc_iar1_read', args: 'GICv3 ICC_IAR1 read cpu 0x1 value 0x2001', cpu: 1, vector: 8193 }],
    ['no-timestamp L2 EOI', 'gicv3_icc_eoir_write GICv3 ICC_EOIR1 write cpu 0x0 value 0x1b',
      { kind: 'gicv3_icc_eoir_write', args: 'GICv3 ICC_EOIR1 write cpu 0x0 value 0x1b', cpu: 0, vector: 27, text: 'eoi' }],
    // arm64-gicv3/hotplug/qemu-trace.log (TID@ prefix)
    ['hotplug L1103', '9714@1795308540.727436:gicv3_icc_generate_sgi GICv3 CPU i/f 0x0 generating SGI 1 IRM 0 target affinity 0x0xx targetlist 0xe',
      { kind: 'gicv3_icc_generate_sgi', args: 'GICv3 CPU i/f 0x0 generating SGI 1 IRM 0 target affinity 0x0xx targetlist 0xe',
        ts: 1795308540727436000n, tid: 9714, op: 'ipi_send', cpu: 0, vector: 1, targets: [1, 2, 3] }],
    ['hotplug L2901', '9716@1795308541.266235:gicv3_icc_generate_sgi GICv3 CPU i/f 0x2 generating SGI 1 IRM 0 target affinity 0x0xx targetlist 0xb',
      { kind: 'gicv3_icc_generate_sgi', args: 'GICv3 CPU i/f 0x2 generating SGI 1 IRM 0 target affinity 0x0xx targetlist 0xb',
        ts: 1795308541266235000n, tid: 9716, op: 'ipi_send', cpu: 2, vector: 1, targets: [0, 1, 3] }],
    ['hotplug L1106', '9714@1795308540.727701:gicv3_redist_send_sgi GICv3 redistributor 0x3 pending SGI 1',
      { kind: 'gicv3_redist_send_sgi', args: 'GICv3 redistributor 0x3 pending SGI 1',
        ts: 1795308540727701000n, tid: 9714, op: 'ipi_pending', target_cpu: 3, targets: [3], vector: 1 }],
    ['hotplug L32121', '9715@1795308548.285323:gicv3_icc_iar1_read GICv3 ICC_IAR1 read cpu 0x1 value 0x2',
      { kind: 'gicv3_icc_iar1_read', args: 'GICv3 ICC_IAR1 read cpu 0x1 value 0x2',
        ts: 1795308548285323000n, tid: 9715, op: 'ipi_ack', cpu: 1, vector: 2 }],
    ['hotplug L625', '9714@1795308540.535753:gicv3_icc_eoir_write GICv3 ICC_EOIR1 write cpu 0x0 value 0x1',
      { kind: 'gicv3_icc_eoir_write', args: 'GICv3 ICC_EOIR1 write cpu 0x0 value 0x1',
        ts: 1795308540535753000n, tid: 9714, cpu: 0, vector: 1, text: 'eoi' }],
    ['hotplug L459 other event: generic', '9712@1795308540.432719:gicv3_redist_set_irq GICv3 redistributor 0x0 interrupt 27 level changed to 1',
      { kind: 'gicv3_redist_set_irq', args: 'GICv3 redistributor 0x0 interrupt 27 level changed to 1', ts: 1795308540432719000n, tid: 9712 }],
    ['hotplug L15970 other event: generic', '9715@1795308544.354601:gicv3_its_cmd_movi GICv3 ITS: command MOVI DeviceID 0x10 EventID 0x1 ICID 0x0',
      { kind: 'gicv3_its_cmd_movi', args: 'GICv3 ITS: command MOVI DeviceID 0x10 EventID 0x1 ICID 0x0', ts: 1795308544354601000n, tid: 9715 }],
    // Synthetic (formats.md C.3 format strings): forms the corpus lacks.
    ['synthetic IRM 1', 'gicv3_icc_generate_sgi GICv3 CPU i/f 0x2 generating SGI 5 IRM 1 target affinity 0x0xx targetlist 0x0',
      { kind: 'gicv3_icc_generate_sgi', args: 'GICv3 CPU i/f 0x2 generating SGI 5 IRM 1 target affinity 0x0xx targetlist 0x0',
        op: 'ipi_send', cpu: 2, vector: 5, text: 'irm=1' }],
    ['synthetic Aff1 = 1: ids packed like the i/f id', 'gicv3_icc_generate_sgi GICv3 CPU i/f 0x100 generating SGI 1 IRM 0 target affinity 0x1xx targetlist 0x5',
      { kind: 'gicv3_icc_generate_sgi', args: 'GICv3 CPU i/f 0x100 generating SGI 1 IRM 0 target affinity 0x1xx targetlist 0x5',
        op: 'ipi_send', cpu: 0x100, vector: 1, targets: [0x100, 0x102] }],
    ['synthetic spurious', 'gicv3_icc_iar1_read GICv3 ICC_IAR1 read cpu 0x2 value 0x3ff',
      { kind: 'gicv3_icc_iar1_read', args: 'GICv3 ICC_IAR1 read cpu 0x2 value 0x3ff', cpu: 2, vector: 1023 }],
  ];
  it.each(rows)('%s', (_desc, line, exp) => expectEvent(parseOne(line), exp));
});

describe('sniff and parse: GICv2', () => {
  const rows: Row[] = [
    // arm64-gicv2/boot/qemu-trace.log.gz (a fresh state: the sender is not known)
    ['arm64-gicv2 L2093 SGIR to CPU3', '5353@1795308333.873217:gic_dist_write dist write at 0x00000f00 size 4: 0x00080001',
      { kind: 'gic_dist_write', args: 'dist write at 0x00000f00 size 4: 0x00080001', ts: 1795308333873217000n, tid: 5353,
        op: 'ipi_send', vector: 1, target_cpu: 3, targets: [3] }],
    ['arm64-gicv2 L1458 SGI ack', '5356@1795308333.818262:gic_acknowledge_irq cpu 3 acknowledged irq 1',
      { kind: 'gic_acknowledge_irq', args: 'cpu 3 acknowledged irq 1', ts: 1795308333818262000n, tid: 5356, op: 'ipi_ack', cpu: 3, vector: 1 }],
    ['arm64-gicv2 L1459 IAR read, SGI from CPU0', '5356@1795308333.818263:gic_cpu_read cpu 3 iface read at 0x0000000c: 0x00000001',
      { kind: 'gic_cpu_read', args: 'cpu 3 iface read at 0x0000000c: 0x00000001', ts: 1795308333818263000n, tid: 5356, cpu: 3, vector: 1, text: 'src=0' }],
    ['arm64-gicv2 L606 IAR read, SGI 1 from CPU3', '5353@1795308333.713032:gic_cpu_read cpu 0 iface read at 0x0000000c: 0x00000c01',
      { kind: 'gic_cpu_read', args: 'cpu 0 iface read at 0x0000000c: 0x00000c01', ts: 1795308333713032000n, tid: 5353, cpu: 0, vector: 1, text: 'src=3' }],
    ['arm64-gicv2 L491 EOI of SGI 0', '5355@1795308333.703302:gic_cpu_write cpu 2 iface write at 0x00000010 0x00000000',
      { kind: 'gic_cpu_write', args: 'cpu 2 iface write at 0x00000010 0x00000000', ts: 1795308333703302000n, tid: 5355, cpu: 2, vector: 0, text: 'eoi' }],
    ['arm64-gicv2 L196 generic', '5351@1795308333.618790:gic_set_irq irq 27 level 1 cpumask 0x1 target 0x1',
      { kind: 'gic_set_irq', args: 'irq 27 level 1 cpumask 0x1 target 0x1', ts: 1795308333618790000n, tid: 5351 }],
    ['arm64-gicv2 L198 generic', '5351@1795308333.618804:gic_update_set_irq cpu[0]: irq = 1',
      { kind: 'gic_update_set_irq', args: 'cpu[0]: irq = 1', ts: 1795308333618804000n, tid: 5351 }],
    ['arm64-gicv2 L1 distributor read', '5353@1795308333.602215:gic_dist_read dist read at 0x00000004 size 4: 0x00000068',
      { kind: 'gic_dist_read', args: 'dist read at 0x00000004 size 4: 0x00000068', ts: 1795308333602215000n, tid: 5353 }],
    // arm32-gicv2/boot/qemu-trace.log.gz
    ['arm32-gicv2 L403 other distributor write', '6366@1795308364.059913:gic_dist_write dist write at 0x00000100 size 4: 0x00000020',
      { kind: 'gic_dist_write', args: 'dist write at 0x00000100 size 4: 0x00000020', ts: 1795308364059913000n, tid: 6366 }],
    ['arm32-gicv2 L412 spurious', '6365@1795308364.060980:gic_acknowledge_irq cpu 0 acknowledged irq 1023',
      { kind: 'gic_acknowledge_irq', args: 'cpu 0 acknowledged irq 1023', ts: 1795308364060980000n, tid: 6365, cpu: 0, vector: 1023 }],
    ['arm32-gicv2 L413 spurious IAR read', '6365@1795308364.060988:gic_cpu_read cpu 0 iface read at 0x0000000c: 0x000003ff',
      { kind: 'gic_cpu_read', args: 'cpu 0 iface read at 0x0000000c: 0x000003ff', ts: 1795308364060988000n, tid: 6365, cpu: 0, vector: 1023 }],
    // arm/NOTES.md "QEMU log backend, GICv2" (no timestamp): no thread, so no sender.
    ['arm/NOTES.md bare SGIR', 'gic_dist_write dist write at 0x00000f00 size 4: 0x00010003',
      { kind: 'gic_dist_write', args: 'dist write at 0x00000f00 size 4: 0x00010003', op: 'ipi_send', vector: 3, target_cpu: 0, targets: [0] }],
    ['arm/NOTES.md bare ack', 'gic_acknowledge_irq cpu 0 acknowledged irq 3',
      { kind: 'gic_acknowledge_irq', args: 'cpu 0 acknowledged irq 3', op: 'ipi_ack', cpu: 0, vector: 3 }],
    // Synthetic (GICv2 architecture: GICD_SGIR filter bits 25:24), absent from the corpus.
    ['synthetic filter 1', 'gic_dist_write dist write at 0x00000f00 size 4: 0x01000001',
      { kind: 'gic_dist_write', args: 'dist write at 0x00000f00 size 4: 0x01000001', op: 'ipi_send', vector: 1, text: 'all-but-self' }],
    ['synthetic filter 2', 'gic_dist_write dist write at 0x00000f00 size 4: 0x02000002',
      { kind: 'gic_dist_write', args: 'dist write at 0x00000f00 size 4: 0x02000002', op: 'ipi_send', vector: 2, text: 'self' }],
  ];
  it.each(rows)('%s', (_desc, line, exp) => expectEvent(parseOne(line), exp));

  it('infers the SGI sender per host thread (arm32-gicv2/boot/qemu-trace.log.gz L1600-1609)', () => {
    const evs = parseSeq([
      '6365@1795308364.200794:gic_cpu_read cpu 0 iface read at 0x0000000c: 0x000003ff',
      '6365@1795308364.200849:gic_dist_write dist write at 0x00000f00 size 4: 0x00020003',
      '6365@1795308364.200851:gic_update_bestirq cpu 1 irq 3 priority 160 cpu priority mask 240 cpu running priority 256',
      '6365@1795308364.200851:gic_update_set_irq cpu[1]: irq = 1',
      '6366@1795308364.200862:gic_acknowledge_irq cpu 1 acknowledged irq 3',
      '6366@1795308364.200863:gic_cpu_read cpu 1 iface read at 0x0000000c: 0x00000003',
      '6366@1795308364.200894:gic_cpu_write cpu 1 iface write at 0x00000010 0x00000003',
      '6366@1795308364.200896:gic_acknowledge_irq cpu 1 acknowledged irq 1023',
      '6366@1795308364.200897:gic_cpu_read cpu 1 iface read at 0x0000000c: 0x000003ff',
      '6365@1795308364.202613:gic_dist_write dist write at 0x00000f00 size 4: 0x00040003',
    ]);
    expect(typed(evs[1])).toEqual({ ...UNTYPED, op: 'ipi_send', cpu: 0, vector: 3, target_cpu: 1, targets: [1] });
    expect(typed(evs[2])).toEqual(UNTYPED);
    expect(typed(evs[4])).toEqual({ ...UNTYPED, op: 'ipi_ack', cpu: 1, vector: 3 });
    expect(typed(evs[5])).toEqual({ ...UNTYPED, cpu: 1, vector: 3, text: 'src=0' });
    expect(typed(evs[6])).toEqual({ ...UNTYPED, cpu: 1, vector: 3, text: 'eoi' });
    expect(typed(evs[7])).toEqual({ ...UNTYPED, cpu: 1, vector: 1023 });
    // The last `cpu N` of any thread was CPU1 (6366); thread 6365 last named CPU0.
    expect(typed(evs[9])).toEqual({ ...UNTYPED, op: 'ipi_send', cpu: 0, vector: 3, target_cpu: 2, targets: [2] });
  });

  it('infers the sender with a multi-target list (arm64-gicv2/boot/qemu-trace.log.gz L1419-1429)', () => {
    const evs = parseSeq([
      '5353@1795308333.817173:gic_cpu_read cpu 0 iface read at 0x0000000c: 0x000003ff',
      '5351@1795308333.818029:gic_set_irq irq 27 level 1 cpumask 0x4 target 0x4',
      '5351@1795308333.818032:gic_update_bestirq cpu 2 irq 27 priority 160 cpu priority mask 240 cpu running priority 256',
      '5351@1795308333.818033:gic_update_set_irq cpu[2]: irq = 1',
      '5355@1795308333.818055:gic_acknowledge_irq cpu 2 acknowledged irq 27',
      '5355@1795308333.818056:gic_cpu_read cpu 2 iface read at 0x0000000c: 0x0000001b',
      '5355@1795308333.818060:gic_set_irq irq 27 level 0 cpumask 0x4 target 0x4',
      '5355@1795308333.818082:gic_cpu_write cpu 2 iface write at 0x00000010 0x0000001b',
      '5355@1795308333.818084:gic_acknowledge_irq cpu 2 acknowledged irq 1023',
      '5355@1795308333.818085:gic_cpu_read cpu 2 iface read at 0x0000000c: 0x000003ff',
      '5353@1795308333.818099:gic_dist_write dist write at 0x00000f00 size 4: 0x000e0001',
    ]);
    expect(typed(evs[4])).toEqual({ ...UNTYPED, cpu: 2, vector: 27 }); // PPI 27: not an IPI ack
    expect(typed(evs[5])).toEqual({ ...UNTYPED, cpu: 2, vector: 27 }); // no src= for a non-SGI
    expect(typed(evs[10])).toEqual({ ...UNTYPED, op: 'ipi_send', cpu: 0, vector: 1, targets: [1, 2, 3] });
  });
});

describe('ISO-8601 prefixes (synthetic: formats.md C.1 forms, absent from the corpus)', () => {
  // 2025-08-20T10:11:12Z = 20320 days * 86400 + 36672 s = 1755684672 s.
  it('parses `ISO (TID) name args`', () => {
    expectEvent(parseOne('2025-08-20T10:11:12.123456Z (4242) gicv3_redist_send_sgi GICv3 redistributor 0x0 pending SGI 1'), {
      kind: 'gicv3_redist_send_sgi', args: 'GICv3 redistributor 0x0 pending SGI 1', ts: 1755684672123456000n, tid: 4242,
      op: 'ipi_pending', target_cpu: 0, targets: [0], vector: 1,
    });
  });
  it('parses `ISO name args` (no thread id)', () => {
    expectEvent(parseOne('2025-08-20T10:11:12.123456Z memory_region_ops_read cpu 0 mr 0x562f addr 0x3cc value 0x67 size 1'), {
      kind: 'memory_region_ops_read', args: 'cpu 0 mr 0x562f addr 0x3cc value 0x67 size 1', ts: 1755684672123456000n,
    });
  });
  it('leaves other timestamped QEMU output alone (arm/NOTES.md, qemu-stderr line)', () => {
    const line = '2026-11-22T00:47:37.975226Z qemu-system-arm: terminating on signal 15 from pid 7741 (timeout)';
    expect(qemuParser.parse(line, ctxFor())).toBeUndefined();
  });
});

describe('timestamps', () => {
  it('keeps the host epoch ns exact as a BigInt (1795310003.813836 > 2^53 ns)', () => {
    const ev = parseOne('5208@1795310003.813836:apic_mem_writel 0xb0 = 0x00000000');
    expect(typeof ev.ts_ns).toBe('bigint');
    expect(ev.ts_ns).toBe(1795310003813836000n);
    // Float arithmetic cannot represent it: the BigInt is not a rounded double.
    expect(BigInt(Number(1795310003813836000n))).not.toBe(1795310003813836000n);
  });
  it.each([
    // Synthetic: seconds past 2^53 / 1e6, where secs * 1e6 + usec is no longer an exact double.
    ['4242@9999999999.999999:apic_mem_writel 0xb0 = 0x00000000', 9999999999999999000n],
    ['4242@9007199254.740993:apic_mem_writel 0xb0 = 0x00000000', 9007199254740993000n],
    ['4242@9007199253.999999:apic_mem_writel 0xb0 = 0x00000000', 9007199253999999000n],
    // Synthetic: a fraction that is not 6 digits is a decimal fraction.
    ['4242@1795310003.5:apic_mem_writel 0xb0 = 0x00000000', 1795310003500000000n],
    ['4242@1795310003.123456789:apic_mem_writel 0xb0 = 0x00000000', 1795310003123456789n],
  ] as [string, bigint][])('%s', (line, ns) => {
    expect(parseOne(line).ts_ns).toBe(ns);
  });
  it('distinguishes neighbouring microseconds (arm32-gicv2/boot L410/L411 differ by 439 us)', () => {
    const ctx = ctxFor();
    const a = parseOne('6365@1795308364.060539:gic_cpu_read cpu 0 iface read at 0x0000000c: 0x00000403', ctx);
    const b = parseOne('6365@1795308364.060978:gic_cpu_write cpu 0 iface write at 0x00000010 0x00000403', ctx);
    expect((b.ts_ns as bigint) - (a.ts_ns as bigint)).toBe(439000n);
  });
});

describe('malformed QEMU records yield issues', () => {
  const rows: [string, string, string][] = [
    ['truncated prefix (synthetic: file cut mid-line)', '4241@1795308281.43', 'malformed QEMU trace record'],
    ['prefix without event', '5208@1795310003.813836:', 'malformed QEMU trace record'],
    ['prefix with a non-name', '5208@1795310003.813836: apic_mem_writel 0xb0 = 0x0', 'malformed QEMU trace record'],
    ['timestamp fraction too long', '5208@1795310003.8138361234:apic_mem_writel 0xb0 = 0x0', 'bad timestamp'],
    ['truncated arm64-gicv3/hotplug L1103', '9714@1795308540.727436:gicv3_icc_generate_sgi GICv3 CPU i/f 0x0 generating SGI',
      'bad gicv3_icc_generate_sgi arguments'],
    ['truncated IAR read', '4242@1795308281.438740:gicv3_icc_iar1_read GICv3 ICC_IAR1 read cpu 0x0 value', 'bad gicv3_icc_iar1_read arguments'],
    ['truncated redistributor line', 'gicv3_redist_send_sgi GICv3 redistributor 0x1 pending', 'bad gicv3_redist_send_sgi arguments'],
    ['truncated EOIR', 'gicv3_icc_eoir_write GICv3 ICC_EOIR1 write cpu 0x0', 'bad gicv3_icc_eoir_write arguments'],
    ['truncated bare SGIR write', 'gic_dist_write dist write at 0x00000f00 size 4:', 'bad gic_dist_write arguments'],
    ['bad ack', 'gic_acknowledge_irq cpu x acknowledged irq 3', 'bad gic_acknowledge_irq arguments'],
    ['bad IAR', 'gic_cpu_read cpu 0 iface read at 0x0000000c', 'bad gic_cpu_read arguments'],
    ['bad EOIR', 'gic_cpu_write cpu 0 iface write at 0x00000010', 'bad gic_cpu_write arguments'],
    ['bad APIC write', '1821@1795308013.693873:apic_mem_writel 0x310 = ', 'bad apic_mem_writel arguments'],
    ['bad register write', 'apic_register_write register 0x30', 'bad apic_register_write arguments'],
    ['bad IOAPIC delivery', 'apic_deliver_irq dest 0 dest_mode 0', 'bad apic_deliver_irq arguments'],
    ['ISO with (TID) but no event', '2025-08-20T10:11:12.123456Z (4242) ???', 'malformed QEMU trace record'],
    ['ISO with an impossible month', '2025-13-20T10:11:12.123456Z (4242) apic_mem_writel 0xb0 = 0x0', 'bad timestamp'],
  ];
  it.each(rows)('%s', (_desc, line, reason) => {
    const ctx = ctxFor();
    expect(qemuParser.sniff(line, ctx)).toBe(true);
    expect(qemuParser.parse(line, ctx)).toEqual([{ type: 'issue', issue: { format: 'qemu', reason } }]);
  });

  it('never throws on odd input', () => {
    const odd = ['', '@', '1@', '1@2', '1@2.3:', '0@0.0:x', '2025-', '2025-08-20T', 'apic_', 'gicv3_ ', 'gic_dist_write',
      'apic_mem_writel 0xfffffffffffffffff = 0x1', '99999999999999999999@1.000001:apic_mem_writel 0x300 = 0xfb'];
    for (const line of odd) {
      const ctx = ctxFor();
      expect(() => qemuParser.sniff(line, ctx) && qemuParser.parse(line, ctx)).not.toThrow();
    }
  });
});

describe('lines that are not QEMU records', () => {
  const rows: [string, string, boolean][] = [
    // faulty-x86/ci-offline-async/boot.log L9603 (printk prefix stripped by the reader)
    ['console message', 'IPI shorthand broadcast: enabled', true],
    // same file L69 before the record, and L486 (a console fragment)
    ['SeaBIOS text', 'Booting from ROM..', false],
    ['fragment starting with digits', '1 #2 #3', false],
    // faulty-x86/NOTES.md trace.txt sample
    ['ftrace event line', '            init-1       [001] .....     4.074854: csd_queue_cpu: cpu=2 callsite=ipi_fault_write+0x1cf/0x221 func=ipi_fault_func csd=ffffffff819f4b80', false],
    // x86/NOTES.md tp_printk sample shape: an event name outside the QEMU families
    ['tp_printk body', 'ipi_send_cpu: cpu=2 callsite=ipi_fault_write+0x1cf/0x221 callback=generic_smp_call_function_single_interrupt+0x0/0xe', true],
    ['a QEMU-looking body behind a console prefix', 'apic_mem_writel 0xb0 = 0x00000000', true],
    // arm64-gicv3 console.log style lines (kernel messages, not QEMU events)
    ['kernel GIC message', 'GICv3: 256 SPIs implemented', true],
    ['family name followed by a colon', 'gic_handle_irq: something', false],
    ['family prefix alone', 'gic_ irq', false],
    ['date that is not an ISO stamp', '2025-08-20 10:11:12 something', false],
  ];
  it.each(rows)('%s', (_desc, body, fromConsole) => {
    const ctx = ctxFor(newSourceState(), fromConsole);
    expect(qemuParser.sniff(body, ctx)).toBe(false);
    expect(qemuParser.parse(body, ctx)).toBeUndefined();
  });
});

describe('bare event families', () => {
  it.each([
    ['apic_mem_writel', true], ['cpu_set_apic_base', true], ['cpu_get_apic_base', true], ['gic_cpu_read', true],
    ['gicv3_icc_iar1_read', true], ['cpu_set_apic_base_x', false], ['cpu_idle', false], ['apic_', false],
    ['gicv3', false], ['ipi_raise', false], ['apic_mem_writel:', false], ['Apic_mem_writel', false],
  ] as [string, boolean][])('%s -> %s', (name, ok) => {
    expect(isBareQemuEventName(name)).toBe(ok);
  });
  it('keeps the families in one list', () => {
    expect([...BARE_EVENT_FAMILIES].sort()).toEqual(['apic_', 'cpu_get_apic_base', 'cpu_set_apic_base', 'gic_', 'gicv3_']);
  });
});

describe('findQemuRecordStart', () => {
  // Thread ids of faulty-x86/ci-offline-async/boot.log (lines starting with a record).
  const known = new Set([5203, 5206, 5207, 5208, 5209]);
  // faulty-x86/ci-offline-async/boot.log, lines as the reader has them (escapes and CR removed).
  const rows: [string, string, Set<number>, number][] = [
    ['L69 after SeaBIOS text', 'Booting from ROM..5206@1795310002.067302:apic_mem_readl 0x20 = 0x00000000', known, 18],
    ['L483', '[    0.358717] .... n5203@1795310002.592541:apic_local_deliver vector 0 delivery mode 0', known, 21],
    ['L485', 'ode  #0, CPUs:      #5206@1795310002.592688:apic_mem_writel 0xb0 = 0x00000000', known, 21],
    ['L681', '[    0.027268] calibrate_delay_5207@1795310002.884691:apic_mem_writel 0xb0 = 0x00000000', known, 31],
    ['L683 digits before the tid: known tid 5206', '[    0.027265206@1795310002.884750:apic_mem_writel 0xb0 = 0x00000000', known, 12],
    ['L3084 `1008K` split: known tid 5208', '[    1.185218] Freeing initrd memory: 1005208@1795310003.285553:apic_mem_readl 0x300 = 0x000000fb', known, 41],
    ['L9604', '[    1.713608] i5208@1795310003.813836:apic_mem_writel 0xb0 = 0x00000000', known, 16],
    ['L12800 one console character', ':5207@1795310007.381438:apic_deliver_irq dest 3 dest_mode 0 delivery_mode 0 vector 32 trigger_mode 0', known, 1],
    ['L12844 a console digit glued at the line start', '15209@1795310007.386448:apic_deliver_irq dest 3 dest_mode 0 delivery_mode 0 vector 32 trigger_mode 0', known, 1],
    ['L12824 a console zero glued at the line start', '05209@1795310007.386429:apic_deliver_irq dest 3 dest_mode 0 delivery_mode 0 vector 32 trigger_mode 0', known, 1],
    ['L12804 a record at the line start', '5207@1795310007.381443:apic_deliver_irq dest 3 dest_mode 0 delivery_mode 0 vector 32 trigger_mode 0', known, 0],
    // A known tid wins over the common digit count (known ids here: one 5-digit, three 4-digit).
    ['L683, known 5-digit tid 65206', '[    0.027265206@1795310002.884750:apic_mem_writel 0xb0 = 0x00000000', new Set([65206, 1802, 1821, 1822]), 11],
    // No known tid matches: the digit count most known tids have (4) decides.
    ['L3084, 5208 not yet known', '[    1.185218] Freeing initrd memory: 1005208@1795310003.285553:apic_mem_readl 0x300 = 0x000000fb', new Set([5203, 5206]), 41],
    ['L683, 5206 not yet known', '[    0.027265206@1795310002.884750:apic_mem_writel 0xb0 = 0x00000000', new Set([5203, 5207]), 12],
    // Nothing known: the longest tid (at most 7 digits and <= 4194304, Linux PID_MAX_LIMIT).
    ['L3084, nothing known: 1005208', '[    1.185218] Freeing initrd memory: 1005208@1795310003.285553:apic_mem_readl 0x300 = 0x000000fb', new Set(), 38],
    ['L683, nothing known: 7265206 > PID_MAX_LIMIT, so 265206', '[    0.027265206@1795310002.884750:apic_mem_writel 0xb0 = 0x00000000', new Set(), 10],
    ['L12804, nothing known', '5207@1795310007.381443:apic_deliver_irq dest 3 dest_mode 0 delivery_mode 0 vector 32 trigger_mode 0', new Set(), 0],
    // No record.
    ['L9603 console line', '[    1.261182] IPI shorthand broadcast: enabled', known, -1],
    ['boot.log L71: `root@vm`', '[    0.000000] Linux version 6.12.107 (root@vm) (gcc (Debian 12.2.0-14+deb12u1) 12.2.0, GNU ld (GNU Binutils for Debian) 2.40) #5 SMP Sun Nov 22 00:53:12 UTC 2026', known, -1],
    ['arm32-gicv2/boot/console.log L65: `cpu@0`', '[    0.054144] /cpus/cpu@0 missing clock-frequency property', known, -1],
    ['e-mail address', '[    0.000000] Linux version 6.12.107+deb13-armmp-lpae (debian-kernel@lists.debian.org) (arm-linux-gnueabihf-gcc-14)', known, -1],
    ['`@` then a number that is no timestamp', 'value 12@34 is not a record', known, -1],
  ];
  it.each(rows)('%s', (_desc, line, tids, index) => {
    expect(findQemuRecordStart(line, tids)).toBe(index);
  });
});

describe('per-source state', () => {
  it('keeps known tids in ctx.state.qemu', () => {
    const state = newSourceState();
    expect(knownQemuTids(state).size).toBe(0);
    noteQemuTid(state, 5208);
    noteQemuTid(state, 5209);
    noteQemuTid(state, 5208);
    expect([...knownQemuTids(state)].sort()).toEqual([5208, 5209]);
    expect(state.qemu.tids).toBe(knownQemuTids(state));
  });
  it('keeps ICR state per source (a new source starts empty)', () => {
    const first = ctxFor();
    parseOne('30909@1795309374.156352:apic_mem_writel 0x310 = 0x06000000', first);
    expect(qemuState(first.state).apic.icrHigh.get(30909)).toBe(0x06000000);
    const second = ctxFor();
    const ev = parseOne('30909@1795309374.156354:apic_mem_writel 0x300 = 0x000000fb', second);
    expect(ev.target_cpu).toBeNull();
  });
});

describe('xAPIC logical flat destinations (Linux apic_flat, seen with a Debian 6.1 kernel under QEMU 7.2)', () => {
  it('decodes the ICR-high bitmap as CPUs: 0x04000000 then 0x000008fb is a call-function-single IPI to CPU2', () => {
    const state = newSourceState();
    const ctx = { consoleTsNs: null, callerCpu: null, fromConsole: false, state };
    qemuParser.parse('5207@1795310003.766466:apic_mem_writel 0x310 = 0x04000000', ctx);
    const items = qemuParser.parse('5207@1795310003.766467:apic_mem_writel 0x300 = 0x000008fb', ctx)!;
    expect(items[0]).toMatchObject({ type: 'event', event: { op: 'ipi_send', vector: 0xfb, targets: [2], target_cpu: 2 } });
  });

  it('a multi-CPU logical destination names every CPU and no single target', () => {
    const state = newSourceState();
    const ctx = { consoleTsNs: null, callerCpu: null, fromConsole: false, state };
    qemuParser.parse('5207@1795310003.766466:apic_mem_writel 0x310 = 0x0e000000', ctx);
    const items = qemuParser.parse('5207@1795310003.766467:apic_mem_writel 0x300 = 0x000008fc', ctx)!;
    expect(items[0]).toMatchObject({ type: 'event', event: { targets: [1, 2, 3], target_cpu: null } });
  });
});

// QEMU >= 9.0 hw/intc/apic.c, apic_register_write(), case 0x30:
//     s->icr[0] = val;
//     if (is_x2apic_mode(dev)) { s->icr[1] = val >> 32; dest = s->icr[1]; }
//     else { dest = (s->icr[1] >> 24) & 0xff; }
//     apic_deliver(dev, dest, (s->icr[0] >> 11) & 1, (s->icr[0] >> 8) & 7, (s->icr[0] & 0xff),
//                  (s->icr[0] >> 15) & 1, (s->icr[0] >> 18) & 3);
// apic_get_delivery_bitmask(), logical, x2APIC:
//     if ((dest >> 16) == (apic->extended_log_dest >> 16) && (dest & apic->extended_log_dest & 0xffff))
// with the read-only x2APIC LDR extended_log_dest = (id >> 4) << 16 | 1 << (id & 0xf).
// trace-events: apic_register_write(uint8_t reg, uint64_t val) "register 0x%02x = 0x%"PRIx64
describe('x2APIC ICR writes as QEMU 10 / 11 log them (apic.c quoted above)', () => {
  it('QEMU 11 ISO prefix, no thread id: x2APIC physical destination in bits 63:32', () => {
    expectEvent(parseOne('2026-12-07T03:34:13.658602Z apic_register_write register 0x30 = 0x2000000fd'), {
      kind: 'apic_register_write', args: 'register 0x30 = 0x2000000fd', ts: 1796614453658602000n,
      op: 'ipi_send', vector: 0xfd, target_cpu: 2, targets: [2], text: 'fixed',
    });
  });

  it('x2APIC cluster (logical) 0x1000008fb: cluster 0, bitmap 0x1 = APIC 0', () => {
    expect(typed(parseOne('2026-12-07T03:34:13.658602Z apic_register_write register 0x30 = 0x1000008fb'))).toEqual({
      ...UNTYPED, op: 'ipi_send', vector: 0xfb, target_cpu: 0, targets: [0], text: 'fixed logical dest=0x1',
    });
  });

  it('x2APIC cluster 1, bitmap 0x0005: APICs 16 and 18; cluster 0 bitmap 0x000c: APICs 2 and 3', () => {
    expect(typed(parseOne('2026-12-07T03:34:13.658602Z apic_register_write register 0x30 = 0x10005000008fc'))).toEqual({
      ...UNTYPED, op: 'ipi_send', vector: 0xfc, targets: [16, 18], text: 'fixed logical dest=0x10005',
    });
    expect(typed(parseOne('2026-12-07T03:34:13.658602Z apic_register_write register 0x30 = 0xc000008fc'))).toEqual({
      ...UNTYPED, op: 'ipi_send', vector: 0xfc, targets: [2, 3], text: 'fixed logical dest=0xc',
    });
  });

  it('a 32-bit value after the machine showed x2APIC is destination 0, in either mode (QEMU: dest = val >> 32)', () => {
    const evs = parseSeq([
      '2026-12-07T03:34:13.000001Z apic_register_write register 0x30 = 0x3000000fd',
      // glib's g_date_time_format_iso8601() leaves out the fraction when the microsecond is 0.
      '2026-12-07T03:34:14Z apic_register_write register 0x30 = 0x8fb',
      '2026-12-07T03:34:14.000002Z apic_register_write register 0x30 = 0xfd',
    ]);
    expect(evs[1].ts_ns).toBe(1796614454000000000n);
    // Logical destination 0 names no APIC (no derived LDR has an empty bitmap): no target.
    expect(typed(evs[1])).toEqual({ ...UNTYPED, op: 'ipi_send', vector: 0xfb, text: 'fixed logical dest=0x0' });
    expect(typed(evs[2])).toEqual({ ...UNTYPED, op: 'ipi_send', vector: 0xfd, target_cpu: 0, targets: [0], text: 'fixed' });
  });

  it('takes the mode from cpu_set_apic_base EXTD (bit 10) without a thread id', () => {
    const evs = parseSeq([
      '2026-12-07T03:34:13.000001Z cpu_set_apic_base 0x00000000fee00d00',
      '2026-12-07T03:34:13.000002Z apic_register_write register 0x30 = 0x800fc',
    ]);
    // Shorthand 2 (bits 19:18) = all including self.
    expect(typed(evs[1])).toEqual({ ...UNTYPED, op: 'ipi_send', vector: 0xfc, text: 'fixed all' });
  });

  it('x2APIC broadcast 0xffffffff in logical mode too; apic_deliver_irq prints it as dest -1 (`dest %d` of a uint32_t)', () => {
    expect(typed(parseOne('2026-12-07T03:34:13.658602Z apic_register_write register 0x30 = 0xffffffff000008fd'))).toEqual({
      ...UNTYPED, op: 'ipi_send', vector: 0xfd, text: 'fixed broadcast',
    });
    expect(typed(parseOne('2026-12-07T03:34:13.658602Z apic_deliver_irq dest -1 dest_mode 0 delivery_mode 0 vector 34 trigger_mode 0'))).toEqual({
      ...UNTYPED, vector: 34, text: 'fixed broadcast',
    });
  });

  it('lowest priority to several APICs goes to the first of the bitmask only (apic_bus_deliver APIC_DM_LOWPRI)', () => {
    expect(typed(parseOne('2026-12-07T03:34:13.658602Z apic_register_write register 0x30 = 0xc000009fc'))).toEqual({
      ...UNTYPED, op: 'ipi_send', vector: 0xfc, target_cpu: 2, targets: [2], text: 'lowest logical dest=0xc',
    });
  });
});

// util/message.c qmessage_context_print() (qemu-devel series by D. Berrangé, 2025): `"%s ", timestr`,
// then `"[%s] ", workload name`, `"%s: ", g_get_prgname()`, `"(%d:%s): ", qemu_get_thread_id(),
// qemu_thread_get_name()`; the mail's example: `[fish food] qemu-system-x86_64: (1144713:main): qcrypto_...`.
describe('ISO prefix with the message context (program name, thread id and name)', () => {
  it('takes the thread id, and the vCPU from a `CPU N/TCG` thread name as the ICR writer', () => {
    expectEvent(parseOne('2026-12-07T03:34:13.658602Z qemu-system-x86_64: (4242:CPU 1/TCG): apic_register_write register 0x30 = 0x2000000fd'), {
      kind: 'apic_register_write', args: 'register 0x30 = 0x2000000fd', ts: 1796614453658602000n, tid: 4242,
      op: 'ipi_send', cpu: 1, vector: 0xfd, target_cpu: 2, targets: [2], text: 'fixed',
    });
  });
  it('a workload name and a non-vCPU thread: thread id only', () => {
    expectEvent(parseOne('2026-12-07T03:34:13.658602Z [fish food] qemu-system-x86_64: (1144713:main): gicv3_redist_send_sgi GICv3 redistributor 0x1 pending SGI 2'), {
      kind: 'gicv3_redist_send_sgi', args: 'GICv3 redistributor 0x1 pending SGI 2', ts: 1796614453658602000n, tid: 1144713,
      op: 'ipi_pending', target_cpu: 1, targets: [1], vector: 2,
    });
  });
});

// hw/intc/apic.c (7.2 and later), apic_get_delivery_bitmask(), logical, xAPIC:
//     if (apic_iter->dest_mode == 0xf) { if (dest & apic_iter->log_dest) apic_set_bit(deliver_bitmask, i); }
//     else if (apic_iter->dest_mode == 0x0) { if ((dest & 0xf0) == (apic_iter->log_dest & 0xf0) &&
//                                                 (dest & apic_iter->log_dest & 0x0f)) ... }
// with log_dest = LDR >> 24 (write to 0xd0 / index 0x0d) and dest_mode = DFR >> 28 (0xe0 / 0x0e).
describe('xAPIC logical destinations from each APIC\'s LDR and DFR', () => {
  it('matches the LDR each thread wrote, and names the APIC by the id it read (not Linux\'s 1 << cpu)', () => {
    const evs = parseSeq([
      '7101@1795300000.000001:apic_mem_readl 0x20 = 0x03000000',
      '7101@1795300000.000002:apic_mem_writel 0xd0 = 0x01000000',
      '7102@1795300000.000003:apic_mem_readl 0x20 = 0x00000000',
      '7102@1795300000.000004:apic_mem_writel 0xd0 = 0x02000000',
      '7102@1795300000.000005:apic_mem_writel 0x310 = 0x01000000',
      '7102@1795300000.000006:apic_mem_writel 0x300 = 0x000008fb',
    ]);
    expect(typed(evs[5])).toEqual({ ...UNTYPED, op: 'ipi_send', vector: 0xfb, target_cpu: 3, targets: [3], text: 'fixed logical dest=0x1' });
  });

  it('cluster model (DFR 0x0fffffff) with APIC ids unknown: left undecoded', () => {
    const evs = parseSeq([
      '7101@1795300000.000001:apic_register_write register 0x0e = 0xfffffff',
      '7101@1795300000.000002:apic_register_write register 0x0d = 0x11000000',
      '7101@1795300000.000003:apic_register_write register 0x31 = 0x11000000',
      '7101@1795300000.000004:apic_register_write register 0x30 = 0x8fd',
    ]);
    expect(typed(evs[3])).toEqual({ ...UNTYPED, op: 'ipi_send', vector: 0xfd, text: 'fixed logical dest=0x11 undecoded' });
  });

  it('cluster model with ids known: cluster 1 bit 0 is the APIC whose LDR is 0x11', () => {
    const evs = parseSeq([
      '7101@1795300000.000001:apic_register_write register 0x02 = 0x5000000',
      '7101@1795300000.000002:apic_register_write register 0x0e = 0xfffffff',
      '7101@1795300000.000003:apic_register_write register 0x0d = 0x11000000',
      '7102@1795300000.000004:apic_register_write register 0x31 = 0x11000000',
      '7102@1795300000.000005:apic_register_write register 0x30 = 0x8fd',
    ]);
    expect(typed(evs[4])).toEqual({ ...UNTYPED, op: 'ipi_send', vector: 0xfd, target_cpu: 5, targets: [5], text: 'fixed logical dest=0x11' });
  });
});

describe('xAPIC logical flat without thread ids (Linux 1 << cpu, only bits some LDR holds)', () => {
  it('logical 0xff with LDRs 0x01..0x08 written names CPUs 0-3, not the 4 bits no APIC has', () => {
    const evs = parseSeq([
      '2026-12-07T03:34:13.000001Z apic_register_write register 0x0d = 0x1000000',
      '2026-12-07T03:34:13.000002Z apic_register_write register 0x0d = 0x2000000',
      '2026-12-07T03:34:13.000003Z apic_register_write register 0x0d = 0x4000000',
      '2026-12-07T03:34:13.000004Z apic_register_write register 0x0d = 0x8000000',
      '2026-12-07T03:34:13.000005Z apic_register_write register 0x31 = 0xff000000',
      '2026-12-07T03:34:13.000006Z apic_register_write register 0x30 = 0x8fc',
    ]);
    expect(typed(evs[5])).toEqual({ ...UNTYPED, op: 'ipi_send', vector: 0xfc, targets: [0, 1, 2, 3], text: 'fixed logical dest=0xff' });
  });
});

describe('real QEMU 10 / 11 x2APIC lines (/work/recordings, helper rec, Debian QEMU 10.0.13 and 11.1.3, kernel 7.3.4, -M q35 -device intel-iommu)', () => {
  it('x86-q11-k73-x2apic-cluster qemu-trace.log: INIT physical (L655), then cluster destinations (L1165, L5194), all-but-self (L3988)', () => {
    const evs = parseSeq([
      '2026-12-07T05:12:14.726535Z apic_register_write register 0x30 = 0x10000c500', // L655
      '2026-12-07T05:12:16.254865Z apic_register_write register 0x30 = 0x1000008fb', // L1165
      '2026-12-07T05:12:21.265757Z apic_register_write register 0x30 = 0xc00fc', // L3988
      '2026-12-07T05:12:21.862065Z apic_register_write register 0x30 = 0x6000008fc', // L5194
    ]);
    expect(evs.map((e) => e.host_tid)).toEqual([null, null, null, null]);
    expect(typed(evs[0])).toEqual({ ...UNTYPED, op: 'ipi_send', vector: 0, target_cpu: 1, targets: [1], text: 'init' });
    expect(typed(evs[1])).toEqual({ ...UNTYPED, op: 'ipi_send', vector: 0xfb, target_cpu: 0, targets: [0], text: 'fixed logical dest=0x1' });
    expect(typed(evs[2])).toEqual({ ...UNTYPED, op: 'ipi_send', vector: 0xfc, text: 'fixed all-but-self' });
    expect(typed(evs[3])).toEqual({ ...UNTYPED, op: 'ipi_send', vector: 0xfc, targets: [1, 2], text: 'fixed logical dest=0x6' });
  });

  it('x86-q11-k73-x2apic-phys qemu-trace.log: a destination in bits 63:32 (L2943) and APIC 0 as a bare 32-bit value (L1192)', () => {
    const evs = parseSeq([
      '2026-12-07T05:10:51.669455Z apic_register_write register 0x30 = 0x3000000fd', // L2943
      '2026-12-07T05:10:49.183114Z apic_register_write register 0x30 = 0xfb', // L1192 (mode known from the line before)
    ]);
    expect(typed(evs[0])).toEqual({ ...UNTYPED, op: 'ipi_send', vector: 0xfd, target_cpu: 3, targets: [3], text: 'fixed' });
    expect(typed(evs[1])).toEqual({ ...UNTYPED, op: 'ipi_send', vector: 0xfb, target_cpu: 0, targets: [0], text: 'fixed' });
  });

  it('x86-q10-k73-x2apic-cluster qemu-trace.log L4619: QEMU 10 keeps the TID@ prefix, cluster 0 bitmap 0x4 = APIC 2', () => {
    expectEvent(parseOne('32634@1796620471.837905:apic_register_write register 0x30 = 0x4000008fb'), {
      kind: 'apic_register_write', args: 'register 0x30 = 0x4000008fb', ts: 1796620471837905000n, tid: 32634,
      op: 'ipi_send', vector: 0xfb, target_cpu: 2, targets: [2], text: 'fixed logical dest=0x4',
    });
  });
});
