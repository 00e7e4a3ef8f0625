// BatchInsert (store/batch-insert.ts) writes derived rows several per statement, with constant
// columns as literals and vocabulary columns bound as codes: the table must read as if every row
// had been inserted one by one with its own values.
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { BatchInsert } from '../store/batch-insert.js';

function table(): Database.Database {
  const db = new Database(':memory:');
  db.exec('CREATE TABLE t (boot TEXT, n INTEGER, state TEXT, note TEXT)');
  return db;
}

describe('BatchInsert', () => {
  it('keeps every row and its order across full statements and the flushed rest', () => {
    const db = table();
    const insert = new BatchInsert(db, 't', ['n', 'state', 'note'], 4, { boot: "it's" });
    for (let n = 0; n < 10; n++) insert.add(n, `s${n}`, n % 3 ? null : 'x');
    insert.flush();
    const rows = db.prepare('SELECT boot, n, state, note FROM t ORDER BY rowid').all();
    expect(rows).toHaveLength(10);
    expect(rows[9]).toEqual({ boot: "it's", n: 9, state: 's9', note: 'x' });
    expect(rows.map((r) => (r as { n: number }).n)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it('stores a vocabulary column as its strings, NULL as NULL', () => {
    const db = table();
    const insert = new BatchInsert(db, 't', ['n', 'state'], 2, {}, { state: ['online', 'offline', "it's"] });
    const states = ['offline', null, "it's", 'online', 'offline'];
    states.forEach((state, n) => insert.add(n, state));
    insert.flush();
    const stored = db.prepare('SELECT state, typeof(state) AS type FROM t ORDER BY n').all() as { state: string | null; type: string }[];
    expect(stored.map((r) => r.state)).toEqual(states);
    expect(stored.map((r) => r.type)).toEqual(['text', 'null', 'text', 'text', 'text']);
  });

  it('throws on a value outside the vocabulary (a caller bug), naming the column', () => {
    const insert = new BatchInsert(table(), 't', ['n', 'state'], 2, {}, { state: ['online'] });
    expect(() => insert.add(1, 'dying')).toThrow('state: dying is not in its vocabulary');
  });
});
