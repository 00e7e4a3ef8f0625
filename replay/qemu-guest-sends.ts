// The guest side of the QEMU correlation (replay/qemu-correlate.ts): the boot's guest IPI sends as
// replay collects them (GuestSends), held as columns, and the interrupt number QEMU shows for each
// guest IPI type (x86 vector, ARM SGI under arm64 or arm32 numbering).
import { ARM_IPI_NAMES } from '../parsers/ftrace-events.js';
import type { QemuWrites as Writes } from '../store/qemu-writes.js';

const X86_VECTORS: Record<number, string> = { 0xfb: 'call_function_single', 0xfc: 'call_function', 0xfd: 'reschedule' };
// IPI names by index (= SGI number): parsers/ftrace-events.ts.
const ARM_IPIS: Record<'arm64' | 'arm32', readonly string[]> = ARM_IPI_NAMES;
const GENERIC_REASON: Record<string, string> = { reschedule: 'Rescheduling interrupts', call_function: 'Function call interrupts' };

// A boot's QEMU writes, guest sends and QEMU sends are held as columns (typed arrays indexed by row;
// -1 or NaN for NULL): a boot can hold millions of them, and an object per row cost ~250 MB at 5 M events.
export const NONE = -1;

/** The boot's guest sends (ipi_sends rows), in (ts_ns, event_id, target_cpu) order. */
export interface Guests {
  count: number;
  eventId: Float64Array;
  ts: Float64Array;
  src: Int32Array;
  target: Int32Array;
  /** The send's event name and IPI reason, as an index into `types`. */
  type: Int32Array;
  types: SendType[];
  /** The interrupt number QEMU shows for it, NONE: not known. */
  vector: Int32Array;
  /** 1: the arch level (ipi_raise), 0: the generic one (ipi_send_cpu/_cpumask). */
  arch: Uint8Array;
  /** Index of the QEMU send it is linked to, NONE: none. */
  link: Int32Array;
  /** QEMU time minus predicted time of the link, NaN: not linked. */
  residual: Float64Array;
  /** Local correction of the fitted offset (localCorrection), ns. */
  shift: Float64Array;
  /** 1 when QEMU's sends this one was matched against name their sender (qemu_links.sender_known). */
  senderKnown: Uint8Array;
}

interface SendType {
  kind: string;
  reason: string | null;
}

export type Arch = 'x86' | 'arm64' | 'arm32';
/** Rows per chunk of GuestSends' columns. */
const CHUNK_ROWS = 16384;

/**
 * The boot's guest sends, collected as replay writes them to ipi_sends: reading them back cost
 * ~1 us per row with the sort (0.34 s at 5 M events). NaN times are left out, as SQLite stores
 * them as NULL. Collected in chunks and copied once into columns of the exact size: columns grown by
 * doubling held 14.7 MB for 8.7 MB of sends at mixed-5M, through replay's queues and the correlation.
 */
export class GuestSends {
  private n = 0;
  private readonly chunks: SendColumns[] = [];
  private readonly types: SendType[] = [];
  private readonly typeIds = new Map<string, number>();
  /** Every send came after the one before in (ts, event_id, target) order. */
  private inOrder = true;
  private lastTs = 0;
  private lastEventId = 0;
  private lastTarget = 0;

  add(eventId: number, ts: number, src: number | null, target: number, kind: string, reason: string | null): void {
    if (Number.isNaN(ts)) return;
    const n = this.n;
    const at = n % CHUNK_ROWS;
    if (at === 0) {
      this.chunks.push({ eventId: new Float64Array(CHUNK_ROWS), ts: new Float64Array(CHUNK_ROWS), src: new Int32Array(CHUNK_ROWS),
        target: new Int32Array(CHUNK_ROWS), type: new Int32Array(CHUNK_ROWS) });
    }
    if (n > 0 && this.inOrder && compareSends(this.lastTs, this.lastEventId, this.lastTarget, ts, eventId, target) > 0) {
      this.inOrder = false;
    }
    const chunk = this.chunks[this.chunks.length - 1];
    chunk.eventId[at] = this.lastEventId = eventId;
    chunk.ts[at] = this.lastTs = ts;
    chunk.src[at] = src ?? NONE;
    chunk.target[at] = this.lastTarget = target;
    chunk.type[at] = this.typeId(kind, reason);
    this.n = n + 1;
  }

  private typeId(kind: string, reason: string | null): number {
    const key = reason === null ? kind : `${kind}\u0000${reason}`;
    let id = this.typeIds.get(key);
    if (id === undefined) {
      this.typeIds.set(key, (id = this.types.length));
      this.types.push({ kind, reason });
    }
    return id;
  }

  /** The sends in (ts, event_id, target) order, with room for the correlation's results; call once (the chunks are let go). */
  guests(): Guests {
    const count = this.n;
    const columns: SendColumns = { eventId: new Float64Array(count), ts: new Float64Array(count), src: new Int32Array(count),
      target: new Int32Array(count), type: new Int32Array(count) };
    this.chunks.forEach((chunk, c) => {
      const rows = Math.min(CHUNK_ROWS, count - c * CHUNK_ROWS);
      for (const name of ['eventId', 'ts', 'src', 'target', 'type'] as const) {
        (columns[name] as Float64Array).set((chunk[name] as Float64Array).subarray(0, rows), c * CHUNK_ROWS);
      }
    });
    this.chunks.length = 0;
    return {
      count, ...(this.inOrder ? columns : sortedSends(columns)), types: this.types,
      vector: new Int32Array(count), arch: new Uint8Array(count), link: new Int32Array(count).fill(NONE),
      residual: new Float64Array(count).fill(Number.NaN), shift: new Float64Array(count), senderKnown: new Uint8Array(count),
    };
  }
}

type SendColumns = Pick<Guests, 'eventId' | 'ts' | 'src' | 'target' | 'type'>;

/** Copies of the columns in (ts, event_id, target) order. */
function sortedSends(c: SendColumns): SendColumns {
  const order = Int32Array.from({ length: c.ts.length }, (_, i) => i);
  order.sort((x, y) => compareSends(c.ts[x], c.eventId[x], c.target[x], c.ts[y], c.eventId[y], c.target[y]));
  return {
    eventId: Float64Array.from(order, (i) => c.eventId[i]), ts: Float64Array.from(order, (i) => c.ts[i]),
    src: Int32Array.from(order, (i) => c.src[i]), target: Int32Array.from(order, (i) => c.target[i]),
    type: Int32Array.from(order, (i) => c.type[i]),
  };
}

function compareSends(tsA: number, idA: number, targetA: number, tsB: number, idB: number, targetB: number): number {
  return tsA - tsB || idA - idB || targetA - targetB;
}

/** x86 when QEMU logs APIC writes; on GIC the ARM numbering under which guest and QEMU counts agree best. */
export function chooseArch(writes: Writes, guest: Guests): Arch {
  if (writes.x86) return 'x86';
  const qemuCounts = new Map<number, number>();
  for (let w = 0; w < writes.count; w++) {
    const v = writes.vector[w];
    qemuCounts.set(v, (qemuCounts.get(v) ?? 0) + Math.max(1, writes.firstTarget[w + 1] - writes.firstTarget[w]));
  }
  const score = (arch: Arch) => {
    const counts = new Map<number, number>();
    for (let g = 0; g < guest.count; g++) {
      const { kind, reason } = guest.types[guest.type[g]];
      if (kind !== 'ipi_raise') continue;
      const v = guestVector(arch, kind, reason);
      if (v !== null) counts.set(v, (counts.get(v) ?? 0) + 1);
    }
    let s = 0;
    for (const [v, n] of counts) s += Math.min(n, qemuCounts.get(v) ?? 0);
    return s;
  };
  return score('arm32') > score('arm64') ? 'arm32' : 'arm64';
}

/** The interrupt number QEMU shows for a guest send, null when the IPI type is not known. */
export function guestVector(arch: Arch, kind: string, reason: string | null): number | null {
  if (reason === null) return null;
  if (arch === 'x86') {
    if (reason === 'reschedule') return 0xfd;
    if (reason === 'call_function') return kind === 'ipi_send_cpumask' ? 0xfc : 0xfb;
    return null;
  }
  const index = ARM_IPIS[arch].indexOf(GENERIC_REASON[reason] ?? reason);
  return index < 0 ? null : index;
}

/** The IPI name of a QEMU interrupt number, null when the guest does not trace that type. */
export function vectorReason(arch: Arch, vector: number): string | null {
  return arch === 'x86' ? X86_VECTORS[vector] ?? null : ARM_IPIS[arch][vector] ?? null;
}
