-- @detector ipi-to-offline
-- @severity error (target offline), warning (target dying)
-- Flags: an IPI or a queued csd aimed at a CPU that is offline at that moment (error), or dying, i.e.
--   inside takedown_cpu, where only the CPU_DYING flush (smpcfd_dying_cpu) can still serve it (warning).
-- Why: the callback can never run, its CSD lock is never released and the sender (or the next
--   sender of the same csd) hangs in csd_lock_wait. 6.x refuses such calls with -ENXIO and no trace,
--   so a queue or IPI to an offline CPU in a trace is a real bug (a missing cpu_online() check, or a
--   CPU going offline between the check and the IPI: smp_send_stop vs hotplug, 2024).
-- Evidence: the csd_queue_cpu line and the IPI sent for it; or the IPI line alone (reschedule IPIs,
--   ipi_raise without a csd).
-- Limits: the CPU's state comes from cpuhp events (or console messages where the trace does not
--   reach): with neither, a CPU is assumed online. QEMU-level sends are not used here (their clock is
--   the host's).
SELECT 'ipi-to-offline' AS detector,
       CASE l.target_state WHEN 'offline' THEN 'error' ELSE 'warning' END AS severity,
       l.boot, l.queued_ns AS ts_ns, l.src_cpu AS cpu, l.target_cpu, l.csd, l.func,
       'cross-call to ' || l.target_state || ' CPU' || l.target_cpu || ' from CPU' || coalesce(l.src_cpu, '?')
         || ' (' || coalesce(l.func, '?') || ')' AS title,
       'CPU' || coalesce(l.src_cpu, '?') || ' queued csd ' || coalesce(l.csd, '(hashed)') || ' (' || coalesce(l.func, '?')
         || ', callsite ' || coalesce(l.callsite, '?') || ') to CPU' || l.target_cpu || ', which was ' || l.target_state
         || CASE WHEN l.ipi_event_id IS NULL THEN ' (no IPI recorded for it)' ELSE ', and sent it an IPI' END AS message,
       (SELECT json_group_array(json_object('file', s.path, 'line', e.line))
          FROM events e JOIN sources s USING (source_id)
         WHERE e.event_id IN (l.queue_event_id, l.ipi_event_id)) AS evidence
  FROM csd_lifecycle l
 WHERE l.boot = :boot AND l.target_state IN ('offline', 'dying')
UNION ALL
SELECT 'ipi-to-offline', CASE p.target_state WHEN 'offline' THEN 'error' ELSE 'warning' END,
       p.boot, p.ts_ns, p.src_cpu, p.target_cpu, NULL, NULL,
       coalesce(p.reason, p.kind) || ' IPI to ' || p.target_state || ' CPU' || p.target_cpu || ' from CPU' || coalesce(p.src_cpu, '?'),
       'CPU' || coalesce(p.src_cpu, '?') || ' sent a ' || coalesce(p.reason, p.kind) || ' IPI (' || p.kind || ') to CPU'
         || p.target_cpu || ', which was ' || p.target_state,
       json_array(json_object('file', s.path, 'line', p.line))
  FROM ipi_sends p JOIN sources s USING (source_id)
 WHERE p.boot = :boot AND p.target_state IN ('offline', 'dying') AND p.csd_use_id IS NULL
   AND p.repeats_event_id IS NULL
