// The evidence lines themselves: findings cite file:line, and the reader wants to see the line
// without opening the file. The files are read again (plain or gzip, as ingest read them) up to the
// last cited line; a file that is gone or was stdin gives no text, only the location.
import { existsSync, statSync } from 'node:fs';
import { openInput } from '../ingest/input.js';
import { safeText } from '../store/terminal-text.js';

/** 'file\0line' -> the line's text (trimmed of trailing whitespace, control characters removed). */
export type EvidenceText = Map<string, string>;

export const evidenceKey = (file: string, line: number) => `${file}\u0000${line}`;

/** Longest text shown for one line; the rest is cut with an ellipsis. */
const MAX_TEXT = 200;

/** Log text made safe to print (control characters shown escaped: store/terminal-text.ts), cut to a length. */
export function cleanText(text: string): string {
  const clean = safeText(text.replace(/\r$/, '').trimEnd());
  return clean.length > MAX_TEXT ? `${clean.slice(0, MAX_TEXT - 1)}…` : clean;
}

export async function readEvidence(refs: { file: string; line: number }[]): Promise<EvidenceText> {
  const out: EvidenceText = new Map();
  const byFile = new Map<string, Set<number>>();
  for (const r of refs) byFile.set(r.file, (byFile.get(r.file) ?? new Set()).add(r.line));
  for (const [file, lines] of byFile) {
    if (file === '-' || !existsSync(file) || !statSync(file).isFile()) continue;
    const last = Math.max(...lines);
    let n = 0;
    try {
      for await (const batch of openInput(file).batches) {
        for (const text of batch) {
          n++;
          if (lines.has(n)) out.set(evidenceKey(file, n), cleanText(text));
        }
        if (n >= last) break;
      }
    } catch {
      // A file changed or damaged since ingest: locations only.
    }
  }
  return out;
}
