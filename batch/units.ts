// What one batch run analyzes: a list of boots, each a name and its files. A folder is one boot (its
// regular files, named after the folder), a file is one boot (named as analyze names it), and a
// manifest lists boots one a line. Apart from the worker pool so that the CLI and tests can list
// the boots without starting a thread.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join, resolve, dirname } from 'node:path';
import { bootNameFor } from '../ingest/boot-name.js';
import { IpitraceError } from '../store/errors.js';

export interface BootUnit {
  boot: string;
  files: string[];
}

/**
 * Files in a boot folder that are not logs: metadata, scripts, reports, databases (a folder that
 * holds a boot's logs often holds its meta.json or a results file too).
 */
const NOT_LOGS = /\.(json|jsonl|md|py|sh|html?|xml|db|db-wal|db-shm|sqlite|parquet|csv|tsv|png|svg)$/i;

/** One boot per folder (its regular log files, sorted; dot files and NOT_LOGS left out) and one per file. */
export function unitsFromPaths(paths: string[]): BootUnit[] {
  const units: BootUnit[] = [];
  for (const path of paths) {
    // A path that cannot be read is still a boot: analyze names the problem, and the run goes on.
    let isDirectory = false;
    try {
      isDirectory = statSync(path).isDirectory();
    } catch {
      // left to analyze
    }
    if (isDirectory) {
      const files = readdirSync(path, { withFileTypes: true })
        .filter((d) => !d.name.startsWith('.') && !NOT_LOGS.test(d.name) && (d.isFile() || (d.isSymbolicLink() && statSync(join(path, d.name)).isFile())))
        .map((d) => join(path, d.name)).sort();
      units.push({ boot: basename(resolve(path)), files });
    } else {
      units.push({ boot: bootNameFor(path), files: [path] });
    }
  }
  return uniqueNames(units);
}

/**
 * A manifest: one boot a line, `NAME<TAB>FILE[<TAB>FILE...]`, or just `FILE...` separated by tabs
 * (the boot then named as for a lone path list); relative paths are relative to the manifest's
 * folder; blank lines and lines starting with # are skipped.
 */
export function unitsFromManifest(path: string): BootUnit[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new IpitraceError('E_INPUT_UNREADABLE', `${path}: cannot read the manifest: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  const base = dirname(resolve(path));
  const units: BootUnit[] = [];
  text.split(/\r?\n/).forEach((raw, index) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const fields = line.split('\t').map((f) => f.trim()).filter((f) => f !== '');
    const named = fields.length > 1 && !/[/.]/.test(fields[0]);
    const files = (named ? fields.slice(1) : fields).map((f) => resolve(base, f));
    if (files.length === 0) throw new IpitraceError('E_USAGE', `${path}:${index + 1}: a boot with no file`);
    units.push({ boot: named ? fields[0] : unitsFromPaths(files.slice(0, 1))[0]?.boot ?? `line${index + 1}`, files });
  });
  return uniqueNames(units);
}

/** Two boots may not share a name (their results would overwrite each other): later ones get ~2, ~3... */
function uniqueNames(units: BootUnit[]): BootUnit[] {
  const seen = new Map<string, number>();
  return units.map((unit) => {
    const n = (seen.get(unit.boot) ?? 0) + 1;
    seen.set(unit.boot, n);
    return n === 1 ? unit : { ...unit, boot: `${unit.boot}~${n}` };
  });
}
