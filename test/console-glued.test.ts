// Kernel messages that do not start their line: CI consoles glue kernel output after other text
// (a login prompt, test output, a syslog line cut short). The printk stamp is found anywhere in the
// line, the text before it kept as console text, and each such line counted (stat console_after_text).
import { describe, expect, it } from 'vitest';
import { ingestTexts } from './helpers/ingest.js';

describe('printk stamp inside a line', () => {
  it('reads the message after the stamp and keeps the text before it', async () => {
    const db = await ingestTexts({
      'console.log': [
        // shared/corpus/syzkaller/report_688 line 15
        'syzkaller login: [  417.725670][    C1] rcu: INFO: rcu_sched self-detected stall on CPU',
        // shared/corpus/syzkaller/report_706 lines 2-3 (syslog lines cut by the console)
        'Sep 23 02:31[   69.295771][ T2742] ALSA: seq fatal error: cannot create timer (-22)',
        ':17 syzkaller ke[   69.303665][ T2742] ALSA: seq fatal error: cannot create timer (-22)',
        // shared/corpus/syzkaller/report_354 line 7: a stamped line with a second message glued on
        '[  740.964262] trusty crashed[  740.966534] ------------[ cut here ]------------',
        // the LKFT/LAVA shape of issue 21: hotplug after test output
        'ok 12 selftests: cpu-hotplug[   52.123456] smpboot: CPU 3 is now offline',
        // a plain line: untouched
        '[    1.000000] smp: Brought up 1 node, 4 CPUs',
      ].join('\n') + '\n',
    });
    const rows = db.prepare('SELECT line, kind, cpu, info, ts_ns, text FROM console_messages ORDER BY line, msg_id').all() as
      { line: number; kind: string; cpu: number | null; info: string | null; ts_ns: number | null; text: string }[];
    expect(rows.filter((r) => r.kind !== 'text').map((r) => [r.line, r.kind, r.cpu, r.info])).toEqual([
      [1, 'rcu_stall', 1, 'rcu_sched self-detected stall'],
      [5, 'cpu_offline', 3, null],
    ]);
    expect(rows.filter((r) => r.kind === 'text').map((r) => [r.line, r.text])).toEqual([
      [1, 'syzkaller login: '],
      [2, 'Sep 23 02:31'], [2, 'ALSA: seq fatal error: cannot create timer (-22)'],
      [3, ':17 syzkaller ke'], [3, 'ALSA: seq fatal error: cannot create timer (-22)'],
      [4, 'trusty crashed'], [4, '------------[ cut here ]------------'],
      [5, 'ok 12 selftests: cpu-hotplug'],
      [6, 'smp: Brought up 1 node, 4 CPUs'],
    ]);
    expect(rows.find((r) => r.line === 5 && r.kind === 'cpu_offline')?.ts_ns).toBe(52_123_456_000);
    expect(db.prepare("SELECT sum(value) FROM stats WHERE name = 'console_after_text'").pluck().get()).toBe(5);
  });
});
