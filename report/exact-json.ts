// JSON with exact integers: a BigInt (a time beyond 2^53 ns, detect/epoch.ts) is written as the
// integer it is, not refused (JSON.stringify throws on BigInt) nor rounded through a float.
const MARKER = '\u0000exact-integer:';

export function exactJson(value: unknown, indent = 2): string {
  const text = JSON.stringify(value, (_key, v: unknown) => (typeof v === 'bigint' ? `${MARKER}${v}` : v), indent);
  return text.replace(/"\\u0000exact-integer:(-?\d+)"/g, '$1');
}
