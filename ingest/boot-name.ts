// The default boot name of an input file, apart from ingest's machinery so that the CLI can name
// boots without loading the parsers.
import { basename, dirname, resolve } from 'node:path';

/** File names that say nothing about the run: the boot is named after their folder instead. */
const GENERIC_NAMES = new Set([
  'console', 'trace', 'trace_pipe', 'qemu-trace', 'qemu', 'boot', 'dmesg', 'serial', 'log', 'output', 'stdout',
  'stderr', 'kernel', 'trace-cmd', 'report', 'ftrace', 'qemu-stderr', 'guest-info',
]);

/** Default boot name: the file's stem, or its folder's name when the stem is generic (console.log). */
export function bootNameFor(path: string): string {
  if (path === '-') return 'stdin';
  const stem = basename(path).replace(/(\.(gz|log|txt|dat|out))+$/i, '');
  if (!GENERIC_NAMES.has(stem.toLowerCase())) return stem;
  return basename(dirname(resolve(path)));
}
