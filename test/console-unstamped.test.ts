// A kernel console without printk stamps (syzkaller's logs, many CI captures) is a kernel console:
// its crash header is typed, and analyze reads it rather than saying "nothing to analyze". The
// excerpts are real: test/data/syzkaller-guilty0-unstamped.log is lines 3-22 of syzkaller's
// pkg/report/testdata/linux/guilty/0 (a KASAN report of 4.12-rc3, no printk stamps);
// test/data/syzkaller-report126-dated.log is lines 5-7 of report/126 (syz-manager's date prefix).
// Ground truth, read from the files: one "BUG: " header each, no cross-call, no CPU hotplug.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ingestFiles } from '../ingest/ingest.js';
import { openWritable } from '../store/db.js';
import { ipitrace } from './helpers/cli.js';

const DATA = join(import.meta.dirname, 'data');
const KASAN = join(DATA, 'syzkaller-guilty0-unstamped.log');
const DATED = join(DATA, 'syzkaller-report126-dated.log');

describe('kernel consoles without printk stamps', () => {
  it('types the crash header of an unstamped KASAN report and of a syz-manager dated line', async () => {
    const db = openWritable(':memory:');
    await ingestFiles(db, [KASAN, DATED], {});
    const rows = db.prepare("SELECT s.path, c.line, c.kind, c.info FROM console_messages c JOIN sources s USING (source_id) WHERE c.kind = 'bug' ORDER BY s.path")
      .all() as { path: string; line: number; kind: string; info: string }[];
    expect(rows.map((r) => [r.path.split('/').pop(), r.line, r.info])).toEqual([
      ['syzkaller-guilty0-unstamped.log', 2, 'KASAN: use-after-free in ip6_send_skb+0x2f5/0x330 net/ipv6/ip6_output.c:1748'],
      ['syzkaller-report126-dated.log', 1, 'memory leak'],
    ]);
  });

  it('analyze reads them: a clean verdict (exit 0) with the BUG as context, not "nothing to analyze" (exit 2)', () => {
    for (const file of [KASAN, DATED]) {
      const r = ipitrace(['analyze', '--json', file]);
      expect(r.status, r.stderr).toBe(0);
      expect(r.stderr).not.toMatch(/nothing to analyze/);
      const doc = JSON.parse(r.stdout) as { boots: { findings: { detector: string; severity: string; title: string }[] }[] };
      expect(doc.boots[0].findings.map((f) => [f.detector, f.severity, f.title])).toEqual([['kernel-reported', 'info', 'kernel BUG']]);
    }
  });
});
