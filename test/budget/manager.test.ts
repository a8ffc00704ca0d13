import { describe, expect, it } from 'vitest'
import { BudgetManager, withBudget } from '../../src/budget/index.js'
import { BudgetExceededError, RateLimitError, isBudgetExceededError } from '../../src/errors.js'
import { memoryStore } from '../../src/stores/memory.js'
import { fakeClock } from '../../src/testing/index.js'
import type { ScopeString } from '../../src/budget/scopes.js'
const T0 = Date.UTC(2026, 10, 15, 12, 0, 0)

function setup(options: ConstructorParameters<typeof BudgetManager>[0] = {}) {
  const clock = fakeClock(T0)
  const store = memoryStore()
  const manager = new BudgetManager({ store, clock, ...options })
  return { clock, store, manager }
}

describe('BudgetManager admission', () => {
  it('admits exactly 500 of 1,000 concurrent $0.01 calls against $5; the rest fail before fn runs', async () => {
    const { manager } = setup()
    await manager.setBudget('team:search', { maxBudget: 5, duration: 'monthly' })
    let ran = 0
    const call = withBudget(
      async (n: number) => {
        ran++
        await Promise.resolve()
        return { n }
      },
      { manager, context: { team: 'search' }, estimate: 0.01, cost: () => 0.01 },
    )
    const results = await Promise.allSettled(Array.from({ length: 1000 }, (_, i) => call(i)))
    const ok = results.filter((r) => r.status === 'fulfilled').length
    const refused = results.filter((r) => r.status === 'rejected' && r.reason instanceof BudgetExceededError).length
    expect(ok).toBe(500)
    expect(refused).toBe(500)
    expect(ran).toBe(500)
    const status = await manager.getStatus('team:search')
    expect(status.exact.spend).toBe('5.000000000')
    expect(status.spend).toBe(5)
    expect(status.reserved).toBe(0)
    expect(status.exact.reserved).toBe('0.000000000')
    expect(status.remaining).toBe(0)
    const report = await manager.querySpend({ scope: 'team:search' })
    expect(report.exact.cost).toBe('5.000000000')
    expect(report.calls).toBe(500)
    // no holds left: the next $0.01 is refused on spend alone, and nothing is held by the 1,000 calls
    await expect(manager.reserve({ team: 'search' }, 0.01)).rejects.toMatchObject({ spent: 5, reserved: 0 })
  })

  it('enforces key, user, team and org budgets of different sizes at once; per-user sums add up', async () => {
    const { manager } = setup()
    await manager.setBudget('org:acme', { maxBudget: 3, duration: 'daily' })
    await manager.setBudget('team:a', { maxBudget: 2 })
    await manager.setBudget('team:b', { maxBudget: 1.5 })
    await manager.setBudget({ type: 'user', id: 'u1' }, { maxBudget: 0.7 })
    await manager.setBudget('user:u2', { maxBudget: 1.3 })
    await manager.setBudget('user:u3', { maxBudget: 5 })
    await manager.setBudget('key:k1', { maxBudget: 0.9 })
    const users = [
      { user: 'u1', team: 'a', org: 'acme', key: 'k1' },
      { user: 'u2', team: 'a', org: 'acme', key: 'k2' },
      { user: 'u3', team: 'b', org: 'acme', key: 'k3' },
      { user: 'u4', team: 'b', org: 'acme', key: 'k1' },
    ]
    const fns = users.map((context) =>
      withBudget(async () => 'x', { manager, context, estimate: 0.01, cost: () => 0.01 }),
    )
    const results = await Promise.allSettled(Array.from({ length: 2000 }, (_, i) => fns[i % 4]!()))
    const admitted = results.filter((r) => r.status === 'fulfilled').length
    for (const r of results) if (r.status === 'rejected') expect(isBudgetExceededError(r.reason)).toBe(true)
    const cents = async (scope: ScopeString) => Math.round((await manager.getStatus(scope)).spend * 100)
    const [org, a, b, u1, u2, u3, k1] = await Promise.all(
      (['org:acme', 'team:a', 'team:b', 'user:u1', 'user:u2', 'user:u3', 'key:k1'] as const).map(cents),
    )
    expect(org).toBeLessThanOrEqual(300)
    expect(a).toBeLessThanOrEqual(200)
    expect(b).toBeLessThanOrEqual(150)
    expect(u1).toBeLessThanOrEqual(70)
    expect(u2).toBeLessThanOrEqual(130)
    expect(k1).toBeLessThanOrEqual(90)
    expect(org).toBe(admitted)
    const byUser = await manager.querySpend({ groupBy: ['user'] })
    const perUser = new Map(byUser.groups.map((g) => [g.key.user, Math.round(g.cost * 100)]))
    expect(perUser.get('u1')).toBe(u1)
    expect(perUser.get('u2')).toBe(u2)
    expect(perUser.get('u3')).toBe(u3)
    expect((perUser.get('u1') ?? 0) + (perUser.get('u2') ?? 0)).toBe(a)
    expect((perUser.get('u3') ?? 0) + (perUser.get('u4') ?? 0)).toBe(b)
    expect((a ?? 0) + (b ?? 0)).toBe(org)
    expect(org).toBe(300) // the org is the binding limit: a and b together can use 3.5
  })

  it('refuses with a BudgetExceededError that names the scope, amounts and reset', async () => {
    const { manager } = setup()
    await manager.setBudget('team:search', { maxBudget: 0.5, duration: 'monthly' })
    await manager.record({ team: 'search' }, 0.4)
    const error = await manager.reserve({ team: 'search' }, 0.42).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(BudgetExceededError)
    const e = error as BudgetExceededError
    expect(e.scope).toEqual({ type: 'team', id: 'search' })
    expect(e.limit).toBe(0.5)
    expect(e.spent).toBe(0.4)
    expect(e.requested).toBe(0.42)
    expect(e.resetsAt?.toISOString()).toBe('2026-12-01T00:00:00.000Z')
    expect(e.retryAfterMs).toBe(Date.UTC(2026, 11, 1) - T0)
    expect(e.message).toContain('Budget exceeded for team:search (monthly): requested $0.42, remaining $0.10')
    expect(e.message).toContain('resets 2026-12-01T00:00:00Z')
  })

  it('a repeated commit counts once; release after commit changes nothing', async () => {
    const { manager } = setup()
    await manager.setBudget('user:alice', { maxBudget: 1 })
    const reservation = await manager.reserve({ user: 'alice' }, 0.2)
    const first = await reservation.commit(0.1)
    const second = await reservation.commit(0.1)
    await reservation.release()
    expect(first.duplicate).toBe(false)
    expect(second.duplicate).toBe(true)
    expect((await manager.getStatus('user:alice')).exact.spend).toBe('0.100000000')
    expect((await manager.querySpend({})).calls).toBe(1)
  })

  it('a commit above the hold is recorded in full and reported as overshoot', async () => {
    const { manager } = setup()
    await manager.setBudget('user:alice', { maxBudget: 1 })
    const overshot: unknown[] = []
    manager.on('budget.overshot', (e) => overshot.push(e))
    const reservation = await manager.reserve({ user: 'alice' }, 0.5)
    const outcome = await reservation.commit(1.75)
    expect(outcome.overshoot).toEqual([{ scope: 'user:alice', limit: 1, spent: 1.75, overshoot: 0.75 }])
    expect(overshot).toHaveLength(1)
    const status = await manager.getStatus('user:alice')
    expect(status.exact.spend).toBe('1.750000000')
    expect(status.remaining).toBe(0)
    await expect(manager.reserve({ user: 'alice' }, 0)).rejects.toBeInstanceOf(BudgetExceededError)
  })

  it('a hold whose caller vanished stops counting after the hold TTL', async () => {
    const { manager, clock } = setup({ holdTtlMs: 60_000 })
    await manager.setBudget('user:bob', { maxBudget: 1 })
    await manager.reserve({ user: 'bob' }, 0.8)
    await expect(manager.reserve({ user: 'bob' }, 0.3)).rejects.toBeInstanceOf(BudgetExceededError)
    expect((await manager.getStatus('user:bob')).reserved).toBe(0.8)
    clock.advance(59_999)
    await expect(manager.reserve({ user: 'bob' }, 0.3)).rejects.toBeInstanceOf(BudgetExceededError)
    clock.advance(1)
    expect((await manager.getStatus('user:bob')).reserved).toBe(0)
    const r = await manager.reserve({ user: 'bob' }, 0.3)
    await r.release()
  })

  it('spend reserved before a window boundary and committed after it lands in the reservation window', async () => {
    const { manager, clock } = setup()
    clock.set('2026-11-30T23:59:00Z')
    await manager.setBudget('team:t', { maxBudget: 10, duration: 'monthly' })
    const reservation = await manager.reserve({ team: 't' }, 1)
    clock.set('2026-12-01T00:01:00Z')
    await reservation.commit(0.75)
    const december = await manager.getStatus('team:t')
    expect(december.spend).toBe(0)
    expect(december.windowStart?.toISOString()).toBe('2026-12-01T00:00:00.000Z')
    clock.set('2026-11-30T23:59:30Z')
    expect((await manager.getStatus('team:t')).spend).toBe(0.75)
  })

  it('a new window starts from zero with no reset job', async () => {
    const { manager, clock } = setup()
    await manager.setBudget('user:carol', { maxBudget: 1, duration: 'daily' })
    await manager.record({ user: 'carol' }, 1)
    await expect(manager.reserve({ user: 'carol' }, 0.01)).rejects.toBeInstanceOf(BudgetExceededError)
    clock.set('2026-11-16T00:00:00Z')
    const status = await manager.getStatus('user:carol')
    expect(status.spend).toBe(0)
    expect(status.resetsAt?.toISOString()).toBe('2026-11-17T00:00:00.000Z')
    await (await manager.reserve({ user: 'carol' }, 0.5)).commit(0.5)
    expect(await manager.getCurrentCost('carol')).toBe(0.5)
  })

  it('per-model limits inside a scope are budgets too', async () => {
    const { manager } = setup()
    await manager.setBudget('user:dave', {
      maxBudget: 10,
      modelMaxBudget: { 'gpt-4o': { maxBudget: 0.05, duration: 'daily' } },
    })
    await (await manager.reserve({ user: 'dave', model: 'gpt-4o' }, 0.05)).commit(0.05)
    const error = (await manager
      .reserve({ user: 'dave', model: 'gpt-4o' }, 0.01)
      .catch((e: unknown) => e)) as BudgetExceededError
    expect(error).toBeInstanceOf(BudgetExceededError)
    expect(error.model).toBe('gpt-4o')
    const other = await manager.reserve({ user: 'dave', model: 'gpt-4o-mini' }, 1)
    await other.commit(1)
    expect((await manager.getStatus('user:dave')).spend).toBe(1.05)
  })

  it('defaults apply atomically to concurrent first calls of never-seen entities', async () => {
    const { manager } = setup({ defaults: { endUser: { maxBudget: 0.1, duration: 'daily' } } })
    const results = await Promise.allSettled(
      Array.from({ length: 100 }, async () => {
        const r = await manager.reserve({ endUser: 'new-person' }, 0.01)
        await r.commit(0.01)
      }),
    )
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(10)
    const status = await manager.getStatus('endUser:new-person')
    expect(status.isDefault).toBe(true)
    expect(status.exact.spend).toBe('0.100000000')
    // a stored budget for the entity wins over the default
    await manager.setBudget('endUser:vip', { maxBudget: 100 })
    await (await manager.reserve({ endUser: 'vip' }, 5)).commit(5)
  })

  it('onExceeded warn admits and emits budget.exceeded with action warn', async () => {
    const { manager } = setup()
    await manager.setBudget('team:w', { maxBudget: 0.01, onExceeded: 'warn' })
    const events: string[] = []
    manager.on('budget.exceeded', (e) => events.push(e.action))
    const r = await manager.reserve({ team: 'w' }, 0.02)
    await r.commit(0.02)
    expect(events).toEqual(['warn'])
    expect((await manager.getStatus('team:w')).spend).toBe(0.02)
  })

  it('rate limits: rpm, tpm and parallel requests use the same ledger', async () => {
    const { manager, clock } = setup()
    await manager.setBudget('key:k', { rpmLimit: 2, maxParallelRequests: 1 })
    const a = await manager.reserve({ key: 'k' }, 0)
    const parallel = await manager.reserve({ key: 'k' }, 0).catch((e: unknown) => e)
    expect(parallel).toBeInstanceOf(RateLimitError)
    expect((parallel as RateLimitError).limitType).toBe('parallel')
    await a.commit(0)
    await (await manager.reserve({ key: 'k' }, 0)).commit(0)
    const rpm = (await manager.reserve({ key: 'k' }, 0).catch((e: unknown) => e)) as RateLimitError
    expect(rpm).toBeInstanceOf(RateLimitError)
    expect(rpm.limitType).toBe('rpm')
    expect(rpm.retryAfterMs).toBeGreaterThan(0)
    expect(rpm.retryAfterMs).toBeLessThanOrEqual(60_000)
    clock.advance(rpm.retryAfterMs)
    await (await manager.reserve({ key: 'k' }, 0)).commit(0)
    await manager.setBudget('key:t', { tpmLimit: 1000 })
    await (
      await manager.reserve({ key: 't' }, { model: 'gpt-4o-mini', inputTokens: 500, maxOutputTokens: 400 })
    ).commit({ cost: 0.001, usage: { prompt_tokens: 500, completion_tokens: 400, total_tokens: 900 } })
    const tpm = (await manager
      .reserve({ key: 't' }, { model: 'gpt-4o-mini', inputTokens: 50, maxOutputTokens: 100 })
      .catch((e: unknown) => e)) as RateLimitError
    expect(tpm).toBeInstanceOf(RateLimitError)
    expect(tpm.limitType).toBe('tpm')
  })

  it('temporary increases expire by themselves and are in the history', async () => {
    const { manager, clock } = setup()
    await manager.setBudget('team:x', { maxBudget: 1 })
    await manager.record({ team: 'x' }, 1)
    await expect(manager.reserve({ team: 'x' }, 0.5)).rejects.toBeInstanceOf(BudgetExceededError)
    await manager.increaseBudget('team:x', { amount: 0.5, until: clock.now() + 3_600_000, reason: 'launch day' })
    expect((await manager.getStatus('team:x')).limit).toBe(1.5)
    await (await manager.reserve({ team: 'x' }, 0.5)).commit(0.5)
    clock.advance(3_600_000)
    expect((await manager.getStatus('team:x')).limit).toBe(1)
    const history = await manager.getHistory('team:x')
    expect(history.map((h) => h.action)).toEqual(['create', 'increase'])
    expect(history[1]?.reason).toBe('launch day')
  })

  it('thresholds fire exactly once per scope per window, decided by the commit', async () => {
    const { manager, clock } = setup()
    await manager.setBudget('team:alerts', {
      maxBudget: 1,
      softBudget: 0.3,
      alertThresholds: [0.5, 0.8],
      duration: 'daily',
    })
    const fired: string[] = []
    manager.on('threshold.crossed', (e) => fired.push(`${e.kind}:${e.threshold}`))
    await Promise.all(Array.from({ length: 100 }, () => manager.record({ team: 'alerts' }, 0.01)))
    expect(fired.sort()).toEqual(['alert:0.5', 'alert:0.8', 'soft:0.3'])
    clock.advance(86_400_000)
    await manager.record({ team: 'alerts' }, 0.6)
    expect(fired).toHaveLength(5)
  })
})

describe('budgets that share a plan', () => {
  it('keep their own spend, windows, increases and anchors (the compiled plan is shared, the per-scope state is not)', async () => {
    const { manager, clock } = setup({ budgetCacheTtlMs: 60_000 })
    for (const user of ['a', 'b'])
      await manager.setBudget({ type: 'user', id: user }, { maxBudget: 1, duration: 'monthly' })
    await manager.setBudget('user:r1', { maxBudget: 1, duration: '1h' })
    clock.advance(1_000)
    await manager.setBudget('user:r2', { maxBudget: 1, duration: '1h' })
    // The same call several times per scope: the cached entry of the window is used from the second call on.
    for (let i = 0; i < 3; i++) await (await manager.reserve({ user: 'a' }, 0.2)).commit(0.2)
    await (await manager.reserve({ user: 'b' }, 0.1)).commit(0.1)
    expect((await manager.getStatus('user:a')).exact.spend).toBe('0.600000000')
    expect((await manager.getStatus('user:b')).exact.spend).toBe('0.100000000')
    await manager.increaseBudget('user:a', { amount: 1, until: clock.now() + 60_000 })
    await (await manager.reserve({ user: 'a' }, 1)).commit(1)
    await expect(manager.reserve({ user: 'b' }, 1)).rejects.toBeInstanceOf(BudgetExceededError)
    // The increase expires: user a's cached limit goes back to $1 although its window did not change.
    clock.advance(61_000)
    const refused = await manager.reserve({ user: 'a' }, 0.01).catch((error: unknown) => error)
    expect(refused).toBeInstanceOf(BudgetExceededError)
    expect((refused as BudgetExceededError).limit).toBe(1)
    // Rolling windows anchored one second apart end one second apart.
    const r1 = await manager.getStatus('user:r1')
    const r2 = await manager.getStatus('user:r2')
    expect(r2.resetsAt!.getTime() - r1.resetsAt!.getTime()).toBe(1_000)
    // A new month starts every plan's users from zero, each on its own key.
    clock.set(Date.UTC(2026, 11, 1, 0, 0, 1))
    await (await manager.reserve({ user: 'a' }, 0.3)).commit(0.3)
    await (await manager.reserve({ user: 'a' }, 0.3)).commit(0.3)
    expect((await manager.getStatus('user:a')).exact.spend).toBe('0.600000000')
    expect((await manager.getStatus('user:b')).exact.spend).toBe('0.000000000')
  })
})
