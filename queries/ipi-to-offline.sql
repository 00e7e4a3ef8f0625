-- @detector ipi-to-offline
-- @severity error
-- Flags: an IPI or a queued csd aimed at a CPU that is offline at that moment: after takedown_cpu
--   returned (or the console said it is offline), before its next bring-up started.
-- Why: the callback can never run, its CSD lock is never released and the sender (or the next
--   sender of the same csd) hangs in csd_lock_wait. 6.x refuses such calls with -ENXIO and no trace,
--   so a queue or IPI to an offline CPU in a trace is a real bug (a missing cpu_online() check, or a
--   CPU going offline between the check and the IPI: smp_send_stop vs hotplug, 2024).
-- Evidence: the csd_queue_cpu line and the IPI sent for it; or the IPI line alone (reschedule IPIs,
--   ipi_raise without a csd).
-- Limits: the CPU's state comes from cpuhp events (or console messages where the trace does not
--   reach): with neither, a CPU is assumed online. QEMU-level sends are not used here (their clock is
--   the host's). Targets 'dying' (inside takedown_cpu, after the outgoing CPU's last event) are not
--   flagged: the CPU leaves cpu_online_mask somewhere in that window, untraced (take_cpu_down), and a
--   sender that checked cpu_online() under preempt_disable cannot race stop_machine, so a queue there
--   came before the CPU left the mask and its CPU_DYING flush runs it (pending-at-offline says what
--   became of it). Targets 'coming_up' are not flagged either: the AP sets itself online early in its
--   bring-up, untraced. An arm ipi_raise repeating a generic ipi_send_cpu is one IPI (repeats_event_id).
SELECT 'ipi-to-offline' AS detector, 'error' AS severity,
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
 WHERE l.boot = :boot AND l.target_state = 'offline'
UNION ALL
SELECT 'ipi-to-offline', 'error',
       p.boot, p.ts_ns, p.src_cpu, p.target_cpu, NULL, NULL,
       coalesce(p.reason, p.kind) || ' IPI to ' || p.target_state || ' CPU' || p.target_cpu || ' from CPU' || coalesce(p.src_cpu, '?'),
       'CPU' || coalesce(p.src_cpu, '?') || ' sent a ' || coalesce(p.reason, p.kind) || ' IPI (' || p.kind || ') to CPU'
         || p.target_cpu || ', which was ' || p.target_state,
       json_array(json_object('file', s.path, 'line', p.line))
  FROM ipi_sends p JOIN sources s USING (source_id)
 WHERE p.boot = :boot AND p.target_state = 'offline' AND p.csd_use_id IS NULL
   AND p.repeats_event_id IS NULL
