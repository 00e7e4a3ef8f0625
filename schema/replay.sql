-- Tables replay/ derives from the ingested rows, per boot, and the findings detect/ writes.
-- `ipitrace detect` rebuilds them. Times are ns in the boot's reference clock (clock_offsets.ref_clock:
-- 'ftrace' when the boot has ftrace events, else 'printk'); console times are mapped onto it.

-- How each clock of a boot maps onto its reference clock: ref_ns = ts_ns + offset_ns.
CREATE TABLE IF NOT EXISTS clock_offsets (
  boot       TEXT    NOT NULL,
  -- The clock mapped ('printk', 'ftrace') and the boot's reference clock.
  clock      TEXT    NOT NULL,
  ref_clock  TEXT    NOT NULL,
  offset_ns  INTEGER NOT NULL,
  -- 'identity', 'markers' (trace_marker text equal to a console line), 'hotplug' (takedown_cpu's
  -- cpuhp exit against the console's "CPU N is now offline"), 'buffer reset' (only oops-time dumps,
  -- which count from the ring-buffer reset the console announced: "switching default tracing
  -- clock"), or 'assumed' (no common evidence: offset 0, console times approximate).
  method     TEXT    NOT NULL,
  -- Number of matched pairs and the spread (max - min of their differences) in ns.
  samples    INTEGER NOT NULL,
  spread_ns  INTEGER,
  -- Clock 'qemu-host' (method 'ipi-match': guest IPI sends matched with QEMU's writes, see
  -- qemu_links; samples = pairs kept by the line fit, spread_ns = max - min of their residuals):
  -- QEMU's rate error, so that ref_ns = (ts_ns + offset_ns) * (1 + drift_ppm / 1e6). NULL for the others.
  drift_ppm  REAL
);

-- The CPU universe of a boot: one row per CPU number that exists (possible), and any CPU named
-- as a target that does not.
CREATE TABLE IF NOT EXISTS cpu_universe (
  boot     TEXT    NOT NULL,
  cpu      INTEGER NOT NULL,
  -- 1 when the CPU number is below nr_cpu_ids (possible), 0 when not, NULL when unknown.
  possible INTEGER,
  -- 1 when a vCPU / processor exists for it (present), 0 when not, NULL when unknown.
  present  INTEGER,
  -- 1 when the traces show the CPU recording events or the console shows it online.
  seen     INTEGER NOT NULL,
  -- Where the answer comes from: '--cpus', 'console: ...', 'ftrace #P', 'seen in trace', 'qemu'.
  basis    TEXT    NOT NULL
);

-- Hotplug state of each CPU as intervals over the reference clock.
CREATE TABLE IF NOT EXISTS cpu_states (
  boot      TEXT    NOT NULL,
  cpu       INTEGER NOT NULL,
  -- 'online', 'going_down' (teardown started, still online), 'dying' (takedown_cpu: stop_machine,
  -- the CPU leaves cpu_online_mask and flushes its queue), 'offline', 'coming_up'.
  state     TEXT    NOT NULL,
  -- Interval start and end (NULL end = until the end of the boot's evidence).
  start_ns  INTEGER,
  end_ns    INTEGER,
  -- Evidence for the transition into this state: the row's file and line, and what kind it was
  -- ('cpuhp', 'console', 'initial', 'first event', 'last event before takedown'; where the trace lost
  -- part of a hotplug cycle: 'own event (bring-up not traced)' (tracepoints only fire on a CPU in
  -- cpu_online_mask, so a CPU's own event proves it online; 'coming_up' from its offline evidence to
  -- that event, 'own event later (bring-up not traced)'), 'bring-up (teardown not traced)' and 'last
  -- event before an untraced teardown' (a bring-up of a CPU replayed online: it went offline before)).
  -- 'coming_up' and 'dying' are the windows in which the CPU joins or leaves cpu_online_mask at a
  -- point no event shows (set_cpu_online() on the AP; take_cpu_down).
  source_id INTEGER,
  line      INTEGER,
  basis     TEXT    NOT NULL
);

-- What each ftrace stream covers per CPU: a csd whose release would fall outside a window is
-- 'unknown', never 'never released'. Windows are split by LOST EVENTS markers.
CREATE TABLE IF NOT EXISTS cpu_coverage (
  boot      TEXT    NOT NULL,
  source_id INTEGER NOT NULL,
  cpu       INTEGER NOT NULL,
  start_ns  INTEGER NOT NULL,
  end_ns    INTEGER NOT NULL,
  -- 'stream' (nothing overwritten: covered from the stream's start), 'first event' (the CPU's
  -- oldest surviving event), 'after lost events' (an oops-time dump's `CPU:N [LOST M EVENTS]`: from
  -- the CPU's first event after it), 'after a silence of every CPU' (no CPU of the stream recorded
  -- anything for 5 s or more: the trace may have been off). A CPU with no event in an oops-time dump
  -- has no row: not covered.
  -- A trace file's CPU with no event is covered by the whole stream (its buffer never filled).
  basis     TEXT    NOT NULL
);

-- Every IPI send as seen by the guest (one row per target CPU), with the target's state then.
CREATE TABLE IF NOT EXISTS ipi_sends (
  boot         TEXT    NOT NULL,
  event_id     INTEGER NOT NULL,
  source_id    INTEGER NOT NULL,
  line         INTEGER NOT NULL,
  ts_ns        INTEGER,
  src_cpu      INTEGER,
  target_cpu   INTEGER NOT NULL,
  kind         TEXT    NOT NULL,
  -- 'call_function', 'reschedule', an ARM IPI name, ...
  reason       TEXT,
  -- The csd use this IPI was sent for (csd_lifecycle), NULL for IPIs that carry no csd.
  csd_use_id   INTEGER,
  -- cpu_states.state of the target at ts_ns, or 'nonexistent'.
  target_state TEXT    NOT NULL,
  -- arm/arm64 kernels (6.5+) trace one IPI twice: the generic ipi_send_cpu / ipi_send_cpumask, then the
  -- arch's ipi_raise for the same targets on the same CPU. The ipi_raise row names the generic send's
  -- event_id here; NULL for a send of its own. One IPI is one row WHERE repeats_event_id IS NULL.
  repeats_event_id INTEGER
);

-- One row per use of a csd: queued by src_cpu for target_cpu, then IPI, run and release.
CREATE TABLE IF NOT EXISTS csd_lifecycle (
  csd_use_id      INTEGER PRIMARY KEY,
  boot            TEXT    NOT NULL,
  -- csd address ('0x...'), NULL when hashed out.
  csd             TEXT,
  func            TEXT,
  callsite        TEXT,
  src_cpu         INTEGER,
  target_cpu      INTEGER NOT NULL,
  queue_event_id  INTEGER NOT NULL,
  queued_ns       INTEGER,
  -- The IPI sent for it (NULL: the queue was not empty, so the kernel sent none; normal).
  ipi_event_id    INTEGER,
  ipi_ns          INTEGER,
  -- csd_function_entry/exit naming this csd on the target.
  entry_event_id  INTEGER,
  entry_ns        INTEGER,
  exit_event_id   INTEGER,
  exit_ns         INTEGER,
  -- The first flush of the target's queue after the queue (IPI handler, idle-loop flush, or a
  -- batched remote wake-up run naming another csd).
  flush_event_id  INTEGER,
  flush_ns        INTEGER,
  -- When the lock was released: exit (sync), entry (async, or no exit before the trace ended), flush, or
  -- 'untraced': no event shows it, but the csd was queued again later (csd_lock() waits for the unlock)
  -- and its target left cpu_online_mask in between (its CPU_DYING flush runs with tracepoints off);
  -- released_ns is then an upper bound (the offline transition or the reuse, whichever came first).
  released_ns     INTEGER,
  release_how     TEXT,
  -- Target state when queued, and when released.
  target_state    TEXT    NOT NULL,
  release_state   TEXT,
  -- Start of the target's first offline interval after the queue (cpu_states.start_ns), NULL when
  -- it does not go offline after it: a use released after this (or never) was pending at offline.
  next_offline_ns INTEGER,
  -- The earlier use of the same csd that was still locked when this one was queued.
  reused_use_id   INTEGER,
  -- 'released', 'running_at_end' (entered, trace ended before exit), 'never_released',
  -- 'in_flight_at_end' (queued shortly before the trace ended), 'unknown' (the queue or the release is
  -- outside the target's ring-buffer window), 'maybe_flushed_at_dying' (queued to a CPU that then went
  -- offline, not seen running before: its CPU_DYING flush runs the queue after it left cpu_online_mask,
  -- where no tracepoint fires, so nothing in the trace can say; released_ns is NULL).
  outcome         TEXT    NOT NULL,
  -- Why the outcome is what it is (coverage, grace period).
  note            TEXT
);

-- Every queued csd's callback that ran (csd_function_entry naming a csd, not a local call) on a CPU
-- that cpu_states has offline then: the interval in force is the last to start before the entry.
-- The dying CPU's own CPU_DYING flush runs in 'dying', so it is not here. Tracepoints do not fire on
-- a CPU outside cpu_online_mask, and replay takes a CPU's own event as proof that it is online, so
-- a row here means the replayed states were off (the kernel's "IPI on offline CPU" WARN, in
-- console_reports, is what shows a callback run on an offline CPU).
CREATE TABLE IF NOT EXISTS offline_callbacks (
  boot             TEXT    NOT NULL,
  -- The csd_function_entry event (events.event_id: its csd and func are there), listed once when
  -- both a trace file and a dump hold it.
  event_id         INTEGER NOT NULL,
  cpu              INTEGER NOT NULL,
  -- Its time as replay reads it, on the clock of cpu_states (printk boots: never going back).
  ts_ns            INTEGER NOT NULL,
  -- Start of the offline interval it ran in (cpu_states.start_ns).
  offline_since_ns INTEGER NOT NULL,
  -- The use it ran (csd_lifecycle), NULL when its queue is not in the trace.
  csd_use_id       INTEGER
);

-- CSD-lock episodes the kernel reported on the console (CSD_LOCK_WAIT_DEBUG), and soft lockups in
-- cross-call paths, grouped per waiter CPU and lock number.
CREATE TABLE IF NOT EXISTS csd_episodes (
  episode_id     INTEGER PRIMARY KEY,
  boot           TEXT    NOT NULL,
  -- 'csd_debug' (CSD_LOCK_WAIT_DEBUG messages) or 'soft_lockup' (a soft lockup whose stack is
  -- in a cross-call, on a kernel without CSD debugging).
  origin         TEXT    NOT NULL,
  -- The CPU waiting for the lock and the CPU that should run the callback (NULL: not named).
  waiter_cpu     INTEGER,
  target_cpu     INTEGER,
  -- All CPUs the waiter waits for, as a list ('0-1,3', from the NMI backtrace request).
  target_cpus    TEXT,
  -- Lock number '(#N)'.
  seq            INTEGER,
  func           TEXT,
  info           TEXT,
  first_ns       INTEGER,
  last_ns        INTEGER,
  -- Longest wait the kernel reported, ns.
  max_wait_ns    INTEGER,
  resends        INTEGER NOT NULL,
  -- 'unresponsive', 'handling this request', 'handling prior', NULL.
  target_status  TEXT,
  -- 'late' (got unstuck), 'leak' (never unstuck before the log ends), 'lockup' (soft lockup
  -- in a cross-call, no CSD debug messages).
  classification TEXT    NOT NULL,
  -- Seconds from the request to the release, for late releases.
  released_after_ns INTEGER,
  -- The replayed csd use it matches (same target, func), when the trace has it.
  csd_use_id     INTEGER,
  -- JSON array of {file, line}.
  evidence       TEXT    NOT NULL,
  -- 'file:line' of the console line that took the target offline (or failed its bring-up) before
  -- the first report, when the target had not come back: the cross-call went to an offline CPU.
  target_offline_at TEXT,
  -- What the target's own NMI backtrace (or task dump) after the report shows it doing.
  target_doing   TEXT,
  -- What the csdlock_debug=ext queue/IPI history (5.12-6.1) says: a lost IPI or a busy target.
  ipi_history    TEXT
);

-- Other problems the kernel reported on the console about IPIs and cross-calls: 'ipi_offline_warning'
-- (IPI on offline CPU N), 'resched_offline', 'resend_to_offline' (CSD debug re-sent an IPI or NMI to
-- a CPU that is offline or does not exist), 'cross_call_warning' (a WARNING in kernel/smp.c,
-- irq_work.c or a cross-call function).
CREATE TABLE IF NOT EXISTS console_reports (
  report_id  INTEGER PRIMARY KEY,
  boot       TEXT    NOT NULL,
  kind       TEXT    NOT NULL,
  severity   TEXT    NOT NULL,
  ts_ns      INTEGER,
  cpu        INTEGER,
  target_cpu INTEGER,
  func       TEXT,
  message    TEXT    NOT NULL,
  evidence   TEXT    NOT NULL
);

-- What each CPU was doing when the console showed its stack: one row per report that names a CPU
-- and prints its stack or register state (soft/hard lockup, RCU stall, NMI backtrace, task dump,
-- WARNING, BUG, oops, panic), plus one row per CPU an NMI backtrace was asked of that never
-- answered (report_kind 'no_response'). Built by replay/console-snapshots.ts; read by the
-- cross-call-wait detector, which follows waiter -> awaited CPUs within one incident.
CREATE TABLE IF NOT EXISTS console_snapshots (
  snapshot_id   INTEGER PRIMARY KEY,
  boot          TEXT    NOT NULL,
  -- Numbered per boot: a lockup or stall header starts an incident; the NMI backtraces, task dumps
  -- and panic printed after it belong to it.
  incident      INTEGER NOT NULL,
  -- Where the report starts (its header line).
  source_id     INTEGER NOT NULL,
  line          INTEGER NOT NULL,
  cpu           INTEGER,
  ts_ns         INTEGER,
  -- 'soft_lockup', 'hard_lockup', 'rcu_stall' (the stalled CPU's own stack), 'rcu_detector' (the
  -- stack printed after "(detected by N, ...)": CPU N's current task), 'nmi_backtrace',
  -- 'task_dump', 'warning', 'bug', 'oops', 'panic', 'no_response'.
  report_kind   TEXT    NOT NULL,
  -- The RIP / pc function, and the first reliable frames, innermost first, joined by ' < '
  -- ('?' frames left out).
  pc            TEXT,
  top_frames    TEXT,
  -- The innermost cross-call wait frame (csd_lock_wait, smp_call_function_many_cond, on_each_cpu,
  -- text_poke_bp, kvm_make_all_cpus_request ...) and the first frame outside the cross-call code
  -- that called it (what the cross-call is for), NULL when the stack does not wait in a cross-call.
  waiting_in    TEXT,
  wait_via      TEXT,
  -- 1/0 from the register dump (x86 EFLAGS.IF, arm64 pstate I bit; the first one of the report:
  -- the state where the report caught the CPU), or 1 from a lock taken with _irqsave/_irq or a
  -- stack inside an interrupt; NULL when nothing says.
  irqs_off      INTEGER,
  -- 1 when the stack is in the idle loop or the backtrace was skipped as idle.
  idle          INTEGER NOT NULL,
  -- The spinning lock function (queued_spin_lock_slowpath, _raw_spin_lock_irqsave ...) or NULL.
  in_lock       TEXT,
  -- 1 when the stack is the CPU's own bring-up (start_secondary, secondary_start_kernel,
  -- smp_callin ...) and not yet its idle loop: a crash here means the CPU never came online.
  in_bringup    INTEGER NOT NULL,
  -- 1 when an RCU stall report of this incident names the CPU as stalled.
  stalled       INTEGER NOT NULL,
  -- The CPU whose "Sending NMI from CPU W to CPUs ..." asked for this backtrace, and for a waiter
  -- the CPUs it asked (as printed).
  asked_by      INTEGER,
  asked_cpus    TEXT,
  -- JSON array of {file, line}: the header and the frames that decided waiting_in / irqs_off.
  evidence      TEXT    NOT NULL
);

-- Findings of the detectors in queries/*.sql, one row each.
CREATE TABLE IF NOT EXISTS findings (
  finding_id INTEGER PRIMARY KEY,
  boot       TEXT    NOT NULL,
  -- Detector name (queries/<name>.sql) and 'error' | 'warning' | 'info'.
  detector   TEXT    NOT NULL,
  severity   TEXT    NOT NULL,
  -- Time in the boot's reference clock.
  ts_ns      INTEGER,
  -- The CPU that acted (sender, waiter) and the CPU acted upon (target).
  cpu        INTEGER,
  target_cpu INTEGER,
  csd        TEXT,
  func       TEXT,
  -- Stable title (no times or addresses) and the full message.
  title      TEXT    NOT NULL,
  message    TEXT    NOT NULL,
  -- JSON array of {file, line}: the input lines that show it.
  evidence   TEXT    NOT NULL,
  -- Stable across boots, for deduplication (detect/signature.ts): detector + function + the
  -- callsite's function (+ the target's state class), or the title without CPU numbers,
  -- addresses, times and counts: 'csd-never-released: ipi_fault_func from ipi_fault_write to offline CPU'.
  signature  TEXT    NOT NULL
);

-- Guest <-> QEMU correlation (replay/qemu-correlate.ts), for boots with a QEMU -trace log.
-- The vCPU each QEMU host thread runs (under MTTCG one thread per vCPU).
CREATE TABLE IF NOT EXISTS qemu_vcpus (
  boot     TEXT    NOT NULL,
  host_tid INTEGER NOT NULL,
  -- The vCPU (= Linux CPU number: APIC id / GIC Aff0).
  cpu      INTEGER NOT NULL,
  -- 'gic interface' (the GIC names the CPU interface the thread accessed) or 'ipi match' (x86: the
  -- guest sender of the IPIs this thread's ICR writes were linked to).
  basis    TEXT    NOT NULL,
  -- Observations that name this cpu, out of all observations for the thread.
  votes    INTEGER NOT NULL,
  samples  INTEGER NOT NULL
);

-- Every IPI QEMU sent, one row per target vCPU (shorthands such as x86 all-but-self expanded).
CREATE TABLE IF NOT EXISTS qemu_sends (
  boot          TEXT    NOT NULL,
  -- The QEMU write (events.op 'ipi_send': x86 ICR, gicv3_icc_generate_sgi, GICD_SGIR) and its line.
  qemu_event_id INTEGER NOT NULL,
  source_id     INTEGER NOT NULL,
  line          INTEGER NOT NULL,
  host_tid      INTEGER,
  -- Sender vCPU (GIC: as logged; x86: from qemu_vcpus), NULL when unknown.
  src_cpu       INTEGER,
  target_cpu    INTEGER NOT NULL,
  -- How the write named the target: NULL (its destination / target list) or the shorthand that was
  -- expanded ('all-but-self', 'all', 'self', 'broadcast' (x86 destination 0xff / 0xffffffff), 'irm=1'
  -- (GICv3), 'filter=3' (GICv2), 'undecoded' (an x86 destination the log does not let ipitrace decode:
  -- expanded over every vCPU as a possible target)).
  shorthand     TEXT,
  -- x86 vector or ARM SGI number, and the IPI type it means for this guest ('reschedule',
  -- 'call_function_single', 'call_function', 'Rescheduling interrupts', ...; NULL: not one the guest traces).
  vector        INTEGER NOT NULL,
  reason        TEXT,
  -- QEMU's time mapped onto the boot's reference clock (clock_offsets 'qemu-host'); NULL without.
  ts_ns         INTEGER,
  -- 1 when a vCPU exists for the target, 0 when none does (cpu_universe), NULL when unknown.
  has_vcpu      INTEGER,
  -- Number of guest sends linked to it (qemu_links; on ARM the ipi_send_cpu and ipi_raise of one send).
  linked        INTEGER NOT NULL
);

-- One row per guest IPI send per target (ipi_sends with a time): the QEMU send it is linked to.
CREATE TABLE IF NOT EXISTS qemu_links (
  boot           TEXT    NOT NULL,
  -- ipi_sends.event_id and target_cpu.
  guest_event_id INTEGER NOT NULL,
  target_cpu     INTEGER NOT NULL,
  -- The QEMU write (qemu_sends.qemu_event_id, same target), NULL when none matched.
  qemu_event_id  INTEGER,
  -- The vector / SGI number the guest's IPI type uses (the key matched on), NULL when not known.
  vector         INTEGER,
  -- 'time' (with the clocks mapped: the first QEMU write of the same sender, target and vector that is
  -- not earlier than the send and not later than the sender's next send), 'order' (no QEMU
  -- timestamps: longest common subsequence of the two sequences), NULL when not linked.
  method         TEXT,
  -- The QEMU send's time on the reference clock, and its distance from the guest send's time mapped
  -- by the fitted line (residual: a few us; ms with tp_printk; the offset's wander, up to ~1 ms).
  qemu_ns        INTEGER,
  residual_ns    INTEGER,
  -- 1 when QEMU logged something within 20 ms before and after the send (its log was on), 0 when
  -- not, NULL without timestamps.
  in_qemu_log    INTEGER,
  -- 1 when QEMU's log names the sender of the QEMU send it is linked to (GIC events name the CPU; x86:
  -- the thread's vCPU, qemu_vcpus) or, when it is not linked, of every QEMU send of its target and
  -- vector in its window; 0 when not (QEMU 11 logs carry no thread id: such a link rests on target,
  -- vector and time only, and a missing link may be a write another send's link took): ipi-not-delivered
  -- then says nothing. NULL without timestamps.
  sender_known   INTEGER
);
