-- @detector csd-released-late
-- @severity warning
-- Flags: a csd queued to a CPU that was offline, which ran only after that CPU came back online
--   (its idle loop or first IPI flushed the stale queue entry).
-- Why: not a leak, but the sender's lock was held for the whole time the CPU was down, and the
--   callback ran on a CPU that was offline when it was asked (IPIs arriving on CPUs that went
--   offline with callbacks still queued, 2014). The queue itself is reported by ipi-to-offline.
-- Evidence: the csd_queue_cpu line and the csd_function_entry (or flush) that finally ran it.
-- Limits: needs the target's re-online and the run inside the trace, the queue inside the target's
--   ring-buffer window (outcome 'released').
SELECT 'csd-released-late' AS detector, 'warning' AS severity, l.boot, l.released_ns AS ts_ns,
       l.src_cpu AS cpu, l.target_cpu, l.csd, l.func,
       'CSD released late: ' || coalesce(l.func, '?') || ' from CPU' || coalesce(l.src_cpu, '?')
         || ' ran only after CPU' || l.target_cpu || ' came back online' AS title,
       'csd ' || coalesce(l.csd, '(hashed)') || ' (' || coalesce(l.func, '?') || ') was queued by CPU' || coalesce(l.src_cpu, '?')
         || ' to CPU' || l.target_cpu || ' while it was offline and released ' || printf('%.3f', (l.released_ns - l.queued_ns) / 1e9)
         || ' s later, once CPU' || l.target_cpu || ' was ' || coalesce(l.release_state, '?') AS message,
       (SELECT json_group_array(json_object('file', s.path, 'line', e.line))
          FROM events e JOIN sources s USING (source_id)
         WHERE e.event_id IN (l.queue_event_id, coalesce(l.entry_event_id, l.flush_event_id))) AS evidence
  FROM csd_lifecycle l
 WHERE l.boot = :boot AND l.target_state = 'offline' AND l.outcome = 'released' AND l.released_ns IS NOT NULL
   -- A run on the offline CPU itself (the kernel's "IPI on offline CPU" WARN) is callback-on-offline-cpu's.
   AND l.release_how != 'untraced'
