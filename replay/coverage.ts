// What each ftrace stream (one source's events in the reference clock) covers per CPU. ftrace
// ring buffers are per CPU: when old events were overwritten, each CPU's surviving window starts at
// its own oldest event; LOST EVENTS markers cut a window in two (an oops-time dump prints
// `CPU:N [LOST M EVENTS]` before CPU N's first event: its window starts there). A CPU that recorded
// nothing in a trace file is covered by the whole stream (its buffer never filled); a CPU with no
// event in an oops-time dump is not covered at all (the dump merges the CPUs in time order and is
// often cut short by the printk buffer or a hang, so its events may simply not have been printed).
// A stretch in which no CPU of a stream records anything for SILENCE_NS (replay.ts) cuts every CPU's
// window too: the trace may have been switched off. Nothing is known outside.
import type { Db } from '../store/db.js';
import type { ClockMap } from './clocks.js';
import type { Universe } from './universe.js';

interface Stream {
  sourceId: number;
  start: number;
  end: number;
  /** false when the header shows nothing was overwritten (entries-in-buffer = entries-written). */
  mayHaveOverwritten: boolean;
  /** An oops-time dump in a console (ftrace_dump_on_oops): a CPU with no event in it has no window. */
  dump: boolean;
  firstByCpu: Map<number, number>;
  gapsByCpu: Map<number, { from: number; to: number }[]>;
  /** Stretches in which no CPU recorded anything: a gap in every CPU's window. */
  silences: Silence[];
}

export interface Silence {
  from: number;
  to: number;
}

export interface Window {
  sourceId: number;
  start: number;
  end: number;
  basis: string;
}

export interface Coverage {
  streams: Stream[];
}

/** First and last event time of one CPU (NULL: events without a CPU) in one source. */
export interface CoverageRow {
  source_id: number;
  cpu: number | null;
  first: number;
  last: number;
}

/**
 * `spans`: the boot's events in the reference clock summed up per source and CPU, in source order,
 * when the caller already read them all (replay's first pass); else they are queried here.
 */
export function buildCoverage(db: Db, boot: string, clocks: ClockMap, universe: Universe, spans?: CoverageRow[],
  silences?: Map<number, Silence[]>): Coverage {
  const clock = clocks.ref;
  const rows = spans ?? db.prepare(`SELECT e.source_id, e.cpu, min(e.ts_ns) AS first, max(e.ts_ns) AS last
    FROM events e JOIN sources s USING (source_id)
    WHERE s.boot = ? AND e.clock = ? AND e.ts_ns IS NOT NULL GROUP BY e.source_id, e.cpu`).all(boot, clock) as CoverageRow[];
  const streams = new Map<number, Stream>();
  for (const row of rows) {
    let stream = streams.get(row.source_id);
    if (!stream) {
      stream = { sourceId: row.source_id, start: row.first, end: row.last, mayHaveOverwritten: overwritten(db, row.source_id),
        dump: isDump(db, row.source_id), firstByCpu: new Map(), gapsByCpu: lostGaps(db, row.source_id),
        silences: silences?.get(row.source_id) ?? [] };
      streams.set(row.source_id, stream);
    }
    stream.start = Math.min(stream.start, row.first);
    stream.end = Math.max(stream.end, row.last);
    if (row.cpu !== null) stream.firstByCpu.set(row.cpu, row.first);
  }
  const coverage = { streams: [...streams.values()] };
  writeCoverage(db, boot, coverage, universe);
  return coverage;
}

function overwritten(db: Db, sourceId: number): boolean {
  const rows = db.prepare(`SELECT name, value FROM stats WHERE source_id = ?
    AND name IN ('ftrace_entries_in_buffer', 'ftrace_entries_written')`).all(sourceId) as { name: string; value: number }[];
  const byName = new Map(rows.map((r) => [r.name, r.value]));
  const inBuffer = byName.get('ftrace_entries_in_buffer');
  const written = byName.get('ftrace_entries_written');
  return inBuffer === undefined || written === undefined || written > inBuffer;
}

function isDump(db: Db, sourceId: number): boolean {
  const row = db.prepare(`SELECT coalesce(json_extract(format_counts, '$."ftrace-dump"'), 0) AS n FROM sources WHERE source_id = ?`)
    .get(sourceId) as { n: number } | undefined;
  return (row?.n ?? 0) > 0;
}

/** LOST EVENTS markers: the gap runs from the CPU's event before the marker to its event after it. */
function lostGaps(db: Db, sourceId: number): Map<number, { from: number; to: number }[]> {
  const gaps = new Map<number, { from: number; to: number }[]>();
  const markers = db.prepare(`SELECT event_id, cpu FROM events WHERE source_id = ? AND op = 'lost' AND cpu IS NOT NULL`)
    .all(sourceId) as { event_id: number; cpu: number }[];
  const before = db.prepare(`SELECT max(ts_ns) AS ts FROM events WHERE source_id = ? AND cpu = ? AND event_id < ? AND ts_ns IS NOT NULL`);
  const after = db.prepare(`SELECT min(ts_ns) AS ts FROM events WHERE source_id = ? AND cpu = ? AND event_id > ? AND ts_ns IS NOT NULL`);
  for (const m of markers) {
    const from = (before.get(sourceId, m.cpu, m.event_id) as { ts: number | null }).ts ?? -Infinity;
    const to = (after.get(sourceId, m.cpu, m.event_id) as { ts: number | null }).ts ?? Infinity;
    const list = gaps.get(m.cpu) ?? [];
    list.push({ from, to });
    gaps.set(m.cpu, list);
  }
  return gaps;
}

const NO_GAPS: { from: number; to: number; basis: string }[] = [];

/** The windows of one CPU in one stream. */
function windowsOf(stream: Stream, cpu: number): Window[] {
  const first = stream.firstByCpu.get(cpu);
  if (first === undefined && stream.dump) return [];
  const fromStart = first === undefined || !stream.mayHaveOverwritten;
  let start = fromStart ? stream.start : first;
  let basis = fromStart ? 'stream' : 'first event';
  const windows: Window[] = [];
  const lost = stream.gapsByCpu.get(cpu) ?? [];
  const gaps = stream.silences.length === 0 && lost.length === 0 ? NO_GAPS
    : [...lost.map((g) => ({ ...g, basis: 'after lost events' })),
      ...stream.silences.map((g) => ({ ...g, basis: 'after a silence of every CPU' }))].sort((a, b) => a.from - b.from);
  for (const gap of gaps) {
    if (gap.from > start) windows.push({ sourceId: stream.sourceId, start, end: gap.from, basis });
    start = Math.max(start, gap.to);
    basis = gap.basis;
  }
  if (start <= stream.end) windows.push({ sourceId: stream.sourceId, start, end: stream.end, basis });
  return windows;
}

/** The window that contains `ts` for `cpu` and reaches furthest, or null when no stream covers it. */
export function coveringWindow(coverage: Coverage, cpu: number, ts: number): Window | null {
  let best: Window | null = null;
  for (const stream of coverage.streams) {
    for (const w of windowsOf(stream, cpu)) {
      if (w.start <= ts && ts <= w.end && (!best || w.end > best.end)) best = w;
    }
  }
  return best;
}

function writeCoverage(db: Db, boot: string, coverage: Coverage, universe: Universe): void {
  const insert = db.prepare('INSERT INTO cpu_coverage (boot, source_id, cpu, start_ns, end_ns, basis) VALUES (?,?,?,?,?,?)');
  const top = Math.max(universe.present ?? 0, universe.possible ?? 0, Math.max(-1, ...universe.seen) + 1);
  for (const stream of coverage.streams) {
    for (let cpu = 0; cpu < top; cpu++) {
      for (const w of windowsOf(stream, cpu)) insert.run(boot, stream.sourceId, cpu, w.start, w.end, w.basis);
    }
  }
}
