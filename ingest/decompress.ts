// Compressed inputs, recognised by their magic bytes (never by name): gzip by Node's zlib in this
// process; bzip2, xz and zstd by the system's own tool (`bzip2 -dc`, `xz -dc`, `zstd -dc`) in a child
// process (no npm dependency: the tools are on every Linux, and say exactly what is wrong with a
// damaged file). Other archive formats are refused by name. A stream that is cut or damaged part-way keeps what was decoded
// before the damage, like a cut plain file, and says so (a note the reader turns into a stat).
import type { Readable, Writable } from 'node:stream';
import { IpitraceError } from '../store/errors.js';

export type Compression = 'gzip' | 'bzip2' | 'xz' | 'zstd';

/** Something worth telling about an input that was still read: becomes a stat of its source. */
export interface InputNote {
  name: 'input_truncated' | 'input_trailing_garbage' | 'input_cut';
  key: string;
}

/** The decoder's output chunk size (and zlib's), as large as a file read (ingest/input.ts READ_CHUNK). */
const CHUNK = 1 << 16;

const TOOLS: Record<Compression, string> = { gzip: 'gzip', bzip2: 'bzip2', xz: 'xz', zstd: 'zstd' };

/** Formats ipitrace does not decode, by magic bytes: refused with their name. */
const REFUSED: { magic: number[]; name: string }[] = [
  { magic: [0x50, 0x4b, 0x03, 0x04], name: 'a zip archive' },
  { magic: [0x37, 0x7a, 0xbc, 0xaf, 0x27, 0x1c], name: 'a 7-zip archive' },
  { magic: [0x04, 0x22, 0x4d, 0x18], name: 'lz4-compressed' },
  { magic: [0x4c, 0x5a, 0x49, 0x50], name: 'lzip-compressed' },
  { magic: [0x5d, 0x00, 0x00], name: 'lzma-compressed' },
  { magic: [0x1f, 0x9d], name: 'compress(1)-compressed (.Z)' },
  { magic: [0x52, 0x61, 0x72, 0x21, 0x1a, 0x07], name: 'a RAR archive' },
  { magic: [0x7f, 0x45, 0x4c, 0x46], name: 'an ELF binary' },
  { magic: [0x53, 0x51, 0x4c, 0x69, 0x74, 0x65, 0x20, 0x66, 0x6f, 0x72, 0x6d, 0x61, 0x74, 0x20, 0x33, 0x00], name: 'an SQLite database' },
];

const startsWith = (head: Buffer, magic: number[]): boolean => head.length >= magic.length && magic.every((b, i) => head[i] === b);

/** Bytes the magic sniff needs (the longest magic above). */
export const MAGIC_BYTES = 16;

/** The compression of a stream by its first bytes; null for none. Throws for formats refused by name. */
export function sniffCompression(head: Buffer, name: string): Compression | null {
  if (startsWith(head, [0x1f, 0x8b])) return 'gzip';
  if (startsWith(head, [0x42, 0x5a, 0x68]) && head.length > 3 && head[3] >= 0x31 && head[3] <= 0x39) return 'bzip2';
  if (startsWith(head, [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00])) return 'xz';
  if (startsWith(head, [0x28, 0xb5, 0x2f, 0xfd])) return 'zstd';
  for (const refused of REFUSED) {
    if (startsWith(head, refused.magic)) {
      throw new IpitraceError('E_INPUT_UNSUPPORTED', `${name}: ${refused.name}, not a text log (extract the log from it first)`);
    }
  }
  return null;
}

/** The chunks of a readable in order, with backpressure; its error is thrown only after the chunks before it. */
export async function* chunksOf(stream: Readable): AsyncGenerator<Buffer> {
  const queue: Buffer[] = [];
  let ended = false;
  let failure: Error | null = null;
  let wake: (() => void) | null = null;
  const signal = () => {
    const w = wake;
    wake = null;
    w?.();
  };
  stream.on('data', (chunk: Buffer) => {
    queue.push(chunk);
    if (queue.length >= 4) stream.pause();
    signal();
  });
  stream.on('end', () => { ended = true; signal(); });
  stream.on('close', () => { ended = true; signal(); });
  stream.on('error', (error) => { failure ??= error; signal(); });
  try {
    for (;;) {
      if (queue.length > 0) {
        const chunk = queue.shift()!;
        if (queue.length < 2 && !ended) stream.resume();
        yield chunk;
      } else if (failure !== null) {
        throw failure;
      } else if (ended) {
        return;
      } else {
        await new Promise<void>((resolve) => (wake = resolve));
      }
    }
  } finally {
    stream.destroy();
  }
}

/** Writes every raw chunk into `sink` with backpressure, then ends it; a read error goes to `onError`. */
async function pump(raw: AsyncIterable<Buffer>, sink: Writable, onError: (error: Error) => void): Promise<void> {
  try {
    for await (const chunk of raw) {
      if (sink.destroyed || sink.writableEnded) return;
      if (!sink.write(chunk)) {
        await new Promise<void>((resolve) => {
          const done = () => { sink.off('drain', done); sink.off('close', done); resolve(); };
          sink.on('drain', done);
          sink.on('close', done);
        });
      }
    }
    if (!sink.destroyed) sink.end();
  } catch (error) {
    onError(error as Error);
  }
}

/** A fresh stream of an input's raw bytes from its start (regular files), or null (stdin, pipes). */
export type Reopen = (() => Readable) | null;

/**
 * What a decoder yields: decoded chunks; `notes` gets what was wrong with a stream that was still
 * read. gzip is decoded in this process (Node's zlib, no process hand-off on the hot path); the
 * others by their tool.
 */
export function decompress(kind: Compression, raw: AsyncIterable<Buffer>, name: string, notes: InputNote[], reopen: Reopen): AsyncGenerator<Buffer> {
  return kind === 'gzip' ? gunzipInProcess(raw, name, notes, reopen) : toolDecode(kind, raw, name, notes, 0);
}

/** Decodes with the system tool, the first `skip` decoded bytes left out. */
async function* toolDecode(kind: Compression, raw: AsyncIterable<Buffer>, name: string, notes: InputNote[], skip: number): AsyncGenerator<Buffer> {
  const tool = TOOLS[kind];
  // Node's modules for compressed input are loaded only for it (a plain console starts sooner).
  const { spawn } = await import('node:child_process');
  const child = spawn(tool, ['-dc'], { stdio: ['pipe', 'pipe', 'pipe'] });
  const spawned = await new Promise<boolean>((resolve) => {
    child.once('spawn', () => resolve(true));
    child.once('error', () => resolve(false));
  });
  if (!spawned) {
    throw new IpitraceError('E_INPUT_UNSUPPORTED', `${name}: ${kind}-compressed, and no '${tool}' program to decode it (decompress it first)`);
  }
  let stderr = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (text: string) => { if (stderr.length < 4096) stderr += text; });
  const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  let readError: Error | null = null;
  // The tool may stop reading early (a damaged stream): writing on then fails with EPIPE, which is no news.
  child.stdin.on('error', () => undefined);
  const pumping = pump(raw, child.stdin, (error) => { readError = error; child.kill(); });
  let decoded = 0;
  let complete = false;
  try {
    for await (const chunk of chunksOf(child.stdout)) {
      decoded += chunk.length;
      if (decoded <= skip) continue;
      yield decoded - chunk.length < skip ? chunk.subarray(skip - (decoded - chunk.length)) : chunk;
    }
    complete = true;
  } finally {
    // Stopped early (the size limit, an error downstream): the tool need not finish.
    if (!complete) child.kill();
  }
  await pumping;
  const code = await exited;
  if (readError !== null) throw readError;
  if (code === 0) return;
  const message = toolMessage(stderr, tool) || `${tool} exited with status ${code}`;
  // gzip: 2 is a warning (trailing garbage ignored, the data before it complete).
  if (kind === 'gzip' && code === 2 && /trailing garbage/.test(stderr)) {
    notes.push({ name: 'input_trailing_garbage', key: `${kind}: ${message}` });
    return;
  }
  if (decoded === 0) throw new IpitraceError('E_INPUT_CORRUPT', `${name}: corrupt ${kind} data: ${message}`);
  notes.push({ name: 'input_truncated', key: `${kind}: ${message}` });
}

/** The tool's complaint without its `gzip: stdin: ` (zstd: `/*stdin*\\ : `) prefix, on one line. */
function toolMessage(stderr: string, tool: string): string {
  return stderr.split('\n').map((l) => l.replace(new RegExp(`^${tool}: (?:\\(stdin\\)|stdin)?:? ?`), '')
    .replace(/^\/\*stdin\*\\ : /, '').trim())
    .filter((l) => l !== '').join('; ').slice(0, 200);
}

/**
 * gzip in this process (Node's zlib). zlib stops at bytes after a member that are no member
 * (trailing garbage) and gives no output for the block it was decoding then: for a regular file
 * the system's `gzip` decodes it again, exactly, from where zlib's output ended.
 */
async function* gunzipInProcess(raw: AsyncIterable<Buffer>, name: string, notes: InputNote[], reopen: Reopen): AsyncGenerator<Buffer> {
  const { createGunzip } = await import('node:zlib');
  const gunzip = createGunzip({ chunkSize: CHUNK });
  let readError: Error | null = null;
  const pumping = pump(raw, gunzip, (error) => { readError = error; gunzip.destroy(error); });
  let decoded = 0;
  try {
    for await (const chunk of chunksOf(gunzip)) {
      decoded += chunk.length;
      yield chunk;
    }
  } catch (error) {
    if (readError !== null) throw readError;
    const message = (error as Error).message;
    // A bad header after the first (checked) one: what follows a member is no member. With the whole
    // file in one write, zlib gives no output at all then.
    const garbage = message === 'incorrect header check' || message === 'unknown compression method';
    if (decoded === 0 && !(garbage && reopen !== null)) throw new IpitraceError('E_INPUT_CORRUPT', `${name}: corrupt gzip data: ${message}`);
    if (!garbage) {
      notes.push({ name: 'input_truncated', key: `gzip: ${message}` });
    } else if (reopen === null) {
      notes.push({ name: 'input_trailing_garbage', key: 'gzip: bytes after the stream ignored (the last block before them may be lost: read from a pipe)' });
    } else {
      const toolNotes: InputNote[] = [];
      try {
        yield* toolDecode('gzip', chunksOf(reopen()), name, toolNotes, decoded);
        notes.push({ name: 'input_trailing_garbage', key: 'gzip: bytes after the stream ignored' });
      } catch (retry) {
        if (!(retry instanceof IpitraceError && retry.code === 'E_INPUT_UNSUPPORTED')) throw retry;
        notes.push({ name: 'input_trailing_garbage', key: 'gzip: bytes after the stream ignored (the last block before them may be lost: no gzip program)' });
      }
    }
  }
  await pumping;
}
