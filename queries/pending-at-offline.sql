-- @detector pending-at-offline
-- @severity error (the evidence shows the csd left queued), info (unknown: possibly flushed at CPU_DYING)
-- Flags: a csd queued to a CPU before it went offline (takedown_cpu returned) that no traced event shows
--   released before that.
-- Why: smpcfd_dying_cpu() flushes the queue in CPU_DYING exactly so that no CPU goes offline with work
--   pending; a csd left behind is a leaked lock, or runs much later when the CPU returns.
-- Evidence: the csd_queue_cpu line, the line that marks the CPU offline, and what decides it:
--   error: a run naming this csd (csd_function_entry/exit) after the CPU went offline (it stayed queued
--   across the offline), or the kernel's CSD-lock report that a CPU waits for this csd's function on
--   that target and never gets it, or a soft lockup of its waiter in that cross-call (csd_episodes linked to
--   the use, classified 'leak' or 'lockup');
--   info: nothing decides it (csd_lifecycle.outcome 'maybe_flushed_at_dying').
-- Limits: tracepoints do not fire on a CPU outside cpu_online_mask (include/linux/tracepoint.h), and the
--   outgoing CPU leaves it in take_cpu_down() before its CPU_DYING flush runs the queued csds: that flush,
--   and its callbacks, leave no event. So a csd queued to a CPU going down and never seen running is NOT
--   by itself a leak; replay also counts it released when the same csd is queued again later (csd_lock()
--   waits for the unlock). Relies on the offline transition's time (cpuhp takedown_cpu exit, else the
--   console).
SELECT 'pending-at-offline' AS detector,
       CASE WHEN l.outcome = 'released' OR ep.episode_id IS NOT NULL THEN 'error' ELSE 'info' END AS severity,
       l.boot, st.start_ns AS ts_ns, l.src_cpu AS cpu, l.target_cpu, l.csd, l.func,
       CASE WHEN l.outcome = 'released' OR ep.episode_id IS NOT NULL
            THEN 'CPU' || l.target_cpu || ' went offline with ' || coalesce(l.func, '?') || ' from CPU' || coalesce(l.src_cpu, '?') || ' still queued'
            ELSE 'unknown: ' || coalesce(l.func, '?') || ' from CPU' || coalesce(l.src_cpu, '?') || ' to CPU' || l.target_cpu
                 || ' possibly flushed at CPU_DYING' END AS title,
       'csd ' || coalesce(l.csd, '(hashed)') || ' (' || coalesce(l.func, '?') || ') queued by CPU' || coalesce(l.src_cpu, '?')
         || CASE WHEN l.outcome = 'released'
                 THEN ' stayed queued when CPU' || l.target_cpu || ' went offline: it ran only '
                      || printf('%.3f', (l.released_ns - st.start_ns) / 1e9) || ' s after'
                 WHEN ep.episode_id IS NOT NULL
                 THEN ' was not run before CPU' || l.target_cpu || ' went offline, and the kernel reports CPU'
                      || coalesce(ep.waiter_cpu, '?') || ' waiting for it ('
                      || CASE WHEN ep.origin = 'soft_lockup' THEN 'soft lockup' ELSE 'CSD lock #' || coalesce(ep.seq, '?') END || ') until the log ends'
                 ELSE ' to CPU' || l.target_cpu || ' is not seen running before CPU' || l.target_cpu || ' went offline: '
                      || coalesce(l.note, 'possibly flushed at CPU_DYING') END AS message,
       (SELECT json_group_array(json(o)) FROM (
          SELECT json_object('file', s.path, 'line', x.line) AS o FROM
            (SELECT q.source_id, q.line FROM events q WHERE q.event_id = l.queue_event_id
             UNION ALL SELECT st.source_id, st.line WHERE st.source_id IS NOT NULL
             UNION ALL SELECT r.source_id, r.line FROM events r WHERE l.outcome = 'released' AND r.event_id = coalesce(l.entry_event_id, l.exit_event_id)
            ) x JOIN sources s USING (source_id)
          UNION ALL SELECT j.value FROM json_each(coalesce(ep.evidence, '[]')) j)) AS evidence
  FROM csd_lifecycle l
  -- The target's first offline interval after the queue (replay wrote its start as next_offline_ns).
  JOIN cpu_states st ON st.rowid = (SELECT o.rowid FROM cpu_states o WHERE o.boot = l.boot AND o.cpu = l.target_cpu
                                      AND o.state = 'offline' AND o.start_ns = l.next_offline_ns ORDER BY o.rowid LIMIT 1)
  LEFT JOIN csd_episodes ep ON ep.episode_id = (SELECT e.episode_id FROM csd_episodes e WHERE e.boot = l.boot
                                                 AND e.csd_use_id = l.csd_use_id AND e.classification IN ('leak', 'lockup') LIMIT 1)
 WHERE l.boot = :boot AND l.target_state NOT IN ('offline', 'nonexistent')
   AND ((l.outcome = 'released' AND l.release_how IN ('entry', 'exit') AND l.released_ns > l.next_offline_ns)
        OR l.outcome = 'maybe_flushed_at_dying')
