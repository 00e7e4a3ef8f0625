#!/bin/bash
# record.sh [SCENARIO...] -- boot the fault-injecting kernel once per scenario
# under QEMU TCG and store console.log / trace.txt / qemu-trace.log /
# qemu-cpus.txt / meta.json in $DEST/<scenario>/.  Run it from the work dir
# that holds out/arch/x86/boot/bzImage and initramfs.cpio.gz (see NOTES.md).
# Scenarios: clean-control offline-async offline-hang nonexistent-async
#            nonexistent-hang offline-then-online offline-hang-nopanic
# Issue 20 adds: dying-noflush dying-noflush-hang dying-ipi reuse-locked slow-callback stale-mask
# Issue 21 adds: bringup-crash (kernel cmdline ipifault_bringup_crash=2: CPU2 BUG()s in start_secondary)
#   (DEST=/work/recordings/faulty-x86-issue20 ./record.sh dying-noflush ...)
# (offline-hang-nopanic drops softlockup_panic=1: a "hung CI boot" that is
#  only ended by the host timeout, $TMO_NOPANIC seconds)
set -u
WORK=${WORK_DIR:-$(pwd)}
for f in out/arch/x86/boot/bzImage initramfs.cpio.gz mkmeta.py hmp.py; do
	[ -e "$WORK/$f" ] || { echo "record.sh: $WORK/$f missing (run from the work dir or set WORK_DIR)" >&2; exit 1; }
done
DEST=${DEST:-$CORPUS_DIR}
TMO=${TMO:-240}
TMO_NOPANIC=${TMO_NOPANIC:-75}
SCENARIOS=${*:-clean-control offline-async offline-hang nonexistent-async nonexistent-hang offline-then-online offline-hang-nopanic}
for S in $SCENARIOS; do
	R=$WORK/runs/$S; rm -rf "$R"; mkdir -p "$R"
	cp "$WORK/out/arch/x86/boot/bzImage" "$WORK/initramfs.cpio.gz" "$R/"
	CMDLINE="console=ttyS0,115200 no_hash_pointers printk.devkmsg=on csdlock_debug=1 smp.csd_lock_timeout=2000 watchdog_thresh=5 softlockup_panic=1 ftrace_dump_on_oops panic=-1 ipifault=$S"
	T=$TMO
	case $S in *-nopanic) CMDLINE=${CMDLINE/softlockup_panic=1 /}; T=$TMO_NOPANIC;; esac
	# issue 20 scenarios never hang: no soft-lockup detector, so that a vCPU starved by a busy host
	# (TCG, interrupt-driven trace dump to ttyS1) is not reported or turned into a panic
	case $S in dying-noflush|dying-ipi|reuse-locked|slow-callback|stale-mask) CMDLINE=${CMDLINE/softlockup_panic=1 /nosoftlockup };; esac
	# bringup-crash (issue 21): CPU2 hits BUG() in start_secondary() during the boot's SMP bring-up;
	# the idle task's oops panics the kernel, panic=-1 + -no-reboot end QEMU (init never runs)
	case $S in bringup-crash) CMDLINE="$CMDLINE ipifault_bringup_crash=2"; T=${TMO_BRINGUP:-120};; esac
	QEMU=(qemu-system-x86_64 -machine pc,accel=tcg -cpu qemu64 -smp 4,maxcpus=8 -m 512
		-display none -no-reboot -kernel bzImage -initrd initramfs.cpio.gz -append "$CMDLINE"
		-serial file:console.log -serial file:trace.txt -monitor unix:mon.sock,server=on,wait=off
		-trace 'apic_*' -D qemu-trace.log -msg timestamp=on)
	echo "== $S: timeout -k 10 $T ${QEMU[*]}"
	start=$(date +%s.%N)
	( cd "$R" && exec timeout -k 10 "$T" "${QEMU[@]}" ) & qpid=$!
	# vCPU thread ids (the N in "N@time:" of qemu-trace.log) -> CPU index
	for i in $(seq 50); do [ -S "$R/mon.sock" ] && break; sleep 0.1; done
	sleep 0.5; python3 "$WORK/hmp.py" "$R/mon.sock" "info cpus" > "$R/qemu-cpus.txt" 2>&1
	# stop QEMU's apic_* tracing once the guest starts dumping its trace to
	# ttyS1 (interrupt-driven UART: one IOAPIC delivery per byte otherwise)
	stopped=""
	while kill -0 $qpid 2>/dev/null; do
		if [ -z "$stopped" ] && grep -q "ipitrace-scenario: dump trace to ttyS1" "$R/console.log" 2>/dev/null; then
			python3 "$WORK/hmp.py" "$R/mon.sock" "trace-event apic_* off" >/dev/null 2>&1
			stopped=$(date +%s.%N); echo "== $S: apic_* tracing switched off"
		fi
		sleep 0.2
	done
	wait $qpid; rc=$?
	end=$(date +%s.%N)
	echo "== $S: rc=$rc"
	rm -f "$R/bzImage" "$R/initramfs.cpio.gz" "$R/mon.sock"
	[ -s "$R/trace.txt" ] || rm -f "$R/trace.txt"
	SCEN=$S RC=$rc TMO=$T START=$start END=$end STOPPED="$stopped" CMDLINE="$CMDLINE" \
		QEMUCMD="timeout -k 10 $T ${QEMU[*]}" R=$R WORK=$WORK python3 "$WORK/mkmeta.py"
	[ -e "$WORK/analyze.py" ] && python3 "$WORK/analyze.py" "$R" > "$R/analysis.txt" 2>&1
	python3 "$WORK/qemu_audit.py" "$R" > "$R/qemu-audit.jsonl" 2>&1
	# issue 20 scenarios: ground truth from the knob lines and the trace (gt_issue20.py)
	case $S in bringup-crash) [ -e "$WORK/gt_bringup.py" ] && R=$R python3 "$WORK/gt_bringup.py";; *) [ -e "$WORK/gt_issue20.py" ] && R=$R SCEN=$S python3 "$WORK/gt_issue20.py";; esac
	rm -rf "$DEST/$S"; mkdir -p "$DEST/$S"; cp "$R"/* "$DEST/$S/"
done
