/**
 * One way to validate an options object, used by the manager, every store, the wrappers, the server and the CLI:
 * a plain object is required, unknown keys are refused with the closest known key suggested, and each value is
 * checked by a zod schema whose first problem becomes a {@link BudgetConfigError} naming the option, what it got
 * and what it accepts.
 */
import type { z } from 'zod'
import { BudgetConfigError } from '../errors.js'
import { closest } from './suggest.js'
import { describeValue } from './describe.js'

/**
 * Validates `input` against `schema` (a `z.object`, whose keys are the known options) and returns the parsed
 * value. `where` names the thing being configured in messages, e.g. `fileStore()` or `new BudgetManager()`.
 *
 * @throws BudgetConfigError for a non-object, an unknown key, or an invalid value; nothing is changed.
 */
export function parseOptions<S extends z.ZodObject>(where: string, schema: S, input: unknown): z.output<S> {
  const value = input === undefined ? {} : input
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new BudgetConfigError('options', `${where} takes an options object, got ${describeValue(input)}`)
  }
  const known = Object.keys(schema.shape)
  for (const key of Object.keys(value)) {
    if (known.includes(key)) continue
    const suggestion = closest(key, known)
    throw new BudgetConfigError(
      key,
      `${where} has no option \`${describeValue(key, 64)}\`.` +
        (suggestion === undefined
          ? ` Known options: ${known.map((k) => `\`${k}\``).join(', ')}.`
          : ` Did you mean \`${suggestion}\`?`),
    )
  }
  const parsed = schema.safeParse(value)
  if (parsed.success) return parsed.data
  const issue = parsed.error.issues[0]!
  const path = issue.path.map(String).join('.')
  const got = issue.path.reduce<unknown>(
    (at, part) => (at as Record<PropertyKey, unknown> | undefined)?.[part as PropertyKey],
    value,
  )
  throw new BudgetConfigError(
    path || 'options',
    `${where}: \`${path}\` ${issue.message.replace(/^Invalid input: /, '')}, got ${describeValue(got)}`,
  )
}
