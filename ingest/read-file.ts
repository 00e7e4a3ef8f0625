// Reading one input into a sink, in this thread or in a worker thread. Parsing costs about as much
// as storing the rows; on a machine with a second core a worker parses the next lines while this
// thread stores the last ones. Both ways make the same sink calls in the same order, so the
// database is the same (test/parse-thread.test.ts compares them table by table).
import { pathToFileURL } from 'node:url';
import type { Worker } from 'node:worker_threads';
import { SourceReader, type ReaderSink } from '../parsers/reader.js';
import { IpitraceError, type ErrorCode } from '../store/errors.js';
import { packagePath } from '../store/paths.js';
import { openInput, type InputOptions, type OpenedInput } from './input.js';
import { replayBatch, type PackedBatch } from './packed-batch.js';

export type ReadResult =
  | { ok: true; lines: number; sha256: string; bytes: number }
  | { ok: false; error: unknown; lines: number };

export type Progress = (bytesRead: number, size: number | null) => void;

export type WorkerMessage =
  | { type: 'batch'; batch: PackedBatch; bytes: number; lines: number }
  | { type: 'end'; lines: number; sha256: string; bytes: number }
  | { type: 'error'; code: ErrorCode | null; message: string; lines: number };

/** Called after each batch of lines is parsed; a promise returned is awaited (the worker's flow control). */
export type AfterBatch = (input: OpenedInput, reader: SourceReader) => void | Promise<void>;

/** Reads and parses `path` ('-': stdin) in this thread into `sink`. */
export async function readInThread(path: string, sink: ReaderSink, afterBatch?: AfterBatch, options: InputOptions = {}): Promise<ReadResult> {
  const reader = new SourceReader(sink);
  try {
    const input = openInput(path, options);
    for await (const batch of input.batches) {
      for (let i = 0; i < batch.length; i++) reader.pushLine(batch[i]);
      const wait = afterBatch?.(input, reader);
      if (wait) await wait;
    }
    reader.end();
    // A cut or damaged input that was still read: said in its stats (ingest prints them).
    for (const note of input.notes) sink.stat(note.name, note.key, 1);
    return { ok: true, lines: reader.lines, sha256: input.digest(), bytes: input.bytesRead() };
  } catch (error) {
    return { ok: false, error, lines: reader.lines };
  }
}

/** An AfterBatch that reports progress every 65536 lines. */
export function progressEvery(progress: Progress): AfterBatch {
  let reported = 0;
  return (input, reader) => {
    if (reader.lines - reported < 65536) return;
    reported = reader.lines;
    progress(input.bytesRead(), input.size);
  };
}

/**
 * The built worker entry, dist/ingest/parse-worker.js, found from the package root: in the bundled
 * CLI this code sits in a shared chunk (dist/chunks/), not beside the worker; under vitest this module
 * is the TypeScript source, which a worker thread cannot load, and the tests' global setup builds dist/.
 */
function workerUrl(): URL {
  return pathToFileURL(packagePath('dist', 'ingest', 'parse-worker.js'));
}

/**
 * The worker's old space. Its live data is small (a few batches, the parser's per-file state), but
 * uncapped V8 let the heap grow to ~90 MB of garbage on ftrace-5M (ingest peak RSS 292 MB; 203 MB
 * with this cap, and no slower: measured). Generous, so that no real input comes near it.
 */
const WORKER_OLD_SPACE_MB = 128;

/** Reads and parses the file `path` in a worker thread; the sink calls are made in this one. */
export async function readInWorker(path: string, sink: ReaderSink, size: number, progress?: Progress,
  options: InputOptions = {}): Promise<ReadResult> {
  const { Worker } = await import('node:worker_threads');
  const worker = new Worker(workerUrl(), { workerData: { path, options }, resourceLimits: { maxOldGenerationSizeMb: WORKER_OLD_SPACE_MB } });
  const messages = messageQueue(worker);
  let lines = 0;
  try {
    for (;;) {
      const message = await messages.next();
      if (message.type === 'batch') {
        worker.postMessage('ack');
        lines = message.lines;
        replayBatch(message.batch, sink);
        progress?.(message.bytes, size);
      } else if (message.type === 'end') {
        return { ok: true, lines: message.lines, sha256: message.sha256, bytes: message.bytes };
      } else {
        // A worker that died says nothing of its lines: the last batch's count stands.
        lines = Math.max(lines, message.lines);
        const error = message.code ? new IpitraceError(message.code, message.message) : new Error(message.message);
        return { ok: false, error, lines };
      }
    }
  } catch (error) {
    return { ok: false, error, lines };
  } finally {
    await worker.terminate();
  }
}

/** The worker's messages in order; a worker that dies without a word becomes an error message. */
function messageQueue(worker: Worker): { next(): Promise<WorkerMessage> } {
  const queue: WorkerMessage[] = [];
  let waiting: ((message: WorkerMessage) => void) | null = null;
  const push = (message: WorkerMessage) => {
    if (waiting) {
      const resolve = waiting;
      waiting = null;
      resolve(message);
    } else queue.push(message);
  };
  worker.on('message', push);
  worker.on('error', (error: Error) => push({ type: 'error', code: null, message: `parser thread failed: ${error.message}`, lines: 0 }));
  worker.on('exit', (code) => push({ type: 'error', code: null, message: `parser thread exited (${code})`, lines: 0 }));
  return {
    next: () => (queue.length > 0 ? Promise.resolve(queue.shift()!) : new Promise((resolve) => (waiting = resolve))),
  };
}
