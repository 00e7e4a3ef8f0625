// Named regex pieces and small decoders shared by the format modules. Each piece cites the
// kernel format it matches (shared/docs/formats.md).
import { MAX_CPUS } from './bounds.js';

/** `sym+0x1cf/0x221` (%pS) or `sym` (%ps) or raw `0x0`: the symbol without its offset. */
export function symbolName(printed: string): string {
  const plus = printed.indexOf('+0x');
  return plus > 0 ? printed.slice(0, plus) : printed;
}

/**
 * csd=%p as printed: `ffffffff819f4b80` (no_hash_pointers), hashed `00000000851fc51d`, NULL
 * `0000000000000000` / `00000000`, or hashed-out early-boot `(____ptrval____)` / `(ptrval)`.
 * Returns '0x' + lowercase hex without leading zeros ('0x0' for NULL), or null when hashed out.
 */
export function normalizePointer(printed: string): string | null {
  if (printed.startsWith('(')) return null;
  const from = printed.startsWith('0x') ? 2 : 0;
  if (from === printed.length) return null;
  // One pass: every character a hex digit; the first that is not '0'; any upper case.
  let firstSignificant = -1;
  let upper = false;
  for (let i = from; i < printed.length; i++) {
    const c = printed.charCodeAt(i);
    if (c >= 0x30 && c <= 0x39) {
      if (c !== 0x30 && firstSignificant === -1) firstSignificant = i;
    } else if (c >= 0x61 && c <= 0x66) {
      if (firstSignificant === -1) firstSignificant = i;
    } else if (c >= 0x41 && c <= 0x46) {
      if (firstSignificant === -1) firstSignificant = i;
      upper = true;
    } else {
      return null;
    }
  }
  if (firstSignificant === -1) return '0x0';
  const hex = printed.slice(firstSignificant);
  return '0x' + (upper ? hex.toLowerCase() : hex);
}

/**
 * A cpumask as printed by %*pb: comma-separated 32-bit hex words, most significant first
 * (`00000000,0000000e` = CPUs 1-3), or the list form %*pbl (`0,2-5`). Returns the CPU numbers,
 * or null when the text is neither.
 */
export function parseCpumask(text: string): number[] | null {
  if (HEX_WORDS.test(text)) return parseHexWords(text);
  // A word of more than 8 digits is a mask a serial line garbled (`000000000,00000008`, a doubled
  // digit, in a real arm64 boot), never a CPU list (whose numbers have no leading zeros): extra
  // leading zeros change no bit; anything else is unreadable.
  if (LONG_HEX_WORD.test(text)) {
    const words = text.split(',');
    if (!words.every((w) => /^[0-9a-fA-F]+$/.test(w) && /^0*$/.test(w.slice(0, -8)))) return null;
    return parseHexWords(words.map((w) => w.slice(-8)).join(','));
  }
  return parseCpuList(text);
}

const LONG_HEX_WORD = /(^|,)[0-9a-fA-F]{9,}(,|$)/;

/** %*pb output: 8-digit words (the most significant one may be shorter when there are several). */
const HEX_WORDS = /^[0-9a-fA-F]{1,8}(,[0-9a-fA-F]{8})+$|^[0-9a-fA-F]{8}$/;

/** null when a bit at or beyond MAX_CPUS is set (a mask the kernel cannot print: a garbled line). */
function parseHexWords(text: string): number[] | null {
  const words = text.split(',').reverse();
  const cpus: number[] = [];
  for (let index = 0; index < words.length; index++) {
    const value = parseInt(words[index], 16);
    if (value === 0) continue;
    if (index * 32 >= MAX_CPUS) return null;
    for (let bit = 0; bit < 32; bit++) if ((value >>> bit) & 1) cpus.push(index * 32 + bit);
  }
  return cpus;
}

/**
 * `0-1,3` (%*pbl, also the console's CPU lists). Returns null when malformed, or when it names a CPU
 * at or beyond MAX_CPUS or more CPUs than that (repeated ranges of a garbled line); '' is an empty list.
 */
export function parseCpuList(text: string): number[] | null {
  if (text === '') return [];
  const cpus: number[] = [];
  for (const part of text.split(',')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    if (!m) return null;
    const lo = Number(m[1]);
    const hi = m[2] === undefined ? lo : Number(m[2]);
    if (hi < lo || hi >= MAX_CPUS || cpus.length + (hi - lo) >= MAX_CPUS) return null;
    for (let cpu = lo; cpu <= hi; cpu++) cpus.push(cpu);
  }
  return cpus;
}

/** Formats CPU numbers as a list with ranges: [0,1,3] -> '0-1,3'. */
export function formatCpuList(cpus: Iterable<number>): string {
  const sorted = [...new Set(cpus)].sort((a, b) => a - b);
  const parts: string[] = [];
  for (let i = 0; i < sorted.length; ) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j] + 1) j++;
    parts.push(i === j ? `${sorted[i]}` : `${sorted[i]}-${sorted[j]}`);
    i = j + 1;
  }
  return parts.join(',');
}

/**
 * `secs.fraction` -> integer ns without going through a float (`4.074854` -> 4074854000): a number,
 * or a BigInt where the value is beyond Number.MAX_SAFE_INTEGER.
 * The fraction has 6 digits in ftrace text and printk, 9 with trace-cmd's ns output.
 */
export function secondsToNs(secs: string, fraction: string): number | bigint {
  // Scaling the digits by a power of ten is exact (an integer below 1e9): no padded string needed.
  const frac = fraction.length >= 9 ? digitsValue(fraction, 9) : digitsValue(fraction, fraction.length) * FRACTION_SCALE[fraction.length];
  const ns = digitsValue(secs, secs.length) * 1_000_000_000 + frac;
  // Beyond 2^53 ns (104 days of uptime) a float has no exact integers: the exact BigInt instead,
  // stored exactly by SQLite (parsers/bounds.ts refuses what exceeds 64 bits).
  return ns <= Number.MAX_SAFE_INTEGER ? ns : BigInt(secs) * 1_000_000_000n + BigInt(frac);
}

/**
 * The value of the first `end` characters of a string of ASCII digits, as Number() gives it. Number()
 * of a fresh string first hashes it whole (V8 checks whether it is an array index): on every line's
 * time that was a tenth of the parse. Up to 15 digits the sum is exact; longer ones go to Number().
 */
function digitsValue(digits: string, end: number): number {
  if (end > 15) return Number(end === digits.length ? digits : digits.slice(0, end));
  let value = 0;
  for (let i = 0; i < end; i++) value = value * 10 + (digits.charCodeAt(i) - 48);
  return value;
}

const FRACTION_SCALE = [1e9, 1e8, 1e7, 1e6, 1e5, 1e4, 1e3, 1e2, 1e1];

/**
 * A repair for names a serial line garbled by repeating characters: under QEMU TCG a console now and
 * then prints a character more than once (`ccall_function_single_entry`, `Reschhhhhheduling
 * interrupts`, both seen in real 6.1 boots). Returns a function that maps a name to the known name it
 * repeats characters of (equal once every run of one character is squeezed to one), or to itself.
 * Names that squeeze alike (none ipitrace knows) are not repaired.
 */
export function repeatRepair(known: Iterable<string>): (text: string) => string {
  const bySqueezed = new Map<string, string | null>();
  // A known name maps to itself: the caller gets the one string of the table, not the equal one cut
  // from the line, so that later lookups by it (decoders, the writer's per-kind entries) find it by
  // identity instead of comparing characters.
  const names = new Map<string, string>();
  for (const name of known) names.set(name, name);
  for (const name of names.keys()) {
    const key = squeezeRepeats(name);
    bySqueezed.set(key, bySqueezed.has(key) ? null : name);
  }
  // Unknown names recur (every sched_switch of a trace): their answer is kept, up to a bound.
  const seen = new Map<string, string>();
  return (text) => {
    const name = names.get(text);
    if (name !== undefined) return name;
    let repaired = seen.get(text);
    if (repaired === undefined) {
      repaired = bySqueezed.get(squeezeRepeats(text)) ?? text;
      if (seen.size < 4096) seen.set(text, repaired);
    }
    return repaired;
  };
}

/** `text` with every run of one character squeezed to one. */
export const squeezeRepeats = (text: string): string => text.replace(/(.)\1+/g, '$1');
