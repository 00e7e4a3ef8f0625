// A stable signature per finding, to deduplicate findings across boots in the manner of syzkaller's
// crash titles: the same bug on another boot, another CPU or another kernel build gives the same
// text; different bugs give different texts. It keeps what names the bug (detector, function, the
// function of the callsite, the target's state class, the kernel report's kind) and drops what
// varies from boot to boot (CPU numbers, addresses, offsets, times, counts, boot names).
//   csd-never-released: ipi_fault_func from ipi_fault_write to offline CPU
//   ipi-to-nonexistent: ipi_fault_func from ipi_fault_write
//   kernel-reported: CSD lock never released: CPU waits for CPU (__lkdtm_CSDLOCKUP)
// Export commands reuse signature() on rows of the findings table (which stores it too).

/** What a signature is made from: a finding's columns, plus the csd's callsite and target state when known. */
export interface SignatureInput {
  detector: string;
  func: string | null;
  title: string;
  message: string;
  /** callsite= as printed ('ipi_fault_write+0x1cf/0x221'), when replay knows it. */
  callsite?: string | null;
  /** csd_lifecycle.target_state at the queue ('online', 'offline', 'dying', 'nonexistent'). */
  targetState?: string | null;
}

/** Detectors whose findings are about one queued csd: their signature is function + callsite. */
const CSD_DETECTORS = new Set([
  'csd-never-released', 'csd-held-too-long', 'csd-released-late', 'callback-on-offline-cpu', 'pending-at-offline',
  'csd-reuse-while-locked', 'ipi-to-offline', 'ipi-to-nonexistent',
]);

/** Detectors whose finding means something else when the target was offline or absent. */
const STATE_MATTERS = new Set(['csd-never-released', 'csd-held-too-long', 'csd-reuse-while-locked']);

/** The function part of a callsite: 'ipi_fault_write+0x1cf/0x221' -> 'ipi_fault_write'. */
export function callsiteFunction(callsite: string | null | undefined): string | null {
  if (!callsite) return null;
  const name = /^([A-Za-z_.$][\w.$]*)/.exec(callsite.trim());
  return name ? name[1].replace(/\.(?:cold|isra|constprop|part|lto_priv)(?:\.\d+)*$/g, '') : null;
}

/** Drops what varies between boots from free text: CPU numbers, addresses, offsets, times and counts. */
export function normalizeText(text: string): string {
  return text
    .replace(/\b(CPUs?)\s*#?\d+(?:\s*-\s*\d+)?/g, '$1')
    .replace(/\bcpu\s*\d+/g, 'cpu')
    .replace(/\+0x[0-9a-f]+(?:\/0x[0-9a-f]+)?/gi, '')
    .replace(/\b0x[0-9a-f]+\b/gi, 'ADDR')
    .replace(/\b[0-9a-f]{16}\b/gi, 'ADDR')
    .replace(/#\d+/g, '#N')
    .replace(/\b\d+(?:\.\d+)?\s*(?:s|ms|us|ns|seconds?)\b/g, 'T')
    .replace(/\b\d+(?:\.\d+)?\b/g, 'N')
    .replace(/\s+/g, ' ')
    .trim();
}

export function signature(f: SignatureInput): string {
  if (CSD_DETECTORS.has(f.detector) && f.func) {
    const from = callsiteFunction(f.callsite ?? /callsite ([^\s,)]+)/.exec(f.message)?.[1]);
    const state = STATE_MATTERS.has(f.detector) && f.targetState && f.targetState !== 'online' ? ` to ${f.targetState} CPU` : '';
    return `${f.detector}: ${f.func}${from ? ` from ${from}` : ''}${state}`;
  }
  // A panic, BUG or oops is told apart by what the kernel said, not only by its kind.
  if (/^kernel (panic|BUG|oops)$/.test(f.title)) {
    const said = normalizeText(f.message.replace(/^(panic|BUG|oops):\s*/i, '')).slice(0, 120);
    return `${f.detector}: ${f.title}${said ? `: ${said}` : ''}`;
  }
  return `${f.detector}: ${normalizeText(f.title)}`;
}
