import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { BudgetManager, type Reservation } from '../../src/budget/index.js'
import { BudgetExceededError } from '../../src/errors.js'
import { memoryStore } from '../../src/stores/memory.js'
import { fakeClock } from '../../src/testing/index.js'

type Op =
  | { kind: 'reserve'; cents: number }
  | { kind: 'commit'; index: number; cents: number }
  | { kind: 'release'; index: number }
  | { kind: 'advance'; ms: number }
  | { kind: 'nextDay' }

const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant('reserve' as const), cents: fc.integer({ min: 0, max: 60 }) }),
  fc.record({ kind: fc.constant('commit' as const), index: fc.nat(40), cents: fc.integer({ min: 0, max: 80 }) }),
  fc.record({ kind: fc.constant('release' as const), index: fc.nat(40) }),
  fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 40_000 }) }),
  fc.record({ kind: fc.constant('nextDay' as const) }),
)

interface ModelCall {
  day: number
  cents: number
  expiresAt: number
  state: 'held' | 'committed' | 'released'
  reservation: Reservation
}

const DAY = 86_400_000
const TTL = 60_000
const LIMIT_CENTS = 100

describe('property: the manager agrees with a simple reference model', () => {
  it('random reserve / commit / release / time and window changes', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 60 }), async (ops) => {
        const clock = fakeClock(Date.UTC(2026, 10, 1, 12))
        const manager = new BudgetManager({ store: memoryStore(), clock, holdTtlMs: TTL, budgetCacheTtlMs: 0 })
        await manager.setBudget('user:p', { maxBudget: LIMIT_CENTS / 100, duration: 'daily' })
        const spent = new Map<number, number>()
        const calls: ModelCall[] = []
        const dayOf = (t: number) => Math.floor(t / DAY)
        const held = (day: number, now: number) =>
          calls.filter((c) => c.day === day && c.state === 'held' && c.expiresAt > now).reduce((a, c) => a + c.cents, 0)
        for (const step of ops) {
          const now = clock.now()
          const day = dayOf(now)
          if (step.kind === 'reserve') {
            const admit = (spent.get(day) ?? 0) + held(day, now) + step.cents <= LIMIT_CENTS
            try {
              const reservation = await manager.reserve({ user: 'p' }, step.cents / 100)
              expect(admit).toBe(true)
              calls.push({ day, cents: step.cents, expiresAt: now + TTL, state: 'held', reservation })
            } catch (error) {
              expect(error).toBeInstanceOf(BudgetExceededError)
              expect(admit).toBe(false)
            }
          } else if (step.kind === 'commit') {
            const call = calls[step.index]
            if (call === undefined) continue
            if (call.state === 'released') {
              await expect(call.reservation.commit(step.cents / 100)).rejects.toThrow()
            } else {
              const outcome = await call.reservation.commit(step.cents / 100)
              if (call.state === 'held') {
                expect(outcome.duplicate).toBe(false)
                call.state = 'committed'
                spent.set(call.day, (spent.get(call.day) ?? 0) + step.cents)
              } else {
                expect(outcome.duplicate).toBe(true)
              }
            }
          } else if (step.kind === 'release') {
            const call = calls[step.index]
            if (call === undefined) continue
            await call.reservation.release()
            if (call.state === 'held') call.state = 'released'
          } else if (step.kind === 'advance') {
            clock.advance(step.ms)
          } else {
            clock.advance(DAY)
          }
          const t = clock.now()
          const status = await manager.getStatus('user:p')
          const today = dayOf(t)
          expect(Math.round(status.spend * 100)).toBe(spent.get(today) ?? 0)
          expect(Math.round(status.reserved * 100)).toBe(held(today, t))
          expect(status.exact.spend).toBe(
            `${Math.floor((spent.get(today) ?? 0) / 100)}.${String((spent.get(today) ?? 0) % 100).padStart(2, '0')}0000000`,
          )
        }
      }),
      { numRuns: 150 },
    )
  })
})
