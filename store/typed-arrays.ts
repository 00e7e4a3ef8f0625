// Growing typed-array columns, for tables held in memory as struct-of-arrays (replay's QEMU
// correlation, ingest's packed batches).

/** A copy of a typed array with room for at least `least` elements (twice as many, at least). */
export function grown<T extends Int32Array | Float64Array | Uint8Array | BigInt64Array>(array: T, least: number): T {
  const bigger = new (array.constructor as new (length: number) => T)(Math.max(least, 2 * array.length));
  bigger.set(array as never);
  return bigger;
}
