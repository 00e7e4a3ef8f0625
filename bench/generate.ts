// Deterministic large inputs for `npm run bench`, built from real corpus recordings:
// - ftrace: the event lines of a long hotplug recording (x86/big/trace.txt.gz, 211k events) repeated,
//   each copy's timestamps shifted past the previous copy's end, behind the recording's own header
//   with the entries counts set to the new total. The text format is kept byte for byte.
// - mixed: a CI-style console of the same event count: tp_printk event lines (the same recording's
//   events printed as `[ secs.usec] name: args`) and QEMU `TID@secs.usec:` trace lines (x86/big's
//   QEMU log of the same boot), each copy of both shifted by the same time and the two interleaved in
//   proportion to their lengths, and a printk-prefixed kernel message (x86/big's console, cycled
//   without its hotplug messages, stamped with the current time) after every 8 events.
// - console: the mixed console without QEMU's lines: a console of tp_printk events and kernel
//   messages, as a CI job that boots with tp_printk keeps it (no ftrace file, no QEMU log).
// Files are written to bench/out/ and reused while the generator version and sizes match.
import { closeSync, createReadStream, createWriteStream, existsSync, mkdirSync, openSync, readFileSync, renameSync,
  statSync, writeFileSync, writeSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGzip, gunzipSync } from 'node:zlib';

export const GENERATOR_VERSION = 4;

export const CORPUS = process.env.IPITRACE_CORPUS ?? '/work/shared/corpus';
const TRACE = 'x86/big/trace.txt.gz';
const QEMU = 'x86/big/qemu-trace.log.gz';
const CONSOLE = 'x86/big/console.log.gz';

/** Gap left between the end of one copy and the start of the next, µs. */
const GAP_US = 1_000;
/** How much slower QEMU's host clock ran than the guest's in x86/big (ipitrace detect: clock_offsets.drift_ppm). */
const QEMU_DRIFT_PPM = 8.29;
/** One kernel message after this many events in the mixed console. */
const CONSOLE_EVERY = 8;

export interface GeneratedInput {
  name: string;
  path: string;
  kind: 'ftrace' | 'mixed' | 'console' | 'ftrace-gz';
  /** Event lines written (the count ipitrace should store as events). */
  events: number;
  lines: number;
  bytes: number;
  /** Copies of the recording the events span. */
  copies: number;
}

function readCorpus(relative: string): string[] {
  const path = join(CORPUS, relative);
  const raw = readFileSync(path);
  const text = (relative.endsWith('.gz') ? gunzipSync(raw) : raw).toString('utf8');
  // The serial console's lines end in CRLF.
  const lines = text.split(/\r?\n/);
  if (lines[lines.length - 1] === '') lines.pop();
  return lines;
}

// `<idle>-0       [000] d..4.     0.000000: csd_function_entry: ...`: the part before the
// seconds field, the field itself (`%5lu` after one space) with its padding, the microseconds, the rest.
const FTRACE_TS = /^(.*?\]\s+(?:[A-Za-z0-9.]{4,6})?)(\s+\d+)\.(\d{6})(: .*)$/;
// `3274@1795308138.671798:apic_local_deliver ...`
const QEMU_TS = /^(\d+)@(\d+)\.(\d{6})(:.*)$/;
// `[   57.144889] smpboot: ...`
const PRINTK = /^\[\s*\d+\.\d+\] (.*)$/;

interface TraceEvent {
  head: string;
  width: number;
  us: number;
  tail: string;
}

interface Recording {
  header: string[];
  events: TraceEvent[];
  spanUs: number;
}

function loadTrace(): Recording {
  const header: string[] = [];
  const events: TraceEvent[] = [];
  for (const line of readCorpus(TRACE)) {
    if (line.startsWith('#')) {
      if (events.length === 0) header.push(line);
      continue;
    }
    const m = FTRACE_TS.exec(line);
    if (!m) continue;
    events.push({ head: m[1], width: m[2].length, us: Number(m[2]) * 1e6 + Number(m[3]), tail: m[4] });
  }
  if (events.length === 0) throw new Error(`${TRACE}: no event lines`);
  const spanUs = events[events.length - 1].us - events[0].us + GAP_US;
  return { header, events, spanUs };
}

/** `secs.usec` with the seconds right-aligned in `width` characters (at least one leading space). */
function stamp(us: number, width: number): string {
  const secs = Math.floor(us / 1e6);
  const frac = String(us - secs * 1e6).padStart(6, '0');
  return ' ' + String(secs).padStart(width - 1) + '.' + frac;
}

/** Buffered synchronous writer (the generator runs outside the measured processes). */
class Out {
  private readonly fd: number;
  private parts: string[] = [];
  private size = 0;
  lines = 0;

  constructor(path: string) {
    this.fd = openSync(path, 'w');
  }

  line(text: string): void {
    this.parts.push(text);
    this.size += text.length + 1;
    this.lines++;
    if (this.size > 1 << 20) this.flush();
  }

  flush(): void {
    if (this.parts.length === 0) return;
    this.parts.push('');
    writeSync(this.fd, this.parts.join('\n'));
    this.parts = [];
    this.size = 0;
  }

  close(): void {
    this.flush();
    closeSync(this.fd);
  }
}

function writeFtrace(path: string, events: number, rec: Recording): { lines: number; copies: number } {
  const out = new Out(path);
  for (const line of rec.header) {
    out.line(line.startsWith('# entries-in-buffer/entries-written:')
      ? line.replace(/\d+\/\d+/, `${events}/${events}`)
      : line);
  }
  let written = 0;
  let copy = 0;
  while (written < events) {
    const shift = copy * rec.spanUs;
    for (const ev of rec.events) {
      if (written === events) break;
      out.line(ev.head + stamp(ev.us + shift, ev.width) + ev.tail);
      written++;
    }
    copy++;
  }
  out.close();
  return { lines: out.lines, copies: copy };
}

interface QemuLine {
  tid: string;
  us: number;
  tail: string;
}

function loadQemu(): { lines: QemuLine[]; spanUs: number } {
  const lines: QemuLine[] = [];
  for (const line of readCorpus(QEMU)) {
    const m = QEMU_TS.exec(line);
    if (m) lines.push({ tid: m[1], us: Number(m[2]) * 1e6 + Number(m[3]), tail: m[4] });
  }
  if (lines.length === 0) throw new Error(`${QEMU}: no trace lines`);
  return { lines, spanUs: lines[lines.length - 1].us - lines[0].us + GAP_US };
}

// A CPU going offline or coming up: left out of the cycled console, where it would be stamped at a
// time unrelated to the trace's own hotplug (its cpuhp events).
const HOTPLUG_MESSAGE = /is now offline|Booting Node \d+ Processor|node +#\d+, CPUs:/;

function loadConsole(): string[] {
  const messages: string[] = [];
  for (const line of readCorpus(CONSOLE)) {
    const m = PRINTK.exec(line);
    if (m && m[1].trim() !== '' && !HOTPLUG_MESSAGE.test(m[1])) messages.push(m[1]);
  }
  if (messages.length === 0) throw new Error(`${CONSOLE}: no kernel messages`);
  return messages;
}

function writeMixed(path: string, events: number, rec: Recording, withQemu: boolean): { lines: number; copies: number } {
  const qemu = withQemu ? loadQemu() : { lines: [], spanUs: 0 };
  const messages = loadConsole();
  const out = new Out(path);
  // Both logs of one copy are shifted by the same time, so that the guest's sends of copy k meet their
  // QEMU writes of copy k (as in one long boot), and interleaved in proportion to their lengths, so
  // that the file stays in time order across both.
  const shiftUs = Math.max(rec.spanUs, qemu.spanUs);
  // The guest's clock ran 8.3 ppm faster than QEMU's in this recording (clock_offsets 'qemu-host':
  // ref = (qemu + offset) * (1 + drift_ppm / 1e6)): a copy's QEMU times move by that much less, or
  // the copies' clocks drift apart (with the same shift, the fit found -4 ppm and a 2 ms spread).
  const qemuShiftUs = Math.round(shiftUs * (1 - QEMU_DRIFT_PPM / 1e6));
  let trace = 0;
  let q = 0;
  let copy = 0;
  let message = 0;
  let nowUs = 0;
  for (let written = 0; written < events; written++) {
    if (!withQemu || trace / rec.events.length <= q / qemu.lines.length) {
      const ev = rec.events[trace++];
      nowUs = ev.us + copy * shiftUs;
      // tp_printk prints `name: args`: the ftrace line's tail after the timestamp's ': '.
      out.line(`[${stamp(nowUs, 6).slice(1)}] ${ev.tail.slice(2)}`);
    } else {
      const line = qemu.lines[q++];
      const us = line.us + copy * qemuShiftUs;
      out.line(`${line.tid}@${Math.floor(us / 1e6)}.${String(us % 1e6).padStart(6, '0')}${line.tail}`);
    }
    if (trace === rec.events.length && q === qemu.lines.length) {
      trace = 0;
      q = 0;
      copy++;
    }
    if ((written + 1) % CONSOLE_EVERY === 0) {
      out.line(`[${stamp(nowUs, 6).slice(1)}] ${messages[message]}`);
      message = (message + 1) % messages.length;
    }
  }
  out.close();
  return { lines: out.lines, copies: copy + (trace > 0 || q > 0 ? 1 : 0) };
}

interface Manifest {
  version: number;
  corpus: string;
  files: Record<string, GeneratedInput>;
}

/** The inputs for the given event counts, generated into `dir` unless already there. */
export async function generateInputs(outDir: string, kinds: ('ftrace' | 'mixed' | 'console')[], sizes: number[], gzipSize: number | null,
  log: (text: string) => void): Promise<GeneratedInput[]> {
  const dir = resolve(outDir);
  mkdirSync(dir, { recursive: true });
  const manifestPath = join(dir, 'manifest.json');
  let manifest: Manifest = { version: GENERATOR_VERSION, corpus: CORPUS, files: {} };
  if (existsSync(manifestPath)) {
    const old = JSON.parse(readFileSync(manifestPath, 'utf8')) as Manifest;
    if (old.version === GENERATOR_VERSION && old.corpus === CORPUS) manifest = old;
  }
  const saveManifest = () => writeFileSync(manifestPath, JSON.stringify(manifest, null, 2) + '\n');
  const fresh = (name: string): GeneratedInput | undefined => {
    const known = manifest.files[name];
    return known && existsSync(known.path) && statSync(known.path).size === known.bytes ? known : undefined;
  };
  let rec: Recording | null = null;
  const inputs: GeneratedInput[] = [];
  for (const kind of kinds) {
    for (const events of sizes) {
      const name = `${kind}-${label(events)}`;
      let input = fresh(name);
      if (!input) {
        rec ??= loadTrace();
        const path = join(dir, `${name}.${kind === 'ftrace' ? 'txt' : 'log'}`);
        const started = performance.now();
        const { lines, copies } = kind === 'ftrace' ? writeFtrace(path + '.tmp', events, rec)
          : writeMixed(path + '.tmp', events, rec, kind === 'mixed');
        renameSync(path + '.tmp', path);
        input = { name, path, kind, events, lines, bytes: statSync(path).size, copies };
        manifest.files[name] = input;
        saveManifest();
        log(`generated ${path}: ${events} events, ${lines} lines, ${(input.bytes / 1e6).toFixed(0)} MB, ${copies} copies (${((performance.now() - started) / 1000).toFixed(1)} s)`);
      }
      inputs.push(input);
    }
  }
  if (gzipSize !== null) {
    const plain = inputs.find((i) => i.kind === 'ftrace' && i.events === gzipSize);
    if (!plain) throw new Error(`no ftrace input of ${gzipSize} events to gzip`);
    const name = `${plain.name}-gz`;
    let input = fresh(name);
    if (!input) {
      const path = `${plain.path}.gz`;
      const started = performance.now();
      await pipeline(createReadStream(plain.path), createGzip(), createWriteStream(path + '.tmp'));
      renameSync(path + '.tmp', path);
      input = { ...plain, name, path, kind: 'ftrace-gz', bytes: statSync(path).size };
      manifest.files[name] = input;
      saveManifest();
      log(`generated ${path}: ${(input.bytes / 1e6).toFixed(0)} MB (${((performance.now() - started) / 1000).toFixed(1)} s)`);
    }
    inputs.push(input);
  }
  return inputs;
}

export function label(events: number): string {
  return events % 1_000_000 === 0 ? `${events / 1_000_000}M` : events % 1000 === 0 ? `${events / 1000}k` : `${events}`;
}
