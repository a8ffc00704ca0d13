/**
 * Reading JSON from wire bodies without trusting it.
 *
 * @packageDocumentation
 */

/** A JSON object as parsed from a wire body. */
export type Json = Record<string, unknown>

/** The value as a plain object, or `undefined` for anything else (arrays, null, primitives). */
export function asObject(value: unknown): Json | undefined {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Json) : undefined
}

/** `JSON.parse`, or `undefined` for text that is not JSON. */
export function safeParse(text: string): unknown {
  try {
    return JSON.parse(text)
  } catch {
    return undefined
  }
}
