// Inserting many rows into one table, several rows per statement: derived tables get ~100-250 k rows
// per M events, and fewer, wider statements wrote them faster (measured below). Rows keep their order.
import type { Db } from './db.js';

/**
 * Rows per statement for derived tables. Measured on detect of ftrace-1M (228 k csd_lifecycle and
 * ipi_sends rows), time spent in BatchInsert: 8 rows per statement 0.75-1.1 s, 32 rows 0.45-0.58 s,
 * 64 rows 0.33-0.38 s, 128 no better. 64 rows of 24 columns bind 1536 values, far below SQLite's limit.
 */
export const ROWS_PER_STATEMENT = 64;

/** A value as an SQL literal (quotes doubled), for values fixed when a statement is prepared. */
export function sqlLiteral(value: string | number | null): string {
  if (value === null) return 'NULL';
  if (typeof value === 'number') return String(value);
  return `'${value.replaceAll("'", "''")}'`;
}

/** Columns whose every value is one of a few strings (or NULL), by column name. */
export type Vocabularies = Record<string, readonly string[]>;

export class BatchInsert {
  private readonly many;
  private readonly one;
  /** The values of the rows not run yet, `count` of them: one array of a full statement's size, reused. */
  private readonly pending: unknown[];
  private count = 0;
  private readonly batchLength: number;
  /** Per column, its vocabulary's codes (value -> index), undefined for a column bound as it is. */
  private readonly codes: (Map<string, number> | undefined)[];

  /**
   * `rowsPerStatement`: more for narrow rows (the statement's fixed cost is then a bigger share).
   * `constants`: columns with the same value in every row (the boot), written into the statement
   * as literals instead of bound per row (a bound string costs ~50 ns, a tenth of a row).
   * `vocabularies`: columns bound as the index of their value in a fixed list, which the statement
   * turns back into the string (CASE ? WHEN 0 THEN 'a' ...): a bound integer costs a third of a
   * bound string. A value not in the list is a bug in the caller and throws.
   */
  constructor(db: Db, table: string, private readonly columns: readonly string[], rowsPerStatement = ROWS_PER_STATEMENT,
    constants: Record<string, string | number> = {}, vocabularies: Vocabularies = {}) {
    const fixed = Object.entries(constants);
    this.codes = columns.map((column) => vocabularies[column] && new Map(vocabularies[column].map((value, code) => [value, code])));
    const placeholders = columns.map((column) => vocabularies[column] ? decodeExpression(vocabularies[column]) : '?');
    const row = `(${[...placeholders, ...fixed.map(([, value]) => sqlLiteral(value))].join(', ')})`;
    const into = `INSERT INTO ${table} (${[...columns, ...fixed.map(([column]) => column)].join(', ')}) VALUES `;
    this.many = db.prepare(into + Array(rowsPerStatement).fill(row).join(', '));
    this.one = db.prepare(into + row);
    this.batchLength = rowsPerStatement * columns.length;
    this.pending = new Array<unknown>(this.batchLength).fill(null);
  }

  /** Queues one row (values in column order); call flush() before reading the table. */
  add(...values: unknown[]): void {
    if (values.length !== this.columns.length) throw new Error(`${values.length} values for ${this.columns.length} columns`);
    // Written into the reused array by index: pushing, then emptying it by length = 0, had V8 grow
    // its store again for every statement (half of add's own time, ~0.25 us per 24-value row).
    const { pending, codes } = this;
    let at = this.count;
    for (let i = 0; i < values.length; i++) {
      const code = codes[i];
      pending[at++] = code === undefined ? values[i] : encode(code, values[i], this.columns[i]);
    }
    // Separate arguments, not the array: better-sqlite3 binds them faster (detect on ftrace-5M ~10 %).
    if (at === this.batchLength) {
      this.many.run(...pending);
      at = 0;
    }
    this.count = at;
  }

  flush(): void {
    const width = this.columns.length;
    for (let at = 0; at < this.count; at += width) this.one.run(...this.pending.slice(at, at + width));
    this.count = 0;
  }
}

function decodeExpression(vocabulary: readonly string[]): string {
  return `CASE ? ${vocabulary.map((value, code) => `WHEN ${code} THEN ${sqlLiteral(value)}`).join(' ')} END`;
}

function encode(codes: Map<string, number>, value: unknown, column: string): number | null {
  if (value === null) return null;
  const code = codes.get(value as string);
  if (code === undefined) throw new Error(`${column}: ${String(value)} is not in its vocabulary`);
  return code;
}
