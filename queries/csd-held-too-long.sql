-- @detector csd-held-too-long
-- @severity warning
-- Flags: a csd released, but more than --csd-timeout seconds (default 5, the kernel's
--   CSD_LOCK_WAIT_DEBUG default csd_lock_timeout) after it was queued.
-- Why: that is when CSD_LOCK_WAIT_DEBUG would report a non-responsive CSD lock; the target had
--   interrupts off for long, or a callback ran that long.
-- Evidence: the csd_queue_cpu line and the line that released it (exit, entry or the flush).
-- Limits: release times of batched remote wake-ups and irq_work csds are the flush that took them.
--   Only uses whose target's trace covers the queue and the release (outcome 'released'): a csd queued
--   before its target's ring-buffer window starts (overwritten start, LOST EVENTS in an oops-time dump)
--   may have been released before the first flush the window shows. A release no event shows (replay's
--   'untraced', proven by the csd's reuse) has no time to measure.
SELECT 'csd-held-too-long' AS detector, 'warning' AS severity, l.boot, l.queued_ns AS ts_ns,
       l.src_cpu AS cpu, l.target_cpu, l.csd, l.func,
       'CSD lock held too long: ' || coalesce(l.func, '?') || ' queued by CPU' || coalesce(l.src_cpu, '?')
         || ' to CPU' || l.target_cpu AS title,
       'csd ' || coalesce(l.csd, '(hashed)') || ' (' || coalesce(l.func, '?') || ') from CPU' || coalesce(l.src_cpu, '?')
         || ' to CPU' || l.target_cpu || ' was released ' || printf('%.3f', (l.released_ns - l.queued_ns) / 1e9)
         || ' s after it was queued (threshold ' || printf('%.3f', :csd_timeout_ns / 1e9) || ' s)' AS message,
       (SELECT json_group_array(json_object('file', s.path, 'line', e.line))
          FROM events e JOIN sources s USING (source_id)
         WHERE e.event_id IN (l.queue_event_id, coalesce(l.exit_event_id, l.entry_event_id, l.flush_event_id))) AS evidence
  FROM csd_lifecycle l
 WHERE l.boot = :boot AND l.outcome = 'released' AND l.release_how != 'untraced'
   AND l.released_ns IS NOT NULL AND l.released_ns - l.queued_ns > :csd_timeout_ns
