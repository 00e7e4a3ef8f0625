// Opening one input: a path or '-' for stdin, plain or gzip (recognised by its magic bytes, not its
// name). Yields the decoded text lines (split2) in batches so memory stays constant whatever the
// size, and the reader runs one synchronous loop per batch rather than one stream hand-off per line.
import { createHash } from 'node:crypto';
import { createReadStream, statSync } from 'node:fs';
import { Transform, type Readable, type TransformCallback } from 'node:stream';
import { createGunzip, type Gunzip } from 'node:zlib';
import split2 from 'split2';
import { IpitraceError } from '../store/errors.js';

/**
 * Bytes per read from a file (and per gunzip output chunk). Not larger: decoding a chunk of more
 * than 64 KiB to a string costs ~12 times as much per byte in Node 20 (measured: 114 MB of ftrace
 * text decoded in 0.05 s in 64 KiB chunks, 0.65 s in 128 KiB or 1 MiB ones).
 */
const READ_CHUNK = 1 << 16;

export interface OpenedInput {
  /**
   * The lines, in order, in batches: split at /\r?\n/ (split2); a last line without '\n' is kept
   * unless empty.
   */
  batches: AsyncIterable<string[]>;
  /** sha256 of the raw bytes (complete once `batches` is exhausted). */
  digest(): string;
  /** Raw bytes read so far. */
  bytesRead(): number;
  /** Size in bytes when known (regular files), for progress display. */
  size: number | null;
}

/** Checks the path and opens it. Throws IpitraceError with a one-line message naming the path. */
export function openInput(path: string): OpenedInput {
  if (path === '-') return decode(process.stdin, null, 'stdin');
  return decode(createReadStream(path, { highWaterMark: READ_CHUNK }), inputSize(path), path);
}

/** The size of a file to read. Throws IpitraceError naming the path when it cannot be read. */
export function inputSize(path: string): number {
  try {
    const st = statSync(path);
    if (st.isDirectory()) throw new IpitraceError('E_INPUT_DIRECTORY', `${path}: is a directory (give the files in it)`);
    return st.size;
  } catch (error) {
    if (error instanceof IpitraceError) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new IpitraceError('E_INPUT_MISSING', `${path}: no such file`);
    throw new IpitraceError('E_INPUT_UNREADABLE', `${path}: cannot read: ${(error as Error).message}`);
  }
}

/**
 * True when the bytes are not a text log: many control bytes other than tab, CR, LF, ESC and NUL
 * (serial consoles emit NULs, so NULs alone do not make a file binary).
 */
export function looksBinary(head: Buffer): boolean {
  if (head.length === 0) return false;
  let control = 0;
  for (const byte of head) {
    if (byte < 0x20 && byte !== 0x09 && byte !== 0x0a && byte !== 0x0d && byte !== 0x1b && byte !== 0x00) control++;
  }
  return control / head.length > 0.1;
}

/** trace-cmd's trace.dat magic: 0x17 0x08 0x44 'tracing' (trace-cmd.dat(5)). */
const TRACE_DAT_MAGIC = Buffer.from([0x17, 0x08, 0x44, ...Buffer.from('tracing')]);

export const isTraceDat = (head: Buffer): boolean => head.length >= TRACE_DAT_MAGIC.length && head.subarray(0, TRACE_DAT_MAGIC.length).equals(TRACE_DAT_MAGIC);

function decode(raw: Readable, size: number | null, name: string): OpenedInput {
  const hash = createHash('sha256');
  let bytes = 0;
  const text = new FirstChunkSniffer(name, (chunk) => {
    hash.update(chunk);
    bytes += chunk.length;
  });
  raw.on('error', (error) => text.destroy(new IpitraceError('E_INPUT_UNREADABLE', `${name}: cannot read: ${error.message}`)));
  raw.pipe(text);
  let digest: string | null = null;
  return { batches: splitLines(text), digest: () => (digest ??= hash.digest('hex')), bytesRead: () => bytes, size };
}

/** Lines handed on per batch: large enough that the per-batch hand-off vanishes, small enough to stay flat. */
const BATCH_LINES = 4096;

/**
 * The text's lines in batches, split by split2 (its default /\r?\n/, so CRLF consoles lose the CR).
 * split2 calls its mapper synchronously for each line; the mapper collects them and hands on a full
 * batch only (returning undefined pushes nothing), so the stream machinery runs once per batch
 * rather than once per line.
 */
async function* splitLines(text: Readable): AsyncGenerator<string[]> {
  let batch: string[] = [];
  const lines = text.pipe(split2((line: string) => {
    batch.push(line);
    if (batch.length < BATCH_LINES) return undefined;
    const full = batch;
    batch = [];
    return full;
  }));
  text.on('error', (error) => lines.destroy(error));
  for await (const full of lines) yield full as string[];
  if (batch.length > 0) yield batch;
}

/** Passes text through; gunzips when the first bytes are the gzip magic; refuses binary data. */
class FirstChunkSniffer extends Transform {
  private gunzip: Gunzip | null = null;
  private decided = false;

  constructor(private readonly name: string, private readonly onRaw: (chunk: Buffer) => void) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    this.onRaw(chunk);
    if (!this.decided) {
      this.decided = true;
      if (chunk.length >= 2 && chunk[0] === 0x1f && chunk[1] === 0x8b) this.startGunzip();
      else if (isTraceDat(chunk)) {
        done(new IpitraceError('E_INPUT_BINARY',
          `${this.name}: a binary trace-cmd file (trace.dat), not text; convert it first: trace-cmd report -i ${this.name} > trace.txt`));
        return;
      } else if (looksBinary(chunk.subarray(0, 4096))) {
        done(new IpitraceError('E_INPUT_BINARY', `${this.name}: not a text log (binary data at line 1)`));
        return;
      }
    }
    if (this.gunzip) this.gunzip.write(chunk, () => done());
    else done(null, chunk);
  }

  override _flush(done: TransformCallback): void {
    if (!this.gunzip) return done();
    this.gunzip.once('end', () => done());
    this.gunzip.end();
  }

  private startGunzip(): void {
    // Output in chunks as big as the file reads (zlib's default is 16 KB).
    const gunzip = createGunzip({ chunkSize: READ_CHUNK });
    gunzip.on('data', (data: Buffer) => this.push(data));
    gunzip.on('error', (error) => this.destroy(
      new IpitraceError('E_INPUT_CORRUPT_GZIP', `${this.name}: corrupt gzip data: ${error.message}`)));
    this.gunzip = gunzip;
  }
}
