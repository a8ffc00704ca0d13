/**
 * The JSON text of a store route's result, written directly for the flat shapes of the hot answers (reserve and
 * commit: booleans and numbers, and arrays of objects of numbers, under known field names) and by `JSON.stringify`
 * for anything else. The direct text is exactly what `JSON.stringify` gives for such a value; it only skips
 * `JSON.stringify`'s general work for each object (a `toJSON` lookup per object, a generic element lookup per item
 * of a holey array, a heap number boxed per double field), which was most of the server's cost per answer.
 *
 * @internal Used by the handler.
 */

/** Field names the direct path writes; any other key sends the value to `JSON.stringify`. Need no escaping. */
function isKnownKey(key: string): boolean {
  switch (key) {
    case 'ok':
    case 'duplicate':
    case 'refusedIndex':
    case 'balances':
    case 'spent':
    case 'reserved':
    case 'before':
    case 'after':
    case 'released':
      return true
    default:
      return false
  }
}

/** A scalar as JSON: a boolean, `null` or a finite number; `undefined` for anything else. */
function scalarJson(value: unknown): string | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? String(value) : undefined
  if (typeof value === 'boolean') return value ? 'true' : 'false'
  return value === null ? 'null' : undefined
}

/** A plain object (prototype `Object.prototype`) of known keys whose values are scalars, as JSON, or `undefined`. */
function flatObjectJson(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null || Object.getPrototypeOf(value) !== Object.prototype) return undefined
  let out = '{'
  for (const key in value) {
    if (!isKnownKey(key)) return undefined
    const text = scalarJson((value as Record<string, unknown>)[key])
    if (text === undefined) return undefined
    out += `${out.length === 1 ? '' : ','}"${key}":${text}`
  }
  return `${out}}`
}

/** `value` as JSON text, the same as `JSON.stringify(value)`. */
export function resultJson(value: unknown): string {
  // A `toJSON` on the prototypes would change what JSON.stringify writes: leave such values to it.
  if (
    typeof value !== 'object' ||
    value === null ||
    Object.getPrototypeOf(value) !== Object.prototype ||
    (Object.prototype as { toJSON?: unknown }).toJSON !== undefined ||
    (Array.prototype as { toJSON?: unknown }).toJSON !== undefined
  )
    return JSON.stringify(value)
  let out = '{'
  for (const key in value) {
    if (!isKnownKey(key)) return JSON.stringify(value)
    const item = (value as Record<string, unknown>)[key]
    let text = scalarJson(item)
    if (text === undefined) {
      if (!Array.isArray(item) || Object.getPrototypeOf(item) !== Array.prototype) return JSON.stringify(value)
      text = '['
      for (let i = 0; i < item.length; i++) {
        const element = flatObjectJson(item[i])
        if (element === undefined) return JSON.stringify(value)
        text += i === 0 ? element : `,${element}`
      }
      text += ']'
    }
    out += `${out.length === 1 ? '' : ','}"${key}":${text}`
  }
  return `${out}}`
}
