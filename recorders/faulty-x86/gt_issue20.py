#!/usr/bin/env python3
"""Ground truth for the issue-20 scenarios (dying-noflush, dying-ipi, reuse-locked,
slow-callback, stale-mask), written into R/meta.json BEFORE ipitrace runs on them.

What was injected comes from the knob's own `smp: ipi_fault:` console lines (ipitrace
must never rely on them); the evidence a correct tool should cite is then looked up
with grep in console.log / trace.txt (1-based line numbers, exact text kept).
Env: R (scenario dir), SCEN (scenario name)."""
import json, os, re, sys

R, S = os.environ["R"], os.environ["SCEN"]
con = open(os.path.join(R, "console.log"), errors="replace").read().splitlines()
trp = os.path.join(R, "trace.txt")
tr = open(trp, errors="replace").read().splitlines() if os.path.exists(trp) else []
meta_p = os.path.join(R, "meta.json")
meta = json.load(open(meta_p))


def find(lines, rx, start=0, fname=None):
    """first line (1-based) at or after `start` matching rx -> (line, text, match)"""
    c = re.compile(rx)
    for i in range(start, len(lines)):
        m = c.search(lines[i])
        if m:
            return i + 1, lines[i], m
    return None, None, None


def ev(fname, line, text, role, fixed):
    return {"file": fname, "line": line, "text": text, "role": role,
            "grep": "grep -nF -- '%s' %s" % (fixed.replace("'", "'\\''"), fname)}


def knob(rx):
    ln, text, m = find(con, r"ipi_fault: " + rx)
    if not m:
        sys.exit("gt_issue20: %s: knob line /%s/ not found in console.log" % (S, rx))
    return m


def tline(rx, start=0):
    ln, text, m = find(tr, rx, start)
    if not m:
        sys.exit("gt_issue20: %s: /%s/ not in trace.txt" % (S, rx))
    return ln, text, m


def count(lines, sub):
    return sum(1 for l in lines if sub in l)


def takedown(cpu):
    """trace line of takedown_cpu's exit for `cpu` (the CPU is dead after it)"""
    return tline(r"cpuhp_exit: +cpu: %04d +state: +\d+ step: 145 " % cpu)


exp, mnr, facts = [], [], {}
if S in ("dying-noflush", "dying-ipi"):
    m = knob(r"CPU(\d+) armed: it queues locked csd=([0-9a-f]+) func=(\S+) to CPU(\d+) inside")
    src, csd, func, dst = int(m.group(1)), m.group(2), m.group(3), int(m.group(4))
    qln, qtext, qm = tline(r"\[%03d\] .*csd_queue_cpu: cpu=%d callsite=(\S+) func=%s csd=%s" % (src, dst, func, csd))
    callsite = qm.group(1)
    iln, itext, _ = tline(r"ipi_send_cpu: cpu=%d callsite=%s " % (dst, re.escape(callsite)), qln)
    teln, tetext, _ = tline(r"cpuhp_enter: +cpu: %04d +target: +\d+ step: 145 " % dst)
    tdln, tdtext, _ = takedown(dst)
    if not teln < qln < tdln:
        sys.exit("gt_issue20: %s: the queue (line %d) is not inside CPU%d's takedown_cpu (%d..%d)" % (S, qln, dst, teln, tdln))
    oln, otext, _ = find(con, r"smpboot: CPU %d is now offline" % dst)
    facts = {"sender_cpu": src, "target_cpu": dst, "csd": "0x" + csd, "func": func, "callsite": callsite,
             "takedown_enter_line": teln, "queue_line": qln, "ipi_line": iln, "takedown_exit_line": tdln,
             "csd_lines_in_trace": count(tr, csd), "func_entries_in_trace": count(tr, "func=%s, csd=" % func)}
    queue_ev = ev("trace.txt", qln, qtext, "csd queued by CPU%d to CPU%d inside CPU%d's takedown_cpu (stop_machine): CPU%d dying" % (src, dst, dst, dst),
                  "csd_queue_cpu: cpu=%d callsite=%s func=%s csd=%s" % (dst, callsite, func, csd))
    ipi_ev = ev("trace.txt", iln, itext, "its IPI", "ipi_send_cpu: cpu=%d callsite=%s" % (dst, callsite))
    te_ev = ev("trace.txt", teln, tetext, "context: CPU%d's takedown_cpu begins before the queue" % dst, re.sub(r"^.*?(cpuhp_enter:)", r"\1", tetext))
    td_ev = ev("trace.txt", tdln, tdtext, "context: CPU%d's takedown_cpu done (dead) after the queue" % dst, re.sub(r"^.*?(cpuhp_exit:)", r"\1", tdtext))
    off_ev = ev("console.log", oln, otext, "context: console says CPU%d offline" % dst, "smpboot: CPU %d is now offline" % dst)
    if S == "dying-noflush":
        exp.append({
            "detector": "pending-at-offline", "severity": "info", "classification": None,
            "type": "csd_queued_to_dying_cpu_unknown",
            "sender_cpu": src, "target_cpu": dst, "csd": "0x" + csd, "func": func, "callsite": callsite,
            "evidence": [queue_ev, ipi_ev, te_ev, td_ev, off_ev],
            "injected_truth": "left queued: CPU%d skipped smpcfd_dying_cpu's flush (knob dying-noflush); the csd stays locked on the offline CPU's queue to the end" % dst,
            "what_the_evidence_shows": "CPU%d queued csd %s (%s, callsite %s) and sent the IPI to CPU%d inside CPU%d's takedown_cpu (dying); CPU%d stays offline to the end and no csd_function_entry for this csd is in the trace" % (src, csd, func, callsite, dst, dst, dst),
            "what_it_cannot_show": "whether CPU%d ran the callback in its CPU_DYING flush (smpcfd_dying_cpu runs after set_cpu_online(false), where DECLARE_TRACE's cpu_online() guard silences every tracepoint) or went offline with it queued. Nothing later decides it: the csd is not reused, no CSD-lock message, no waiter hangs, no 'IPI on offline CPU' warning. The same evidence comes from healthy boots (issue 20.2: watchdog_check_skew_remote on 7.x), so a correct tool says 'unknown: possibly flushed at CPU_DYING' BELOW warning: nothing at warning or error" % dst,
        })
        mnr += ["any finding at warning or error for csd %s or CPU%d: pending-at-offline (error), csd-never-released (error), ipi-to-offline (warning, dying target): the evidence does not show a leak (possibly flushed at CPU_DYING, untraced)" % (csd, dst),
                "callback-on-offline-cpu: the console has no 'IPI on offline CPU' warning"]
    else:
        wln, wtext, _ = find(con, r"IPI on offline CPU %d" % dst)
        kln, ktext, km = find(con, r"IPI callback (\S+) sent to offline CPU")
        gln, gtext, _ = find(con, r"WARNING: CPU: %d PID: \d+ at kernel/smp\.c" % dst)
        if not (wln and kln):
            sys.exit("gt_issue20: dying-ipi: the kernel's 'IPI on offline CPU' lines are missing")
        facts.update({"warn_line": wln, "warning_line": gln, "callback_line": kln, "callback_symbol": km.group(1)})
        exp.append({
            "detector": "callback-on-offline-cpu", "severity": "error",
            "type": "callback_ran_on_offline_cpu",
            "sender_cpu": src, "target_cpu": dst, "csd": "0x" + csd, "func": func, "callsite": callsite,
            "evidence": [ev("console.log", kln, ktext, "kernel: the queued callback was found (and run) on offline CPU%d" % dst, ktext.split("] ", 1)[-1]),
                         ev("console.log", wln, wtext, "kernel WARN: IPI on offline CPU%d" % dst, "IPI on offline CPU %d" % dst),
                         queue_ev, ipi_ev, td_ev],
            "injected_truth": "CPU%d ran the IPI handler path (__flush_smp_call_function_queue(true)) at CPU_DYING, already offline (knob dying-ipi, the 2014 bug): the kernel WARNed and ran %s there; the csd was RELEASED (async: unlocked before the call)" % (dst, func),
            "what_the_evidence_shows": "the kernel's own WARN 'IPI on offline CPU %d' and 'IPI callback %s sent to offline CPU' (a 'WARNING: CPU:' line and its stack come between them, line %s); the only csd of that func queued to CPU%d in the trace is %s from CPU%d (queued inside CPU%d's takedown)" % (dst, km.group(1), gln, dst, csd, src, dst),
            "what_it_cannot_show": "the run itself: no csd_function_entry fires on an offline CPU (DECLARE_TRACE's cpu_online() guard)",
        })
        mnr += ["csd-never-released / pending-at-offline / ipi-to-offline for csd %s: the kernel says the callback ran (released, not leaked), and a queue to a dying CPU is served by CPU_DYING" % csd,
                "a second finding for the same WARN, e.g. kernel-reported 'warning in cross-call __flush_smp_call_function_queue' (one WARN, one finding)"]
elif S == "dying-noflush-hang":
    # No trace.txt: the run ends in a soft-lockup panic whose ftrace_dump_on_oops dump is in console.log.
    m = knob(r"CPU(\d+) armed: it queues locked csd=([0-9a-f]+) func=(\S+) to CPU(\d+) inside")
    src, csd, func, dst = int(m.group(1)), m.group(2), m.group(3), int(m.group(4))
    D = r"\s+\S+\s+%d\S*\s+\d+us : "          # dump line: task, CPU glued to the flags, micros
    qln, qtext, qm = find(con, (D % src) + r"csd_queue_cpu: cpu=%d callsite=(\S+) func=%s csd=%s" % (dst, func, csd))
    if not qln:
        sys.exit("gt_issue20: dying-noflush-hang: the queue is not in the console's ftrace dump")
    callsite = qm.group(1)
    tdln, tdtext, _ = find(con, r"cpuhp_exit: +cpu: %04d +state: +\d+ step: 145 " % dst)
    wln, wtext, _ = find(con, r"ipi_fault: CPU(\d+) waits in csd_lock\(\) for csd=%s" % csd)
    dln, dtext, _ = find(con, r"csd: Detected non-responsive CSD lock \(#\d+\) on CPU#%d, .* for CPU#%02d %s" % (src, dst, func))
    rln, rtext, _ = find(con, r"csd: Re-sending CSD lock \(#\d+\) IPI from CPU#%02d to CPU#%02d" % (src, dst))
    uln, _, _ = find(con, r"got unstuck")
    oln, otext, _ = find(con, r"smpboot: CPU %d is now offline" % dst)
    if not dln or uln:
        sys.exit("gt_issue20: dying-noflush-hang: no CSD-lock report, or it got unstuck")
    facts = {"sender_cpu": src, "target_cpu": dst, "csd": "0x" + csd, "func": func, "callsite": callsite,
             "dump_queue_line": qln, "dump_takedown_exit_line": tdln, "csd_detected_line": dln, "csd_resend_line": rln,
             "csd_lines_in_console": count(con, csd)}
    queue_ev = ev("console.log", qln, qtext, "ftrace dump: csd queued by CPU%d to CPU%d inside CPU%d's takedown (dying)" % (src, dst, dst),
                  re.sub(r"^.*?(csd_queue_cpu:)", r"\1", qtext))
    det_ev = ev("console.log", dln, dtext, "CSD_LOCK_WAIT_DEBUG: CPU%d waits for CPU%d to run %s (the csd)" % (src, dst, func), dtext.split("] ", 1)[-1])
    exp.append({"detector": "pending-at-offline", "severity": "error", "type": "csd_left_queued_at_offline",
                "sender_cpu": src, "target_cpu": dst, "csd": "0x" + csd, "func": func, "callsite": callsite,
                "evidence": [queue_ev] + ([ev("console.log", tdln, tdtext, "CPU%d's takedown_cpu done (dead) after the queue" % dst, re.sub(r"^.*?(cpuhp_exit:)", r"\1", tdtext))] if tdln else []) + [det_ev],
                "injected_truth": "left queued: CPU%d skipped smpcfd_dying_cpu's flush (dying-noflush); CPU%d's next user of the csd waits for it forever" % (dst, src),
                "what_the_evidence_shows": "the queue to the dying CPU%d (ftrace dump) and the kernel's CSD-lock report that CPU%d waits for CPU%d to run %s(%s) and never gets it: the csd stayed queued, not flushed at CPU_DYING" % (dst, src, dst, func, csd)})
    exp.append({"detector": "kernel-reported", "severity": "error", "type": "csd_lock_never_released", "cpu": src,
                "sender_cpu": src, "target_cpu": dst, "csd": "0x" + csd, "func": func, "classification": "leak",
                "evidence": [det_ev],
                "injected_truth": "CPU%d spins in csd_lock() (knob wait-csd) for the csd left on offline CPU%d's queue; soft lockup -> panic" % (src, dst)})
    if rln:
        exp.append({"detector": "kernel-reported", "severity": "warning", "type": "kernel_debug_resend_to_offline_cpu",
                    "sender_cpu": src, "target_cpu": dst,
                    "evidence": [ev("console.log", rln, rtext, "CSD_LOCK_WAIT_DEBUG re-sends the IPI to offline CPU%d" % dst, rtext.split("] ", 1)[-1])],
                    "note": "secondary, produced by CSD_LOCK_WAIT_DEBUG itself (as in faulty-x86-offline-hang): the re-sent IPI and the NMI backtrace request go to the offline CPU, which never answers"})
    mnr += ["ipi-to-offline for the queue: CPU%d was in its takedown (dying), where a queue is still legitimate" % dst,
            "csd-never-released in addition to pending-at-offline for csd %s (one leak)" % csd]
elif S == "reuse-locked":
    m = knob(r"CPU(\d+) queued csd=([0-9a-f]+) func=(\S+) to CPU(\d+) and reused it while locked \(func=(\S+)\)")
    src, csd, f1, dst, f2 = int(m.group(1)), m.group(2), m.group(3), int(m.group(4)), m.group(5)
    q1, t1, qm = tline(r"csd_queue_cpu: cpu=%d callsite=(\S+) func=%s csd=%s" % (dst, f1, csd))
    callsite = qm.group(1)
    q2, t2, _ = tline(r"csd_queue_cpu: cpu=%d callsite=%s func=%s csd=%s" % (dst, re.escape(callsite), f2, csd), q1)
    iln, itext, _ = tline(r"ipi_send_cpu: cpu=%d callsite=%s " % (dst, re.escape(callsite)), q2)
    eln, etext, _ = tline(r"\[%03d\] .*csd_function_entry: func=%s, csd=%s" % (dst, f2, csd), q2)
    facts = {"sender_cpu": src, "target_cpu": dst, "csd": "0x" + csd, "first_func": f1, "reuse_func": f2, "callsite": callsite,
             "first_queue_line": q1, "reuse_queue_line": q2, "entry_line": eln,
             "csd_lines_in_trace": count(tr, csd), "first_func_entries": count(tr, "func=%s, csd=%s" % (f1, csd))}
    exp.append({
        "detector": "csd-reuse-while-locked", "severity": "error", "type": "csd_reused_while_locked",
        "sender_cpu": src, "target_cpu": dst, "csd": "0x" + csd, "func": f2, "callsite": callsite,
        "evidence": [ev("trace.txt", q2, t2, "the reuse: queued again while locked", "csd_queue_cpu: cpu=%d callsite=%s func=%s csd=%s" % (dst, callsite, f2, csd)),
                     ev("trace.txt", q1, t1, "the first use, still locked (no csd_function_entry/exit for it in between)", "csd_queue_cpu: cpu=%d callsite=%s func=%s csd=%s" % (dst, callsite, f1, csd)),
                     ev("trace.txt", eln, etext, "context: the one run, of the reuse's func", "csd_function_entry: func=%s, csd=%s" % (f2, csd))],
        "injected_truth": "CPU%d queued static csd %s (func %s) to CPU%d and, before CPU%d ran it, set func=%s and queued it again with CSD_FLAG_LOCK still set; the first request is lost, the csd runs once (%s) and is released" % (src, csd, f1, dst, dst, f2, f2),
        "what_the_evidence_shows": "two csd_queue_cpu lines for one csd with no csd_function_entry/exit between them, then one entry of the second func: direct evidence",
    })
    mnr += ["csd-never-released for csd %s (first use): the csd is released by the one run; the lost first call is part of the reuse finding" % csd]
elif S == "slow-callback":
    m = knob(r"CPU(\d+) calls smp_call_function_single\((\d+), (\S+), wait=1\).* for (\d+) ms")
    src, dst, func, ms = int(m.group(1)), int(m.group(2)), m.group(3), int(m.group(4))
    qln, qtext, qm = tline(r"\[%03d\] .*csd_queue_cpu: cpu=%d callsite=(\S+) func=%s csd=([0-9a-f]+)" % (src, dst, func))
    callsite, csd = qm.group(1), qm.group(2)
    enl, entext, _ = tline(r"\[%03d\] .*csd_function_entry: func=%s, csd=%s" % (dst, func, csd), qln)
    exl, extext, _ = tline(r"\[%03d\] .*csd_function_exit: func=%s, csd=%s" % (dst, func, csd), enl)
    ts = lambda t: float(re.search(r" (\d+\.\d{6}): ", t).group(1))
    held = round(ts(extext) - ts(qtext), 6)
    dln, dtext, _ = find(con, r"csd: Detected non-responsive CSD lock \(#\d+\) on CPU#%d, .* for CPU#%02d %s" % (src, dst, func))
    uln, utext, _ = find(con, r"csd: CSD lock \(#\d+\) got unstuck on CPU#%02d, CPU#%02d released the lock" % (src, dst))
    if not (dln and uln):
        sys.exit("gt_issue20: slow-callback: CSD_LOCK_WAIT_DEBUG lines missing")
    facts = {"sender_cpu": src, "target_cpu": dst, "csd": "0x" + csd, "func": func, "callsite": callsite,
             "queue_line": qln, "entry_line": enl, "exit_line": exl, "held_seconds_trace_clock": held,
             "csd_detected_line": dln, "csd_unstuck_line": uln, "callback_ms": ms}
    common = {"sender_cpu": src, "target_cpu": dst, "func": func, "callsite": callsite}
    exp.append(dict(common, detector="csd-held-too-long", severity="warning", type="csd_held_too_long", csd="0x" + csd,
                    classification="late",
                    evidence=[ev("trace.txt", qln, qtext, "queued (lock taken)", qtext.split(": ", 1)[1] if False else re.sub(r"^.*?(csd_queue_cpu:)", r"\1", qtext)),
                              ev("trace.txt", exl, extext, "released %.3f s later (SYNC csd: unlocked after the callback returns)" % held, re.sub(r"^.*?(csd_function_exit:)", r"\1", extext))],
                    held_seconds_trace_clock=held,
                    injected_truth="the callback spun %d ms with interrupts off on CPU%d, every CPU online; the lock was released (late, not leaked)" % (ms, dst)))
    exp.append(dict(common, detector="kernel-reported", severity="warning", type="csd_lock_late_release", cpu=src,
                    classification="late", csd="0x" + csd,
                    evidence=[ev("console.log", dln, dtext, "CSD_LOCK_WAIT_DEBUG: CPU%d waits for CPU%d" % (src, dst), dtext.split("] ", 1)[-1]),
                              ev("console.log", uln, utext, "the same lock got unstuck: released", utext.split("] ", 1)[-1])],
                    injected_truth="same episode as csd-held-too-long, as the kernel reported it"))
    # Secondary: every other csd queued to the stalled CPU while it had interrupts off waited for the
    # same callback; it was released by the target's first flush after the stall (its csd_function_entry,
    # or the IPI handler entry for irq_work csds, which have none). Remote wake-ups (sched_ttwu_pending)
    # are not csd locks. Held longer than ipitrace's default --csd-timeout (5 s, the kernel's default
    # csd_lock_timeout) they are true csd-held-too-long warnings of the same root cause.
    fl, fltext, _ = tline(r"\[%03d\] .*(csd_function_entry|call_function_single_entry)" % dst, exl)
    for i in range(qln, exl - 1):
        mq = re.search(r"\[(\d{3})\] .*csd_queue_cpu: cpu=%d callsite=(\S+) func=(\S+) csd=([0-9a-f]+)" % dst, tr[i])
        if not mq or mq.group(3) == "sched_ttwu_pending":
            continue
        rel = find(tr, r"\[%03d\] .*csd_function_entry: func=%s, csd=%s" % (dst, re.escape(mq.group(3)), mq.group(4)), exl)
        rln, rtext = (rel[0], rel[1]) if rel[0] else (fl, fltext)
        h = round(ts(rtext) - ts(tr[i]), 6)
        if h <= 5.0:
            continue
        exp.append({"detector": "csd-held-too-long", "severity": "warning", "type": "csd_held_too_long_secondary",
                    "sender_cpu": int(mq.group(1)), "target_cpu": dst, "csd": "0x" + mq.group(4), "func": mq.group(3),
                    "callsite": mq.group(2), "classification": "late", "held_seconds_trace_clock": h,
                    "evidence": [ev("trace.txt", i + 1, tr[i], "queued to CPU%d while it was stuck in %s with interrupts off" % (dst, func),
                                    re.sub(r"^.*?(csd_queue_cpu:)", r"\1", tr[i])),
                                 ev("trace.txt", rln, rtext, "released by CPU%d's first flush after the stall" % dst, re.sub(r"^.*?(csd_function_entry:|call_function_single_entry:)", r"\1", rtext))],
                    "note": "secondary, same root cause (CPU%d's callback %s with interrupts off): found by gt_issue20.py's rule (csds other than sched_ttwu_pending queued to CPU%d between trace lines %d and %d, released at CPU%d's first flush after the stall, held > 5 s); this rule was written after the first ipitrace run on this recording showed such findings, and checked against the trace by hand" % (dst, func, dst, qln, exl, dst)})
    mnr += ["csd-never-released for csd %s" % csd, "any finding at error: every CPU was online and the lock was released"]
elif S == "stale-mask":
    m = knob(r"CPU(\d+) smp_call_function_many on stale mask (\S+) \(online now (\S+)\)")
    src, stale, online = int(m.group(1)), m.group(2), m.group(3)
    m2 = knob(r"CPU(\d+) queues locked csd=([0-9a-f]+) func=(\S+) to OFFLINE CPU(\d+) \(stale mask\)")
    csd, func, dst = m2.group(2), m2.group(3), int(m2.group(4))
    qln, qtext, qm = tline(r"csd_queue_cpu: cpu=%d callsite=(\S+) func=%s csd=%s" % (dst, func, csd))
    callsite = qm.group(1)
    iln, itext, im = tline(r"ipi_send_(cpumask: cpumask=\S+|cpu: cpu=%d) callsite=%s " % (dst, re.escape(callsite)), qln)
    tdln, tdtext, _ = takedown(dst)
    oln, otext, _ = find(con, r"smpboot: CPU %d is now offline" % dst)
    facts = {"sender_cpu": src, "target_cpu": dst, "csd": "0x" + csd, "func": func, "callsite": callsite,
             "stale_mask": stale, "online_at_send": online, "queue_line": qln, "ipi_line": iln,
             "csd_lines_in_trace": count(tr, csd)}
    queue_ev = ev("trace.txt", qln, qtext, "csd queued to offline CPU%d (stale copy of cpu_online_mask)" % dst,
                  "csd_queue_cpu: cpu=%d callsite=%s func=%s csd=%s" % (dst, callsite, func, csd))
    ipi_ev = ev("trace.txt", iln, itext, "the IPI, its mask includes offline CPU%d" % dst, re.sub(r"^.*?(ipi_send_)", r"\1", itext).split(" callback=")[0])
    exp.append({"detector": "ipi-to-offline", "severity": "error", "type": "ipi_to_offline_cpu",
                "sender_cpu": src, "target_cpu": dst, "csd": "0x" + csd, "func": func, "callsite": callsite,
                "evidence": [queue_ev, ipi_ev,
                             ev("trace.txt", tdln, tdtext, "context: CPU%d's takedown_cpu done (dead) before the send" % dst, re.sub(r"^.*?(cpuhp_exit:)", r"\1", tdtext)),
                             ev("console.log", oln, otext, "context: console says CPU%d offline" % dst, "smpboot: CPU %d is now offline" % dst)],
                "injected_truth": "CPU%d copied cpu_online_mask (%s), CPU%d was offlined, then CPU%d ran smp_call_function_many's pre-fix loop on the copy (no '& cpu_online_mask'): locked csd + IPI (mask %s) to dead CPU%d" % (src, stale, dst, src, stale, dst)})
    exp.append({"detector": "csd-never-released", "severity": "error", "type": "csd_lock_never_released",
                "sender_cpu": src, "target_cpu": dst, "csd": "0x" + csd, "func": func, "callsite": callsite,
                "evidence": [queue_ev],
                "what_the_evidence_shows": "queued to a CPU that was already dead (takedown_cpu done before), which stays offline to the end; no csd_function_entry for it and no 'IPI on offline CPU' warning (the dead CPU never ran its handler)",
                "injected_truth": "never released: CPU%d stays offline to the end with the csd on its queue" % dst})
    mnr += ["findings for the csds of the same call to the online CPUs (they ran and were released)"]
else:
    sys.exit(0)

meta["scenario_issue20_facts"] = facts
meta["ground_truth_expected_findings"] = exp
meta["ground_truth_must_not_report"] = mnr
meta["ground_truth_note"] = ("issue 20 scenario, ground truth written by gt_issue20.py from the knob's console lines "
                             "(what was injected) and grep of console.log/trace.txt (the evidence), before ipitrace ran")
meta["kernel_source"] = "Debian linux-source-6.12 (6.12.107-1, trixie) + fault-inject.patch (issue-20 version: dying-noflush, dying-ipi, reuse-locked, slow, stale-copy/stale-many), tinyconfig + config.fragment"
json.dump(meta, open(meta_p, "w"), indent=2)
print(json.dumps(exp, indent=1)[:3000])
