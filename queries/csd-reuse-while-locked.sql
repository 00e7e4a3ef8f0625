-- @detector csd-reuse-while-locked
-- @severity error
-- Flags: a csd queued again while its previous use was still locked (not run, not flushed).
-- Why: csd_lock() waits for the previous use; a second queue of a still-locked csd corrupts the
--   llist and loses one of the calls (csd reuse races, 2009 and 2011).
-- Evidence: the earlier and the later csd_queue_cpu lines.
-- Limits: remote wake-ups (sched_ttwu_pending, the task's wake_entry) are not csd locks and are
--   skipped; csds hashed out as (ptrval) cannot be compared. csd_lock() waits for the unlock before a
--   queue, so a second queue proves the first use was released, traced or not: only flagged when the
--   first use's target stayed in cpu_online_mask in between (else its CPU_DYING flush ran it, with no
--   trace) and its ring-buffer window covers the time from the first queue to the second.
SELECT 'csd-reuse-while-locked' AS detector, 'error' AS severity, l.boot, l.queued_ns AS ts_ns,
       l.src_cpu AS cpu, l.target_cpu, l.csd, l.func,
       'csd reused while locked: ' || coalesce(l.func, '?') || ' from CPU' || coalesce(l.src_cpu, '?') AS title,
       'CPU' || coalesce(l.src_cpu, '?') || ' queued csd ' || l.csd || ' (' || coalesce(l.func, '?') || ') to CPU' || l.target_cpu
         || ' while its previous use (queued by CPU' || coalesce(p.src_cpu, '?') || ' to CPU' || p.target_cpu
         || ') was not yet released' AS message,
       (SELECT json_group_array(json_object('file', s.path, 'line', e.line)) FROM events e JOIN sources s USING (source_id)
         WHERE e.event_id IN (p.queue_event_id, l.queue_event_id)) AS evidence
  FROM csd_lifecycle l JOIN csd_lifecycle p ON p.csd_use_id = l.reused_use_id
 WHERE l.boot = :boot
