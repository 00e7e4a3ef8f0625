// What the input of a boot can answer, said plainly, so that "no problem found" is never a silent
// pass on input ipitrace did not understand:
// - nothing to analyze: no file of the boot holds one kernel console, ftrace or QEMU trace line
//   (/etc/passwd, an empty console of a QEMU boot that printed nothing): an input error, exit 2;
// - a file of the boot with no such line is named (it was read for nothing);
// - limits: no hotplug information (no CPU can be told offline), no cross-call events traced (and
//   why, when the kernel said: "Failed to enable trace event: csd:*"), a QEMU log without IPI writes
//   while the guest sent IPIs (KVM's in-kernel irqchip: QEMU sees no apic_* events), a QEMU log whose
//   clock could not be mapped onto the guest's (fewer than 90 % of the sends inside it linked).
import type { Db } from '../store/db.js';
import type { PathDisplay } from './groups.js';

export interface InputCheck {
  boot: string;
  /** Set when the boot holds nothing ipitrace reads: the one-line error. */
  nothing: string | null;
  /** Files read for nothing (no line of a known format). */
  warnings: string[];
  /** Questions this input cannot answer, and why. */
  limits: string[];
}

const EXPECTED = 'expected a kernel console or dmesg, ftrace text (/sys/kernel/tracing/trace, trace-cmd report) or a QEMU -trace log';

interface SourceRow { path: string; lines: number; format_counts: string }

const recognised = (s: SourceRow): number =>
  Object.entries(JSON.parse(s.format_counts) as Record<string, number>).reduce((n, [format, count]) => n + (format === 'other' ? 0 : count), 0);

/** Share of the guest sends inside QEMU's log that must be linked for QEMU's side to speak (queries/ipi-not-delivered.sql). */
const ALIGNED_LINKED = 0.9;

const count = (db: Db, sql: string, boot: string): number => (db.prepare(sql).get({ boot }) as { n: number }).n;

/**
 * Whether the query has a row: EXISTS stops at the first one, where count(*) read every event of the
 * boot (four scans of the events table took 2.4 s of a 7.5 s detect at 5 M events).
 */
const any = (db: Db, sql: string, boot: string): boolean => (db.prepare(`SELECT EXISTS (${sql}) AS n`).get({ boot }) as { n: number }).n === 1;

/** `limits: false`: only whether there is anything to analyze (before replay, whose tables the limits read). */
export function checkInputs(db: Db, boot: string, display: PathDisplay, { limits: withLimits = true } = {}): InputCheck {
  const sources = db.prepare('SELECT path, lines, format_counts FROM sources WHERE boot = ? ORDER BY source_id').all(boot) as SourceRow[];
  const blank = sources.filter((s) => recognised(s) === 0);
  const what = (s: SourceRow) => (s.lines === 0 ? 'empty (0 lines)'
    : `no kernel console, ftrace or QEMU trace line in its ${s.lines} line${s.lines === 1 ? '' : 's'}`);
  const describe = (s: SourceRow) => `${display(s.path)}: ${what(s)}`;
  if (blank.length === sources.length) {
    const nothing = sources.length === 1 ? `${display(sources[0].path)}: nothing to analyze: ${what(sources[0])}`
      : `${sources.map((s) => display(s.path)).join(', ')}: nothing to analyze: no kernel console, ftrace or QEMU trace line in any`;
    return { boot, nothing: `${nothing} (${EXPECTED})`, warnings: [], limits: [] };
  }
  const warnings = blank.map((s) => `${describe(s)}; ignored (${EXPECTED})`);
  return { boot, nothing: null, warnings, limits: withLimits ? limits(db, boot, display) : [] };
}

function limits(db: Db, boot: string, display: PathDisplay): string[] {
  const out: string[] = [];
  const guestEvents = any(db, `SELECT 1 FROM events e JOIN sources s USING (source_id) WHERE s.boot = :boot AND e.format != 'qemu'`, boot);
  const consoleLines = any(db, 'SELECT 1 FROM console_messages c JOIN sources s USING (source_id) WHERE s.boot = :boot', boot);
  // cpu_states' 'initial' rows are assumptions (the boot CPU online from the start), not information.
  const hotplug = count(db, "SELECT count(*) AS n FROM cpu_states WHERE boot = :boot AND basis != 'initial'", boot)
    + count(db, 'SELECT count(*) AS n FROM cpu_universe WHERE boot = :boot AND present IS NOT NULL', boot);
  if (hotplug === 0) {
    out.push('no hotplug information (no cpuhp events, no CPU bring-up or offline messages, no CPU counts): whether a target CPU was offline cannot be told');
  }
  if (!guestEvents && !consoleLines) {
    out.push('no guest console or ftrace: only QEMU\'s view (IPIs to CPUs no vCPU has); hotplug state and cross-calls unknown');
    return out;
  }
  const crossCalls = any(db, `SELECT 1 FROM events e JOIN sources s USING (source_id)
    WHERE s.boot = :boot AND e.format != 'qemu' AND e.op IN ('csd_queue', 'ipi_send')`, boot);
  if (!crossCalls) {
    const failed = db.prepare(`SELECT s.path, c.line, c.text FROM console_messages c JOIN sources s USING (source_id)
      WHERE s.boot = ? AND c.text LIKE 'Failed to enable trace event:%' ORDER BY c.source_id, c.line`).all(boot) as { path: string; line: number; text: string }[];
    const why = failed.length
      ? `the kernel printed ${[...new Set(failed.map((f) => `"${f.text.trim()}"`))].join(', ')} (${display(failed[0].path)}:${failed[0].line}): it has no such events (CONFIG_TRACE_IPI / csd tracepoints, Linux 6.3+)`
      : !guestEvents
        ? 'the input has no ftrace events (boot with trace_event=ipi:*,csd:*,cpuhp:* ftrace_dump_on_oops, or give /sys/kernel/tracing/trace)'
        : 'the trace holds other events but no ipi:* or csd:* ones (enable them: trace_event=ipi:*,csd:*)';
    out.push(`no cross-call events traced (no csd_queue_cpu, no ipi_send_*): which CPU sent what to whom is unknown; ${why}`);
  }
  // From the sources' line counts per format: an EXISTS over events would read every event of a boot
  // without QEMU lines (no index on format).
  const qemuLines = any(db, `SELECT 1 FROM sources WHERE boot = :boot AND coalesce(json_extract(format_counts, '$.qemu'), 0) > 0`, boot);
  const qemuSends = any(db, 'SELECT 1 FROM qemu_sends WHERE boot = :boot', boot);
  const guestSends = any(db, 'SELECT 1 FROM ipi_sends WHERE boot = :boot', boot);
  if (qemuLines && !qemuSends && guestSends) {
    const sends = count(db, 'SELECT count(*) AS n FROM ipi_sends WHERE boot = :boot', boot);
    out.push(`QEMU's log shows no IPI write although the guest traced ${sends} IPI sends: under KVM the in-kernel irqchip delivers them (no apic_* events); record under TCG or with -machine kernel-irqchip=off to see them`);
  }
  // The gate ipi-not-delivered and spurious-delivery share (queries/*.sql): QEMU's side speaks only
  // when most guest sends inside its log were linked, i.e. the clock mapping holds.
  const inLog = db.prepare(`SELECT count(*) AS n, count(qemu_event_id) AS linked FROM qemu_links
    WHERE boot = ? AND in_qemu_log = 1 AND vector IS NOT NULL`).get(boot) as { n: number; linked: number };
  if (inLog.n > 0 && inLog.linked < ALIGNED_LINKED * inLog.n) {
    const clock = db.prepare("SELECT drift_ppm, spread_ns FROM clock_offsets WHERE boot = ? AND clock = 'qemu-host'").get(boot) as
      { drift_ppm: number | null; spread_ns: number | null } | undefined;
    const fit = clock === undefined ? 'no clock fit'
      : `fitted drift ${(clock.drift_ppm ?? 0).toFixed(1)} ppm, residual spread ${Math.round((clock.spread_ns ?? 0) / 1e3)} us`;
    out.push(`QEMU's log could not be aligned with the guest's clock: only ${inLog.linked} of the ${inLog.n} guest IPI sends it should cover were linked to a QEMU write (${fit}; a guest clock miscalibrated far from real time, e.g. "tsc: Detected ... MHz" wrong, does this): whether each IPI reached QEMU is not checked (ipi-not-delivered, spurious-delivery)`);
  }
  const kvm = db.prepare(`SELECT s.path, c.line FROM console_messages c JOIN sources s USING (source_id)
    WHERE s.boot = ? AND c.text LIKE 'Hypervisor detected: KVM%' LIMIT 1`).get(boot) as { path: string; line: number } | undefined;
  if (kvm && !qemuSends && !(qemuLines && guestSends)) {
    out.push(`the guest ran under KVM (${display(kvm.path)}:${kvm.line}): QEMU's -trace sees no IPI the in-kernel irqchip delivers (no apic_* events), so QEMU cannot confirm or refute a send; record under TCG for that`);
  }
  return out;
}
