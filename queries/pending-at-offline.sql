-- @detector pending-at-offline
-- @severity error
-- Flags: a CPU that finished going offline (takedown_cpu returned) while a csd queued to it before
--   was still not flushed.
-- Why: smpcfd_dying_cpu() flushes the queue in CPU_DYING exactly so that no CPU goes offline with
--   work pending; a csd left behind is a leaked lock, or runs much later when the CPU returns.
-- Evidence: the csd_queue_cpu line and the line that marks the CPU offline.
-- Limits: relies on the offline transition's time (cpuhp takedown_cpu exit, else the console).
SELECT 'pending-at-offline' AS detector, 'error' AS severity, l.boot, st.start_ns AS ts_ns,
       l.src_cpu AS cpu, l.target_cpu, l.csd, l.func,
       'CPU' || l.target_cpu || ' went offline with ' || coalesce(l.func, '?') || ' from CPU' || coalesce(l.src_cpu, '?') || ' still queued' AS title,
       'csd ' || coalesce(l.csd, '(hashed)') || ' (' || coalesce(l.func, '?') || ') queued by CPU' || coalesce(l.src_cpu, '?')
         || ' was still pending when CPU' || l.target_cpu || ' went offline'
         || CASE WHEN l.released_ns IS NULL THEN ' and was never released' ELSE ' (released ' || printf('%.3f', (l.released_ns - st.start_ns) / 1e9) || ' s after)' END AS message,
       (SELECT json_group_array(json_object('file', s.path, 'line', x.line)) FROM
          (SELECT q.source_id, q.line FROM events q WHERE q.event_id = l.queue_event_id
           UNION ALL SELECT st.source_id, st.line WHERE st.source_id IS NOT NULL) x JOIN sources s USING (source_id)) AS evidence
  FROM csd_lifecycle l
  -- The target's first offline interval after the queue (replay wrote its start as next_offline_ns).
  JOIN cpu_states st ON st.rowid = (SELECT o.rowid FROM cpu_states o WHERE o.boot = l.boot AND o.cpu = l.target_cpu
                                      AND o.state = 'offline' AND o.start_ns = l.next_offline_ns ORDER BY o.rowid LIMIT 1)
 WHERE l.boot = :boot AND l.target_state NOT IN ('offline', 'nonexistent')
   AND (l.released_ns IS NULL OR l.released_ns > l.next_offline_ns)
