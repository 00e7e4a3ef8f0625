// Output files (--junit, --html, --db) are checked before any work: a typo in a path costs a
// one-line error at once, not a run's result at its end.
import { accessSync, constants, existsSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { IpitraceError } from '../store/errors.js';
import { writeOutputFile } from '../store/output-file.js';

export function checkOutputPath(path: string | undefined, option: string): void {
  if (path === undefined) return;
  const abs = resolve(path);
  if (existsSync(abs)) {
    if (statSync(abs).isDirectory()) throw new IpitraceError('E_USAGE', `${option} ${path}: is a directory (give a file name)`);
    try {
      accessSync(abs, constants.W_OK);
    } catch {
      throw new IpitraceError('E_USAGE', `${option} ${path}: not writable`);
    }
    return;
  }
  const dir = dirname(abs);
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new IpitraceError('E_USAGE', `${option} ${path}: folder ${dirname(path)} does not exist`);
  try {
    accessSync(dir, constants.W_OK);
  } catch {
    throw new IpitraceError('E_USAGE', `${option} ${path}: folder ${dirname(path)} is not writable`);
  }
}

/**
 * Writes an output file whole or not at all (a temporary file renamed into place, see
 * store/output-file.ts); a failure (disk full) is one line naming the option and the file.
 */
export function writeOutput(path: string, text: string, option: string): void {
  writeOutputFile(path, text, option);
}
