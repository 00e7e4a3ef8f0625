// The benchmark's baseline: the cost of merely storing the rows. Reads the file with a read stream
// and split2 (for await over the lines), runs ONE regex per line and inserts the captured fields as
// they are (strings) into one table with a prepared better-sqlite3 statement, committing every
// 100,000 rows. SQLite defaults otherwise (rollback journal). No typing, no parsing beyond the
// regex, no indexes.
//   node dist/bench/baseline.js ftrace|mixed INPUT DB
import Database from 'better-sqlite3';
import { createReadStream, rmSync } from 'node:fs';
import split2 from 'split2';

// ftrace text: task, pid, cpu, flags, seconds.micros, event name, args.
const FTRACE = /^\s*(.*?)-(\d+)\s+\[(\d+)\]\s+(\S+)\s+(\d+\.\d+):\s+(\w+):\s?(.*)$/;
// mixed console: a QEMU record (tid, time, name, args) or a printk line (time, text).
const MIXED = /^(?:(\d+)@(\d+\.\d+):(\w+) ?(.*)|\[\s*(\d+\.\d+)\] (.*))$/;
const COMMIT_EVERY = 100_000;

async function main(): Promise<void> {
  const [kind, input, dbPath] = process.argv.slice(2);
  if (!input || !dbPath || (kind !== 'ftrace' && kind !== 'mixed')) {
    throw new Error('usage: baseline.js ftrace|mixed INPUT DB');
  }
  for (const suffix of ['', '-journal', '-wal', '-shm']) rmSync(dbPath + suffix, { force: true });
  const db = new Database(dbPath);
  db.exec('CREATE TABLE raw (line INTEGER, f1 TEXT, f2 TEXT, f3 TEXT, f4 TEXT, f5 TEXT, f6 TEXT, f7 TEXT)');
  const insert = db.prepare('INSERT INTO raw VALUES (?, ?, ?, ?, ?, ?, ?, ?)');
  const regex = kind === 'ftrace' ? FTRACE : MIXED;
  let line = 0;
  let rows = 0;
  db.exec('BEGIN');
  for await (const text of createReadStream(input).pipe(split2())) {
    line++;
    const m = regex.exec(text as string);
    if (!m) continue;
    if (kind === 'ftrace') insert.run(line, m[1], m[2], m[3], m[4], m[5], m[6], m[7]);
    else if (m[1] !== undefined) insert.run(line, m[1], m[2], m[3], m[4], null, null, null);
    else insert.run(line, null, m[5], null, null, m[6], null, null);
    if (++rows % COMMIT_EVERY === 0) {
      db.exec('COMMIT');
      db.exec('BEGIN');
    }
  }
  db.exec('COMMIT');
  db.close();
  process.stdout.write(JSON.stringify({ lines: line, rows }) + '\n');
}

main().catch((error: unknown) => {
  process.stderr.write(`baseline: ${(error as Error).message}\n`);
  process.exitCode = 1;
});
