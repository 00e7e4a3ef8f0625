// Opening one input: a path or '-' for stdin, plain or compressed (gzip, bzip2, xz, zstd:
// recognised by their magic bytes, not their name; ingest/decompress.ts). Yields the decoded text
// lines (ingest/lines.ts) in batches so memory stays constant whatever the size, and the reader
// runs one synchronous loop per batch rather than one stream hand-off per line. Binary data is
// refused by content; endless input (a device, a pipe, a decompression bomb) stops at a size limit.
import { createHash } from 'node:crypto';
import { createReadStream, statSync } from 'node:fs';
import type { Readable } from 'node:stream';
import { IpitraceError } from '../store/errors.js';
import { chunksOf, decompress, MAGIC_BYTES, sniffCompression, type InputNote, type Reopen } from './decompress.js';
import { MAX_LINE_CHARS } from '../parsers/reader.js';
import { GIVE_UP_CHARS, splitLines } from './lines.js';

export type { InputNote } from './decompress.js';

/**
 * Bytes per read from a file. Not larger: decoding a chunk of more than 64 KiB to a string costs
 * ~12 times as much per byte in Node 20 (measured: 114 MB of ftrace text decoded in 0.05 s in
 * 64 KiB chunks, 0.65 s in 128 KiB or 1 MiB ones).
 */
const READ_CHUNK = 1 << 16;

/** Decoded bytes read at most from a pipe, a device or stdin when no --max-input-size is given. */
export const DEFAULT_MAX_STREAM_BYTES = 4 * 1024 ** 3;
/**
 * Decoded bytes read at most from a compressed file when no --max-input-size is given: 200 times
 * its size (text logs compress 10-30 times), at least 1 GiB. A 4 MB gzip of 4 GiB of newlines
 * stops at 1 GiB.
 */
export const COMPRESSED_RATIO = 200;
export const MIN_COMPRESSED_LIMIT = 1024 ** 3;

export interface InputOptions {
  /** Decoded bytes to read at most (0: no limit); default: see DEFAULT_MAX_STREAM_BYTES and COMPRESSED_RATIO. */
  maxInputSize?: number;
}

export interface OpenedInput {
  /**
   * The lines, in order, in batches: split at '\n' (or at '\r' in a CR-only file); a last line
   * without a line end is kept unless empty.
   */
  batches: AsyncIterable<string[]>;
  /** sha256 of the raw bytes (complete once `batches` is exhausted). */
  digest(): string;
  /** Raw bytes read so far. */
  bytesRead(): number;
  /** Size in bytes when known (regular files), for progress display. */
  size: number | null;
  /** What was wrong with an input that was still read (cut, damaged, stopped at the limit): complete once `batches` is exhausted. */
  notes: InputNote[];
}

/** Checks the path and opens it. Throws IpitraceError with a one-line message naming the path. */
export function openInput(path: string, options: InputOptions = {}): OpenedInput {
  if (path === '-') return decode(process.stdin, null, 'stdin', options, null);
  const size = inputSize(path);
  const reopen = size === null ? null : () => createReadStream(path, { highWaterMark: READ_CHUNK });
  return decode(createReadStream(path, { highWaterMark: READ_CHUNK }), size, path, options, reopen);
}

/**
 * The size of a file to read, null for what is not a regular file (a pipe, a device). Throws
 * IpitraceError naming the path when it cannot be read.
 */
export function inputSize(path: string): number | null {
  try {
    const st = statSync(path);
    if (st.isDirectory()) throw new IpitraceError('E_INPUT_DIRECTORY', `${path}: is a directory (give the files in it)`);
    return st.isFile() ? st.size : null;
  } catch (error) {
    if (error instanceof IpitraceError) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new IpitraceError('E_INPUT_MISSING', `${path}: no such file`);
    throw new IpitraceError('E_INPUT_UNREADABLE', `${path}: cannot read: ${(error as Error).message}`);
  }
}

/**
 * True when the bytes are not a text log: more than 10 % of them control bytes other than tab,
 * CR, LF, ESC and NUL (serial consoles emit NULs, so NULs alone do not make a file binary) or
 * bytes that are no valid UTF-8. Random data has ~11 % of the first kind and ~45 % of the second;
 * a garbled console a few in a thousand.
 */
export function looksBinary(head: Buffer): boolean {
  if (head.length === 0) return false;
  let bad = 0;
  for (let i = 0; i < head.length; i++) {
    const byte = head[i];
    if (byte < 0x20) {
      if (byte !== 0x09 && byte !== 0x0a && byte !== 0x0d && byte !== 0x1b && byte !== 0x00) bad++;
    } else if (byte >= 0x80) {
      const length = utf8Length(head, i);
      if (length === 0) bad++;
      else i += length - 1;
    }
  }
  return bad / head.length > 0.1;
}

/** Length of the valid UTF-8 sequence at `i` (a cut one at the end of the head counts as valid), 0 when invalid. */
function utf8Length(bytes: Buffer, i: number): number {
  const lead = bytes[i];
  const length = lead >= 0xc2 && lead <= 0xdf ? 2 : lead >= 0xe0 && lead <= 0xef ? 3 : lead >= 0xf0 && lead <= 0xf4 ? 4 : 0;
  for (let k = 1; k < length; k++) {
    if (i + k >= bytes.length) return k;
    if ((bytes[i + k] & 0xc0) !== 0x80) return 0;
  }
  return length;
}

/** trace-cmd's trace.dat magic: 0x17 0x08 0x44 'tracing' (trace-cmd.dat(5)). */
const TRACE_DAT_MAGIC = Buffer.from([0x17, 0x08, 0x44, ...Buffer.from('tracing')]);

export const isTraceDat = (head: Buffer): boolean => head.length >= TRACE_DAT_MAGIC.length && head.subarray(0, TRACE_DAT_MAGIC.length).equals(TRACE_DAT_MAGIC);

/** Bytes of decoded text the binary sniff looks at. */
const SNIFF_BYTES = 4096;

function decode(raw: Readable, size: number | null, name: string, options: InputOptions, reopen: Reopen): OpenedInput {
  const hash = createHash('sha256');
  let bytes = 0;
  const notes: InputNote[] = [];
  async function* rawChunks(): AsyncGenerator<Buffer> {
    try {
      for await (const chunk of chunksOf(raw)) {
        hash.update(chunk);
        bytes += chunk.length;
        yield chunk;
      }
    } catch (error) {
      if (error instanceof IpitraceError) throw error;
      throw new IpitraceError('E_INPUT_UNREADABLE', `${name}: cannot read: ${(error as Error).message}`);
    }
  }
  async function* text(): AsyncGenerator<Buffer> {
    const source = rawChunks();
    const head = await takeHead(source, MAGIC_BYTES);
    if (isTraceDat(head.bytes)) {
      throw new IpitraceError('E_INPUT_BINARY',
        `${name}: a binary trace-cmd file (trace.dat), not text; convert it first: trace-cmd report -i ${name} > trace.txt`);
    }
    const compression = sniffCompression(head.bytes, name);
    const chunks = compression === null ? head.all : decompress(compression, head.all, name, notes, reopen);
    const limit = options.maxInputSize ?? (compression !== null && size !== null
      ? Math.max(MIN_COMPRESSED_LIMIT, COMPRESSED_RATIO * size)
      : size === null ? DEFAULT_MAX_STREAM_BYTES : 0);
    const decoded = await takeHead(chunks, SNIFF_BYTES);
    if (looksBinary(decoded.bytes.subarray(0, SNIFF_BYTES))) {
      const what = compression === null ? '' : ` (${compression}-compressed)`;
      throw new IpitraceError('E_INPUT_BINARY', `${name}: not a text log${what} (binary data at line 1)`);
    }
    let total = 0;
    for await (const chunk of decoded.all) {
      if (limit > 0 && total + chunk.length > limit) {
        if (limit > total) yield chunk.subarray(0, limit - total);
        notes.push({ name: 'input_cut', key: `read stopped at ${limit} bytes (--max-input-size)` });
        return;
      }
      total += chunk.length;
      yield chunk;
    }
  }
  const onGiveUp = () => notes.push({ name: 'input_cut', key: `no line end in ${GIVE_UP_CHARS >> 20} Mi characters: not text from there on` });
  let digest: string | null = null;
  return {
    batches: splitLines(text(), { maxLine: MAX_LINE_CHARS, onGiveUp }),
    digest: () => (digest ??= hash.digest('hex')),
    bytesRead: () => bytes,
    size,
    notes,
  };
}

/** Reads chunks until at least `least` bytes (or the end); `all` yields everything, those bytes included. */
async function takeHead(source: AsyncIterator<Buffer> & AsyncIterable<Buffer>, least: number):
  Promise<{ bytes: Buffer; all: AsyncGenerator<Buffer> }> {
  const taken: Buffer[] = [];
  let length = 0;
  let done = false;
  while (length < least) {
    const next = await source.next();
    if (next.done) {
      done = true;
      break;
    }
    taken.push(next.value);
    length += next.value.length;
  }
  const bytes = taken.length === 1 ? taken[0] : Buffer.concat(taken);
  async function* all(): AsyncGenerator<Buffer> {
    try {
      if (bytes.length > 0) yield bytes;
      if (done) return;
      for (;;) {
        const next = await source.next();
        if (next.done) return;
        yield next.value;
      }
    } finally {
      await source.return?.(undefined);
    }
  }
  return { bytes, all: all() };
}
