/**
 * Reading the replies of the Redis store's scripts: arrays of strings, amounts as decimal integer strings,
 * budget definitions in their stored text form.
 *
 * @internal
 */
import { InvalidInputError } from '../../errors.js'
import { describeValue } from '../../internal/describe.js'
import type { Balance, JsonValue, StoredBudget } from '../types.js'

/** A reply as an array of strings (`nil` items as `''`). */
export function toStrings(reply: unknown): string[] {
  if (!Array.isArray(reply)) throw new Error(`unexpected reply ${describeValue(reply)}`)
  return reply.map((item) => (item === null || item === undefined ? '' : String(item)))
}

/** An amount of a reply: a safe integer. */
export function amount(value: string | undefined): number {
  const n = Number(value)
  if (value === undefined || value === '' || !Number.isSafeInteger(n))
    throw new Error(`unexpected amount ${describeValue(value)} in a reply`)
  return n
}

/** `count` balances from `spent, reserved` pairs starting at `from`. */
export function balancePairs(values: string[], from: number, count: number): Balance[] {
  const out: Balance[] = new Array(count)
  for (let i = 0; i < count; i++)
    out[i] = { spent: amount(values[from + 2 * i]), reserved: amount(values[from + 2 * i + 1]) }
  return out
}

/** The `InvalidInputError` of an `overflow` reply (`[time, 'overflow', index]`). */
export function overflowError(
  values: string[],
  entries: readonly { key: string; amount: number }[],
  verb: string,
): InvalidInputError {
  const index = Number(values[2])
  const entry = entries[index]!
  return new InvalidInputError(
    `entries[${index}].amount`,
    `${verb} ${entry.amount} on ${describeValue(entry.key)} would exceed the largest exact amount (${Number.MAX_SAFE_INTEGER})`,
  )
}

/** A stored budget from its text form: `revision\ncreatedAt\nupdatedAt\nscopeJSON\ndefinitionJSON`. */
export function parseStoredBudget(value: string): StoredBudget {
  const match = /^(\d+)\n([^\n]*)\n([^\n]*)\n([^\n]*)\n([\s\S]*)$/.exec(value)
  if (match === null) throw new Error('a stored budget is not in the expected format')
  return {
    scope: JSON.parse(match[4]!) as string,
    definition: JSON.parse(match[5]!) as JsonValue,
    revision: Number(match[1]),
    createdAt: JSON.parse(match[2]!) as number,
    updatedAt: JSON.parse(match[3]!) as number,
  }
}
