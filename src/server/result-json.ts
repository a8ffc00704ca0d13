/**
 * The JSON text of a store route's result, written directly for the flat shapes of the hot answers (reserve and
 * commit: booleans and numbers, and arrays of objects of numbers, under known field names) and by `JSON.stringify`
 * for anything else. The direct text is exactly what `JSON.stringify` gives for such a value; it only skips
 * `JSON.stringify`'s general work for each object (a `toJSON` lookup per object, a generic element lookup per item
 * of a holey array, a heap number boxed per double field), which was most of the server's cost per answer.
 *
 * @internal Used by the handler.
 */

/**
 * A known field's name as the direct path writes it: `"name":` for an object's first field, `,"name":` after
 * another; `undefined` for any other key, which sends the value to `JSON.stringify`. Constant strings, so that a
 * field costs two concatenations (its name, its value) instead of building `,"name":` again for every answer.
 */
function fieldName(key: string, first: boolean): string | undefined {
  switch (key) {
    case 'ok':
      return first ? '"ok":' : ',"ok":'
    case 'duplicate':
      return first ? '"duplicate":' : ',"duplicate":'
    case 'refusedIndex':
      return first ? '"refusedIndex":' : ',"refusedIndex":'
    case 'balances':
      return first ? '"balances":' : ',"balances":'
    case 'spent':
      return first ? '"spent":' : ',"spent":'
    case 'reserved':
      return first ? '"reserved":' : ',"reserved":'
    case 'before':
      return first ? '"before":' : ',"before":'
    case 'after':
      return first ? '"after":' : ',"after":'
    case 'released':
      return first ? '"released":' : ',"released":'
    default:
      return undefined
  }
}

/** A scalar as JSON: a boolean, `null` or a finite number; `undefined` for anything else. */
function scalarJson(value: unknown): string | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? String(value) : undefined
  if (typeof value === 'boolean') return value ? 'true' : 'false'
  return value === null ? 'null' : undefined
}

/**
 * A plain object (prototype `Object.prototype`) of known keys as JSON, or `undefined` for anything else: its values
 * scalars, or (with `arrays`) also arrays of such objects without arrays.
 */
function objectJson(value: unknown, arrays: boolean): string | undefined {
  if (typeof value !== 'object' || value === null || Object.getPrototypeOf(value) !== Object.prototype) return undefined
  let out = '{'
  let first = true
  for (const key in value) {
    const name = fieldName(key, first)
    if (name === undefined) return undefined
    const item = (value as Record<string, unknown>)[key]
    const text = scalarJson(item) ?? (arrays ? arrayJson(item) : undefined)
    if (text === undefined) return undefined
    out += name
    out += text
    first = false
  }
  return out + '}'
}

/** An array (prototype `Array.prototype`) of flat objects as JSON, or `undefined`. */
function arrayJson(value: unknown): string | undefined {
  if (!Array.isArray(value) || Object.getPrototypeOf(value) !== Array.prototype) return undefined
  let out = '['
  for (let i = 0; i < value.length; i++) {
    const element = objectJson(value[i], false)
    if (element === undefined) return undefined
    if (i > 0) out += ','
    out += element
  }
  return out + ']'
}

/** `value` as JSON text, the same as `JSON.stringify(value)`. */
export function resultJson(value: unknown): string {
  // A `toJSON` on the prototypes would change what JSON.stringify writes: leave such values to it.
  if (
    (Object.prototype as { toJSON?: unknown }).toJSON !== undefined ||
    (Array.prototype as { toJSON?: unknown }).toJSON !== undefined
  )
    return JSON.stringify(value)
  return objectJson(value, true) ?? JSON.stringify(value)
}
