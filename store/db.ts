// Opening the database: pragmas, schema creation and the schema-version check.
import Database from 'better-sqlite3';
import { existsSync, readFileSync } from 'node:fs';
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
 * Opens (creating if needed) a database for writing. Throws IpitraceError E_DB_OPEN when the file
 * cannot be opened, E_DB_SCHEMA when it was made by another schema version.
 */
export function openWritable(path: string): Db {
  const db = open(path, false);
  // Set before the first table exists (a no-op on an existing database). 64 KiB pages: the bulk
  // load and replay's scans touch fewer pages (measured with npm run bench: ingest 6 %, detect 9 %
  // faster than with 4 KiB).
  db.pragma('page_size = 65536');
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  // Sorts (index builds after a bulk load, ORDER BY) spill to temporary files beyond the cache
  // instead of growing the process: memory stays flat whatever the input size. 16 MiB of cache:
  // ingest appends and replay scans, neither revisits pages much (npm run bench: no slower than
  // 64 MiB, and 50 MB less peak RSS).
  db.pragma('temp_store = FILE');
  db.pragma('cache_size = -16384');
  migrate(db, path);
  return db;
}

/** Opens an existing database read-only (ipitrace query). */
export function openReadOnly(path: string): Db {
  if (path !== ':memory:' && !existsSync(path)) {
    throw new IpitraceError('E_DB_OPEN', `${path}: no such database (run 'ipitrace ingest --db ${path} FILE...' first)`);
  }
  const db = open(path, true);
  checkVersion(db, path);
  return db;
}

function open(path: string, readonly: boolean): Db {
  try {
    return new Database(path, { readonly, fileMustExist: readonly });
  } catch (error) {
    throw new IpitraceError('E_DB_OPEN', `${path}: cannot open database: ${(error as Error).message}`);
  }
}

function migrate(db: Db, path: string): void {
  const version = db.pragma('user_version', { simple: true }) as number;
  if (version === 0) {
    try {
      db.exec(schemaText());
    } catch (error) {
      throw new IpitraceError('E_DB_OPEN', `${path}: not an ipitrace database: ${(error as Error).message}`);
    }
    db.pragma(`user_version = ${SCHEMA_VERSION}`);
    return;
  }
  checkVersion(db, path);
}

function checkVersion(db: Db, path: string): void {
  let version: number;
  try {
    version = db.pragma('user_version', { simple: true }) as number;
  } catch (error) {
    throw new IpitraceError('E_DB_OPEN', `${path}: not a SQLite database: ${(error as Error).message}`);
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
 * QEMU log.
 */
export function ensureIndexes(db: Db): void {
  db.exec(`
    CREATE INDEX IF NOT EXISTS events_source_line ON events(source_id, line);
    CREATE INDEX IF NOT EXISTS events_op ON events(op) WHERE op IS NOT NULL;
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
