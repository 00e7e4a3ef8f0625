// ipitrace batch: many boots in one run. The expectations come from each fixture's fixture.json
// (ground truth written before the code): a fixture with error findings must come out with exit
// code 1 and at least that many errors, a clean control with 0 and none; a boot that cannot be read
// is reported and the run goes on.
import { mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { unitsFromManifest, unitsFromPaths } from '../batch/units.js';
import { ipitrace, tempDir } from './helpers/cli.js';

const FIXTURES = join(import.meta.dirname, '..', 'fixtures');
const expectedErrors = (name: string) => (JSON.parse(readFileSync(join(FIXTURES, name, 'fixture.json'), 'utf8')) as
  { expected_findings: { severity?: string; classification?: string }[] }).expected_findings
  .filter((f) => (f.severity ?? (f.classification === 'late' ? 'warning' : 'error')) === 'error').length;

describe('batch boot units', () => {
  it('a folder is one boot of its log files, a file is one boot, a missing path is still a boot', () => {
    const units = unitsFromPaths([join(FIXTURES, 'faulty-x86-ci-offline-async'), join(FIXTURES, 'x86-tp-printk', 'console.log'), '/nonexistent/run7.log']);
    expect(units.map((u) => u.boot)).toEqual(['faulty-x86-ci-offline-async', 'x86-tp-printk', 'run7']);
    // fixture.json is metadata, not a log
    expect(units[0].files.map((f) => f.split('/').pop())).toEqual(['boot.log.gz', 'trace.txt.gz']);
  });

  it('boots that would share a name get distinct names', () => {
    const units = unitsFromPaths([join(FIXTURES, 'x86-tp-printk', 'console.log'), join(FIXTURES, 'x86-panic-dump', 'console.log')]);
    expect(units.map((u) => u.boot)).toEqual(['x86-tp-printk', 'x86-panic-dump']);
    const dir = tempDir('batch-names');
    for (const sub of ['a', 'b']) {
      mkdirSync(join(dir, sub, 'run'), { recursive: true });
      writeFileSync(join(dir, sub, 'run', 'console.log'), '');
    }
    expect(unitsFromPaths([join(dir, 'a', 'run'), join(dir, 'b', 'run')]).map((u) => u.boot)).toEqual(['run', 'run~2']);
  });

  it('reads a manifest: named boots, unnamed ones, comments, paths relative to the manifest', () => {
    const dir = tempDir('batch-manifest');
    writeFileSync(join(dir, 'boots.tsv'), '# farm run 42\nbootA\tlogs/a.log\tlogs/a-qemu.log\n\nlogs/b.log\n');
    const units = unitsFromManifest(join(dir, 'boots.tsv'));
    expect(units).toEqual([
      { boot: 'bootA', files: [resolve(dir, 'logs/a.log'), resolve(dir, 'logs/a-qemu.log')] },
      { boot: 'b', files: [resolve(dir, 'logs/b.log')] },
    ]);
  });
});

describe('ipitrace batch', () => {
  it('gives each boot its own verdict and exit code, writes a document per boot, and goes on past a bad boot', () => {
    const out = tempDir('batch-out');
    const faulty = ['faulty-x86-offline-async', 'faulty-x86-nonexistent-async'];
    const clean = ['faulty-x86-clean-control', 'x86-smp2-maxcpus4'];
    const r = ipitrace(['batch', '--json', '--jobs', '2', '--out', out, ...[...faulty, ...clean].map((n) => join(FIXTURES, n)), '/nonexistent/run7.log']);
    expect(r.status, r.stderr).toBe(1);
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { boot: string; exit_code: number; errors: number; warnings: number; error: string | null });
    const byBoot = new Map(lines.map((l) => [l.boot, l]));
    expect([...byBoot.keys()].sort()).toEqual([...faulty, ...clean, 'run7'].sort());
    for (const name of faulty) {
      expect(expectedErrors(name)).toBeGreaterThan(0);
      expect(byBoot.get(name)).toMatchObject({ exit_code: 1, error: null });
      expect(byBoot.get(name)!.errors).toBeGreaterThanOrEqual(expectedErrors(name));
    }
    for (const name of clean) expect(byBoot.get(name)).toMatchObject({ exit_code: 0, errors: 0, warnings: 0, error: null });
    expect(byBoot.get('run7')!.exit_code).toBe(2);
    expect(byBoot.get('run7')!.error).toMatch(/run7\.log/);
    expect(readdirSync(out).sort()).toEqual([...[...faulty, ...clean].map((n) => `${n}.json`), 'run7.error.txt'].sort());
    // each document is what analyze --json prints for that boot
    const doc = JSON.parse(readFileSync(join(out, 'faulty-x86-offline-async.json'), 'utf8')) as { boots: { boot: string }[] };
    expect(doc.boots.map((b) => b.boot)).toEqual(['faulty-x86-offline-async']);
    expect(r.stderr).toMatch(/5 boots .* 2 with findings at --fail-on error, 2 clean, 1 not analyzed/);
  });

  it('exits 0 when every boot is clean, 2 when the only problem is a boot it could not read', () => {
    const dir = tempDir('batch-links');
    symlinkSync(join(FIXTURES, 'faulty-x86-clean-control'), join(dir, 'clean'));
    expect(ipitrace(['batch', join(dir, 'clean')]).status).toBe(0);
    const r = ipitrace(['batch', join(dir, 'clean'), join(dir, 'missing.log')]);
    expect(r.status).toBe(2);
    expect(r.stdout).toMatch(/^missing +NOT ANALYZED +.*missing\.log/m);
  });

  it('without boots is a usage error', () => {
    const r = ipitrace(['batch']);
    expect(r.status).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });
});
