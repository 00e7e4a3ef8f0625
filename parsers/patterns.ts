// Named regex pieces and small decoders shared by the format modules. Each piece cites the
// kernel format it matches (shared/docs/formats.md).

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
  let hex = printed.startsWith('0x') ? printed.slice(2) : printed;
  if (!/^[0-9a-fA-F]+$/.test(hex)) return null;
  hex = hex.toLowerCase().replace(/^0+/, '');
  return '0x' + (hex === '' ? '0' : hex);
}

/**
 * A cpumask as printed by %*pb: comma-separated 32-bit hex words, most significant first
 * (`00000000,0000000e` = CPUs 1-3), or the list form %*pbl (`0,2-5`). Returns the CPU numbers,
 * or null when the text is neither.
 */
export function parseCpumask(text: string): number[] | null {
  return HEX_WORDS.test(text) ? parseHexWords(text) : parseCpuList(text);
}

/** %*pb output: 8-digit words (the most significant one may be shorter when there are several). */
const HEX_WORDS = /^[0-9a-fA-F]{1,8}(,[0-9a-fA-F]{8})+$|^[0-9a-fA-F]{8}$/;

function parseHexWords(text: string): number[] {
  const words = text.split(',').reverse();
  const cpus: number[] = [];
  words.forEach((word, index) => {
    const value = parseInt(word, 16);
    for (let bit = 0; bit < 32; bit++) if ((value >>> bit) & 1) cpus.push(index * 32 + bit);
  });
  return cpus;
}

/** `0-1,3` (%*pbl, also the console's CPU lists). Returns null when malformed; '' is an empty list. */
export function parseCpuList(text: string): number[] | null {
  if (text === '') return [];
  const cpus: number[] = [];
  for (const part of text.split(',')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    if (!m) return null;
    const lo = Number(m[1]);
    const hi = m[2] === undefined ? lo : Number(m[2]);
    if (hi < lo || hi - lo > 65536) return null;
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
 * `secs.fraction` -> integer ns without going through a float (`4.074854` -> 4074854000).
 * The fraction has 6 digits in ftrace text and printk, 9 with trace-cmd's ns output.
 */
export function secondsToNs(secs: string, fraction: string): number {
  const frac = fraction.length >= 9 ? fraction.slice(0, 9) : fraction.padEnd(9, '0');
  return Number(secs) * 1_000_000_000 + Number(frac);
}
