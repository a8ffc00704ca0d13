/**
 * Forecast of a budget window: where spend ends at the current burn rate. The burn rate is the window's
 * average so far (spend divided by the time elapsed since the window started), a deliberately plain smoother:
 * it cannot be swung by one burst, it needs no history beyond the ledger's own balance, and every instance
 * computes the same number from the same balance.
 *
 * @packageDocumentation
 */

/** The forecast of one window. */
export interface Forecast {
  /** Spend, in nano-USD, at the end of the window at the current burn rate (the spend itself without a window). */
  projectedNano: number
  /**
   * When `spend + reserved` reaches the limit at that rate (epoch ms), `now` when it already has, or `null`
   * without a limit, without spend, or when the window ends first.
   */
  exhaustsAt: number | null
}

/**
 * Projects a window's spend to its end. `start`/`end` are the window bounds (epoch ms; `null` for a budget
 * without a window), `spentNano`/`reservedNano` its balance, `limitNano` the limit or `null`.
 */
export function forecastWindow(args: {
  start: number | null
  end: number | null
  now: number
  spentNano: number
  reservedNano: number
  limitNano: number | null
}): Forecast {
  const { start, end, now, spentNano, reservedNano, limitNano } = args
  const used = spentNano + reservedNano
  if (limitNano !== null && used >= limitNano && used > 0)
    return { projectedNano: Math.max(spentNano, projected(args)), exhaustsAt: now }
  if (start === null || end === null || end <= start) return { projectedNano: spentNano, exhaustsAt: null }
  const projectedNano = projected(args)
  if (limitNano === null || spentNano <= 0) return { projectedNano, exhaustsAt: null }
  const elapsed = Math.max(1, Math.min(now, end) - start)
  const perMs = spentNano / elapsed
  const at = now + Math.ceil((limitNano - used) / perMs)
  return { projectedNano, exhaustsAt: at < end ? at : null }
}

function projected(args: { start: number | null; end: number | null; now: number; spentNano: number }): number {
  const { start, end, now, spentNano } = args
  if (start === null || end === null || end <= start || now >= end) return spentNano
  const elapsed = Math.max(1, now - start)
  // A projection, not money: computed in floating point (the ratio first, so the product cannot overflow), rounded
  // to whole nano-USD and kept within the largest amount a counter holds.
  return Math.min(Number.MAX_SAFE_INTEGER, Math.round(spentNano * ((end - start) / elapsed)))
}
