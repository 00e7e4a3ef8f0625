// Pure argv rewriting for `ipitrace record`: adds to a user's QEMU command line only the tracing it
// does not already have. No I/O here; cli/record.ts runs the result (cli/record-run.ts).
//
// Rules (each applies only when the user did not already set the thing):
//  * interrupt-controller -trace patterns, inserted right after the QEMU binary so that any -trace of the
//    user (e.g. '-apic_mem_*' to disable some) still applies after ours:
//      x86_64/i386/qemu-kvm: apic_*
//      aarch64/arm: gic-version=2 -> gic_*; 3 or 4 -> gicv3_* -gicv3_cpuif_virt_*; no gic-version on
//        `virt` under TCG -> gic_* (QEMU 7.2 default); anything else (host, max, KVM/HVF, other
//        machines) -> both sets.
//    Skipped when the user enables any pattern of that family (apic_*, gic*), '*', or gives
//    -trace events=FILE (the user manages tracing then). -d trace:PATTERN counts as -trace PATTERN.
//  * -D DIR/qemu-trace.log when there is no -D (else the user's -D file is the QEMU trace output).
//  * -msg timestamp=on; when the user has -msg without timestamp=, ',timestamp=on' is added to the last
//    one (a second -msg would reset the user's other -msg settings).
//  * serial console written straight to DIR/console.log (ipitrace shows it as it grows): through QEMU's
//    stdio chardev with a logfile=, a slow pipe on stdout made QEMU log retried writes again (repeated
//    characters in the log), so stdio is not kept:
//      -serial file:P             -> unchanged; P is the console
//      -serial stdio|mon:stdio    -> -serial file:DIR/console.log (with mon:stdio the monitor goes too)
//      -serial pty|null|vc        -> -chardev pty|null|vc,id=ipitrace-console,logfile=... -serial chardev:ipitrace-console
//      -serial chardev:ID         -> logfile=DIR/console.log added to -chardev ...,id=ID (unless it has
//                                    logfile= or is a file chardev: then that file is the console)
//      other -serial (tcp:, unix:, none, ...) -> unchanged, console not captured (a note says so)
//      no -serial                 -> -serial file:DIR/console.log (as the corpus recorders did; with
//                                    -nographic QEMU then puts only the monitor on stdio)
//    Only the first -serial (serial0, the kernel console in the usual console=ttyS0/ttyAMA0) is handled.
//  * -append: ' trace_event=ipi:*,csd:*,cpuhp:*' (x86 also the six irq_vectors call_function/
//    reschedule entry/exit events, listed one by one: trace_event= takes no glob inside an event name)
//    and ' ftrace_dump_on_oops'. Events already covered (exact, 'sys:*', '*:*') are not repeated; a
//    user's trace_event= is extended in place (the kernel keeps only the last one); additions go before
//    a ' -- ' (init arguments). Without -append the kernel command line is left alone (a note says so).
//  * -no-reboot, and on the kernel command line panic=-1: a kernel that panics early ends QEMU at once
//    instead of waiting for the timeout; log_buf_len=16M: the oops-time trace dump stalls after ~4,000
//    lines in the default 128 KiB printk buffer. Each only when the user did not set it.
//  * x86 under KVM: a note that QEMU's apic_* events do not see IPIs of the in-kernel irqchip.
// The function is idempotent: buildRecordArgs(buildRecordArgs(a, d).argv, d).argv equals the first result.
import { basename, join } from 'node:path';

export type Arch = 'x86' | 'arm' | 'other';
export type GicChoice = 'v2' | 'v3' | 'both';

export interface RecordOutputs {
  /** The file the serial console goes to (as it appears in argv), or null when it is not captured. */
  console: string | null;
  /** The QEMU -D trace log (as it appears in argv). */
  qemuTrace: string;
  /** Files of DIR that the rewriting added (stale copies may be removed before a run). */
  owned: string[];
}

export interface RecordPlan {
  argv: string[];
  outputs: RecordOutputs;
  arch: Arch;
  gic: GicChoice | null;
  /** What was added or changed, one short line each (for the user). */
  changes: string[];
  /** Warnings: things that could not be set up. */
  notes: string[];
}

export const CONSOLE_FILE = 'console.log';
export const QEMU_TRACE_FILE = 'qemu-trace.log';
export const CONSOLE_CHARDEV = 'ipitrace-console';

/** Kernel parameters added unless the user set them (the name before '='). */
export const KERNEL_PARAMS = ['panic=-1', 'log_buf_len=16M'];

export const KERNEL_EVENTS = ['ipi:*', 'csd:*', 'cpuhp:*'];
export const X86_KERNEL_EVENTS = [
  'irq_vectors:call_function_entry', 'irq_vectors:call_function_exit',
  'irq_vectors:call_function_single_entry', 'irq_vectors:call_function_single_exit',
  'irq_vectors:reschedule_entry', 'irq_vectors:reschedule_exit',
];
export const X86_TRACE = ['apic_*'];
export const GICV2_TRACE = ['gic_*'];
export const GICV3_TRACE = ['gicv3_*', '-gicv3_cpuif_virt_*'];

// QEMU options that take no argument (the others that matter here take exactly one).
const FLAGS = new Set([
  'nographic', 'no-reboot', 'no-shutdown', 'S', 's', 'snapshot', 'enable-kvm', 'nodefaults', 'daemonize',
  'no-hpet', 'no-acpi', 'no-user-config', 'nouserconfig', 'full-screen', 'no-frame', 'alt-grab', 'ctrl-grab',
  'no-quit', 'sdl', 'curses', 'portrait', 'win2k-hack', 'rtc-td-hack', 'no-fd-bootchk', 'enable-fips',
  'semihosting', 'preconfig', 'only-migratable', 'xen-attach', 'h', 'help', 'version', 'usb', 'singlestep',
  'mem-prealloc', 'show-cursor', 'no-kvm', 'no-kvm-irqchip', 'no-kvm-pit', 'old-param', 'msg-timestamp',
]);
// Options known to take one argument even when it starts with '-' (e.g. -trace -gicv3_cpuif_virt_*).
const WITH_ARG = new Set([
  'append', 'M', 'machine', 'trace', 'D', 'd', 'msg', 'serial', 'chardev', 'monitor', 'mon', 'qmp',
  'qmp-pretty', 'accel', 'smp', 'kernel', 'initrd', 'm', 'cpu', 'device', 'drive', 'name', 'display',
]);

interface Opt {
  name: string;
  index: number;
  value: string | undefined;
}

/** 'append' for '-append' or '--append'; null for a non-option. */
function optionName(token: string): string | null {
  const m = /^--?([A-Za-z][\w.-]*)$/.exec(token);
  return m ? m[1] : null;
}

function scan(argv: string[], from: number): Opt[] {
  const opts: Opt[] = [];
  for (let i = from; i < argv.length; i++) {
    const name = optionName(argv[i]);
    if (name === null) continue; // a bare disk image
    if (FLAGS.has(name)) {
      opts.push({ name, index: i, value: undefined });
    } else if (WITH_ARG.has(name) || (i + 1 < argv.length && !argv[i + 1].startsWith('-'))) {
      opts.push({ name, index: i, value: argv[i + 1] });
      i++;
    } else {
      opts.push({ name, index: i, value: undefined });
    }
  }
  return opts;
}

const named = (opts: Opt[], ...names: string[]) => opts.filter((o) => names.includes(o.name) && o.value !== undefined);

/** QemuOpts 'a,b=c,,d' -> [['', 'a'], ['b', 'c,d']]; ',,' is a literal comma. */
function splitOpts(value: string): [string, string][] {
  const parts: string[] = [];
  let cur = '';
  for (let i = 0; i < value.length; i++) {
    if (value[i] === ',' && value[i + 1] === ',') { cur += ','; i++; } else if (value[i] === ',') { parts.push(cur); cur = ''; } else cur += value[i];
  }
  parts.push(cur);
  return parts.map((p) => {
    const eq = p.indexOf('=');
    return eq < 0 ? ['', p] : [p.slice(0, eq), p.slice(eq + 1)];
  });
}

/** Doubles commas for a QemuOpts value. */
const optValue = (path: string) => path.replace(/,/g, ',,');

export function archOf(binary: string): Arch | null {
  const name = basename(binary);
  if (name === 'qemu-kvm') return 'x86';
  const m = /qemu-system-([A-Za-z0-9_]+)$/.exec(name);
  if (!m) return null;
  if (m[1] === 'x86_64' || m[1] === 'i386') return 'x86';
  if (/^(aarch64|arm)(eb)?$/.test(m[1])) return 'arm';
  return 'other';
}

/** The index of the QEMU binary in argv (wrappers like taskset or sudo may come first); 0 if none looks like QEMU. */
export function qemuIndex(argv: string[]): number {
  const i = argv.findIndex((a) => archOf(a) !== null);
  return i < 0 ? 0 : i;
}

/** Which GIC the machine has (arm), from -M/-machine, -accel/-enable-kvm and -smp. */
export function gicChoice(opts: Opt[]): GicChoice {
  const machine = new Map<string, string>();
  for (const o of named(opts, 'M', 'machine')) {
    for (const [k, v] of splitOpts(o.value as string)) machine.set(k === '' ? 'type' : k, v);
  }
  const version = machine.get('gic-version');
  if (version === '2') return 'v2';
  if (version === '3' || version === '4') return 'v3';
  if (version !== undefined) return 'both'; // host, max: depends on the host or the QEMU version
  const type = machine.get('type') ?? '';
  const accel = [machine.get('accel') ?? '', ...named(opts, 'accel').map((o) => splitOpts(o.value as string)[0][1])];
  const hwAccel = opts.some((o) => o.name === 'enable-kvm') || accel.some((a) => /kvm|hvf/.test(a));
  let maxCpus = 1;
  for (const o of named(opts, 'smp')) {
    for (const [k, v] of splitOpts(o.value as string)) if (k === '' || k === 'cpus' || k === 'maxcpus') maxCpus = Math.max(maxCpus, Number(v) || 1);
  }
  if (/^virt(-[\d.]+)?$/.test(type) && !hwAccel && maxCpus <= 8) return 'v2';
  return 'both';
}

function tracePatterns(opts: Opt[]): { patterns: string[]; eventsFile: boolean } {
  const patterns: string[] = [];
  let eventsFile = false;
  for (const o of named(opts, 'trace')) {
    const value = o.value as string;
    if (!value.includes('=')) { patterns.push(value); continue; }
    for (const [k, v] of splitOpts(value)) {
      if (k === 'enable' || k === '') patterns.push(v);
      if (k === 'events') eventsFile = true;
    }
  }
  for (const o of named(opts, 'd')) {
    for (const item of (o.value as string).split(',')) if (item.startsWith('trace:')) patterns.push(item.slice(6));
  }
  return { patterns, eventsFile };
}

interface Token { text: string; start: number; end: number }

/** Kernel command line words (double quotes group), with their positions. */
function cmdlineTokens(line: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < line.length) {
    while (i < line.length && /\s/.test(line[i])) i++;
    if (i >= line.length) break;
    const start = i;
    let quoted = false;
    while (i < line.length && (quoted || !/\s/.test(line[i]))) {
      if (line[i] === '"') quoted = !quoted;
      i++;
    }
    tokens.push({ text: line.slice(start, i), start, end: i });
  }
  return tokens;
}

function covered(event: string, have: string[]): boolean {
  const system = event.split(':')[0];
  return have.includes(event) || have.includes(`${system}:*`) || have.includes('*:*') || have.includes('*');
}

/** The -append value with the missing trace_event= entries and ftrace_dump_on_oops added. */
export function extendCmdline(line: string, events: string[]): string {
  const tokens = cmdlineTokens(line);
  const dashes = tokens.findIndex((t) => t.text === '--');
  const kernel = dashes < 0 ? tokens : tokens.slice(0, dashes);
  const key = (t: Token) => t.text.split('=')[0];
  const traceTokens = kernel.filter((t) => key(t) === 'trace_event');
  const last = traceTokens.at(-1);
  const unquote = (s: string) => s.replace(/^"|"$/g, '');
  const have = last ? unquote(last.text.slice('trace_event='.length)).split(',').filter(Boolean) : [];
  const missing = events.filter((e) => !covered(e, have));
  let out = line;
  const appendWords: string[] = [];
  if (last && missing.length) {
    // Extend the user's trace_event= in place (before a closing quote).
    const insertAt = last.text.endsWith('"') && last.text.length > 'trace_event="'.length ? last.end - 1 : last.end;
    const sep = have.length ? ',' : '';
    out = out.slice(0, insertAt) + sep + missing.join(',') + out.slice(insertAt);
  } else if (!last) {
    appendWords.push(`trace_event=${missing.join(',')}`);
  }
  if (!kernel.some((t) => key(t) === 'ftrace_dump_on_oops')) appendWords.push('ftrace_dump_on_oops');
  if (!appendWords.length) return out;
  if (dashes >= 0) {
    // Positions after the trace_event edit moved by the inserted length.
    const shift = out.length - line.length;
    const at = tokens[dashes].start + (last && tokens[dashes].start > last.end ? shift : 0);
    return out.slice(0, at) + appendWords.join(' ') + ' ' + out.slice(at);
  }
  return /^\s*$/.test(out) ? appendWords.join(' ') : out.replace(/\s*$/, '') + ' ' + appendWords.join(' ');
}

/** Adds each NAME=VALUE whose NAME the kernel part (before ' -- ') of the line does not set. */
export function addKernelParams(line: string, params: string[]): string {
  const tokens = cmdlineTokens(line);
  const dashes = tokens.findIndex((t) => t.text === '--');
  const kernel = (dashes < 0 ? tokens : tokens.slice(0, dashes)).map((t) => t.text.split('=')[0]);
  const missing = params.filter((p) => !kernel.includes(p.split('=')[0]));
  if (!missing.length) return line;
  if (dashes >= 0) return line.slice(0, tokens[dashes].start) + missing.join(' ') + ' ' + line.slice(tokens[dashes].start);
  return /^\s*$/.test(line) ? missing.join(' ') : line.replace(/\s*$/, '') + ' ' + missing.join(' ');
}

/**
 * Adds the tracing ipitrace needs to a QEMU command line (argv[0] or a later word is the QEMU binary).
 * outDir is where the console and QEMU trace go unless the user already chose files.
 */
export function buildRecordArgs(argv: readonly string[], outDir: string): RecordPlan {
  const out = [...argv];
  const changes: string[] = [];
  const notes: string[] = [];
  const owned: string[] = [];
  const qi = qemuIndex(out);
  const arch = archOf(out[qi] ?? '') ?? 'other';
  if (archOf(out[qi] ?? '') === null) notes.push(`${out[qi] ?? '(none)'} does not look like qemu-system-ARCH: no interrupt-controller tracing added`);
  else if (arch === 'other') notes.push(`${basename(out[qi])}: no interrupt-controller tracing known for this architecture (x86 and arm only)`);
  const opts = scan(out, qi + 1);
  const front: string[] = [];
  const edits: { index: number; value: string[] }[] = []; // replace out[index..index+1] (option + value)

  // Interrupt-controller tracing.
  let gic: GicChoice | null = null;
  const { patterns, eventsFile } = tracePatterns(opts);
  const enabling = patterns.filter((p) => !p.startsWith('-'));
  if (arch === 'x86' || arch === 'arm') {
    const family = arch === 'x86' ? /^(apic_|\*)/ : /^(gic|\*)/;
    if (arch === 'arm') gic = gicChoice(opts);
    if (eventsFile) notes.push('-trace events=FILE given: interrupt-controller tracing left to it');
    else if (!enabling.some((p) => family.test(p))) {
      const add = arch === 'x86' ? X86_TRACE : gic === 'v2' ? GICV2_TRACE : gic === 'v3' ? GICV3_TRACE : [...GICV2_TRACE, ...GICV3_TRACE];
      for (const p of add) front.push('-trace', p);
      changes.push(`-trace ${add.join(' -trace ')}${gic === 'both' ? ' (GIC version not known from the command line: both)' : ''}`);
    }
  }

  // QEMU trace log.
  const userLog = named(opts, 'D').at(-1);
  let qemuTrace: string;
  if (userLog) qemuTrace = userLog.value as string;
  else {
    qemuTrace = join(outDir, QEMU_TRACE_FILE);
    owned.push(qemuTrace);
    front.push('-D', qemuTrace);
    changes.push(`-D ${qemuTrace}`);
  }

  // Timestamps in the QEMU log.
  const msg = named(opts, 'msg').at(-1);
  if (!msg) {
    front.push('-msg', 'timestamp=on');
    changes.push('-msg timestamp=on');
  } else if (!splitOpts(msg.value as string).some(([k]) => k === 'timestamp')) {
    edits.push({ index: msg.index, value: [out[msg.index], `${msg.value},timestamp=on`] });
    changes.push(`-msg ${msg.value},timestamp=on`);
  }

  // Serial console.
  const consoleFile = join(outDir, CONSOLE_FILE);
  const logfile = `logfile=${optValue(consoleFile)}`;
  const chardev = (backend: string, extra = '') => ['-chardev', `${backend},id=${CONSOLE_CHARDEV}${extra},${logfile}`];
  const serialTo = ['-serial', `chardev:${CONSOLE_CHARDEV}`];
  let consolePath: string | null = null;
  const serial = named(opts, 'serial')[0];
  const has = (...names: string[]) => opts.some((o) => names.includes(o.name));
  if (serial) {
    const value = serial.value as string;
    if (value.startsWith('file:')) consolePath = value.slice(5);
    else if (value === 'stdio' || value === 'mon:stdio') {
      edits.push({ index: serial.index, value: ['-serial', `file:${consoleFile}`] });
      consolePath = consoleFile;
      owned.push(consoleFile);
      changes.push(`-serial ${value} -> -serial file:${consoleFile} (written straight to the file, shown here as it grows)`);
    } else if (value === 'pty' || value === 'null' || value === 'vc') {
      edits.push({ index: serial.index, value: [...chardev(value), ...serialTo] });
      consolePath = consoleFile;
      owned.push(consoleFile);
      changes.push(`-serial ${value} -> chardev ${value} with ${logfile}`);
    } else if (value.startsWith('chardev:')) {
      const id = value.slice(8);
      const dev = named(opts, 'chardev').find((o) => splitOpts(o.value as string).some(([k, v]) => k === 'id' && v === id));
      if (!dev) notes.push(`-serial ${value}: no -chardev with id=${id}; console not captured`);
      else {
        const kv = splitOpts(dev.value as string);
        const get = (key: string) => kv.find(([k]) => k === key)?.[1];
        const backend = kv[0][0] === '' ? kv[0][1] : get('backend');
        if (get('logfile') !== undefined) consolePath = get('logfile') as string;
        else if (backend === 'file' && get('path') !== undefined) consolePath = get('path') as string;
        else {
          edits.push({ index: dev.index, value: [out[dev.index], `${dev.value},${logfile}`] });
          consolePath = consoleFile;
          owned.push(consoleFile);
          changes.push(`-chardev ${id}: ${logfile}`);
        }
      }
    } else {
      notes.push(`-serial ${value}: the console is not captured (use -serial file:PATH or a -chardev with logfile=)`);
    }
  } else {
    front.push('-serial', `file:${consoleFile}`);
    consolePath = consoleFile;
    owned.push(consoleFile);
    changes.push(`-serial file:${consoleFile}`);
  }

  // Kernel command line.
  const append = named(opts, 'append').at(-1);
  if (append) {
    const events = arch === 'x86' ? [...KERNEL_EVENTS, ...X86_KERNEL_EVENTS] : KERNEL_EVENTS;
    const line = addKernelParams(extendCmdline(append.value as string, events), KERNEL_PARAMS);
    if (line !== append.value) {
      edits.push({ index: append.index, value: [out[append.index], line] });
      changes.push(`-append '${line}'`);
      if (!/(^|\s)log_buf_len=/.test(append.value as string) && /(^|\s)log_buf_len=/.test(line)) {
        changes.push('log_buf_len=16M: the oops-time trace dump stalls after ~4,000 lines in the default 128 KiB printk buffer');
      }
    }
    if (arch === 'x86' && !/(^|\s)console=/.test(line)) notes.push('-append has no console=: an x86 kernel then prints nothing on the serial console (add console=ttyS0)');
  } else if (has('kernel')) {
    notes.push('no -append: kernel tracing not enabled (give -append with trace_event=... or let ipitrace add it to your -append)');
  }

  if (!has('no-reboot')) {
    front.push('-no-reboot');
    changes.push('-no-reboot (with panic=-1: a panicking kernel ends QEMU instead of waiting for the timeout)');
  }
  const kvm = opts.some((o) => o.name === 'enable-kvm')
    || [...named(opts, 'accel'), ...named(opts, 'M', 'machine')].some((o) => /(^|,)(accel=)?kvm\b/.test(o.value as string));
  if (arch === 'x86' && kvm) {
    notes.push('KVM: the in-kernel irqchip delivers IPIs without QEMU seeing them, so its log will hold no apic_* IPI writes to check the guest against (-accel tcg, or -machine kernel-irqchip=off, for that)');
  }

  // Apply in-place edits from the end, then insert the additions after the binary.
  for (const edit of edits.sort((a, b) => b.index - a.index)) out.splice(edit.index, 2, ...edit.value);
  out.splice(qi + 1, 0, ...front);
  return { argv: out, outputs: { console: consolePath, qemuTrace, owned }, arch, gic, changes, notes };
}
