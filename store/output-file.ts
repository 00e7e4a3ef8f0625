// Writing the user's output files (--html, --junit): whole or not at all. The text goes to a
// temporary file in the same folder, which is renamed over the target once complete: a full disk, a
// kill or a crash never leaves a 0-byte or half-written report where the last good one was.
import { renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { IpitraceError } from './errors.js';

/** Why a file cannot be written, in a few words, from its errno code. */
export function writeFailureReason(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  switch (code) {
    case 'ENOSPC':
    case 'EDQUOT': return 'disk full (no space left on the device)';
    case 'ENOENT': return 'no such folder';
    case 'EACCES':
    case 'EPERM': return 'permission denied';
    case 'EISDIR': return 'is a directory';
    case 'EROFS': return 'read-only file system';
    default: return (error as Error).message;
  }
}

/** Writes text to path through a temporary file and a rename. Throws IpitraceError E_OUTPUT naming the option. */
export function writeOutputFile(path: string, text: string, option?: string): void {
  const temporary = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
  try {
    writeFileSync(temporary, text);
    renameSync(temporary, path);
  } catch (error) {
    rmSync(temporary, { force: true });
    throw new IpitraceError('E_OUTPUT', `${option ? `${option} ` : ''}${path}: not written: ${writeFailureReason(error)}; nothing was left half-written`);
  }
}
