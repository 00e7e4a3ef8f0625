#!/usr/bin/env python3
"""qemu_ipi_audit(R): ICR writes in R/qemu-trace.log that went to no vCPU, to the
broadcast id, or were fixed IPIs never EOI'd by (one of) their destination vCPU(s).
Rewritten for issue 20 (the corpus recorder's copy was not shipped); same output keys.
Decodes xAPIC ICR2/ICR (apic_mem_writel 0x310 / 0x300): physical or flat-logical
destination, shorthand (bits 18-19), delivery mode (bits 8-10)."""
import json, os, re, sys

REC = re.compile(r'^(\d+)@([0-9.]+):apic_mem_writel (0x[0-9a-f]+) = (0x[0-9a-f]+)')
DM = {0: "fixed", 1: "lowest", 2: "smi", 4: "nmi", 5: "init", 6: "startup"}


def qemu_ipi_audit(R):
    p = os.path.join(R, "qemu-trace.log")
    if not os.path.exists(p):
        return None
    tid2cpu = {}
    cp = os.path.join(R, "qemu-cpus.txt")
    if os.path.exists(cp):
        for m in re.finditer(r"CPU #(\d+): thread_id=(\d+)", open(cp).read()):
            tid2cpu[int(m.group(2))] = int(m.group(1))
    cpus = set(tid2cpu.values())
    icr2, sends, eois = {}, [], {}
    for n, line in enumerate(open(p, errors="replace"), 1):
        m = REC.match(line)
        if not m:
            continue
        tid, t, reg, val = int(m.group(1)), float(m.group(2)), int(m.group(3), 16), int(m.group(4), 16)
        if reg == 0x310:
            icr2[tid] = val >> 24
        elif reg == 0xb0:
            eois.setdefault(tid2cpu.get(tid), []).append(n)
        elif reg == 0x300:
            sends.append((n, t, tid, val, icr2.get(tid, 0)))
    out = []
    for n, t, tid, val, dest in sends:
        sh, dm, logical = (val >> 18) & 3, (val >> 8) & 7, bool(val & 0x800)
        if sh:
            continue
        targets = [c for c in range(8) if dest >> c & 1] if logical else [dest]
        e = {"line": n, "host_time": t, "sender_cpu": tid2cpu.get(tid), "dest_apic_id": dest,
             "dest_mode": "logical" if logical else "physical", "icr_low": "0x%08x" % val,
             "vector": "0x%02x" % (val & 0xff), "delivery": DM.get(dm, str(dm))}
        if not logical and dest == 0xff:
            e["finding"] = "physical broadcast id 0xff"
        elif any(c not in cpus for c in targets):
            e["finding"] = "destination names no vCPU: %s" % [c for c in targets if c not in cpus]
        elif dm == 0:
            never = [c for c in targets if not any(l > n for l in eois.get(c, []))]
            if never:
                e["finding"] = "fixed IPI never EOI'd afterwards by destination CPU(s) %s (not servicing interrupts, e.g. offline/halted with IF=0)" % never
        if "finding" in e:
            out.append(e)
    return out


if __name__ == "__main__":
    for e in qemu_ipi_audit(sys.argv[1]) or []:
        print(json.dumps(e))
