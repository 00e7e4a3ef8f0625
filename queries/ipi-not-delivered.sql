-- @detector ipi-not-delivered
-- @severity warning
-- Flags: an IPI the guest traced as sent (ipi_send_cpu / ipi_send_cpumask / ipi_raise) that QEMU never
--   received: no QEMU write of its type (x86 vector, GIC SGI number) from that sender to that target
--   followed it (qemu_links.qemu_event_id NULL) although QEMU was logging then (QEMU lines within
--   20 ms before and after it). One finding per sender, target and IPI type.
-- Why: the target never takes the interrupt, so its call-single queue is not flushed: the csd lock
--   stays held and the sender (or the next user of the csd) spins in csd_lock_wait; a lost reschedule
--   IPI leaves a woken task waiting. Lost IPIs come from dropped ICR / SGI register writes, wrong
--   destination ids (an APIC id or affinity no vCPU has) and interrupt-controller emulation bugs.
-- Evidence: the guest's send lines (up to 10), then QEMU writes of the same sender and type within
--   1 ms that went to a destination no vCPU has, if any.
-- Limits: a send whose IPI type maps to no vector / SGI (a name ipitrace does not know) is not
--   checked. Needs a QEMU -trace log with -msg timestamp=on; logs without timestamps are linked by order
--   (qemu_links.method 'order') and not checked here. Sends to offline, dying or nonexistent CPUs are
--   left to ipi-to-offline and ipi-to-nonexistent. The link tolerates the QEMU write coming up to the
--   sender's next traced send (at most 1 s) after the trace event, so a write that does come, late,
--   hides the loss; where the guest clock bends off the fitted line (TSC recalibrated during boot) a
--   sender's unlinked sends are matched in program order to its writes between its linked neighbours'
--   (or up to 20 ms after: an interrupt between a send's trace event and its ICR write sends first),
--   and writes no send took are offered to the sends left over (each within its window). In the
--   corpus (25 recordings, 80 k guest sends) no send was left unlinked while QEMU was logging, nor in
--   rec's QEMU 10 / 11 x86 recordings (xAPIC, x2APIC physical and cluster).
--   Only where the QEMU writes the send could have been matched to name their sender
--   (qemu_links.sender_known = 1: GIC events name the CPU, an x86 log with thread ids gives each
--   thread's vCPU), or where QEMU logged no write of its type to its target at all in its window.
--   QEMU 11 prints `-msg timestamp=on` as an ISO prefix without a thread id: its x86 ICR writes and
--   GICv2 SGIR writes name no sender, so a missing link there may be a write another CPU's send was
--   linked to, and is not reported. The destination
--   is decoded as QEMU's apic.c delivers it (x2APIC physical and cluster, xAPIC flat / cluster from
--   each APIC's LDR and DFR, shorthands); a destination the log cannot decode (an xAPIC cluster LDR
--   whose APIC it does not identify, an ICR low whose ICR high or mode it never showed) counts as a
--   write to every vCPU ('undecoded', like a shorthand), so no send is reported missing for it.
--   Only when the clock mapping holds: at least 90 % of the guest sends inside QEMU's log (vector
--   known) were linked. A missing link is evidence only on a line that links the rest; where the fit
--   fails (a guest clock far from real time that the fit could not follow, a log that is not this
--   boot's) "no write followed" says nothing about the IPI, and the analyze input limits say that
--   QEMU's log could not be aligned (links, drift, spread) instead. A boot whose IPIs really were
--   lost at a rate above 10 % is then reported as unaligned, not as lost IPIs: unknown, not wrong.
WITH missed AS (
  SELECT p.src_cpu, p.target_cpu, p.ts_ns, p.reason, p.kind, p.source_id, p.line, l.vector,
         row_number() OVER (PARTITION BY p.src_cpu, p.target_cpu, l.vector ORDER BY p.ts_ns, p.line) AS n
    FROM qemu_links l JOIN ipi_sends p ON p.boot = l.boot AND p.event_id = l.guest_event_id AND p.target_cpu = l.target_cpu
   WHERE l.boot = :boot AND l.qemu_event_id IS NULL AND l.in_qemu_log = 1 AND l.sender_known = 1 AND l.vector IS NOT NULL
     AND p.target_state NOT IN ('offline', 'dying', 'nonexistent')
     AND (SELECT avg(x.qemu_event_id IS NOT NULL) FROM qemu_links x
           WHERE x.boot = :boot AND x.in_qemu_log = 1 AND x.vector IS NOT NULL) >= 0.9
),
nowhere AS (
  SELECT DISTINCT m.src_cpu, m.target_cpu, m.vector, q.target_cpu AS dest, q.source_id, q.line
    FROM missed m JOIN qemu_sends q ON q.boot = :boot AND q.src_cpu = m.src_cpu AND q.vector = m.vector
     AND q.has_vcpu = 0 AND q.ts_ns BETWEEN m.ts_ns - 1000000 AND m.ts_ns + 1000000
),
groups AS (
  SELECT src_cpu, target_cpu, vector, min(ts_ns) AS ts_ns,
         coalesce(max(CASE WHEN kind != 'ipi_raise' THEN reason END), max(reason)) AS reason,
         max(sum(kind = 'ipi_raise'), sum(kind != 'ipi_raise')) AS sends
    FROM missed GROUP BY src_cpu, target_cpu, vector
)
SELECT 'ipi-not-delivered' AS detector, 'warning' AS severity, :boot AS boot, g.ts_ns, g.src_cpu AS cpu, g.target_cpu,
       NULL AS csd, NULL AS func,
       coalesce(g.reason, 'IPI') || ' IPI from CPU' || coalesce(g.src_cpu, '?') || ' to CPU' || g.target_cpu
         || ' never reached QEMU' AS title,
       'CPU' || coalesce(g.src_cpu, '?') || ' sent CPU' || g.target_cpu || ' ' || g.sends || ' ' || coalesce(g.reason, '?')
         || ' IPI(s) (vector / SGI ' || g.vector || '; first at ' || printf('%.6f', g.ts_ns / 1e9)
         || ' s) that QEMU never received: no such write followed while QEMU was logging'
         || coalesce((SELECT '; QEMU shows CPU' || g.src_cpu || ' writing that vector to destination ' || group_concat(DISTINCT w.dest)
                        || ', which no vCPU has'
                        FROM nowhere w WHERE w.src_cpu IS g.src_cpu AND w.target_cpu = g.target_cpu AND w.vector = g.vector), '') AS message,
       (SELECT json_group_array(json_object('file', s.path, 'line', x.line)) FROM (
          SELECT source_id, line FROM missed m
           WHERE m.src_cpu IS g.src_cpu AND m.target_cpu = g.target_cpu AND m.vector = g.vector AND m.n <= 10
          UNION
          SELECT source_id, line FROM nowhere w WHERE w.src_cpu IS g.src_cpu AND w.target_cpu = g.target_cpu AND w.vector = g.vector
          ORDER BY source_id, line) x JOIN sources s USING (source_id)) AS evidence
  FROM groups g
