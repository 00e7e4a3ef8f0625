// Opening one input: a path or '-' for stdin, plain or gzip (recognised by its magic bytes, not its
// name). Yields the decoded text lines through split2 so memory stays constant whatever the size.
import { createHash } from 'node:crypto';
import { createReadStream, statSync } from 'node:fs';
import { Transform, type Readable, type TransformCallback } from 'node:stream';
import { createGunzip, type Gunzip } from 'node:zlib';
import split2 from 'split2';
import { IpitraceError } from '../store/errors.js';

export interface OpenedInput {
  /** Lines without their '\n' ('\r' is left for the reader to strip). */
  lines: AsyncIterable<string>;
  /** sha256 of the raw bytes (complete once `lines` is exhausted). */
  digest(): string;
  /** Raw bytes read so far. */
  bytesRead(): number;
  /** Size in bytes when known (regular files), for progress display. */
  size: number | null;
}

/** Checks the path and opens it. Throws IpitraceError with a one-line message naming the path. */
export function openInput(path: string): OpenedInput {
  if (path === '-') return decode(process.stdin, null, 'stdin');
  let size: number;
  try {
    const st = statSync(path);
    if (st.isDirectory()) throw new IpitraceError('E_INPUT_DIRECTORY', `${path}: is a directory (give the files in it)`);
    size = st.size;
  } catch (error) {
    if (error instanceof IpitraceError) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new IpitraceError('E_INPUT_MISSING', `${path}: no such file`);
    throw new IpitraceError('E_INPUT_UNREADABLE', `${path}: cannot read: ${(error as Error).message}`);
  }
  return decode(createReadStream(path), size, path);
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

function decode(raw: Readable, size: number | null, name: string): OpenedInput {
  const hash = createHash('sha256');
  let bytes = 0;
  const text = new FirstChunkSniffer(name, (chunk) => {
    hash.update(chunk);
    bytes += chunk.length;
  });
  raw.on('error', (error) => text.destroy(new IpitraceError('E_INPUT_UNREADABLE', `${name}: cannot read: ${error.message}`)));
  const lines = raw.pipe(text).pipe(split2());
  text.on('error', (error) => lines.destroy(error));
  let digest: string | null = null;
  return { lines, digest: () => (digest ??= hash.digest('hex')), bytesRead: () => bytes, size };
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
      else if (looksBinary(chunk.subarray(0, 4096))) {
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
    const gunzip = createGunzip();
    gunzip.on('data', (data: Buffer) => this.push(data));
    gunzip.on('error', (error) => this.destroy(
      new IpitraceError('E_INPUT_CORRUPT_GZIP', `${this.name}: corrupt gzip data: ${error.message}`)));
    this.gunzip = gunzip;
  }
}
