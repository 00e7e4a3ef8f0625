-- @detector ipi-to-nonexistent
-- @severity error
-- Flags: a csd queued or an IPI sent to a CPU number outside the boot's CPU universe (cpu_universe:
--   not present, e.g. CPU 6 of 8 possible / 4 present), seen by the guest (ftrace, console) or by
--   QEMU (an x86 ICR destination or a GIC SGI target list naming no vCPU). One finding per target
--   CPU, citing both levels.
-- Why: nothing can ever serve it; the csd lock is leaked (IPIs to nonexistent CPUs on 32-bit
--   qemu-arm boots, 2015). On x86 the kernel's BAD_APICID truncates to the broadcast id, so a
--   physical destination that no vCPU has is the hand-written or corrupted case.
-- Evidence: the guest's csd_queue_cpu / IPI lines, then up to 10 QEMU lines.
-- Limits: needs the universe (console CPU counts, --cpus). QEMU ids are taken as CPU numbers (x86
--   APIC id = CPU index, GIC Aff0 = CPU index on QEMU virt with <= 8 CPUs per cluster). QEMU's
--   destinations are decoded as its apic.c delivers them: an x2APIC cluster destination names
--   cluster * 16 + each bitmap bit (QEMU would deliver a bit no vCPU has to nobody: that bit is the
--   nonexistent target); an xAPIC logical flat bit that no APIC's LDR in the log holds names no one
--   and is dropped, and without LDR writes in the log each bit is taken as that CPU (Linux apic_flat).
--   Shorthands and broadcasts name no target and are never reported here.
WITH present AS (SELECT cpu FROM cpu_universe WHERE boot = :boot AND present = 1),
known AS (SELECT count(*) AS n FROM cpu_universe WHERE boot = :boot AND present IS NOT NULL),
guest AS (
  SELECT l.target_cpu, l.src_cpu, l.csd, l.func, l.queued_ns AS ts, e.source_id, e.line, 0 AS level
    FROM csd_lifecycle l JOIN events e ON e.event_id IN (l.queue_event_id, l.ipi_event_id)
   WHERE l.boot = :boot AND l.target_state = 'nonexistent'
  UNION ALL
  SELECT p.target_cpu, p.src_cpu, NULL, NULL, p.ts_ns, p.source_id, p.line, 0
    FROM ipi_sends p WHERE p.boot = :boot AND p.target_state = 'nonexistent' AND p.csd_use_id IS NULL
),
qemu AS (
  SELECT t.cpu AS target_cpu, e.cpu AS src_cpu, NULL AS csd, NULL AS func, NULL AS ts, e.source_id, e.line, 1 AS level,
         row_number() OVER (PARTITION BY t.cpu ORDER BY e.event_id) AS n
    -- Only when the boot has a QEMU log and a known universe (else every target would be visited),
    -- then from the targets outside the present set (few) to their events: through events_op the
    -- search fetched every ipi_send row of the database (0.4 s at mixed-5M, 509 k rows).
    FROM (SELECT 1 WHERE (SELECT n FROM known) > 0
            AND EXISTS (SELECT 1 FROM sources q WHERE q.boot = :boot AND json_extract(q.format_counts, '$.qemu') > 0)) gate
         CROSS JOIN event_targets t CROSS JOIN events e ON e.event_id = t.event_id JOIN sources s ON s.source_id = e.source_id
   WHERE s.boot = :boot AND e.format = 'qemu' AND +e.op = 'ipi_send' AND t.cpu NOT IN (SELECT cpu FROM present)
),
hits AS MATERIALIZED (
  SELECT target_cpu, src_cpu, csd, func, ts, source_id, line, level FROM guest
  UNION ALL SELECT target_cpu, src_cpu, csd, func, ts, source_id, line, level FROM qemu WHERE n <= 10
),
-- Each target's evidence in one grouped pass (a subquery per target over all hits was quadratic:
-- 40 s for 300 broadcasts to 1024 CPUs of a 4-CPU boot).
evidence AS MATERIALIZED (
  SELECT x.target_cpu, json_group_array(json_object('file', s.path, 'line', x.line) ORDER BY x.level, x.source_id, x.line) AS evidence
    FROM (SELECT DISTINCT target_cpu, source_id, line, level FROM hits) x JOIN sources s USING (source_id)
   GROUP BY x.target_cpu
),
grouped AS (
  SELECT target_cpu, min(ts) AS ts, coalesce(min(CASE WHEN level = 0 THEN src_cpu END), min(src_cpu)) AS cpu,
         max(csd) AS csd, max(func) AS func, max(level) AS level
    FROM hits GROUP BY target_cpu
)
SELECT 'ipi-to-nonexistent' AS detector, 'error' AS severity, :boot AS boot, g.ts AS ts_ns, g.cpu, g.target_cpu,
       g.csd, g.func,
       'IPI to nonexistent CPU' || g.target_cpu || ' from CPU' || coalesce(g.cpu, '?') AS title,
       'CPU' || coalesce(g.cpu, '?') || ' sent '
         || CASE WHEN g.csd IS NOT NULL OR g.func IS NOT NULL THEN 'csd ' || coalesce(g.csd, '(hashed)') || ' (' || coalesce(g.func, '?') || ') and an IPI' ELSE 'an IPI' END
         || ' to CPU' || g.target_cpu || ', which does not exist ('
         || (SELECT count(*) FROM present) || ' present CPUs)'
         || CASE WHEN g.level = 1 THEN '; QEMU shows the interrupt sent to a destination no vCPU has' ELSE '' END AS message,
       ev.evidence
  FROM grouped g JOIN evidence ev ON ev.target_cpu = g.target_cpu
 ORDER BY g.target_cpu
