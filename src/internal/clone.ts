/**
 * A deep copy of JSON data that shares its strings. `structuredClone` copies every string too, which doubles
 * the memory of stored budget definitions and records; strings are immutable, so sharing them is safe.
 *
 * @internal
 */
export function cloneJson<T>(value: T): T {
  if (typeof value !== 'object' || value === null) return value
  if (Array.isArray(value)) {
    const out = new Array(value.length)
    for (let i = 0; i < value.length; i++) out[i] = cloneJson(value[i])
    return out as T
  }
  const out: Record<string, unknown> = {}
  for (const key of Object.keys(value)) {
    // Own keys such as `__proto__` stay plain data: define them rather than assign them.
    Object.defineProperty(out, key, {
      value: cloneJson((value as Record<string, unknown>)[key]),
      enumerable: true,
      writable: true,
      configurable: true,
    })
  }
  return out as T
}
