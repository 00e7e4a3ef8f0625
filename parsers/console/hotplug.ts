// Console family: CPU hotplug messages (x86, arm64, arm32, riscv), CPU-count facts, the command
// line, the trace clock switch, and the `CPU: N PID:` context line the stack-trace state uses.
import type { ParsedItem } from '../../schema/records.js';
import { consoleItem, cpuRanges, factItem, factsWithText, hexNoPad, num, type Env, type Rule } from './common.js';

export const HOTPLUG_RULES: Rule[] = [
  // --- Hotplug -----------------------------------------------------------------------------
  // smpboot: CPU 2 is now offline
  {
    kind: 'cpu_offline', header: 'is now offline',
    pattern: /^\s*(?:smpboot: )?CPU (\d+) is now offline/,
    build: (m, env) => [consoleItem(env, 'cpu_offline', { cpu: num(m[1]) })],
  },
  // psci: CPU3 killed (polled 0 ms)
  // CPU3 killed.                                  (arm32)
  {
    kind: 'cpu_offline', header: ' killed',
    pattern: /^\s*(?:psci: )?CPU(\d+) killed/,
    build: (m, env) => [consoleItem(env, 'cpu_offline', { cpu: num(m[1]) })],
  },
  // CPU1: off                                     (riscv arch_cpuhp_cleanup_dead_cpu)
  {
    kind: 'cpu_offline', header: ': off',
    pattern: /^\s*CPU(\d+): off$/,
    build: (m, env) => [consoleItem(env, 'cpu_offline', { cpu: num(m[1]) })],
  },
  // CPU3: shutdown                                (arm64/arm32 __cpu_disable side, pr_debug in 6.x)
  {
    kind: 'cpu_dying', header: ': shutdown',
    pattern: /^\s*CPU(\d+): shutdown/,
    build: (m, env) => [consoleItem(env, 'cpu_dying', { cpu: num(m[1]) })],
  },
  // CPU 1 didn't die...  (x86 pre-6.5)            CPU1: cpu didn't die  (arm64 pre-6.5)
  // CPU2 failed to report dead state  (6.5+)      CPU2 may not have shut down cleanly: -110  (arm64)
  // psci: CPU2 may not have shut down cleanly (AFFINITY_INFO reports 1)
  {
    kind: 'cpu_offline', header: ["didn't die", 'failed to report dead state', 'may not have shut down cleanly'],
    pattern: /^\s*(?:smpboot: |psci: )?CPU ?(\d+):? ((?:cpu )?didn't die|failed to report dead state|may not have shut down cleanly(?::| \().*)/,
    build: (m, env) => [consoleItem(env, 'cpu_offline', { cpu: num(m[1]), info: `unclean: ${m[2]!.replace(/\.+$/, '')}` })],
  },
  // CPU1 failed to report alive state             CPU1: failed to come online
  // CPU16: died during early boot                 CPU4: failed to boot: -22
  // CPU4: failed in unknown state : 0x0           CPU4: is stuck in kernel
  // CPU4: may not have shut down cleanly          (arm64 __cpu_up path, no ": N")
  // CPU16: will not boot                          (arm64, printed by the dying secondary)
  {
    kind: 'cpu_up_failed',
    header: ['failed to report alive', 'failed to come online', 'died during early boot', 'failed to boot',
      'failed in unknown state', 'is stuck in kernel', 'will not boot', 'may not have shut down cleanly'],
    pattern: /^\s*CPU(\d+):? (failed to report alive state|failed to come online|died during early boot|failed to boot: -?\d+|failed in unknown state : \S+|is stuck in kernel|will not boot|may not have shut down cleanly$)/,
    build: (m, env) => [consoleItem(env, 'cpu_up_failed', { cpu: num(m[1]), info: m[2]! })],
  },
  // smpboot: Booting Node 0 Processor 2 APIC 0x2
  {
    kind: 'cpu_online', header: 'Booting Node ',
    pattern: /^\s*(?:smpboot: )?Booting Node (\d+) Processor (\d+) (APIC 0x[0-9a-f]+)/,
    build: (m, env) => [consoleItem(env, 'cpu_online', { cpu: num(m[2]), info: m[3]! })],
  },
  // CPU1: Booted secondary processor 0x0000000001 [0x411fd070]
  // CPU1: Booted secondary processor              (arm32, pr_debug)
  {
    kind: 'cpu_online', header: 'Booted secondary processor',
    pattern: /^\s*CPU(\d+): Booted secondary processor(?: 0x([0-9a-f]+))?/,
    build: (m, env) => [consoleItem(env, 'cpu_online', { cpu: num(m[1]), info: m[2] ? hexNoPad(m[2]) : null })],
  },
  // CPU1 is up                                    (x86 resume: "Enabling non-boot CPUs ...")
  {
    kind: 'cpu_online', header: ' is up',
    pattern: /^\s*CPU(\d+) is up$/,
    build: (m, env) => [consoleItem(env, 'cpu_online', { cpu: num(m[1]) })],
  },
  // CPU1: thread -1, cpu 1, socket 0, mpidr 80000001     (arm32 store_cpu_topology, first bring-up)
  {
    kind: 'cpu_online', header: ', mpidr ',
    pattern: /^\s*CPU(\d+): thread -?\d+, cpu \d+, socket \d+, mpidr ([0-9a-f]+)/,
    build: (m, env) => [consoleItem(env, 'cpu_online', { cpu: num(m[1]), info: hexNoPad(m[2]!) })],
  },
  // Booting Linux on physical CPU 0x0000020000 [0x410fd4f0]     (arm: the boot CPU, logical CPU 0)
  {
    kind: 'cpu_online', header: 'Booting Linux on physical CPU',
    pattern: /^\s*Booting Linux on physical CPU 0x([0-9a-f]+)/,
    build: (m, env) => [consoleItem(env, 'cpu_online', { cpu: 0, info: hexNoPad(m[1]!) })],
  },
  // .... node  #0, CPUs:      #1 #2 #3
  {
    kind: 'cpu_online', header: '.... node ',
    pattern: /^\s*\.\.\.\. node\s+#\d+, CPUs:(.*)$/,
    build: (m, env) => {
      env.st.smpBoot = true;
      return cpuListRecord(m[1]!, env);
    },
  },
  // "  #5  #6  #7"     (continuation of the line above after an interleaved message)
  {
    kind: 'cpu_online', header: ' #',
    pattern: /^\s*#\d+(?:\s+#\d+)*$/,
    build: (m, env) => (env.st.smpBoot ? cpuListRecord(m[0], env) : undefined),
  },

  // --- CPU-count facts ---------------------------------------------------------------------
  // smp: Brought up 1 node, 4 CPUs
  {
    kind: 'cpu_fact', header: 'Brought up ',
    pattern: /^\s*(?:smp: )?Brought up (?:\d+ nodes?, )?(\d+) CPUs?/,
    build: (m, env) => {
      env.st.smpBoot = false;
      return factsWithText(env, [['brought_up', num(m[1])]]);
    },
  },
  // smpboot: Total of 4 processors activated (21967.26 BogoMIPS)
  // SMP: Total of 4 processors activated.
  {
    kind: 'cpu_fact', header: 'processors activated',
    pattern: /^\s*(?:smpboot: |SMP: )?Total of (\d+) processors activated/,
    build: (m, env) => factsWithText(env, [['brought_up', num(m[1])]]),
  },
  // ACPI: CPU3 has been hot-added        (drivers/acpi/acpi_processor.c: the CPU is present, not online)
  {
    kind: 'cpu_fact', header: 'has been hot-added',
    pattern: /^\s*(?:ACPI: )?CPU(\d+) has been hot-added/,
    build: (m, env) => factsWithText(env, [['hot_added', num(m[1])! + 1]]),
  },
  // smpboot: Allowing 16 CPUs, 8 hotplug CPUs
  {
    kind: 'cpu_fact', header: 'Allowing ',
    pattern: /^\s*(?:smpboot: )?Allowing (\d+) CPUs, (\d+) hotplug CPUs/,
    build: (m, env) => factsWithText(env, [['possible', num(m[1])], ['hotplug_cpus', num(m[2])]]),
  },
  // CPU topo: Allowing 4 present CPUs plus 4 hotplug CPUs
  {
    kind: 'cpu_fact', header: 'Allowing ',
    pattern: /^\s*(?:CPU topo: )?Allowing (\d+) present CPUs plus (\d+) hotplug CPUs/,
    build: (m, env) => factsWithText(env, [
      ['present', num(m[1])], ['hotplug_cpus', num(m[2])], ['possible', num(m[1])! + num(m[2])!],
    ]),
  },
  // setup_percpu: NR_CPUS:8 nr_cpumask_bits:8 nr_cpu_ids:8 nr_node_ids:1
  {
    kind: 'cpu_fact', header: 'nr_cpu_ids:',
    pattern: /^\s*setup_percpu: NR_CPUS:\d+ nr_cpumask_bits:\d+ nr_cpu_ids:(\d+)/,
    build: (m, env) => factsWithText(env, [['possible', num(m[1])]]),
  },
  // rcu: 	RCU restricting CPUs from NR_CPUS=8 to nr_cpu_ids=4.
  {
    kind: 'cpu_fact', header: 'RCU restricting CPUs',
    pattern: /^\s*(?:rcu:\s+)?RCU restricting CPUs from NR_CPUS=\d+ to nr_cpu_ids=(\d+)/,
    build: (m, env) => factsWithText(env, [['possible', num(m[1])]]),
  },
  // rcu: Adjusting geometry for rcu_fanout_leaf=16, nr_cpu_ids=4
  {
    kind: 'cpu_fact', header: 'Adjusting geometry',
    pattern: /^\s*(?:rcu:\s+)?Adjusting geometry for rcu_fanout_leaf=\d+, nr_cpu_ids=(\d+)/,
    build: (m, env) => factsWithText(env, [['possible', num(m[1])]]),
  },
  // SLUB: HWalign=64, Order=0-3, MinObjects=0, CPUs=4, Nodes=1      (CPUs = nr_cpu_ids)
  {
    kind: 'cpu_fact', header: 'SLUB: ',
    pattern: /^\s*SLUB: .*\bCPUs=(\d+)/,
    build: (m, env) => factsWithText(env, [['possible', num(m[1])]]),
  },
  // Unstable clock detected, switching default tracing clock to "global"
  // (kernel/trace/trace.c tracing_set_default_clock: tracing_set_clock() then resets the ring
  // buffer, and the oops-time dump counts its microseconds from that reset, not from boot.)
  {
    kind: 'trace_clock_reset', header: 'switching default tracing clock to',
    pattern: /switching default tracing clock to "?([\w-]+)"?/,
    build: (m, env) => [consoleItem(env, 'trace_clock_reset', { info: m[1]! })],
  },
  // Kernel command line: console=ttyAMA0 panic=-1 ... maxcpus=2 ipitrace.scenario=smp-maxcpus
  // Command line: console=ttyS0 panic=-1 printk.devkmsg=on ...        (x86, first line of boot)
  {
    kind: 'cmdline', header: 'ommand line: ',
    pattern: /^\s*(?:Kernel command line|Command line): (.*)$/,
    build: (m, env) => [
      consoleItem(env, 'cmdline', { info: m[1]! }),
      ...[...m[1]!.matchAll(/(?:^|\s)(?:maxcpus|nr_cpus)=(\d+)(?=\s|$)/g)]
        .map((c) => factItem(env, 'nr_cpus_cmdline', num(c[1]))),
    ],
  },

  // --- Context for the stack-trace state machine (no record) --------------------------------
  // CPU: 1 UID: 0 PID: 1 Comm: init Not tainted 6.12.107 #5
  // CPU: 2 PID: 4888 Comm: syz-executor4 Not tainted 4.20.0-next-20190102+ #5
  {
    kind: 'context', header: 'CPU: ',
    pattern: /^\s*CPU: (\d+) (?:UID: \d+ )?PID: \d+ Comm: /,
    build: (m, env) => {
      env.st.traceCpu = num(m[1]);
      return undefined;
    },
  },
];

/** `#1 #2 #3` -> one cpu_online record with cpus '1-3' (cpu NULL); nothing when no CPU is listed. */
function cpuListRecord(list: string, env: Env): ParsedItem[] | undefined {
  const cpus = cpuRanges([...list.matchAll(/#(\d+)/g)].map((c) => Number(c[1])));
  return cpus === null ? undefined : [consoleItem(env, 'cpu_online', { cpus })];
}

