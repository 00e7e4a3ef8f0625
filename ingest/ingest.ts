// `ipitrace ingest` as a library function: every file in its own transaction, so a file that fails
// half-way (unreadable, corrupt gzip) leaves the database exactly as it was, and the files ingested
// before it stay. A bad line never stops a file: it becomes an `unparsed` row.
import { availableParallelism } from 'node:os';
import { isMainThread } from 'node:worker_threads';
import { bulkWriteMode, ensureIndexes, isStorageError, rollback, type Db } from '../store/db.js';
import { IpitraceError, isIpitraceError } from '../store/errors.js';
import { bootNameFor } from './boot-name.js';
import { inputSize } from './input.js';
import { progressEvery, readInThread, readInWorker } from './read-file.js';
import { SqliteSink, type SourceCounts } from './writer.js';

export interface IngestOptions {
  /** Boot name for every file; derived per file when absent (see bootNameFor). */
  boot?: string;
  /** Re-ingest files already in the database (same boot and sha256). */
  replace?: boolean;
  /** Check every record against its zod schema before storing it. */
  validate?: boolean;
  /** Called now and then with bytes read, for a progress display. */
  onProgress?: (path: string, bytesRead: number, size: number | null) => void;
  /** Where files are parsed: 'auto' (default) uses a worker thread for large files. */
  parseThread?: ParseThread;
  /** Decoded bytes read at most per input (0: no limit); default: ingest/input.ts. */
  maxInputSize?: number;
}

export type ParseThread = 'auto' | 'main' | 'worker';

export type FileOutcome =
  | { path: string; boot: string; status: 'ingested'; sourceId: number; lines: number; counts: SourceCounts }
  | { path: string; boot: string; status: 'skipped'; reason: string }
  | { path: string; boot: string; status: 'failed'; error: IpitraceError };

export async function ingestFiles(db: Db, paths: string[], options: IngestOptions = {}): Promise<FileOutcome[]> {
  const outcomes: FileOutcome[] = [];
  const restore = bulkWriteMode(db);
  try {
    for (const path of paths) outcomes.push(await ingestOne(db, path, options));
    ensureIndexes(db);
  } finally {
    restore();
  }
  return outcomes;
}

async function ingestOne(db: Db, path: string, options: IngestOptions): Promise<FileOutcome> {
  const boot = options.boot ?? bootNameFor(path);
  let size: number | null = null;
  try {
    if (path !== '-') size = inputSize(path);
  } catch (error) {
    if (isIpitraceError(error)) return { path, boot, status: 'failed', error };
    throw error;
  }
  db.exec('BEGIN');
  const sourceId = insertSource(db, boot, path);
  const sink = new SqliteSink(db, sourceId, options.validate ?? false);
  const progress = options.onProgress && ((bytes: number, total: number | null) => options.onProgress!(path, bytes, total));
  const input = options.maxInputSize === undefined ? {} : { maxInputSize: options.maxInputSize };
  const read = size !== null && useWorker(size, options.parseThread ?? 'auto')
    ? await readInWorker(path, sink, size, progress, input)
    : await readInThread(path, sink, progress && progressEvery(progress), input);
  let error = read.ok ? null : read.error;
  if (read.ok) {
    try {
      sink.finish();
    } catch (finishError) {
      error = finishError;
    }
  }
  if (!read.ok || error !== null) {
    // SQLite has already rolled back on a full disk (SQLITE_FULL): no second ROLLBACK then.
    rollback(db);
    // A full disk or another process's lock is not this file's fault, and stops every file.
    if (isStorageError(error)) throw error;
    if (isIpitraceError(error)) return { path, boot, status: 'failed', error: withLine(error, read.lines) };
    const message = `${path}: read failed after line ${read.lines}: ${(error as Error).message}`;
    return { path, boot, status: 'failed', error: new IpitraceError('E_INPUT_UNREADABLE', message) };
  }
  const { sha256, bytes, lines } = read;
  const existing = db.prepare('SELECT source_id FROM sources WHERE boot = ? AND sha256 = ? AND source_id != ?')
    .get(boot, sha256, sourceId) as { source_id: number } | undefined;
  if (existing && !options.replace) {
    db.exec('ROLLBACK');
    return { path, boot, status: 'skipped', reason: `already ingested into boot '${boot}' (same sha256; --replace to redo)` };
  }
  if (existing) deleteSource(db, existing.source_id);
  sink.flushStats();
  finishSource(db, sourceId, sha256, bytes, lines, sink.counts);
  db.exec('COMMIT');
  return { path, boot, status: 'ingested', sourceId, lines, counts: sink.counts };
}

/**
 * Files this big are parsed in a worker thread ('auto'): below it, starting the thread costs more
 * than it saves. A single-core machine gains nothing from the thread, and neither does a thread that
 * is itself one of a pool's (`ipitrace batch` runs a boot per thread, a thread per core): a second
 * thread per file then only adds the packing, cloning and unpacking between the two, which cost
 * 0.4-1.0 s of CPU per M events (ingest of the 1 M bench inputs, --parse-thread main against worker,
 * same run, 2026-12-07).
 */
const WORKER_MIN_BYTES = 4 << 20;

function useWorker(size: number, mode: ParseThread): boolean {
  if (mode !== 'auto') return mode === 'worker';
  return size >= WORKER_MIN_BYTES && availableParallelism() > 1 && isMainThread;
}

/** Adds "after line N" to errors raised mid-file (a corrupt gzip tail, a read error). */
function withLine(error: IpitraceError, lines: number): IpitraceError {
  if (lines === 0 || error.code === 'E_INPUT_BINARY') return error;
  return new IpitraceError(error.code, `${error.message} (after line ${lines}; nothing from this file was stored)`);
}

function insertSource(db: Db, boot: string, path: string): number {
  const result = db.prepare(`INSERT INTO sources (boot, path, sha256, bytes, lines, format_counts, unparsed, ingested_at)
    VALUES (?, ?, 'pending:' || random(), 0, 0, '{}', 0, ?)`).run(boot, path, new Date().toISOString());
  return Number(result.lastInsertRowid);
}

function finishSource(db: Db, id: number, sha256: string, bytes: number, lines: number, counts: SourceCounts): void {
  const formats = Object.fromEntries([...counts.formats].sort());
  db.prepare('UPDATE sources SET sha256 = ?, bytes = ?, lines = ?, format_counts = ?, unparsed = ? WHERE source_id = ?')
    .run(sha256, bytes, lines, JSON.stringify(formats), counts.unparsedTotal, id);
}

/** Removes one source and every row that came from it (--replace). */
export function deleteSource(db: Db, sourceId: number): void {
  db.prepare('DELETE FROM event_targets WHERE event_id IN (SELECT event_id FROM events WHERE source_id = ?)').run(sourceId);
  for (const table of ['event_chunks', 'event_strings', 'qemu_write_chunks', 'qemu_log_buckets', 'events', 'console_messages',
    'cpu_facts', 'unparsed', 'stats', 'sources']) {
    db.prepare(`DELETE FROM ${table} WHERE source_id = ?`).run(sourceId);
  }
}
