-- @detector cross-call-wait
-- @severity error (a CPU the kernel reported stuck, a soft/hard lockup, RCU stall, NMI backtrace
--   or task dump, whose stack waits in a cross-call)
-- Flags: the wait-for chain the console shows, one finding per waiting CPU: the waiter (its stack in
--   csd_lock_wait, smp_call_function_many(_cond), smp_call_function_single, on_each_cpu*, TLB
--   shootdown, text_poke_bp, kvm_make_all_cpus_request ...), what the cross-call is for (the first
--   caller outside the cross-call code), and the CPUs it waits for: those asked for an NMI backtrace
--   by the waiter (or named stalled by the RCU stall report of the same incident) whose backtrace
--   shows interrupts off, or which are stalled, or which never answered; with what each was doing.
-- Why: on a CI console with no ftrace, the kernel's own lockup and stall reports are the only record
--   of a hung cross-call; syzkaller titles them ("soft lockup in smp_call_function") but does not
--   say which CPU held the waiter up.
-- Evidence: the report header, the waiter's RIP/pc and wait frame, and each awaited CPU's NMI
--   backtrace header (or the NMI request it did not answer) and register line.
-- Limits: a stack is where the CPU was when it was printed, not a history; smp_call_function_many
--   waits for every CPU of its mask, so the awaited CPUs are candidates (interrupts off, stalled,
--   silent), named only where the log shows their state; none are named when the log has no NMI
--   backtraces (then "awaited CPUs not shown"). Waiters the CSD-lock debug messages already name
--   are reported by kernel-reported instead.
WITH waits AS (
  SELECT s.*, row_number() OVER (PARTITION BY s.cpu ORDER BY s.snapshot_id) AS nth
    FROM console_snapshots s
   WHERE s.boot = :boot AND s.waiting_in IS NOT NULL AND s.cpu IS NOT NULL
     AND s.report_kind IN ('soft_lockup', 'hard_lockup', 'rcu_stall', 'rcu_detector', 'nmi_backtrace', 'task_dump')
     AND NOT EXISTS (SELECT 1 FROM csd_episodes e WHERE e.boot = s.boot AND e.origin = 'csd_debug' AND e.waiter_cpu = s.cpu)
),
waiter AS (SELECT * FROM waits WHERE nth = 1),
candidates AS (
  SELECT w.snapshot_id AS waiter_id, a.*,
         row_number() OVER (PARTITION BY w.snapshot_id, a.cpu ORDER BY a.snapshot_id) AS nth_of_cpu
    FROM waiter w JOIN console_snapshots a
      ON a.boot = w.boot AND a.incident = w.incident AND a.cpu IS NOT NULL AND a.cpu <> w.cpu
     AND a.report_kind IN ('soft_lockup', 'hard_lockup', 'rcu_stall', 'rcu_detector', 'nmi_backtrace', 'task_dump', 'no_response')
     AND a.idle = 0 AND a.waiting_in IS NULL
     AND (a.report_kind = 'no_response' OR a.stalled = 1 OR a.irqs_off = 1)
     AND (a.asked_by = w.cpu OR a.stalled = 1 OR (a.asked_by IS NULL AND w.asked_cpus IS NULL))
),
awaited AS (
  SELECT waiter_id, cpu, evidence,
         'CPU' || cpu || CASE
           WHEN report_kind = 'no_response' THEN ', which never answered the NMI backtrace request'
           ELSE ', which ' || CASE WHEN in_lock IS NOT NULL THEN 'spins in ' || in_lock
                                   ELSE 'runs ' || coalesce(pc, substr(top_frames, 1, instr(top_frames || ' <', ' <') - 1), '?') END
                || CASE WHEN irqs_off = 1 THEN ' with interrupts off' ELSE '' END
                || CASE WHEN stalled = 1 THEN ' (stalled, says RCU)' ELSE '' END
                || coalesce(' [' || top_frames || ']', '') END AS said
    FROM candidates WHERE nth_of_cpu = 1
),
chain AS (
  SELECT w.*, (SELECT group_concat(cpu, ',') FROM (SELECT cpu FROM awaited a WHERE a.waiter_id = w.snapshot_id ORDER BY cpu)) AS awaited_cpus,
         (SELECT count(*) FROM awaited a WHERE a.waiter_id = w.snapshot_id) AS n_awaited,
         (SELECT group_concat(said, '; ') FROM (SELECT said FROM awaited a WHERE a.waiter_id = w.snapshot_id ORDER BY cpu)) AS awaited_said,
         CASE WHEN w.stalled = 1 THEN 'RCU stall'
              ELSE CASE w.report_kind WHEN 'soft_lockup' THEN 'soft lockup' WHEN 'hard_lockup' THEN 'hard lockup'
              WHEN 'rcu_stall' THEN 'RCU stall' WHEN 'rcu_detector' THEN 'RCU stall'
              WHEN 'nmi_backtrace' THEN 'NMI backtrace' ELSE 'task dump' END END AS report
    FROM waiter w
)
SELECT 'cross-call-wait' AS detector, 'error' AS severity, c.boot, c.ts_ns, c.cpu,
       CASE WHEN c.n_awaited = 1 THEN CAST(c.awaited_cpus AS INTEGER) END AS target_cpu, NULL AS csd, c.waiting_in AS func,
       'CPU' || c.cpu || ' waits in ' || c.waiting_in || coalesce(' (' || c.wait_via || ')', '')
         || CASE WHEN c.n_awaited > 0 THEN ' for CPU' || c.awaited_cpus ELSE '' END || ' (' || c.report || ')' AS title,
       'CPU' || c.cpu || ' waits in ' || c.waiting_in || coalesce(' (' || c.wait_via || ')', '')
         || CASE WHEN c.n_awaited > 0 THEN ' for ' || c.awaited_said
                 ELSE '; the CPUs it waits for are not shown' || coalesce(' (NMIs sent to CPUs ' || c.asked_cpus || ' came back with interrupts on, idle or waiting themselves)', '') END
         || ' (' || c.report || coalesce('; CPU' || c.cpu || ' asked CPUs ' || c.asked_cpus || ' for backtraces', '') || ')'
         || coalesce('; its stack: ' || c.top_frames, '') AS message,
       (SELECT json_group_array(json(value)) FROM (
          SELECT value FROM json_each(c.evidence)
          UNION ALL SELECT j.value FROM awaited a, json_each(a.evidence) j WHERE a.waiter_id = c.snapshot_id)) AS evidence
  FROM chain c
 ORDER BY c.snapshot_id
