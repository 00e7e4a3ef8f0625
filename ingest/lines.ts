// Decoded text to lines, in batches, with memory bounded whatever the input: a line longer than
// the cap is handed on cut to the cap plus one character (the reader stores it as an unparsed row),
// the rest of it dropped as it arrives; text with no line end at all for GIVE_UP_CHARS is no log
// (/dev/zero, a gzip bomb of zeros), and reading stops there with a note.
//
// Line ends: '\n' (a CR before it is kept, the reader strips it); a file whose first line end is a
// lone '\r' (old Mac files, some serial capture tools) is split at every '\r' instead. Mixed files
// keep '\n' only, so a stray CR inside a console line never shifts the line numbers of what follows.
import { StringDecoder } from 'node:string_decoder';

/** Lines handed on per batch: large enough that the per-batch hand-off vanishes, small enough to stay flat. */
export const BATCH_LINES = 4096;

/** No real log goes this long without a line end: past it, reading stops. */
export const GIVE_UP_CHARS = 16 << 20;

export interface SplitOptions {
  /** Lines longer than this are cut to maxLine + 1 characters (the reader reports them as too long). */
  maxLine: number;
  /** Called when reading stops because no line end came for GIVE_UP_CHARS characters. */
  onGiveUp: () => void;
}

export async function* splitLines(chunks: AsyncIterable<Buffer>, options: SplitOptions): AsyncGenerator<string[]> {
  const decoder = new StringDecoder('utf8');
  const cap = options.maxLine + 1;
  let separator: '\n' | '\r' | null = null;
  let last = '';
  /** Characters of the current line dropped beyond the cap. */
  let dropped = 0;
  let batch: string[] = [];
  for await (const chunk of chunks) {
    let text = decoder.write(chunk);
    if (text.length === 0) continue;
    separator ??= lineEnd(last + text);
    if (separator === null) {
      // No line end yet at all: keep at most the cap.
      dropped += Math.max(0, last.length + text.length - cap);
      last = (last + text).slice(0, cap);
      if (dropped > GIVE_UP_CHARS) {
        options.onGiveUp();
        return;
      }
      continue;
    }
    let from = 0;
    let end = text.indexOf(separator);
    if (end === -1) {
      text = last + text;
      if (text.length > cap) {
        dropped += text.length - cap;
        text = text.slice(0, cap);
      }
      last = text;
      if (dropped > GIVE_UP_CHARS) {
        if (batch.length > 0) yield batch;
        options.onGiveUp();
        return;
      }
      continue;
    }
    // The first line of this chunk completes the held one.
    let first = last + text.slice(0, end);
    if (first.length > cap) first = first.slice(0, cap);
    batch.push(first);
    dropped = 0;
    from = end + 1;
    while ((end = text.indexOf(separator, from)) !== -1) {
      batch.push(end - from > cap ? text.slice(from, from + cap) : text.slice(from, end));
      from = end + 1;
      if (batch.length >= BATCH_LINES) {
        yield batch;
        batch = [];
      }
    }
    last = text.length - from > cap ? text.slice(from, from + cap) : text.slice(from);
    dropped = Math.max(0, text.length - from - cap);
    if (batch.length >= BATCH_LINES) {
      yield batch;
      batch = [];
    }
  }
  last += decoder.end();
  if (last.length > 0) batch.push(last.length > cap ? last.slice(0, cap) : last);
  if (batch.length > 0) yield batch;
}

/** The line end of a text: '\n' when its first line end is '\n' or '\r\n', '\r' for a lone CR; null before any. */
function lineEnd(text: string): '\n' | '\r' | null {
  const lf = text.indexOf('\n');
  let cr = text.indexOf('\r');
  // CRs right before the LF (`\r\n`, a console's `\r\r\n`) belong to it.
  while (cr !== -1 && (lf === -1 || cr < lf)) {
    let next = cr + 1;
    while (next < text.length && text.charCodeAt(next) === 13) next++;
    if (next === text.length) return lf === -1 ? null : '\n'; // a CR at the end: wait for what follows
    if (text.charCodeAt(next) !== 10) return '\r';
    cr = text.indexOf('\r', next);
  }
  return lf === -1 ? null : '\n';
}
