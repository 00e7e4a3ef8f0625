// ipitrace query [--db F] [--json|--csv|--vertical] [-f FILE.sql | "SQL" | -] [--param name=value]...:
// read-only SQL; the database is the interface. Rows are written as they come.
import { readFileSync } from 'node:fs';
import type { CommandModule } from 'yargs';
import { IpitraceError } from '../store/errors.js';
import { dbOption, literalArg } from './options.js';

export const queryCommand: CommandModule = {
  command: 'query [sql]',
  describe: 'run one SQL statement on the database, read-only; aligned table, --vertical, --json or --csv',
  builder: (y) => y
    .positional('sql', { type: 'string', describe: "one SQL statement; - reads it from stdin" })
    .options({
      ...dbOption,
      file: { alias: 'f', type: 'string', describe: 'read the statement from this .sql file (- for stdin), e.g. a detector from queries/' },
      param: {
        type: 'string', requiresArg: true,
        describe: 'name=value for a named parameter :name (repeatable); integers and decimals are bound as numbers, anything else as text',
      },
      json: { type: 'boolean', describe: 'print a JSON array of row objects, one per line, nothing else; exact 64-bit integers' },
      csv: { type: 'boolean', describe: 'print CSV with a header row' },
      vertical: { type: 'boolean', describe: 'one block per row, one "column | value" line per column, whole values (for wide rows)' },
      'max-width': { type: 'number', default: 60, describe: "table view: cut longer cells to this many characters, with '…' (0: never)" },
    })
    .conflicts('json', 'csv').conflicts('json', 'vertical').conflicts('csv', 'vertical')
    .example(`$0 query --db run.db "SELECT kind, count(*) FROM events GROUP BY kind"`, 'events per kind')
    .example('$0 query --db run.db -f queries/csd-never-released.sql --param boot=run', "a detector's own SQL, as it is")
    .example('$0 query --db run.db --vertical "SELECT * FROM findings"', 'wide rows, one block each')
    .epilog('Read-only: only statements that read and change nothing run (no VACUUM INTO, ATTACH or PRAGMA writes). For an interactive shell: sqlite3 DB.'),
  handler: async (argv) => {
    const { QueryArgs, validateOptions } = await import('./args.js');
    const args = validateOptions(QueryArgs, argv);
    const sql = readSql(args.sql === undefined ? undefined : literalArg(args.sql), args.file === undefined ? undefined : literalArg(args.file));
    const params = parseParams(args.param);
    const { openReadOnly } = await import('../store/db.js');
    const { streamQuery } = await import('../store/query.js');
    const db = openReadOnly(args.db);
    try {
      const format = args.json ? 'json' : args.csv ? 'csv' : args.vertical ? 'vertical' : 'table';
      await streamQuery(db, sql, { format, params, maxWidth: args.maxWidth }, writeStdout);
    } finally {
      db.close();
    }
  },
};

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
