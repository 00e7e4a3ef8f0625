-- @detector spurious-delivery
-- @severity info
-- Flags: an IPI QEMU sent (x86 ICR write, GIC SGI) of a type the guest traces, to an explicit target,
--   that no guest send accounts for (qemu_sends.linked = 0), while sender and target were online and
--   the sender's trace shows other sends within 20 ms before and after it (so the trace was on).
--   One finding per sender, target and IPI type.
-- Why: the guest's trace and the machine disagree: a send path without tracepoints (CSD-lock debug
--   re-sends, NMI-like paths), events lost from the ring buffer, or an emulated interrupt the guest
--   never asked for, which its handler then runs on an empty queue.
-- Evidence: up to 10 QEMU write lines.
-- Limits: info only. Healthy recordings are full of QEMU sends the guest trace does not show, all
--   excluded here: sends before tracing starts and after it stops, by CPUs coming up or going down
--   (their events are not in the buffer), shorthand broadcasts (x86 all-but-self also reaches offline
--   vCPUs), CSD-lock debug re-sends to stuck CPUs. None is left on the corpus, but an untraced send is
--   not by itself a kernel bug. Needs QEMU timestamps and the QEMU sender (x86: learned per thread;
--   GICv3 names the CPU interface): QEMU 11 logs without thread ids give x86 and GICv2 writes no
--   sender, and then nothing is reported. Nor where the clock mapping fails (fewer than 90 % of the
--   guest sends inside QEMU's log linked, as in ipi-not-delivered): unlinked writes are then no sign.
WITH st AS (
  SELECT cpu, state, coalesce(start_ns, -9e18) AS s, coalesce(end_ns, 9e18) AS e FROM cpu_states WHERE boot = :boot
),
hits AS (
  SELECT q.*, row_number() OVER (PARTITION BY q.src_cpu, q.target_cpu, q.vector ORDER BY q.ts_ns, q.line) AS n
    FROM qemu_sends q
   WHERE q.boot = :boot AND q.linked = 0 AND q.shorthand IS NULL AND q.reason IS NOT NULL AND q.ts_ns IS NOT NULL
     AND q.src_cpu IS NOT NULL AND q.has_vcpu = 1
     AND (SELECT avg(x.qemu_event_id IS NOT NULL) FROM qemu_links x
           WHERE x.boot = :boot AND x.in_qemu_log = 1 AND x.vector IS NOT NULL) >= 0.9
     AND (SELECT state FROM st WHERE st.cpu = q.src_cpu AND q.ts_ns >= st.s AND q.ts_ns < st.e) = 'online'
     AND (SELECT state FROM st WHERE st.cpu = q.target_cpu AND q.ts_ns >= st.s AND q.ts_ns < st.e) = 'online'
     AND EXISTS (SELECT 1 FROM ipi_sends p WHERE p.boot = :boot AND p.src_cpu = q.src_cpu AND p.ts_ns BETWEEN q.ts_ns - 20000000 AND q.ts_ns)
     AND EXISTS (SELECT 1 FROM ipi_sends p WHERE p.boot = :boot AND p.src_cpu = q.src_cpu AND p.ts_ns BETWEEN q.ts_ns AND q.ts_ns + 20000000)
)
SELECT 'spurious-delivery' AS detector, 'info' AS severity, :boot AS boot, min(h.ts_ns) AS ts_ns, h.src_cpu AS cpu, h.target_cpu,
       NULL AS csd, NULL AS func,
       h.reason || ' IPI from CPU' || h.src_cpu || ' to CPU' || h.target_cpu || ' in QEMU that the guest never traced' AS title,
       'QEMU shows CPU' || h.src_cpu || ' sending CPU' || h.target_cpu || ' ' || count(*) || ' ' || h.reason
         || ' IPI(s) (vector / SGI ' || h.vector || '; first at ' || printf('%.6f', min(h.ts_ns) / 1e9)
         || ' s on the guest clock) that no guest ipi_send / ipi_raise accounts for, between traced sends of CPU' || h.src_cpu AS message,
       (SELECT json_group_array(json_object('file', s.path, 'line', x.line)) FROM
          (SELECT source_id, line FROM hits x WHERE x.src_cpu = h.src_cpu AND x.target_cpu = h.target_cpu AND x.vector = h.vector
              AND x.n <= 10 ORDER BY source_id, line) x JOIN sources s USING (source_id)) AS evidence
  FROM hits h
 GROUP BY h.src_cpu, h.target_cpu, h.vector
