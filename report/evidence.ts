// The evidence lines themselves: findings cite file:line, and the reader wants to see the line
// without opening the file. The files are read again (plain or gzip, as ingest read them) up to the
// last cited line; a file that is gone or was stdin gives no text, only the location.
import { existsSync, statSync } from 'node:fs';
import { openInput } from '../ingest/input.js';

/** 'file\0line' -> the line's text (trimmed of trailing whitespace, control characters removed). */
export type EvidenceText = Map<string, string>;

export const evidenceKey = (file: string, line: number) => `${file}\u0000${line}`;

/** Longest text shown for one line; the rest is cut with an ellipsis. */
const MAX_TEXT = 200;

/** Strips what a terminal would act on (escape sequences, other control characters) from log text. */
export function cleanText(text: string): string {
  const clean = text.replace(/\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|[\x00-\x08\x0b-\x1f\x7f-\x9f]/g, '').trimEnd();
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
