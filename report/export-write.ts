// Writes export rows (report/export.ts) as JSON Lines or Parquet. Parquet through hyparquet-writer:
// a small, dependency-light, pure-JavaScript writer (no native build, no download), kept up by the
// hyparquet project; DuckDB, ClickHouse, Spark and pandas read its files.
import { appendFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { IpitraceError } from '../store/errors.js';
import { writeFailureReason } from '../store/output-file.js';
import { exactJson } from './exact-json.js';
import type { BootRow, FindingRow } from './export.js';

export const EXPORT_FORMATS = ['jsonl', 'parquet'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

/** DIR/findings.EXT and DIR/boots.EXT. */
export function exportPaths(dir: string, format: ExportFormat): { findings: string; boots: string } {
  return { findings: join(dir, `findings.${format}`), boots: join(dir, `boots.${format}`) };
}

export interface ExportPaths { findings: string; boots: string }

/**
 * Where the rows are written while they are being written: a temporary file beside each final one,
 * renamed into place by commitStaged once complete, so that a full disk or a kill never leaves a
 * half-written export where the last good one was (store/output-file.ts's rule for --html/--junit).
 */
export function stagedPaths(paths: ExportPaths): ExportPaths {
  const tmp = (path: string) => join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
  return { findings: tmp(paths.findings), boots: tmp(paths.boots) };
}

export function commitStaged(staged: ExportPaths, paths: ExportPaths): void {
  try {
    renameSync(staged.findings, paths.findings);
    renameSync(staged.boots, paths.boots);
  } catch (error) {
    discardStaged(staged);
    throw new IpitraceError('E_OUTPUT', `${dirname(paths.findings)}: export not written: ${writeFailureReason(error)}`);
  }
}

export function discardStaged(staged: ExportPaths): void {
  rmSync(staged.findings, { force: true });
  rmSync(staged.boots, { force: true });
}

/** Runs a write of staged files; a failure (disk full) removes them and is one line naming the folder. */
export async function staging<T>(staged: ExportPaths, write: () => T | Promise<T>): Promise<T> {
  try {
    return await write();
  } catch (error) {
    discardStaged(staged);
    if (error instanceof IpitraceError) throw error;
    throw new IpitraceError('E_OUTPUT', `${dirname(staged.findings)}: export not written: ${writeFailureReason(error)}; nothing was left half-written`);
  }
}

/** JSON Lines: one object per line; `append` adds to what a previous call wrote. */
export function writeJsonl(path: string, rows: object[], append: boolean): void {
  const text = rows.map((r) => exactJson(r, 0)).join('\n') + (rows.length ? '\n' : '');
  if (append) appendFileSync(path, text);
  else writeFileSync(path, text);
}

type Column = { name: string; data: unknown[]; type: string };

export async function writeParquet(paths: { findings: string; boots: string }, boots: BootRow[], findings: FindingRow[]): Promise<void> {
  const { parquetWriteFile } = await import('hyparquet-writer');
  const str = (name: string, data: (string | null)[]): Column => ({ name, data, type: 'STRING' });
  const int = (name: string, data: (number | null)[]): Column => ({ name, data, type: 'INT32' });
  const json = (name: string, data: unknown[]): Column => ({ name, data: data.map((d) => JSON.stringify(d)), type: 'JSON' });
  parquetWriteFile({
    filename: paths.findings,
    columnData: [
      int('export_version', findings.map((f) => f.export_version)),
      str('signature', findings.map((f) => f.signature)), str('boot', findings.map((f) => f.boot)),
      str('kernel', findings.map((f) => f.kernel)), str('arch', findings.map((f) => f.arch)),
      str('detector', findings.map((f) => f.detector)), str('severity', findings.map((f) => f.severity)),
      str('title', findings.map((f) => f.title)), str('message', findings.map((f) => f.message)),
      { name: 'ts_ns', data: findings.map((f) => (f.ts_ns === null ? null : BigInt(f.ts_ns))), type: 'INT64' },
      int('cpu', findings.map((f) => f.cpu)), int('target_cpu', findings.map((f) => f.target_cpu)),
      str('csd', findings.map((f) => f.csd)), str('func', findings.map((f) => f.func)),
      json('evidence', findings.map((f) => f.evidence)),
    ] as never,
  });
  parquetWriteFile({
    filename: paths.boots,
    columnData: [
      int('export_version', boots.map((b) => b.export_version)), str('boot', boots.map((b) => b.boot)),
      str('kernel', boots.map((b) => b.kernel)), str('arch', boots.map((b) => b.arch)), json('files', boots.map((b) => b.files)),
      { name: 'events', data: boots.map((b) => BigInt(b.events)), type: 'INT64' },
      { name: 'console_lines', data: boots.map((b) => BigInt(b.console_lines)), type: 'INT64' },
      str('cpus_possible', boots.map((b) => b.cpus_possible)), str('cpus_present', boots.map((b) => b.cpus_present)),
      str('cpus_online_at_end', boots.map((b) => b.cpus_online_at_end)),
      int('errors', boots.map((b) => b.errors)), int('warnings', boots.map((b) => b.warnings)), int('infos', boots.map((b) => b.infos)),
      json('signatures', boots.map((b) => b.signatures)),
    ] as never,
  });
}
