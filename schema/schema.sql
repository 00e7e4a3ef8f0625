-- ipitrace database schema. `ipitrace schema` prints this file.
--
-- Conventions: times are integer nanoseconds in `ts_ns`, always together with the clock domain they
-- were measured in (`clock`): 'ftrace' (the guest's trace clock, also used by the oops-time dump),
-- 'printk' (the guest console's [ secs.usec] stamps), 'qemu-host' (QEMU's -msg timestamp=on host
-- wall clock, epoch ns) or 'none'. Clocks are never mixed in one column without that tag; replay/
-- aligns them per boot (table clock_offsets). Ids end in _id. CPU numbers are Linux logical CPU
-- numbers unless a column says otherwise. NULL means "the input did not say".
-- The schema version is kept in PRAGMA user_version (see schema/version.ts).

-- One ingested input file. Re-ingesting the same bytes (sha256) into the same boot is a no-op.
CREATE TABLE IF NOT EXISTS sources (
  -- Surrogate id, referenced by every row that came from this file.
  source_id     INTEGER PRIMARY KEY,
  -- Boot the file belongs to: console, ftrace and QEMU logs of one run share it (--boot).
  boot          TEXT    NOT NULL,
  -- Path as given on the command line ('-' for stdin).
  path          TEXT    NOT NULL,
  -- sha256 of the file's bytes as read (before gunzip), hex.
  sha256        TEXT    NOT NULL,
  -- Bytes read (compressed size for .gz input).
  bytes         INTEGER NOT NULL,
  -- Physical lines read (after gunzip).
  lines         INTEGER NOT NULL,
  -- JSON object: recognised format -> number of lines, e.g. {"ftrace":3900,"console":812,"other":3}.
  format_counts TEXT    NOT NULL,
  -- Number of rows this file put in `unparsed`.
  unparsed      INTEGER NOT NULL,
  -- ISO-8601 time of the ingest.
  ingested_at   TEXT    NOT NULL,
  UNIQUE (boot, sha256)
);

-- One trace event: a line of ftrace text, of an oops-time ftrace dump, of trace-cmd report, a
-- tp_printk console line, or a QEMU trace-backend line. Any event name is stored; the typed columns
-- are filled for the events ipitrace understands (see `op`).
CREATE TABLE IF NOT EXISTS events (
  -- Surrogate id, in input order.
  event_id   INTEGER PRIMARY KEY,
  -- The file (sources.source_id) and 1-based physical line the event was read from.
  source_id  INTEGER NOT NULL REFERENCES sources(source_id),
  line       INTEGER NOT NULL,
  -- Format the line was recognised as: 'ftrace' (trace / trace_pipe), 'trace-cmd' (trace-cmd
  -- report), 'ftrace-dump' (ftrace_dump_on_oops block in a console), 'tp-printk' (event printed
  -- to the console) or 'qemu' (QEMU -trace log backend).
  format     TEXT    NOT NULL,
  -- Clock domain of ts_ns: 'ftrace', 'printk', 'qemu-host' or 'none'.
  clock      TEXT    NOT NULL,
  -- Event time in ns in that domain; NULL when the line carried no time (QEMU without -msg
  -- timestamp=on). ftrace text has microsecond resolution, so ts_ns ends in 000.
  ts_ns      INTEGER,
  -- CPU that recorded the event (ftrace's [003]); for QEMU GIC events the vCPU/interface index the
  -- line names; NULL for tp_printk lines (they carry no CPU).
  cpu        INTEGER,
  -- Task comm and pid of the ftrace context (comm is cut to 8 characters in dumps).
  task       TEXT,
  pid        INTEGER,
  -- ftrace irq-info flags as printed ('d.h1.'), NULL without the irq-info columns.
  flags      TEXT,
  -- Event name as printed: 'csd_queue_cpu', 'call_function_single_entry', 'gicv3_icc_generate_sgi'...
  kind       TEXT    NOT NULL,
  -- What the event means for ipitrace, NULL when nothing: 'ipi_send' (a CPU asks for an IPI:
  -- ipi_send_cpu/_cpumask, ipi_raise, QEMU ICR or SGI write), 'ipi_pending' (QEMU marks an SGI
  -- pending at a target), 'ipi_entry'/'ipi_exit' (IPI handler on the receiving CPU, including the
  -- x86 irq_vectors call_function*/reschedule* events), 'ipi_ack' (QEMU: a vCPU acknowledged an
  -- SGI or IPI vector), 'csd_queue', 'csd_entry', 'csd_exit', 'hp_enter', 'hp_exit', 'marker'
  -- (trace_marker text), 'lost' (CPU:N [LOST M EVENTS] / EVENTS DROPPED gap marker).
  -- Index events_op covers the rarer ops ipitrace looks up ('marker', 'lost', 'hp_enter', 'hp_exit',
  -- 'ipi_ack', 'ipi_entry'; WHERE op = '...', not op IN (...)); other ops are found by reading the table.
  op         TEXT,
  -- Single target CPU: ipi_send_cpu cpu=, csd_queue_cpu cpu=, the CPU a cpuhp step is for, the
  -- destination of a QEMU x86 ICR write (an APIC id). Multi-target sends use event_targets.
  target_cpu INTEGER,
  -- csd address as '0x' + lowercase hex without leading zeros ('0x0' = NULL pointer, a local call);
  -- NULL when the kernel printed a hashed-out '(____ptrval____)' / '(ptrval)'.
  csd        TEXT,
  -- Function symbol without offset: csd func=, cpuhp step callback, IPI callback.
  func       TEXT,
  -- callsite= as printed (sym+0xoff/0xsize).
  callsite   TEXT,
  -- callback= as printed ('0x0' for reschedule IPIs).
  callback   TEXT,
  -- IPI reason: ipi_raise/entry/exit reason string, or the x86 vector's name ('call_function_single').
  reason     TEXT,
  -- x86 interrupt vector (251 = call function single) or ARM SGI / interrupt id.
  vector     INTEGER,
  -- cpuhp: target state (cpuhp_enter) or reached state (cpuhp_exit), step number and return value.
  hp_state   INTEGER,
  hp_step    INTEGER,
  hp_ret     INTEGER,
  -- Free text: trace_marker text, LOST count, QEMU ICR delivery mode.
  text       TEXT,
  -- QEMU host thread id from the 'TID@secs.usec:' prefix (identifies the vCPU thread under MTTCG).
  host_tid   INTEGER,
  -- Raw event body after 'kind: ' (or after the QEMU event name), as printed.
  args       TEXT
);

-- One row per target CPU of a multi-target send (ipi_send_cpumask, ipi_raise target_mask, GIC SGI
-- target lists). Single-target events (events.target_cpu) also get one row, so SQL can always join here.
CREATE TABLE IF NOT EXISTS event_targets (
  event_id INTEGER NOT NULL REFERENCES events(event_id),
  -- Target CPU (for QEMU rows: the GIC CPU-interface index / affinity Aff0 or APIC id as printed).
  cpu      INTEGER NOT NULL
);

-- Kernel console messages (dmesg lines with a printk stamp, or known messages without one), typed
-- where ipitrace knows the message. Untyped lines are kept as kind 'text' so that SQL can search the
-- console and replay/ can line up the printk clock with trace_marker copies of the same text.
CREATE TABLE IF NOT EXISTS console_messages (
  msg_id     INTEGER PRIMARY KEY,
  source_id  INTEGER NOT NULL REFERENCES sources(source_id),
  line       INTEGER NOT NULL,
  -- printk time in ns (clock 'printk'); NULL for console lines without a [ secs.usec] stamp.
  ts_ns      INTEGER,
  -- Closed set, see schema/records.ts ConsoleKind: 'csd_detected', 'csd_continued', 'csd_state',
  -- 'csd_resend', 'csd_unstuck', 'nmi_backtrace_request', 'nmi_backtrace', 'cpu_offline',
  -- 'cpu_dying', 'cpu_online', 'cpu_up_failed', 'soft_lockup', 'hard_lockup', 'rcu_stall',
  -- 'hung_task', 'panic', 'warning', 'bug', 'oops', 'ipi_offline_warning', 'ipi_offline_callback',
  -- 'resched_offline', 'frame' (a stack frame / RIP / pc line), 'dump_begin', 'dump_end',
  -- 'stop_failed' ("SMP: failed to stop secondary CPUs 1-3": smp_send_stop's IPI not handled; cpus as
  -- printed, NULL when not), 'trace_clock_reset' ("Unstable clock detected, switching default tracing clock to "global"":
  -- the ring buffer was reset, info = the new clock), 'cmdline', 'text' (any other line).
  kind       TEXT    NOT NULL,
  -- The CPU the message is about or printed by: CSD waiter, the CPU that went offline, the
  -- CPU of a soft lockup or WARNING, the NMI sender.
  cpu        INTEGER,
  -- The other CPU: CSD target ('CPU#02'), re-send destination, the CPU that released the lock.
  target_cpu INTEGER,
  -- CSD lock episode number ('(#1)'), per waiter CPU.
  seq        INTEGER,
  -- CSD wait in ns ('waiting 5001000000 ns', or secs converted), or the soft-lockup stuck time.
  wait_ns    INTEGER,
  -- Function named by the message (CSD func without offset, WARNING/frame function).
  func       TEXT,
  -- CSD info argument, WARNING file:line, panic reason, CSD state text.
  info       TEXT,
  -- CPU list as printed ('0-1,3' for NMI backtrace targets).
  cpus       TEXT,
  -- The whole message text after the printk prefix.
  text       TEXT    NOT NULL
);

-- What a source says about the CPU universe. Several facts per boot; replay/ ranks them.
CREATE TABLE IF NOT EXISTS cpu_facts (
  source_id INTEGER NOT NULL REFERENCES sources(source_id),
  line      INTEGER NOT NULL,
  -- 'possible' (nr_cpu_ids, "Allowing N CPUs"), 'present' ("Allowing N present CPUs"),
  -- 'online_at_read' (ftrace #P:, online CPUs when the trace was read), 'brought_up' (CPUs online
  -- after boot, "smp: Brought up 1 node, 4 CPUs"), 'nr_cpus_cmdline' (maxcpus=/nr_cpus= on the
  -- command line), 'trace_cpus' (trace-cmd cpus=N), 'hotplug_cpus' (possible but not present),
  -- 'hot_added' ("ACPI: CPU3 has been hot-added": ACPI made CPU 3 present, at boot on arm64 6.11+ or
  -- by a later hot-add; count = the CPU number + 1, a lower bound of the present CPUs; not online yet).
  fact      TEXT    NOT NULL,
  -- The count the line gives.
  count     INTEGER,
  -- The CPU list, when given ('0-3').
  cpus      TEXT,
  -- The message text.
  text      TEXT    NOT NULL
);

-- Lines that look like one of ipitrace's formats but do not parse, and other per-line problems.
CREATE TABLE IF NOT EXISTS unparsed (
  source_id INTEGER NOT NULL REFERENCES sources(source_id),
  line      INTEGER NOT NULL,
  -- Format the line looked like ('ftrace', 'qemu', 'tp-printk', 'ftrace-dump', 'trace-cmd', 'input').
  format    TEXT    NOT NULL,
  -- Why it was not stored as a row ('bad timestamp', 'line longer than 65536 bytes', ...).
  reason    TEXT    NOT NULL,
  -- The first 200 characters of the line.
  sample    TEXT    NOT NULL
);

-- Counters per source, declared once in schema/stats.ts (name, severity, description).
CREATE TABLE IF NOT EXISTS stats (
  source_id INTEGER NOT NULL REFERENCES sources(source_id),
  -- Counter name from schema/stats.ts ('unknown_event', 'lost_events', 'nul_bytes', ...).
  name      TEXT    NOT NULL,
  -- Key for indexed counters (event name, CPU number), '' otherwise.
  key       TEXT    NOT NULL DEFAULT '',
  value     INTEGER NOT NULL
);

-- The replay stream (store/event-stream.ts): the events replay reads (those with a time on the
-- ftrace or printk clock), packed at ingest into BLOBs of up to 4096 events' columns, so that replay
-- does not read them row by row. Derived from `events`; not meant for SQL. A source whose values did
-- not fit the packing has one marker row with last_event_id < first_event_id and is replayed from
-- its rows.
CREATE TABLE IF NOT EXISTS event_chunks (
  source_id      INTEGER NOT NULL REFERENCES sources(source_id),
  -- event_id range of the chunk's events (inclusive) and how many it holds.
  first_event_id INTEGER NOT NULL,
  last_event_id  INTEGER NOT NULL,
  events         INTEGER NOT NULL,
  data           BLOB    NOT NULL,
  PRIMARY KEY (source_id, first_event_id)
) WITHOUT ROWID;

-- The strings the chunks of a source refer to (csd addresses, functions, IPI reasons, target lists).
CREATE TABLE IF NOT EXISTS event_strings (
  source_id INTEGER NOT NULL REFERENCES sources(source_id),
  string_id INTEGER NOT NULL,
  text      TEXT    NOT NULL,
  PRIMARY KEY (source_id, string_id)
) WITHOUT ROWID;

-- QEMU's IPI writes (store/qemu-writes.ts): the events with format 'qemu' and op 'ipi_send' that
-- carry an IPI (on x86 fixed-mode ICR writes), packed at ingest into BLOBs of up to 4096 writes'
-- columns for replay's QEMU correlation. Derived from `events`; not meant for SQL.
CREATE TABLE IF NOT EXISTS qemu_write_chunks (
  source_id      INTEGER NOT NULL REFERENCES sources(source_id),
  first_event_id INTEGER NOT NULL,
  -- Writes and targets in the chunk; the first write time (epoch ns) the others are offsets from.
  writes         INTEGER NOT NULL,
  targets        INTEGER NOT NULL,
  base_ns        INTEGER,
  data           BLOB    NOT NULL,
  PRIMARY KEY (source_id, first_event_id)
) WITHOUT ROWID;

-- When QEMU was logging (store/qemu-log-buckets.ts): per source and 20 ms bucket of QEMU's host
-- clock that has QEMU trace lines, the first and last line time in it (epoch ns). A bucket can have
-- several rows when lines of host threads came out of order. Replay's QEMU coverage reads it.
CREATE TABLE IF NOT EXISTS qemu_log_buckets (
  source_id INTEGER NOT NULL REFERENCES sources(source_id),
  -- Start of the bucket (a multiple of 20 ms), and the first and last line time in it.
  bucket_ns INTEGER NOT NULL,
  first_ns  INTEGER NOT NULL,
  last_ns   INTEGER NOT NULL
);

-- Every event with its boot and file name: the convenient place to start a query.
CREATE VIEW IF NOT EXISTS events_v AS
  SELECT s.boot, s.path, e.* FROM events e JOIN sources s USING (source_id);

CREATE VIEW IF NOT EXISTS console_v AS
  SELECT s.boot, s.path, c.* FROM console_messages c JOIN sources s USING (source_id);
