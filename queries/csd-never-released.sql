-- @detector csd-never-released
-- @severity error
-- Flags: a csd whose lock was taken (csd_queue_cpu) and never released by the end of what the
--   trace covers: its target never flushed its call-single queue afterwards.
-- Why: the sender, or the next user of the same csd, spins in csd_lock_wait() forever; the hang
--   shows up later and elsewhere. This names the culprit: who queued it, to which CPU, which
--   function, from which callsite.
-- Evidence: the csd_queue_cpu line and the IPI sent for it.
-- Limits: only when the target's ring buffer covers the time after the queue (cpu_coverage; else the
--   outcome is 'unknown'), and, for an online target, when the trace goes on for at least the grace
--   period (--grace, 1 s) after the queue. Remote wake-ups and irq_work csds are released by any
--   later flush of the target's queue, which the kernel does not name per csd. A csd queued to a CPU
--   that then went offline is not here: that CPU's CPU_DYING flush (smpcfd_dying_cpu) runs it after
--   the CPU left cpu_online_mask, where no tracepoint fires, so the trace cannot show it either way
--   (pending-at-offline says what decides it). Each CPU's window is its own: in an oops-time dump
--   whose buffers overran, a CPU's window starts at its first event after its LOST EVENTS line, and a
--   CPU with no event in the dump has none.
SELECT 'csd-never-released' AS detector, 'error' AS severity, l.boot, l.queued_ns AS ts_ns,
       l.src_cpu AS cpu, l.target_cpu, l.csd, l.func,
       'CSD lock never released: ' || coalesce(l.func, '?') || ' queued by CPU' || coalesce(l.src_cpu, '?')
         || ' to CPU' || l.target_cpu AS title,
       'csd ' || coalesce(l.csd, '(hashed)') || ' (' || coalesce(l.func, '?') || ', callsite ' || coalesce(l.callsite, '?')
         || ') was locked by CPU' || coalesce(l.src_cpu, '?') || ' for CPU' || l.target_cpu || ' (' || l.target_state
         || ' then) and never released: ' || coalesce(l.note, '') AS message,
       (SELECT json_group_array(json_object('file', s.path, 'line', e.line))
          FROM events e JOIN sources s USING (source_id)
         WHERE e.event_id IN (l.queue_event_id, l.ipi_event_id)) AS evidence
  FROM csd_lifecycle l
 WHERE l.boot = :boot AND l.outcome = 'never_released'
