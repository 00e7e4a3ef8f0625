// Ingests small hand-made inputs (file name -> text) into a fresh in-memory database, one boot
// 'unit', validating every record with zod: what the unit tests of replay and detectors start from.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ingestFiles } from '../../ingest/ingest.js';
import { openWritable, type Db } from '../../store/db.js';

let dir: string | null = null;
let fileNo = 0;

export async function ingestTexts(files: Record<string, string>): Promise<Db> {
  dir ??= mkdtempSync(join(tmpdir(), 'ipitrace-unit-'));
  const db = openWritable(':memory:');
  const paths = Object.entries(files).map(([name, text]) => {
    const path = join(dir!, `${fileNo++}-${name}`);
    writeFileSync(path, text);
    return path;
  });
  await ingestFiles(db, paths, { boot: 'unit', validate: true });
  return db;
}
