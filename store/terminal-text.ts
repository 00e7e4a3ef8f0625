// Text taken from logs, made safe to print on a terminal. A log can hold any bytes: a function name
// or a console line with an escape sequence (OSC 52 writes the clipboard, OSC 8 makes links, CSI moves
// the cursor or hides text, a bare CR overwrites what was printed). Every control character becomes a
// visible escape (\u001b), so the text stays readable and cannot act. The \uXXXX notation is also
// valid inside a JSON string, so the output guard keeps JSON output exact.
// Shared by every text output: store/query.ts per cell, cli/main.ts as the guard over stdout/stderr.

/**
 * C0 controls, DEL, C1 controls (U+009B is CSI, U+009D OSC on a terminal that reads C1 in UTF-8),
 * the bidi overrides and isolates that reorder what is shown (U+202A-U+202E, U+2066-U+2069), and
 * the Unicode line and paragraph separators.
 */
const CONTROLS = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

function escapeChar(char: string): string {
  return `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`;
}

/** One value (a table cell, a function name): every control character escaped, line ends too. */
export function safeText(text: string): string {
  CONTROLS.lastIndex = 0;
  return CONTROLS.test(text) ? text.replace(CONTROLS, escapeChar) : text;
}

/** Line ends (\n, and the \r of a serial console's \r\n) and tabs: harmless, kept by safeLines and safeOutput. */
function keeps(text: string, at: number): boolean {
  const char = text[at];
  return char === '\n' || char === '\t' || (char === '\r' && text[at + 1] === '\n');
}

/** Whole lines of text: as safeText, but line ends (\n, \r\n) and tabs stay; a lone CR is escaped. */
export function safeLines(text: string): string {
  CONTROLS.lastIndex = 0;
  if (!CONTROLS.test(text)) return text;
  return text.replace(CONTROLS, (char, at: number) => (keeps(text, at) ? char : escapeChar(char)));
}

/**
 * What ipitrace itself writes to a terminal and the output guard lets through: colours and
 * bold/dim/underline (SGR with those parameters only; not conceal, blink or reverse), and the
 * progress line's carriage return + erase line. Any other escape, from a log or not, is escaped.
 */
const OWN_SEQUENCES = /\r\u001b\[K|\u001b\[K|\u001b\[(?:(?:0|1|2|3|4|22|23|24|3[0-9]|9[0-7])(?:;|(?=m)))*m/y;

/**
 * Output written to stdout/stderr: as safeLines, except ipitrace's own colour and progress sequences
 * when own is true (a terminal; nothing of ours is coloured when piped, so then nothing passes).
 */
export function safeOutput(text: string, own = true): string {
  CONTROLS.lastIndex = 0;
  if (!CONTROLS.test(text)) return text;
  if (!own) return safeLines(text);
  let out = '';
  let from = 0;
  CONTROLS.lastIndex = 0;
  for (let match = CONTROLS.exec(text); match; match = CONTROLS.exec(text)) {
    const at = match.index;
    const char = match[0];
    out += text.slice(from, at);
    if (keeps(text, at)) {
      out += char;
      from = at + 1;
      continue;
    }
    OWN_SEQUENCES.lastIndex = at;
    const seq = OWN_SEQUENCES.exec(text);
    if (seq) {
      out += seq[0];
      from = at + seq[0].length;
      CONTROLS.lastIndex = from;
      continue;
    }
    out += escapeChar(char);
    from = at + 1;
  }
  return out + text.slice(from);
}

/**
 * Makes every string written to the stream pass safeOutput: the last line of defence, so that no
 * output path (query, analyze, detect, ingest messages, errors) can pass a log's escape sequence
 * to the terminal, whatever its formatter forgot. ipitrace's own colours pass only where it may
 * colour (a terminal, or FORCE_COLOR). Buffers pass unchanged (ipitrace writes none).
 */
export function guardStream(stream: NodeJS.WriteStream, env: NodeJS.ProcessEnv = process.env): void {
  const force = env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== '' && env.FORCE_COLOR !== '0';
  const own = stream.isTTY === true || force;
  const write = stream.write.bind(stream) as (chunk: unknown, ...rest: unknown[]) => boolean;
  // A CR that ends one write may be the first half of a CRLF split across two (a console echoed as
  // it comes): it waits for the next write to tell.
  let heldCr = '';
  stream.write = ((chunk: unknown, ...rest: unknown[]) => {
    if (typeof chunk !== 'string') return write(chunk, ...rest);
    let text = heldCr + chunk;
    heldCr = text.endsWith('\r') ? '\r' : '';
    if (heldCr) text = text.slice(0, -1);
    return write(safeOutput(text, own), ...rest);
  }) as typeof stream.write;
}
