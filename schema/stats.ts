// Every counter ipitrace keeps, declared once (Perfetto's stats table habit). Written per source to
// the `stats` table; `ingest` prints every non-zero counter of severity data_loss or error.

export type StatSeverity = 'info' | 'data_loss' | 'error';

/** Guest times from here on (52 days of uptime) count as long_uptime_times; detect/epoch.ts replays such boots relative to their epoch. */
export const LONG_UPTIME_FROM_NS = 2 ** 52;

interface StatDecl {
  /** Indexed counters have a key (event name, CPU); single ones use ''. */
  indexed: boolean;
  severity: StatSeverity;
  description: string;
}

export const STATS = {
  unknown_event: {
    indexed: true, severity: 'info',
    description: 'ftrace events ipitrace does not type, by name; stored with their raw arguments',
  },
  unparsed_lines: {
    indexed: true, severity: 'error',
    description: 'lines that looked like a format (key) but did not parse; see the unparsed table',
  },
  lost_events: {
    indexed: true, severity: 'data_loss',
    description: 'events the kernel reported lost (CPU:N [LOST M EVENTS], EVENTS DROPPED), by CPU',
  },
  lost_events_unknown_count: {
    indexed: true, severity: 'data_loss',
    description: 'CPU:N [LOST EVENTS] markers with no count, by CPU',
  },
  nul_bytes: {
    indexed: false, severity: 'info',
    description: 'NUL bytes removed from lines (serial consoles emit them)',
  },
  invalid_utf8_lines: {
    indexed: false, severity: 'info',
    description: 'lines with bytes that are not UTF-8 (replaced with U+FFFD)',
  },
  long_lines: {
    indexed: false, severity: 'error',
    description: 'lines longer than the per-line limit, stored only as unparsed rows',
  },
  glued_console_fragments: {
    indexed: false, severity: 'info',
    description: 'console lines split by an interleaved QEMU trace line and glued back together',
  },
  console_after_text: {
    indexed: false, severity: 'info',
    description: 'kernel console lines that did not start their line (CI logs glue them after test output): the printk stamp was found inside the line, the text before it kept as console text',
  },
  ftrace_entries_in_buffer: {
    indexed: false, severity: 'info',
    description: 'ftrace header entries-in-buffer (events the ring buffer still held when read)',
  },
  ftrace_entries_written: {
    indexed: false, severity: 'info',
    description: 'ftrace header entries-written (events ever written); larger than in-buffer when old events were overwritten',
  },
  repaired_event_names: {
    indexed: true, severity: 'data_loss',
    description: 'event names with repeated characters (serial corruption), by name as printed; stored under the name they repeat',
  },
  timestamp_spikes: {
    indexed: true, severity: 'data_loss',
    description: 'printk stamp or event time far ahead of both neighbouring lines (a corrupted digit), by line; given back the time its doubled digit was made from where that fits between them, else the previous line\'s',
  },
  long_uptime_times: {
    indexed: false, severity: 'info',
    description: 'guest times (ftrace, printk) of 2^52 ns (52 days of uptime) or more; detect replays such a boot on times relative to its first whole second (detect/epoch.ts)',
  },
  out_of_range: {
    indexed: true, severity: 'data_loss',
    description: 'records with a number they cannot have (a CPU beyond the kernel\'s 8192, a time beyond 64 bits, a host thread id beyond PID_MAX_LIMIT), by format; stored as unparsed rows',
  },
  input_truncated: {
    indexed: true, severity: 'data_loss',
    description: 'a compressed input cut short or damaged part-way, by what the decoder said; the lines decoded before the damage are kept',
  },
  input_trailing_garbage: {
    indexed: true, severity: 'data_loss',
    description: 'bytes after the end of a compressed stream that are no further stream, ignored',
  },
  input_cut: {
    indexed: true, severity: 'data_loss',
    description: 'reading stopped early, by why (the size limit, --max-input-size; no line end for 16 Mi characters); the lines before are kept',
  },
  dump_truncated: {
    indexed: false, severity: 'data_loss',
    description: 'an oops-time ftrace dump that never reached its closing dashes (log cut)',
  },
} as const satisfies Record<string, StatDecl>;

export type StatName = keyof typeof STATS;
