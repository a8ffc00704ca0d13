/**
 * A fake clock for tests: time moves only when you move it.
 *
 * @packageDocumentation
 */
import { InvalidInputError } from '../errors.js'

/** A clock you control. Pass it as `new BudgetManager({ clock })`. */
export interface FakeClock {
  /** Current time, epoch milliseconds. */
  now(): number
  /** Moves time forward by `ms` (>= 0) and returns the new time. */
  advance(ms: number): number
  /** Sets the time (epoch ms, a Date or an ISO string) and returns it. */
  set(time: number | Date | string): number
}

function toMs(time: number | Date | string, field: string): number {
  const ms = time instanceof Date ? time.getTime() : typeof time === 'string' ? Date.parse(time) : time
  if (typeof ms !== 'number' || !Number.isFinite(ms))
    throw new InvalidInputError(
      field,
      `\`${field}\` must be epoch milliseconds, a Date or an ISO string, got ${String(time)}`,
    )
  return ms
}

/**
 * A fake clock starting at `start` (epoch ms, Date or ISO string; default `2026-01-01T00:00:00Z`).
 *
 * @example
 * ```ts
 * const clock = fakeClock('2026-11-30T23:59:00Z')
 * const budgets = new BudgetManager({ clock })
 * clock.advance(120_000) // into December: a monthly budget starts from zero
 * ```
 */
export function fakeClock(start: number | Date | string = Date.UTC(2026, 0, 1)): FakeClock {
  let current = toMs(start, 'start')
  return {
    now: () => current,
    advance(ms: number): number {
      if (typeof ms !== 'number' || !Number.isFinite(ms) || ms < 0)
        throw new InvalidInputError('ms', `\`advance(ms)\` needs a finite number >= 0, got ${String(ms)}`)
      current += ms
      return current
    },
    set(time: number | Date | string): number {
      current = toMs(time, 'time')
      return current
    },
  }
}
