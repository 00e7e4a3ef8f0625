// Console family: reports of a stuck or failing CPU: NMI backtrace requests and headers, soft and
// hard lockups, RCU stalls, hung tasks, WARNINGs, BUGs, oopses and panics.
import { consoleItem, cpuRanges, num, SYM, type Rule } from './common.js';

export const REPORT_RULES: Rule[] = [
  // --- NMI backtraces ----------------------------------------------------------------------
  // Sending NMI from CPU 2 to CPUs 0-1,3:
  {
    kind: 'nmi_backtrace_request', header: 'Sending NMI from CPU ',
    pattern: /^\s*Sending NMI from CPU (\d+) to CPUs ([\d,-]+):?/,
    build: (m, env) => [consoleItem(env, 'nmi_backtrace_request', { cpu: num(m[1]), cpus: m[2]! })],
  },
  // NMI backtrace for cpu 1
  // NMI backtrace for cpu 1 skipped: idling at intel_idle+0x59/0xa0
  {
    kind: 'nmi_backtrace', header: 'NMI backtrace for cpu ',
    pattern: /^\s*NMI backtrace for cpu (\d+)(?: (skipped: .*))?/,
    build: (m, env) => {
      env.st.traceCpu = num(m[1]);
      return [consoleItem(env, 'nmi_backtrace', { cpu: num(m[1]), info: m[2] ?? null })];
    },
  },

  // --- Lockups, stalls, hangs, panics ------------------------------------------------------
  // Kernel panic - not syncing: softlockup: hung tasks
  {
    kind: 'panic', header: 'Kernel panic - not syncing',
    pattern: /^\s*Kernel panic - not syncing:\s?(.*)$/,
    build: (m, env) => [consoleItem(env, 'panic', { info: m[1]!.trim(), cpu: env.ctx.callerCpu })],
  },
  // ---[ end Kernel panic - not syncing: Fatal exception in interrupt ]---
  {
    kind: 'panic', header: '---[ end Kernel panic',
    pattern: /^\s*---\[ end Kernel panic - not syncing:\s?(.*?)(?:\s*\]---)?$/,
    build: (m, env) => [consoleItem(env, 'panic', { info: `end: ${m[1]!.trim()}`, cpu: env.ctx.callerCpu })],
  },
  // watchdog: BUG: soft lockup - CPU#1 stuck for 59s! [init:1]
  {
    kind: 'soft_lockup', header: 'soft lockup - CPU#',
    pattern: /^\s*(?:(?:NMI )?watchdog: )?BUG: soft lockup - CPU#(\d+) stuck for (\d+)s!(?: \[(.*)\])?/,
    build: (m, env) => {
      env.st.traceCpu = num(m[1]);
      return [consoleItem(env, 'soft_lockup', { cpu: num(m[1]), wait_ns: num(m[2])! * 1e9, info: m[3] ?? null })];
    },
  },
  // watchdog: Watchdog detected hard LOCKUP on cpu 3
  // watchdog: CPU3: Watchdog detected hard LOCKUP on cpu 3        (6.x buddy detector)
  // NMI watchdog: Watchdog detected hard LOCKUP on cpu 0
  {
    kind: 'hard_lockup', header: 'Watchdog detected hard LOCKUP on cpu',
    pattern: /^\s*(?:(?:NMI )?watchdog: )?(?:CPU\d+: )?Watchdog detected hard LOCKUP on cpu (\d+)/,
    build: (m, env) => {
      env.st.traceCpu = num(m[1]);
      return [consoleItem(env, 'hard_lockup', { cpu: num(m[1]) })];
    },
  },
  // rcu: INFO: rcu_sched self-detected stall on CPU
  // rcu: INFO: rcu_preempt detected stalls on CPUs/tasks:
  // INFO: rcu_sched detected stalls on CPUs/tasks: { 1} (detected by 0, t=2102 jiffies, g=883, c=882, q=7)
  // rcu: INFO: rcu_preempt detected expedited stalls on CPUs/tasks: { 3-.... } 21004 jiffies s: 241 root: 0x8/.
  {
    kind: 'rcu_stall', header: 'INFO: ',
    pattern: /^\s*(?:rcu: )?INFO: (\w+) (self-detected stall|detected stalls|detected expedited stalls) on CPU(?:s\/tasks:)?\s*(?:\{([^}]*)\})?/,
    build: (m, env) => {
      const cpus = (m[3] ?? '').split(/\s+/).map((t) => /^(\d+)(?:-|$)/.exec(t)?.[1]).filter((t) => t !== undefined);
      env.st.rcuSelf = m[2] === 'self-detected stall';
      const header = consoleItem(env, 'rcu_stall', {
        info: `${m[1]} ${m[2]}`, cpus: cpuRanges(cpus.map(Number)), cpu: env.ctx.callerCpu,
      });
      // 3.x prints the detecting CPU on the same line.
      const by = /\(detected by (\d+),/.exec(env.body);
      if (by === null) return [header];
      env.st.traceCpu = num(by[1]);
      return [header, consoleItem(env, 'rcu_stall', { cpu: num(by[1]), info: 'detected by' })];
    },
  },
  // rcu: 	1-....: (2099 ticks this GP) idle=a334/1/0x4000000000000000 softirq=76/76 fqs=951
  // rcu: 	4-O...: (0 ticks this GP) idle=002/1/0x4000000000000000 softirq=0/0 fqs=2435   ('O' = offline)
  // 	1-...!: (0 ticks this GP) idle=9f4/0/0x0 softirq=1234/1234 fqs=0          (4.x: '!' = kthread starved)
  // 	1: (1 GPs behind) idle=5f1/140000000000000/0 softirq=4551/4551 fqs=5249   (3.x, no flags)
  {
    kind: 'rcu_stall', header: ': (',
    pattern: /^\s*(?:rcu:\s+)?(\d+)(?:-([^\s:]{3,7}))?: \((?:\d+ ticks this GP|\d+ GPs behind|\d+ ticks)/,
    build: (m, env) => {
      // After a self-detected header the stack that follows is this CPU's own.
      if (env.st.rcuSelf) env.st.traceCpu = num(m[1]);
      env.st.rcuSelf = false;
      return [consoleItem(env, 'rcu_stall', { cpu: num(m[1]), info: 'stalled cpu' })];
    },
  },
  // rcu: 	(detected by 1, t=10502 jiffies, g=5521, q=412 ncpus=4)
  //  	(detected by 0, t=105002 jiffies, g=89793, c=89792, q=195)
  // The stack printed next without a header of its own (sched_show_task(current) when all QSes
  // were seen, 4.x) is the detecting CPU's.
  {
    kind: 'rcu_stall', header: '(detected by ',
    pattern: /^\s*(?:rcu:\s+)?\(detected by (\d+), t=\d+ jiffies/,
    build: (m, env) => {
      env.st.traceCpu = num(m[1]);
      return [consoleItem(env, 'rcu_stall', { cpu: num(m[1]), info: 'detected by' })];
    },
  },
  // rcu: RCU grace-period kthread stack dump:        (the kthread's stack: not a CPU's)
  {
    kind: 'rcu_stall', header: 'kthread stack dump',
    pattern: /^\s*(?:rcu:\s+)?RCU grace-period kthread stack dump:/,
    build: (_m, env) => {
      env.st.traceCpu = null;
      return [consoleItem(env, 'rcu_stall', { info: 'kthread dump' })];
    },
  },
  // Task dump for CPU 1:                              (RCU stall, kernels without NMI backtraces)
  {
    kind: 'task_dump', header: 'Task dump for CPU ',
    pattern: /^\s*(?:rcu:\s+)?Task dump for CPU (\d+):/,
    build: (m, env) => {
      env.st.traceCpu = num(m[1]);
      return [consoleItem(env, 'task_dump', { cpu: num(m[1]) })];
    },
  },
  // INFO: task kworker/u4:2:57 blocked for more than 122 seconds.
  {
    kind: 'hung_task', header: 'INFO: task ',
    pattern: /^\s*INFO: task (.+:\d+) blocked for more than (\d+)(?: seconds|$)/,
    build: (m, env) => [consoleItem(env, 'hung_task', { info: m[1]!, wait_ns: num(m[2])! * 1e9, cpu: env.ctx.callerCpu })],
  },
  // WARNING: CPU: 0 PID: 1 at kernel/smp.c:912 smp_call_function_many_cond+0x3c4/0x3c8
  // WARNING: CPU: 6 PID: 124 at kernel/irq_work.c:95          (function wrapped to the next line)
  {
    kind: 'warning', header: 'WARNING: CPU: ',
    pattern: new RegExp(`^\\s*WARNING: CPU: (\\d+) PID: \\d+ at (\\S+)(?: (${SYM}))?`),
    build: (m, env) => {
      env.st.traceCpu = num(m[1]);
      return [consoleItem(env, 'warning', { cpu: num(m[1]), info: m[2]!, func: m[3] ?? null })];
    },
  },
  // WARNING: kernel/workqueue.c:2338 at __queue_work+0x5e0/0x790, CPU#2: kworker/2:2/116     (6.18+)
  {
    kind: 'warning', header: 'WARNING: ',
    pattern: new RegExp(`^\\s*WARNING: (\\S+:\\d+) at (${SYM})\\S*, CPU#(\\d+)`),
    build: (m, env) => {
      env.st.traceCpu = num(m[3]);
      return [consoleItem(env, 'warning', { cpu: num(m[3]), info: m[1]!, func: m[2]! })];
    },
  },
  // WARNING: at kernel/smp.c:320 smp_call_function_single+0x5c/0x150()      (pre-3.x)
  {
    kind: 'warning', header: 'WARNING: at ',
    pattern: new RegExp(`^\\s*WARNING: at (\\S+)(?: (${SYM}))?`),
    build: (m, env) => [consoleItem(env, 'warning', { info: m[1]!, func: m[2] ?? null, cpu: env.ctx.callerCpu })],
  },
  // kernel BUG at kernel/irq_work.c:245!
  {
    kind: 'bug', header: 'kernel BUG at ',
    pattern: /^\s*kernel BUG at (.+?)!?$/,
    build: (m, env) => [consoleItem(env, 'bug', { info: m[1]!, cpu: env.ctx.callerCpu })],
  },
  // Any other BUG: header, the way syzkaller titles crashes: context (info), and a kernel console
  // even without printk stamps (syzkaller's and many CI logs have none; syz-manager prefixes a date):
  // BUG: KASAN: use-after-free in ip6_send_skb+0x2f5/0x330 net/ipv6/ip6_output.c:1748
  // BUG: unable to handle kernel NULL pointer dereference at 0000000000000008
  // 2018/01/09 14:28:48 BUG: memory leak
  // (BUG: soft lockup - CPU#N and the other lockup headers are matched by their own rules above.)
  {
    kind: 'bug', header: 'BUG: ',
    pattern: /^\s*(?:\d{4}\/\d\d\/\d\d \d\d:\d\d:\d\d )?BUG: (.+)$/,
    build: (m, env) => [consoleItem(env, 'bug', { info: m[1]!.trim(), cpu: env.ctx.callerCpu })],
  },
  // general protection fault, probably for non-canonical address 0xdffffc0000000002: 0000 [#1] PREEMPT SMP KASAN
  // general protection fault: 0000 [#1] SMP KASAN                                    (x86)
  {
    kind: 'oops', header: 'general protection fault',
    pattern: /^\s*(general protection fault.*)$/,
    build: (m, env) => [consoleItem(env, 'oops', { info: m[1]!, cpu: env.ctx.callerCpu })],
  },
  // Unable to handle kernel NULL pointer dereference at virtual address 0000000000000008   (arm64, arm)
  // Unable to handle kernel paging request at virtual address ffff800012345678
  {
    kind: 'oops', header: 'Unable to handle kernel ',
    pattern: /^\s*(Unable to handle kernel .*)$/,
    build: (m, env) => [consoleItem(env, 'oops', { info: m[1]!, cpu: env.ctx.callerCpu })],
  },
  // Oops: 0003 [#5] PREEMPT SMP
  {
    kind: 'oops', header: 'Oops: ',
    pattern: /^\s*Oops: (.*)$/,
    build: (m, env) => [consoleItem(env, 'oops', { info: m[1]!, cpu: env.ctx.callerCpu })],
  },
  // Internal error: : 8 [#1] SMP ARM           (arm64: "Internal error: Oops: 96000004 [#1] SMP")
  {
    kind: 'oops', header: 'Internal error: ',
    pattern: /^\s*Internal error: (.*)$/,
    build: (m, env) => [consoleItem(env, 'oops', { info: m[1]!, cpu: env.ctx.callerCpu })],
  },

];
