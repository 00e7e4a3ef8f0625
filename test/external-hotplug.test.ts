// Every CPU-count, hotplug and bring-up message in the shared external logs (../shared/corpus/external)
// is read and replayed. The messages are found here with regexes of their own, written from the
// kernel's format strings (not from the parser): each matching line must be typed (a hotplug
// console message of the expected kind, or a CPU fact of the expected kind), and where the line has a
// timestamp, the replayed CPU state right after it must be what the line says.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { detect } from '../detect/detect.js';
import { ingestFiles } from '../ingest/ingest.js';
import { openWritable } from '../store/db.js';

const DIR = join(import.meta.dirname, '..', '..', 'shared', 'corpus', 'external');
const present = existsSync(join(DIR, 'SOURCES.md'));
if (!present) console.warn(`external hotplug test skipped: ${DIR} is not there (it is used only where present)`);

interface Message {
  /** What the message says, as the kernel prints it (the printk stamp and caller field removed). */
  pattern: RegExp;
  /** console_messages kind, or 'fact:<fact>' for a cpu_facts row. */
  kind: string;
  /** The state the CPU (group 1) is in right after the line, when the line says. */
  state?: 'online' | 'offline';
}

const MESSAGES: Message[] = [
  // x86 (arch/x86/kernel/smpboot.c, kernel/cpu.c, kernel/smp.c)
  { pattern: /smpboot: CPU (\d+) is now offline/, kind: 'cpu_offline', state: 'offline' },
  { pattern: /smpboot: Booting Node \d+ Processor (\d+) APIC/, kind: 'cpu_online', state: 'online' },
  { pattern: /^CPU(\d+) is up$/, kind: 'cpu_online', state: 'online' },
  { pattern: /^CPU(\d+) failed to report alive state/, kind: 'cpu_up_failed', state: 'offline' },
  { pattern: /\.\.\.\. node\s+#\d+, CPUs:\s+#/, kind: 'cpu_online' },
  { pattern: /^\s+#\d+(?:\s+#\d+)+\s*$/, kind: 'cpu_online' },
  { pattern: /smp: Brought up \d+ nodes?, \d+ CPUs?/, kind: 'fact:brought_up' },
  { pattern: /smpboot: Total of \d+ processors activated|SMP: Total of \d+ processors activated/, kind: 'fact:brought_up' },
  { pattern: /smpboot: Allowing \d+ CPUs, \d+ hotplug CPUs/, kind: 'fact:possible' },
  // drivers/acpi/acpi_processor.c: pr_info("CPU%d has been hot-added\n", pr->id) (arm64 Grace log: 72 lines)
  { pattern: /ACPI: CPU(\d+) has been hot-added/, kind: 'fact:hot_added' },
  { pattern: /setup_percpu: NR_CPUS:\d+ nr_cpumask_bits:\d+ nr_cpu_ids:\d+/, kind: 'fact:possible' },
  { pattern: /RCU restricting CPUs from NR_CPUS=\d+ to nr_cpu_ids=\d+/, kind: 'fact:possible' },
  { pattern: /Adjusting geometry for rcu_fanout_leaf=\d+, nr_cpu_ids=\d+/, kind: 'fact:possible' },
  { pattern: /SLUB: .*CPUs=\d+/, kind: 'fact:possible' },
  // arm64 / arm32 / riscv (arch/*/kernel/smp.c, drivers/firmware/psci)
  { pattern: /^CPU(\d+): Booted secondary processor/, kind: 'cpu_online', state: 'online' },
  { pattern: /^Booting Linux on physical CPU/, kind: 'cpu_online' },
  { pattern: /^CPU(\d+): off$/, kind: 'cpu_offline' },
  { pattern: /^CPU(\d+): failed to come online/, kind: 'cpu_up_failed' },
  { pattern: /^(?:psci: )?CPU(\d+) killed/, kind: 'cpu_offline', state: 'offline' },
  { pattern: /^CPU(\d+): shutdown/, kind: 'cpu_dying' },
];

/** The kernel message of a console line: without the printk stamp and caller field (and mail quoting). */
function body(line: string): { text: string; stamped: boolean } {
  const m = /^(?:> ?)*(?:<\d+>)?\[\s*\d+\.\d+\](?:\[\s*[CT]\d+\])? ?(.*)$/.exec(line);
  return m ? { text: m[1]!, stamped: true } : { text: line, stamped: false };
}

describe.skipIf(!present)('external logs: CPU-count, hotplug and bring-up messages', () => {
  const logs = present ? readdirSync(DIR).filter((f) => f.endsWith('.log')).sort() : [];

  it.each(logs)('%s: every such message is read and replayed', async (file) => {
    const db = openWritable(':memory:');
    await ingestFiles(db, [join(DIR, file)], { boot: 'b' });
    detect(db);
    const lines = readFileSync(join(DIR, file), 'utf8').split('\n').map((l) => l.replace(/\r$/, ''));
    const kinds = db.prepare('SELECT line, kind FROM console_messages').all() as { line: number; kind: string }[];
    const facts = db.prepare('SELECT line, fact FROM cpu_facts').all() as { line: number; fact: string }[];
    const typed = new Map<number, Set<string>>();
    for (const k of kinds) typed.set(k.line, (typed.get(k.line) ?? new Set()).add(k.kind));
    for (const f of facts) typed.set(f.line, (typed.get(f.line) ?? new Set()).add(`fact:${f.fact}`));
    const stateAfter = db.prepare(`SELECT state FROM cpu_states st JOIN console_messages c ON c.line = ?
        WHERE st.cpu = ? AND st.start_ns <= c.ts_ns + coalesce((SELECT offset_ns FROM clock_offsets WHERE clock = 'printk' AND ref_clock = 'ftrace'), 0)
        ORDER BY st.start_ns DESC LIMIT 1`);
    const missing: string[] = [];
    let listed = 0;
    lines.forEach((raw, i) => {
      const { text, stamped } = body(raw.replace(/"\}\s*$/, ''));
      for (const message of MESSAGES) {
        const m = message.pattern.exec(text);
        if (!m) continue;
        listed++;
        const line = i + 1;
        if (!typed.get(line)?.has(message.kind)) missing.push(`${file}:${line}: not read as ${message.kind}: ${text}`);
        else if (message.state && stamped && m[1] !== undefined) {
          const state = stateAfter.pluck().get(line, Number(m[1])) as string | undefined;
          if (state !== message.state) missing.push(`${file}:${line}: CPU${m[1]} replayed ${state ?? 'nowhere'}, not ${message.state}: ${text}`);
        }
        break;
      }
    });
    expect(missing).toEqual([]);
    db.close();
    if (listed === 0) console.info(`${file}: no CPU-count, hotplug or bring-up message`);
  }, 60_000);
});
