// The error guards work across copies of the package: the CommonJS and ESM builds are two module instances
// with two `BudgetExceededError` classes, as when an app and a library each bundle their own llm-budget.
import { createRequire } from 'node:module'
import { describe, expect, it } from 'vitest'
import * as esm from '../src/errors.js'

const require = createRequire(import.meta.url)
const cjs = require('../dist/index.cjs') as typeof esm

describe('error guards', () => {
  const details = {
    scope: { type: 'team', id: 'search' },
    window: 'monthly',
    limit: 5,
    spent: 4.9,
    reserved: 0,
    requested: 0.42,
    resetsAt: new Date('2026-12-01T00:00:00Z'),
    retryAfterMs: 1000,
  }

  it('recognise errors made by another copy of the package, where instanceof does not', () => {
    const foreign = new cjs.BudgetExceededError(details)
    expect(foreign instanceof esm.BudgetExceededError).toBe(false)
    expect(esm.isBudgetError(foreign)).toBe(true)
    expect(esm.isBudgetExceededError(foreign)).toBe(true)
    expect(esm.isRateLimitError(foreign)).toBe(false)
    const rate = new cjs.RateLimitError({
      scope: { type: 'key', id: 'k' },
      limitType: 'rpm',
      limit: 10,
      current: 10,
      requested: 1,
      retryAfterMs: 500,
    })
    expect(esm.isRateLimitError(rate)).toBe(true)
    expect(esm.isStorageError(new cjs.StorageError('redis', 'down'))).toBe(true)
    expect(esm.isUnknownModelError(new cjs.UnknownModelError({ model: 'x', tried: ['x'], suggestions: [] }))).toBe(true)
  })

  it('reject look-alikes without the marker', () => {
    expect(esm.isBudgetError({ code: 'BUDGET_EXCEEDED', name: 'BudgetExceededError' })).toBe(false)
    expect(esm.isBudgetError(new Error('x'))).toBe(false)
    expect(esm.isBudgetError(null)).toBe(false)
  })

  it('say what happened, with the values, and what to do', () => {
    expect(new esm.BudgetExceededError(details).message).toBe(
      'Budget exceeded for team:search (monthly): requested $0.42, remaining $0.10 of $5.00; resets 2026-12-01T00:00:00Z. Raise the limit with increaseBudget()/setBudget() or wait for the reset.',
    )
  })
})
