/**
 * Bounded descriptions of user-supplied values for error messages: whatever a caller passes (a 10 MB model name,
 * a huge object), a message quotes at most a fixed number of characters of it.
 */

/** Most characters of one user value that any message quotes. */
export const MAX_QUOTED = 200

/** `text` cut to `max` characters, with how much was left out. */
export function truncate(text: string, max = MAX_QUOTED): string {
  return text.length <= max ? text : `${text.slice(0, max)}… (${text.length - max} more characters)`
}

/** A short, bounded description of any value: strings quoted, numbers as written, objects by kind. */
export function describeValue(value: unknown, max = MAX_QUOTED): string {
  if (typeof value === 'string') return JSON.stringify(truncate(value, max))
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value)
  if (value === undefined || value === null) return String(value)
  if (typeof value === 'function') return 'a function'
  if (Array.isArray(value)) return `an array of ${value.length}`
  return 'an object'
}
