// Running a user's SQL, read-only, and writing the rows as they come (table, vertical, CSV, JSON):
// memory stays flat whatever the number of rows.
import type Database from 'better-sqlite3';
import type { Db } from './db.js';
import { IpitraceError } from './errors.js';
import { safeText } from './terminal-text.js';

export type QueryFormat = 'table' | 'vertical' | 'csv' | 'json';

export interface QueryOptions {
  format: QueryFormat;
  /** Named parameters (:name, @name or $name in the SQL), by name without the prefix. */
  params?: Record<string, string>;
  /** Table view: cells longer than this are cut, with '…' (0: no limit). */
  maxWidth?: number;
  /** Table view: column widths come from the first this many rows (later rows may be wider). */
  sample?: number;
}

/** Writes a piece of output; may return a promise to wait for (a full pipe). */
export type Write = (text: string) => void | Promise<void>;

/**
 * Prepares one statement for `ipitrace query`. Only a statement that reads and changes nothing is
 * run: SQLite itself says so (sqlite3_stmt_readonly, and whether it returns rows). The connection is
 * read-only too, but that alone lets VACUUM INTO write a new file, ATTACH open another database and
 * PRAGMA change settings; those are refused here. Throws IpitraceError E_QUERY_INVALID.
 */
export function prepareQuery(db: Db, sql: string): Database.Statement {
  let statement: Database.Statement;
  try {
    statement = db.prepare(sql);
  } catch (error) {
    throw new IpitraceError('E_QUERY_INVALID', `query failed: ${(error as Error).message}`);
  }
  if (!statement.reader || !statement.readonly) {
    const verb = sql.replace(/^(\s|--[^\n]*\n|\/\*[\s\S]*?\*\/)+/, '').split(/\s/, 1)[0]?.toUpperCase() || 'this statement';
    throw new IpitraceError('E_QUERY_INVALID',
      `query is read-only: ${verb} ${statement.reader ? 'changes the database' : 'does not read rows'} (SELECT, WITH, VALUES, EXPLAIN and PRAGMAs that only read are allowed); use sqlite3 for anything else`);
  }
  return statement;
}

/**
 * Binds --param values: a whole integer is bound as an integer (exact over 64 bits), a decimal
 * number as a real, anything else as text. A name the SQL does not use is refused (a typo would
 * otherwise silently bind nothing); a parameter the SQL uses and no --param gives is SQLite's error.
 */
export function bindParams(sql: string, params: Record<string, string>): Record<string, unknown> {
  const bound: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(params)) {
    if (!new RegExp(`[:@$]${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(?![A-Za-z0-9_])`).test(sql)) {
      throw new IpitraceError('E_USAGE', `--param ${name}: the query has no parameter :${name}`);
    }
    bound[name] = /^-?\d+$/.test(value) && BigInt(value) >= -(2n ** 63n) && BigInt(value) < 2n ** 63n ? BigInt(value)
      : /^-?(\d+\.\d*|\.\d+|\d+)([eE][-+]?\d+)?$/.test(value) ? Number(value) : value;
  }
  return bound;
}

/** Runs the statement and writes its rows in the chosen format, one row at a time. */
export async function streamQuery(db: Db, sql: string, options: QueryOptions, write: Write): Promise<number> {
  const statement = prepareQuery(db, sql);
  const params = bindParams(sql, options.params ?? {});
  statement.safeIntegers(true);
  const columns = statement.columns().map((c) => c.name);
  let rows: IterableIterator<unknown[]>;
  try {
    rows = statement.raw(true).iterate(params) as IterableIterator<unknown[]>;
  } catch (error) {
    throw queryError(error);
  }
  const formatter = FORMATTERS[options.format](columns, options);
  let count = 0;
  let pending = '';
  try {
    for (;;) {
      let next: IteratorResult<unknown[]>;
      try {
        next = rows.next();
      } catch (error) {
        throw queryError(error);
      }
      if (next.done) break;
      pending += formatter.row(next.value);
      count++;
      if (pending.length >= 1 << 16) {
        await write(pending);
        pending = '';
      }
    }
    pending += formatter.end(count);
    await write(pending);
  } finally {
    rows.return?.();
  }
  return count;
}

function queryError(error: unknown): unknown {
  if (error instanceof IpitraceError) return error;
  const code = String((error as { code?: unknown }).code ?? '');
  if (/^SQLITE_(BUSY|LOCKED|FULL|IOERR)/.test(code)) return error;
  return new IpitraceError('E_QUERY_INVALID', `query failed: ${(error as Error).message}`);
}

interface Formatter {
  /** The text for one row (the table may hold rows back until it knows the column widths). */
  row(values: unknown[]): string;
  /** What is left, once every row was given. */
  end(count: number): string;
}

const FORMATTERS: Record<QueryFormat, (columns: string[], options: QueryOptions) => Formatter> = {
  table: tableFormatter,
  vertical: verticalFormatter,
  csv: csvFormatter,
  json: jsonFormatter,
};

/** A value as text: NULL, blobs as x'hex', integers exact (BigInt). */
function cellText(value: unknown): string {
  if (value === null || value === undefined) return 'NULL';
  if (Buffer.isBuffer(value)) return `x'${value.toString('hex')}'`;
  return String(value);
}

const plural = (n: number) => `(${n} row${n === 1 ? '' : 's'})`;

/**
 * Aligned columns, widths from the first rows (options.sample, 1000); a cell is cut at maxWidth
 * (60) characters with '…', so that one long message does not push every other column off the
 * screen (--vertical shows whole values). Control characters in a cell are shown escaped.
 */
function tableFormatter(columns: string[], options: QueryOptions): Formatter {
  const maxWidth = options.maxWidth ?? 60;
  const sample = options.sample ?? 1000;
  const cut = (text: string) => (maxWidth > 0 && text.length > maxWidth ? `${text.slice(0, Math.max(1, maxWidth - 1))}…` : text);
  const held: unknown[][] = [];
  let widths: number[] | null = null;
  let numeric: boolean[] = [];
  const render = (values: string[]) => values
    .map((v, i) => (numeric[i] ? v.padStart(widths![i]) : v.padEnd(widths![i])))
    .join('  ').trimEnd() + '\n';
  const cells = (row: unknown[]) => row.map((v) => cut(safeText(cellText(v))));
  const start = (): string => {
    const sampled = held.map(cells);
    numeric = columns.map((_c, i) => held.length > 0 && held.every((r) => r[i] === null || typeof r[i] === 'number' || typeof r[i] === 'bigint'));
    widths = columns.map((c, i) => sampled.reduce((w, r) => Math.max(w, r[i].length), cut(safeText(c)).length));
    const head = render(columns.map((c) => cut(safeText(c)))) + widths.map((w) => '-'.repeat(w)).join('  ') + '\n';
    held.length = 0;
    return head + sampled.map(render).join('');
  };
  return {
    row(values) {
      if (columns.length === 0) return '';
      if (widths) return render(cells(values));
      held.push(values);
      return held.length >= sample ? start() : '';
    },
    end(count) {
      if (columns.length === 0) return '';
      return (widths ? '' : start()) + plural(count) + '\n';
    },
  };
}

/** One block per row, one line per column: for rows too wide for a table. Whole values. */
function verticalFormatter(columns: string[]): Formatter {
  const names = columns.map(safeText);
  const width = Math.max(0, ...names.map((n) => n.length));
  let n = 0;
  return {
    row(values) {
      n++;
      return `-[ row ${n} ]${'-'.repeat(Math.max(3, width - 6))}\n`
        + values.map((v, i) => `${names[i].padEnd(width)} | ${safeText(cellText(v))}\n`).join('');
    },
    end: (count) => plural(count) + '\n',
  };
}

function csvFormatter(columns: string[]): Formatter {
  const quote = (v: string) => (/[",\n\r]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v);
  let header = `${columns.map(quote).join(',')}\n`;
  const take = () => {
    const text = header;
    header = '';
    return text;
  };
  return {
    row: (values) => take() + values.map((v) => (v === null ? '' : quote(cellText(v)))).join(',') + '\n',
    end: () => take(),
  };
}

/**
 * A JSON array of row objects, one row per line. Integers are exact JSON numbers over 64 bits
 * (written from the BigInt, never through a double); text is always a JSON string, whatever it
 * looks like; blobs are x'hex' strings.
 */
function jsonFormatter(columns: string[]): Formatter {
  const keys = columns.map((c) => JSON.stringify(c));
  let first = true;
  const value = (v: unknown): string => {
    if (typeof v === 'bigint') return v.toString();
    if (typeof v === 'number') return Number.isFinite(v) ? JSON.stringify(v) : 'null';
    if (Buffer.isBuffer(v)) return JSON.stringify(cellText(v));
    return JSON.stringify(v ?? null);
  };
  return {
    row(values) {
      const text = `${first ? '[\n' : ',\n'}{${values.map((v, i) => `${keys[i]}:${value(v)}`).join(',')}}`;
      first = false;
      return text;
    },
    end: () => (first ? '[]\n' : '\n]\n'),
  };
}
