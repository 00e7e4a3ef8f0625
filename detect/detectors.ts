// Loads the detectors (queries/*.sql): each file opens with a comment header (@detector, @severity,
// Flags, Why, Evidence, Limits) checked with zod, then one SELECT returning the finding columns.
import { readdirSync, readFileSync } from 'node:fs';
import * as z from 'zod';
import { IpitraceError } from '../store/errors.js';
import { packagePath } from '../store/paths.js';

export const FINDING_COLUMNS = ['detector', 'severity', 'boot', 'ts_ns', 'cpu', 'target_cpu', 'csd', 'func', 'title', 'message', 'evidence'] as const;

const Header = z.object({
  detector: z.string().regex(/^[a-z][a-z-]+$/),
  severity: z.string().min(1),
  flags: z.string().min(1),
  why: z.string().min(1),
  evidence: z.string().min(1),
  limits: z.string().min(1),
}).strict();
export type DetectorHeader = z.infer<typeof Header>;

export interface Detector {
  header: DetectorHeader;
  file: string;
  sql: string;
}

/** Parses the leading `-- ` comment block: `@key value` lines and `Key: text` paragraphs. */
export function parseHeader(text: string, file: string): DetectorHeader {
  const fields: Record<string, string> = {};
  let current: string | null = null;
  for (const raw of text.split('\n')) {
    if (!raw.startsWith('--')) break;
    const line = raw.replace(/^--\s?/, '');
    const at = /^@(\w+)\s+(.*)$/.exec(line);
    const para = /^(Flags|Why|Evidence|Limits):\s*(.*)$/.exec(line);
    if (at) fields[current = at[1]] = at[2];
    else if (para) fields[current = para[1].toLowerCase()] = para[2];
    else if (current) fields[current] += ' ' + line.trim();
  }
  const result = Header.safeParse(fields);
  if (!result.success) {
    const issue = result.error.issues[0];
    throw new IpitraceError('E_DETECTOR_INVALID', `${file}: header field ${issue.path.join('.') || '?'}: ${issue.message}`);
  }
  return result.data;
}

export function loadDetectors(): Detector[] {
  const dir = packagePath('queries');
  return readdirSync(dir).filter((f) => f.endsWith('.sql')).sort().map((name) => {
    const file = `queries/${name}`;
    const sql = readFileSync(packagePath(file), 'utf8');
    const header = parseHeader(sql, file);
    if (`${header.detector}.sql` !== name) throw new IpitraceError('E_DETECTOR_INVALID', `${file}: @detector ${header.detector} does not match the file name`);
    return { header, file, sql };
  });
}
