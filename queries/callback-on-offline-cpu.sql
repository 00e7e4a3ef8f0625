-- @detector callback-on-offline-cpu
-- @severity error
-- Flags: a queued csd's function running (csd_function_entry with a csd) on a CPU that is offline
--   at that moment, by cpu_states (replay lists these runs in offline_callbacks).
-- Why: the receiver-side bug: a CPU that is not online must not run cross-call callbacks (the
--   kernel warns "IPI on offline CPU" when it finds queued work while offline).
-- Evidence: the csd_function_entry line.
-- Limits: the dying CPU's own CPU_DYING flush runs callbacks legitimately: the 'dying' state is
--   not flagged. Local calls (csd=0) are not queued and are skipped.
SELECT 'callback-on-offline-cpu' AS detector, 'error' AS severity, o.boot, o.ts_ns,
       o.cpu, o.cpu AS target_cpu, e.csd, e.func,
       'callback ' || coalesce(e.func, '?') || ' ran on offline CPU' || o.cpu AS title,
       'csd ' || coalesce(e.csd, '(hashed)') || ' (' || coalesce(e.func, '?') || ') ran on CPU' || o.cpu
         || ', which was offline since ' || printf('%.6f', o.offline_since_ns / 1e9) AS message,
       json_array(json_object('file', s.path, 'line', e.line)) AS evidence
  FROM offline_callbacks o JOIN events e USING (event_id) JOIN sources s USING (source_id)
 WHERE o.boot = :boot
 ORDER BY o.event_id
