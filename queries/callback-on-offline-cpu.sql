-- @detector callback-on-offline-cpu
-- @severity error
-- Flags: a queued csd's function running (csd_function_entry with a csd) on a CPU that is offline
--   at that moment, by cpu_states.
-- Why: the receiver-side bug: a CPU that is not online must not run cross-call callbacks (the
--   kernel warns "IPI on offline CPU" when it finds queued work while offline).
-- Evidence: the csd_function_entry line.
-- Limits: the dying CPU's own CPU_DYING flush runs callbacks legitimately: the 'dying' state is
--   not flagged. Local calls (csd=0) are not queued and are skipped.
SELECT 'callback-on-offline-cpu' AS detector, 'error' AS severity, s.boot, e.ts_ns,
       e.cpu, e.cpu AS target_cpu, e.csd, e.func,
       'callback ' || coalesce(e.func, '?') || ' ran on offline CPU' || e.cpu AS title,
       'csd ' || coalesce(e.csd, '(hashed)') || ' (' || coalesce(e.func, '?') || ') ran on CPU' || e.cpu
         || ', which was offline since ' || printf('%.6f', st.start_ns / 1e9) AS message,
       json_array(json_object('file', s.path, 'line', e.line)) AS evidence
  FROM events e JOIN sources s USING (source_id)
  JOIN clock_offsets c ON c.boot = s.boot AND c.clock = 'printk' AND e.clock = c.ref_clock
  -- A CPU's intervals follow each other: the one in force is the last to start before the event
  -- (one index probe per event, not a scan of every earlier interval).
  JOIN cpu_states st ON st.rowid = (SELECT x.rowid FROM cpu_states x
         WHERE x.boot = s.boot AND x.cpu = e.cpu AND x.start_ns < e.ts_ns ORDER BY x.start_ns DESC, x.rowid DESC LIMIT 1)
   AND st.state = 'offline' AND (st.end_ns IS NULL OR e.ts_ns < st.end_ns)
 WHERE s.boot = :boot AND e.op = 'csd_entry' AND (e.csd IS NULL OR e.csd != '0x0')
