// ipitrace query [--db F] [--json|--csv|--vertical] [-f FILE.sql | "SQL" | -] [--param name=value]...:
// read-only SQL; the database is the interface. Rows are written as they come.
import { readFileSync } from 'node:fs';
import { openReadOnly } from '../store/db.js';
import { IpitraceError } from '../store/errors.js';
import { streamQuery } from '../store/query.js';
import { QueryArgs, validateOptions } from './args.js';
import { literalArg } from './options.js';

/** `ipitrace query` (cli/commands.ts has its options). */
export async function queryHandler(argv: unknown): Promise<void> {
  const args = validateOptions(QueryArgs, argv);
  const sql = readSql(args.sql === undefined ? undefined : literalArg(args.sql), args.file === undefined ? undefined : literalArg(args.file));
  const params = parseParams(args.param);
  const db = openReadOnly(args.db);
  try {
    const format = args.json ? 'json' : args.csv ? 'csv' : args.vertical ? 'vertical' : 'table';
    await streamQuery(db, sql, { format, params, maxWidth: args.maxWidth }, writeStdout);
  } finally {
    db.close();
  }
}

/** The statement: the positional argument, or -f FILE, or stdin for '-' in either. */
function readSql(positional: string | undefined, file: string | undefined): string {
  if (positional !== undefined && file !== undefined) throw new IpitraceError('E_USAGE', 'give the SQL either as an argument or with -f FILE, not both');
  const source = file ?? (positional === '-' ? '-' : undefined);
  if (source === undefined) {
    if (positional === undefined) throw new IpitraceError('E_USAGE', 'give one SQL statement, -f FILE.sql, or - to read it from stdin');
    return positional;
  }
  const name = source === '-' ? 'stdin' : source;
  let text: string;
  try {
    text = readFileSync(source === '-' ? 0 : source, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : (error as Error).message;
    throw new IpitraceError('E_USAGE', `${name}: cannot read the SQL: ${why}`);
  }
  if (!text.trim()) throw new IpitraceError('E_USAGE', `${name}: no SQL in it`);
  return text;
}

function parseParams(values: string[]): Record<string, string> {
  const params: Record<string, string> = {};
  for (const value of values) {
    const match = /^[:@$]?([A-Za-z_][A-Za-z0-9_]*)=([\s\S]*)$/.exec(value);
    if (!match) throw new IpitraceError('E_USAGE', `--param ${value}: expected name=value`);
    params[match[1]] = match[2];
  }
  return params;
}

/** Writes to stdout, waiting when the pipe is full: a slow reader does not make ipitrace hold every row. */
function writeStdout(text: string): Promise<void> | void {
  if (process.stdout.write(text)) return;
  return new Promise((resolve) => process.stdout.once('drain', resolve));
}
