-- @detector callback-on-offline-cpu
-- @severity error
-- Flags: a queued csd's function running on a CPU that is offline at that moment: the kernel's own
--   "IPI on offline CPU N" WARN with its "IPI callback F sent to offline CPU" lines (one finding per
--   WARN, whatever its WARNING line and stack in between), or a csd_function_entry with a csd on a CPU
--   cpu_states has offline then (replay lists these runs in offline_callbacks).
-- Why: the receiver-side bug: a CPU that is not online must not run cross-call callbacks; work was
--   queued to it after it left cpu_online_mask (its CPU_DYING flush had already run), 2014. The csd
--   itself is released (the handler runs the whole queue after the warning), not leaked: replay marks
--   the uses pending on that CPU before the WARN released ('untraced').
-- Evidence: the WARN's lines (message, WARNING line, callback lines) and the csd_queue_cpu line of the
--   csd it ran (the latest traced queue of that function to that CPU before the WARN not released
--   before it; its sender is the finding's cpu, else the warning CPU); or the csd_function_entry line.
-- Limits: the kernel warns once per boot (a static 'warned'). Tracepoints do not fire on a CPU outside
--   cpu_online_mask (include/linux/tracepoint.h): a traced run on a CPU the replay has offline means the
--   CPU was back in the mask without a traced bring-up (lost events), so that branch rests on the replayed
--   states. The dying CPU's own CPU_DYING flush runs callbacks legitimately and untraced: never flagged.
--   Local calls (csd=0) are not queued and are skipped.
SELECT 'callback-on-offline-cpu' AS detector, 'error' AS severity, r.boot, r.ts_ns,
       coalesce(l.src_cpu, r.target_cpu) AS cpu, r.target_cpu, l.csd, r.func,
       'callback ' || coalesce(r.func, '?') || ' ran on offline CPU' || coalesce(r.target_cpu, '?') AS title,
       'the kernel warned "IPI on offline CPU ' || coalesce(r.target_cpu, '?') || '": '
         || coalesce('callback ' || r.func, 'callbacks') || ' had been queued to it after it left cpu_online_mask and ran there'
         || coalesce(' (csd ' || l.csd || ' queued by CPU' || coalesce(l.src_cpu, '?') || ', callsite ' || coalesce(l.callsite, '?') || ')', '') AS message,
       CASE WHEN l.queue_event_id IS NULL THEN r.evidence ELSE
         (SELECT json_group_array(json(x.o)) FROM (
            SELECT j.value AS o FROM json_each(r.evidence) j
            UNION ALL SELECT json_object('file', s.path, 'line', q.line) FROM events q JOIN sources s USING (source_id)
             WHERE q.event_id = l.queue_event_id) x) END AS evidence
  FROM console_reports r
  -- The csd it ran: no event fires on the offline CPU, so the latest traced queue of that function to
  -- that CPU before the WARN that nothing released before it (cpu = its sender when found).
  LEFT JOIN csd_lifecycle l ON l.csd_use_id = (
    SELECT u.csd_use_id FROM csd_lifecycle u
     WHERE u.boot = r.boot AND u.target_cpu = r.target_cpu AND u.func = r.func AND r.ts_ns IS NOT NULL
       AND u.queued_ns <= r.ts_ns AND (u.released_ns IS NULL OR u.released_ns >= r.ts_ns)
     ORDER BY u.queued_ns DESC LIMIT 1)
 WHERE r.boot = :boot AND r.kind = 'ipi_offline_warning'
UNION ALL
SELECT 'callback-on-offline-cpu', 'error', o.boot, o.ts_ns,
       o.cpu, o.cpu, e.csd, e.func,
       'callback ' || coalesce(e.func, '?') || ' ran on offline CPU' || o.cpu,
       'csd ' || coalesce(e.csd, '(hashed)') || ' (' || coalesce(e.func, '?') || ') ran on CPU' || o.cpu
         || ', which was offline since ' || printf('%.6f', o.offline_since_ns / 1e9),
       json_array(json_object('file', s.path, 'line', e.line))
  FROM offline_callbacks o JOIN events e USING (event_id) JOIN sources s USING (source_id)
 WHERE o.boot = :boot
