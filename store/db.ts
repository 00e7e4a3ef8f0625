// Opening the database: pragmas, schema creation and the schema-version check.
import Database from 'better-sqlite3';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { SCHEMA_VERSION } from '../schema/version.js';
import { IpitraceError } from './errors.js';
import { packagePath } from './paths.js';

export type Db = Database.Database;

/** Every schema file, in creation order: inputs first, then what replay/ and detect/ derive. */
const SCHEMA_FILES = ['schema/schema.sql', 'schema/replay.sql'];

export function schemaText(): string {
  return SCHEMA_FILES.map((file) => readFileSync(packagePath(file), 'utf8')).join('\n');
}

/**
 * How long a statement waits for another process's lock (a second ingest, a detect writing its
 * findings) before it gives up with SQLITE_BUSY, which cli/main.ts turns into one line. Ingest holds
 * its write lock for one file at a time; a minute covers most files. IPITRACE_BUSY_TIMEOUT (seconds)
 * changes it.
 */
export function busyTimeoutMs(): number {
  const seconds = Number(process.env.IPITRACE_BUSY_TIMEOUT);
  return Number.isFinite(seconds) && seconds >= 0 && process.env.IPITRACE_BUSY_TIMEOUT !== '' ? Math.round(seconds * 1000) : 60_000;
}

/** Runs fn again every 50 ms while it fails with SQLITE_BUSY, up to the busy timeout. */
function retryWhileBusy<T>(fn: () => T): T {
  const deadline = Date.now() + busyTimeoutMs();
  const pause = new Int32Array(new SharedArrayBuffer(4));
  for (;;) {
    try {
      return fn();
    } catch (error) {
      if (!String((error as { code?: unknown }).code).startsWith('SQLITE_BUSY') || Date.now() >= deadline) throw error;
      Atomics.wait(pause, 0, 0, 50);
    }
  }
}

// The path of the database opened last, for the message of a storage error (disk full, locked),
// kept on globalThis, not in this module: cli/main.ts names the file with its own copy of this
// module (the bin's bundle), while a command's bundle opened it (scripts/bundle.mjs).
const LAST_PATH = Symbol.for('ipitrace.lastDatabasePath');
const shared = globalThis as { [LAST_PATH]?: string };

/** Path of the database opened last. */
export function lastDatabasePath(): string | null {
  return shared[LAST_PATH] ?? null;
}

export interface WritableOptions {
  /** Create the file when it does not exist (ingest, analyze); detect needs an existing database. */
  create?: boolean;
}

/**
 * Opens a database for writing, creating it if allowed. Only ipitrace's own databases are written:
 * another application's SQLite file (tables of its own) is refused before anything is changed.
 * Throws IpitraceError E_DB_OPEN when the file cannot be opened, is missing (create: false) or is
 * not ipitrace's, E_DB_SCHEMA when it was made by another schema version.
 */
export function openWritable(path: string, options: WritableOptions = {}): Db {
  if (options.create === false) mustExist(path, 'detect');
  const db = open(path, false);
  try {
    refuseForeign(db, path);
    // Set before the first table exists (a no-op on an existing database). 64 KiB pages: the bulk
    // load and replay's scans touch fewer pages (measured with npm run bench: ingest 6 %, detect 9 %
    // faster than with 4 KiB).
    db.pragma('page_size = 65536');
    // Another ingest in its bulk load (rollback journal, write lock held for the file it reads) makes
    // this fail at once, without SQLite's busy handler: wait for it here.
    retryWhileBusy(() => db.pragma('journal_mode = WAL'));
    db.pragma('synchronous = NORMAL');
    // Sorts (index builds after a bulk load, ORDER BY) spill to temporary files beyond the cache
    // instead of growing the process: memory stays flat whatever the input size. 16 MiB of cache:
    // ingest appends and replay scans, neither revisits pages much (npm run bench: no slower than
    // 64 MiB, and 50 MB less peak RSS).
    db.pragma('temp_store = FILE');
    db.pragma('cache_size = -16384');
    migrate(db, path);
  } catch (error) {
    db.close();
    throw error;
  }
  return db;
}

/**
 * Opens an existing database read-only (ipitrace query). A writer killed in the middle of a
 * transaction (kill -9, power loss) leaves a hot journal that SQLite must roll back before anyone
 * can read: that is done once by a short read-write open (what any SQLite reader with write access
 * does; it restores the last committed state), then the database is opened read-only again.
 */
export function openReadOnly(path: string): Db {
  if (path !== ':memory:') mustExist(path, 'query');
  let db = open(path, true);
  try {
    checkVersion(db, path);
  } catch (error) {
    db.close();
    if (!needsRecovery(error)) throw error;
    recover(path);
    db = open(path, true);
    try {
      checkVersion(db, path);
    } catch (again) {
      db.close();
      throw again;
    }
  }
  return db;
}

function mustExist(path: string, command: string): void {
  if (!existsSync(path)) {
    throw new IpitraceError('E_DB_OPEN', `${path}: no such database (${command} reads a database made by 'ipitrace ingest --db ${path} FILE...' or 'ipitrace analyze --db ${path} FILE...')`);
  }
  if (statSync(path).isDirectory()) throw new IpitraceError('E_DB_OPEN', `${path}: is a directory, not a database file`);
}

/** SQLITE_READONLY_ROLLBACK (a hot journal), _RECOVERY and _CANTINIT (a WAL index to rebuild). */
function needsRecovery(error: unknown): boolean {
  const cause = (error as { cause?: { code?: unknown } }).cause;
  const code = String((cause ?? error as { code?: unknown }).code ?? '');
  return /^SQLITE_READONLY_(ROLLBACK|RECOVERY|CANTINIT)$/.test(code);
}

function recover(path: string): void {
  try {
    const db = new Database(path, { fileMustExist: true, timeout: busyTimeoutMs() });
    try {
      db.pragma('user_version', { simple: true });
    } finally {
      db.close();
    }
  } catch (error) {
    throw new IpitraceError('E_DB_OPEN',
      `${path}: a writer was killed in the middle of a transaction and its journal must be rolled back, which needs write access: ${(error as Error).message}`);
  }
}

function open(path: string, readonly: boolean): Db {
  try {
    const db = new Database(path, { readonly, fileMustExist: readonly, timeout: busyTimeoutMs() });
    shared[LAST_PATH] = path;
    return db;
  } catch (error) {
    throw new IpitraceError('E_DB_OPEN', `${path}: cannot open database: ${(error as Error).message}`);
  }
}

/**
 * Refuses a SQLite file that holds tables but is not an ipitrace database (user_version 0, the
 * version every SQLite file starts with): writing ipitrace's 24 tables into it, switching it to WAL
 * and setting its user_version would change another application's file. An empty database (no
 * table) is fine.
 */
function refuseForeign(db: Db, path: string): void {
  let version: number;
  let tables: string[];
  try {
    version = db.pragma('user_version', { simple: true }) as number;
    tables = (db.prepare(`SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name LIMIT 4`)
      .pluck().all() as string[]);
  } catch (error) {
    if (isStorageError(error)) throw error;
    throw new IpitraceError('E_DB_OPEN', `${path}: not a SQLite database: ${(error as Error).message}`);
  }
  if (version === 0 && tables.length > 0) {
    const names = tables.slice(0, 3).join(', ') + (tables.length > 3 ? ', ...' : '');
    throw new IpitraceError('E_DB_OPEN',
      `${path}: not an ipitrace database (it holds tables of its own: ${names}); ipitrace writes only its own databases, give --db a new file`);
  }
}

/** Errors of the disk or of another process's lock, not of the database's content. */
export function isStorageError(error: unknown): boolean {
  const code = String((error as { code?: unknown })?.code ?? '');
  return /^SQLITE_(BUSY|LOCKED|FULL|IOERR)/.test(code) || code === 'ENOSPC' || code === 'EDQUOT';
}

/** Rolls back the transaction in progress, if SQLite has not already done so (it does on SQLITE_FULL). */
export function rollback(db: Db): void {
  if (db.inTransaction) db.exec('ROLLBACK');
}

/**
 * Creates the schema in a new (empty) database, in one immediate transaction: a process killed
 * half-way leaves no half schema, and of two processes creating the same new database at once the
 * second waits and then finds the schema made.
 */
function migrate(db: Db, path: string): void {
  if (db.pragma('user_version', { simple: true }) !== 0) {
    checkVersion(db, path);
    return;
  }
  db.exec('BEGIN IMMEDIATE');
  try {
    if (db.pragma('user_version', { simple: true }) === 0) {
      try {
        db.exec(schemaText());
      } catch (error) {
        if (isStorageError(error)) throw error;
        throw new IpitraceError('E_DB_OPEN', `${path}: not an ipitrace database: ${(error as Error).message}`);
      }
      db.pragma(`user_version = ${SCHEMA_VERSION}`);
    }
    db.exec('COMMIT');
  } catch (error) {
    rollback(db);
    throw error;
  }
  checkVersion(db, path);
}

function checkVersion(db: Db, path: string): void {
  let version: number;
  try {
    version = db.pragma('user_version', { simple: true }) as number;
  } catch (error) {
    if (isStorageError(error) || needsRecovery(error)) throw error;
    throw new IpitraceError('E_DB_OPEN', `${path}: not a SQLite database: ${(error as Error).message}`);
  }
  if (version === 0) {
    throw new IpitraceError('E_DB_OPEN', `${path}: not an ipitrace database (no ipitrace schema in it; make one with 'ipitrace ingest --db ${path} FILE...')`);
  }
  if (version !== SCHEMA_VERSION) {
    throw new IpitraceError('E_DB_SCHEMA',
      `${path}: made by ipitrace schema version ${version}, this ipitrace uses ${SCHEMA_VERSION}; ingest into a new database`);
  }
}

/**
 * Indexes are built after bulk loads (ingest), not row by row; replay makes sure they exist too.
 * cpu_states_*: the detectors look up a CPU's state intervals by time (one probe per csd or event,
 * not a scan of every interval). events_op is by op alone: with the format too it took 50 % longer
 * to build (0.2 s per M events) for what the QEMU queries gain; they run only when the boot has a
 * QEMU log. It holds only the ops ipitrace looks events up by (EVENTS_OP_INDEXED: replay's clocks,
 * coverage and CPU universe, the summary): csd and IPI events, three quarters of a trace, left out,
 * it takes 0.16 instead of 0.26 s of CPU per M events to build, and detect is no slower (measured on
 * the 1 M bench inputs, 2026-12-07). SQLite uses it for `op = 'marker'` (the WHERE below is an OR of
 * equalities, which the planner can prove), not for `op IN (...)`; a query for another op reads the
 * table (~0.06 s per M events), about what a lookup of a quarter of its rows costs anyway.
 */
export const EVENTS_OP_INDEXED = ['marker', 'lost', 'hp_enter', 'hp_exit', 'ipi_ack', 'ipi_entry'] as const;
export function ensureIndexes(db: Db): void {
  db.exec(`
    CREATE INDEX IF NOT EXISTS events_source_line ON events(source_id, line);
    CREATE INDEX IF NOT EXISTS events_op ON events(op) WHERE ${EVENTS_OP_INDEXED.map((op) => `op = '${op}'`).join(' OR ')};
    CREATE INDEX IF NOT EXISTS event_targets_event ON event_targets(event_id);
    CREATE INDEX IF NOT EXISTS console_source_kind ON console_messages(source_id, kind);
    CREATE INDEX IF NOT EXISTS cpu_states_at ON cpu_states(boot, cpu, state, start_ns);
    CREATE INDEX IF NOT EXISTS cpu_states_start ON cpu_states(boot, cpu, start_ns);
  `);
}

/**
 * Settings for a bulk write (ingest's load, replay's derived tables), undone afterwards. Foreign keys
 * are not checked row by row: every row references the source row made in the same transaction, or
 * (event_targets) the event just inserted. A rollback journal instead of the WAL: pages appended to
 * the file are written once (the WAL writes them twice, once more at the checkpoint) and the
 * transaction still rolls back on error or crash. No fsync: only a power loss could cost the work in
 * progress (the file being read, the boot being replayed).
 */
export function bulkWriteMode(db: Db): () => void {
  const foreignKeys = db.pragma('foreign_keys', { simple: true }) as number;
  const synchronous = db.pragma('synchronous', { simple: true }) as number;
  const journal = db.pragma('journal_mode', { simple: true }) as string;
  db.pragma('foreign_keys = OFF');
  db.pragma('synchronous = OFF');
  setJournal(db, 'delete');
  return () => {
    // A transaction still open here was left by an error on its way out (SQLITE_BUSY on the first
    // write): undo it, or the settings below could not be changed and would hide that error.
    rollback(db);
    setJournal(db, journal);
    db.pragma(`synchronous = ${synchronous}`);
    db.pragma(`foreign_keys = ${foreignKeys}`);
  };
}

/** Changes the journal mode where it can (not while another connection holds the database open). */
function setJournal(db: Db, mode: string): void {
  if (db.memory) return;
  try {
    db.pragma(`journal_mode = ${mode}`);
  } catch {
    // Busy: keep the current mode, only slower.
  }
}

/**
 * One line for an error of the disk or of a lock (see isStorageError), naming the file; undefined for
 * any other error. SQLite rolls back the transaction in progress on these, so the database keeps its
 * last committed state.
 */
export function storageErrorMessage(error: unknown): string | undefined {
  if (!isStorageError(error)) return undefined;
  const code = String((error as { code?: unknown }).code);
  const fsPath = (error as { path?: unknown }).path;
  const db = lastDatabasePath() ?? 'the database';
  if (/^SQLITE_(BUSY|LOCKED)/.test(code)) {
    return `${db}: the database is locked by another process (another ipitrace ingest, detect or analyze writing to it?); `
      + `gave up after ${busyTimeoutMs() / 1000} s (IPITRACE_BUSY_TIMEOUT), try again when it has finished`;
  }
  if (code === 'SQLITE_FULL' || code === 'ENOSPC' || code === 'EDQUOT') {
    const where = typeof fsPath === 'string' ? fsPath : `${db} (or SQLite's temporary files in ${tmpdir()})`;
    return `disk full: no space left writing ${where}; nothing was half-written (the database keeps its last complete state)`;
  }
  return `${db}: I/O error on the database (${code}): ${(error as Error).message}`;
}
