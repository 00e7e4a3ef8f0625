-- @detector kernel-reported
-- @severity error (CSD lock leaked), warning (late release, re-send to an
--   offline CPU, warning in the cross-call code, failed CPU bring-up incl. a crash in the CPU's own
--   start_secondary, reschedule IPI to an offline CPU, CPUs smp_send_stop could not stop: the
--   panicking CPU as context), info (panic, BUG, oops: context)
-- Flags: what the kernel itself printed: each CSD_LOCK_WAIT_DEBUG episode (one per lock number,
--   classified as a leak when it never got unstuck before the log ends, or a late release; a leak
--   whose target went offline before it is named the cross-call to an offline CPU it is, with the
--   line that shows it; the target's NMI backtrace says what it was doing), offline-reschedule
--   warnings (one finding, sender -> target, from the message and its WARNING; the "IPI on offline
--   CPU" WARN is callback-on-offline-cpu's),
--   CSD-debug re-sends and NMI requests to CPUs that are offline, WARNINGs in kernel/smp.c and
--   irq_work.c.
-- Why: often the only evidence a hung CI boot leaves; linked to the replayed csd (csd column) when
--   the trace has it.
-- Evidence: the console lines of the episode.
-- Limits: the target's hotplug state is read from the console lines before the first report (in
--   line order, so logs without timestamps work too); its activity from its own NMI backtrace after
--   the report, when the kernel printed one. The wait at release is the largest printed wait plus
--   the printk time from that report to "got unstuck" (a lower bound without timestamps).
--   Soft lockups and stalls in cross-calls without CSD-lock messages are cross-call-wait's.
SELECT 'kernel-reported' AS detector, CASE e.classification WHEN 'late' THEN 'warning' ELSE 'error' END AS severity,
       e.boot, e.first_ns AS ts_ns, e.waiter_cpu AS cpu, e.target_cpu, l.csd, e.func,
       CASE WHEN e.origin = 'soft_lockup' THEN 'soft lockup in cross-call ' || coalesce(e.func, '?') || ' on CPU' || coalesce(e.waiter_cpu, '?')
            WHEN e.classification = 'leak' AND e.target_offline_at IS NOT NULL
            THEN 'CSD lock never released: CPU' || coalesce(e.waiter_cpu, '?') || ' waits for CPU' || e.target_cpu || ' (' || coalesce(e.func, '?') || '), a cross-call to offline CPU' || e.target_cpu
            WHEN e.classification = 'late' THEN 'CSD lock released late: CPU' || coalesce(e.waiter_cpu, '?') || ' waited for CPU' || coalesce(e.target_cpu, '?') || ' (' || coalesce(e.func, '?') || ')'
            ELSE 'CSD lock never released: CPU' || coalesce(e.waiter_cpu, '?') || ' waits for CPU' || coalesce(e.target_cpu, '?') || ' (' || coalesce(e.func, '?') || ')' END AS title,
       CASE WHEN e.origin = 'soft_lockup'
            THEN 'CPU' || coalesce(e.waiter_cpu, '?') || ' is stuck in a cross-call (' || coalesce(e.func, '?') || ')'
                 || coalesce(' waiting for CPUs ' || e.target_cpus, ', target CPUs not named') || '; not released before the log ends'
            ELSE 'CSD lock #' || coalesce(e.seq, '?') || ': CPU' || coalesce(e.waiter_cpu, '?') || ' waited for CPU' || coalesce(e.target_cpu, '?')
                 || ' to run ' || coalesce(e.func, '?') || coalesce(' (target ' || e.target_status || ')', '')
                 || coalesce('; CPU' || e.target_cpu || ' had gone offline before the request (' || e.target_offline_at || ') and never came back: the cross-call went to an offline CPU', '')
                 || coalesce('; its NMI backtrace: ' || e.target_doing, '')
                 || coalesce('; the IPI history says ' || e.ipi_history, '')
                 || CASE WHEN e.classification = 'late' THEN coalesce('; released after ' || printf('%.1f', e.released_after_ns / 1e9) || ' s', '; released (wait not printed)')
                         ELSE '; still waiting after ' || printf('%.1f', e.max_wait_ns / 1e9) || ' s when the log ends' END
                 || CASE WHEN e.resends > 0 THEN '; ' || e.resends || ' IPI re-sends' ELSE '' END
                 || coalesce('; csd ' || l.csd || ' queued by CPU' || l.src_cpu, '') END AS message,
       e.evidence
  FROM csd_episodes e LEFT JOIN csd_lifecycle l ON l.csd_use_id = e.csd_use_id
 WHERE e.boot = :boot
UNION ALL
SELECT 'kernel-reported', r.severity, r.boot, r.ts_ns, r.cpu, r.target_cpu, NULL, r.func,
       CASE r.kind WHEN 'resend_to_offline' THEN 'CSD debug IPIs to offline CPU' || coalesce(r.target_cpu, '?') || ' from CPU' || coalesce(r.cpu, '?')
                   WHEN 'cross_call_warning' THEN 'warning in cross-call ' || coalesce(r.func, '?')
                   WHEN 'cpu_up_failed' THEN 'CPU' || r.target_cpu || ' failed to come online'
                   WHEN 'stop_failed' THEN 'smp_send_stop failed to stop ' || coalesce('CPU' || r.target_cpu, 'secondary CPUs')
                   WHEN 'resched_offline' THEN 'reschedule IPI to offline CPU' || coalesce(r.target_cpu, '?') || coalesce(' from CPU' || r.cpu, '')
                   WHEN 'cpu_up_failed' THEN 'CPU' || r.target_cpu || ' failed to come online'
                   WHEN 'panic' THEN 'kernel panic'
                   WHEN 'bug' THEN 'kernel BUG'
                   WHEN 'oops' THEN 'kernel oops'
                   ELSE replace(r.kind, '_', ' ') || ' CPU' || coalesce(r.target_cpu, '?') END,
       r.message, r.evidence
  FROM console_reports r
 -- "IPI on offline CPU" is callback-on-offline-cpu's (one finding per WARN).
 WHERE r.boot = :boot AND r.kind != 'ipi_offline_warning'
