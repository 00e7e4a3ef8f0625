// Options shared by several commands, validated with zod after yargs has parsed them.
import { z } from 'zod';
import { IpitraceError } from '../store/errors.js';

export const DEFAULT_DB = 'ipitrace.db';

/** What cli/main.ts turns a '-' argument into, because yargs would drop it; see inputPaths(). */
export const STDIN_SENTINEL = '\u0000stdin';

/** File arguments as the user gave them ('-' for stdin). */
export function inputPaths(files: string[]): string[] {
  return files.map((file) => (file === STDIN_SENTINEL ? '-' : file));
}

export const dbOption = {
  db: { type: 'string', default: DEFAULT_DB, describe: 'SQLite database file' },
} as const;

/** Validates parsed options; a failure becomes one usage line naming the option. */
export function validateOptions<T extends z.ZodType>(schema: T, argv: unknown): z.infer<T> {
  const result = schema.safeParse(argv);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  throw new IpitraceError('E_USAGE', `--${issue.path.join('.')}: ${issue.message}`);
}
