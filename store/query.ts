// Running a user's SQL and rendering the rows (table, CSV, JSON).
import type { Db } from './db.js';
import { IpitraceError } from './errors.js';

export interface QueryResult {
  columns: string[];
  rows: Record<string, unknown>[];
}

/** Runs one statement. Throws IpitraceError E_QUERY_INVALID with SQLite's message. */
export function runQuery(db: Db, sql: string): QueryResult {
  try {
    const statement = db.prepare(sql);
    if (!statement.reader) {
      statement.run();
      return { columns: [], rows: [] };
    }
    statement.safeIntegers(true);
    const columns = statement.columns().map((c) => c.name);
    const rows = (statement.all() as Record<string, unknown>[]).map(normalizeRow);
    return { columns, rows };
  } catch (error) {
    throw new IpitraceError('E_QUERY_INVALID', `query failed: ${(error as Error).message}`);
  }
}

/** BigInts back to numbers where exact; larger ones (QEMU epoch ns) stay BigInt. */
function normalizeRow(row: Record<string, unknown>): Record<string, unknown> {
  for (const key of Object.keys(row)) {
    const value = row[key];
    if (typeof value === 'bigint' && value <= BigInt(Number.MAX_SAFE_INTEGER) && value >= BigInt(Number.MIN_SAFE_INTEGER)) {
      row[key] = Number(value);
    }
  }
  return row;
}

function cellText(value: unknown): string {
  if (value === null || value === undefined) return 'NULL';
  if (Buffer.isBuffer(value)) return `x'${value.toString('hex')}'`;
  return String(value);
}

export function formatTable({ columns, rows }: QueryResult): string {
  if (columns.length === 0) return '';
  const cells = rows.map((row) => columns.map((c) => cellText(row[c])));
  const widths = columns.map((c, i) => Math.max(c.length, ...cells.map((r) => r[i].length)));
  const numeric = columns.map((c) => rows.length > 0 && rows.every((r) => r[c] === null || typeof r[c] === 'number' || typeof r[c] === 'bigint'));
  const render = (values: string[]) => values
    .map((v, i) => (numeric[i] ? v.padStart(widths[i]) : v.padEnd(widths[i])))
    .join('  ').trimEnd();
  const lines = [render(columns), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.map(render)];
  lines.push(`(${rows.length} row${rows.length === 1 ? '' : 's'})`);
  return lines.join('\n');
}

export function formatCsv({ columns, rows }: QueryResult): string {
  const quote = (v: string) => (/[",\n\r]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v);
  const lines = [columns.map(quote).join(',')];
  for (const row of rows) lines.push(columns.map((c) => (row[c] === null ? '' : quote(cellText(row[c])))).join(','));
  return lines.join('\n');
}

/** JSON array of row objects. Integers beyond 2^53 are written as exact JSON numbers. */
export function formatJson(rows: Record<string, unknown>[]): string {
  const marker = '\u0000bigint:';
  const text = JSON.stringify(rows, (_key, value) => (typeof value === 'bigint' ? `${marker}${value}` : value));
  return text.replace(/"\\u0000bigint:(-?\d+)"/g, '$1');
}
