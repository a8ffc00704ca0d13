// Budget-aware routing: the choice and the reservation are one atomic step per candidate, so concurrent callers
// never overfill a deployment's budgets, and every refusal is named.
import { describe, expect, it } from 'vitest'
import {
  BudgetManager,
  memoryStore,
  defaultCatalog,
  BudgetExceededError,
  InvalidInputError,
  UnknownModelError,
  estimateCost,
} from '../../src/index.js'
import { routingHost, selectDeployment, type Deployment } from '../../src/budget/routing.js'

const DEPLOYMENTS: Deployment[] = [
  { id: 'oai-4o', model: 'gpt-4o', provider: 'openai' },
  { id: 'anthropic-sonnet', model: 'claude-3-5-sonnet-20241022', provider: 'anthropic' },
]
const ESTIMATE = { inputTokens: 1_000, maxOutputTokens: 500 }

function setup(random: () => number = Math.random) {
  const manager = new BudgetManager({ store: memoryStore() })
  return { manager, host: routingHost(manager, defaultCatalog, random) }
}

describe('selectDeployment', () => {
  it('60 concurrent calls against an OpenAI budget that holds 23 pick OpenAI exactly 23 times', async () => {
    const { manager, host } = setup()
    const perCall = estimateCost({ model: 'gpt-4o', ...ESTIMATE }).totalCost // 1000 * 2.5e-6 + 500 * 1e-5 = 0.0075
    expect(perCall).toBe(0.0075)
    await manager.setBudget('provider:openai', { maxBudget: 23 * perCall })
    const picks = await Promise.all(
      Array.from({ length: 60 }, () =>
        selectDeployment(host, DEPLOYMENTS, { context: { user: 'u1' }, estimate: ESTIMATE, strategy: 'priority' }),
      ),
    )
    const counts = picks.reduce<Record<string, number>>(
      (acc, p) => ({ ...acc, [p.deployment.id]: (acc[p.deployment.id] ?? 0) + 1 }),
      {},
    )
    expect(counts).toEqual({ 'oai-4o': 23, 'anthropic-sonnet': 37 })
    const status = await manager.getStatus('provider:openai')
    expect(status.reserved).toBeCloseTo(23 * perCall, 9)
    expect(status.remaining).toBe(0)
    await Promise.all(picks.map((p) => p.reservation.release()))
    expect((await manager.getStatus('provider:openai')).reserved).toBe(0)
  })

  it('lowest-cost tries the cheapest deployment first', async () => {
    const { host } = setup()
    const cheap: Deployment = { id: 'mini', model: 'gpt-4o-mini', provider: 'openai' }
    const picked = await selectDeployment(host, [...DEPLOYMENTS, cheap], { estimate: ESTIMATE })
    expect(picked.deployment.id).toBe('mini')
    expect(picked.reservation.model).toBe('gpt-4o-mini')
    await picked.reservation.release()
  })

  it('deployment, model and tag budgets filter as provider budgets do', async () => {
    const { manager, host } = setup()
    await manager.setBudget('deployment:oai-4o', { maxBudget: 0.001 })
    const a = await selectDeployment(host, DEPLOYMENTS, { estimate: ESTIMATE, strategy: 'priority' })
    expect(a.deployment.id).toBe('anthropic-sonnet')
    await manager.setBudget('tag:expensive', { maxBudget: 0 })
    const tagged: Deployment[] = [
      { id: 'x', model: 'gpt-4o', provider: 'azure', tags: ['expensive'] },
      { id: 'y', model: 'gpt-4o-mini', provider: 'openai' },
    ]
    const b = await selectDeployment(host, tagged, { estimate: ESTIMATE, strategy: 'priority' })
    expect(b.deployment.id).toBe('y')
    await manager.setBudget('model:gpt-4o-mini', { maxBudget: 0 })
    await expect(selectDeployment(host, tagged, { estimate: ESTIMATE })).rejects.toBeInstanceOf(BudgetExceededError)
  })

  it('none fits: BudgetExceededError naming what refused each candidate, nothing held', async () => {
    const { manager, host } = setup()
    await manager.setBudget('provider:openai', { maxBudget: 0.001 })
    await manager.setBudget('provider:anthropic', { maxBudget: 0.001 })
    const error = await selectDeployment(host, DEPLOYMENTS, { estimate: ESTIMATE, strategy: 'priority' }).catch(
      (e: unknown) => e,
    )
    expect(error).toBeInstanceOf(BudgetExceededError)
    const refused = (error as BudgetExceededError).refusals!
    expect(refused.map((r) => [r.deployment, `${r.scope.type}:${r.scope.id}`])).toEqual([
      ['oai-4o', 'provider:openai'],
      ['anthropic-sonnet', 'provider:anthropic'],
    ])
    expect((error as Error).message).toMatch(
      /^No deployment can take this call \(oai-4o: provider:openai; anthropic-sonnet: provider:anthropic\)\. Budget exceeded/,
    )
    expect((await manager.getStatus('provider:openai')).reserved).toBe(0)
  })

  it('weighted follows the weights; least-spend prefers the most remaining budget', async () => {
    let seed = 7
    const random = () => ((seed = (seed * 16807) % 2147483647) - 1) / 2147483646
    const { manager, host } = setup(random)
    const weighted: Deployment[] = [
      { id: 'a', model: 'gpt-4o-mini', provider: 'openai', weight: 9 },
      { id: 'b', model: 'gpt-4o-mini', provider: 'azure', weight: 1 },
    ]
    const counts = { a: 0, b: 0 }
    for (let i = 0; i < 400; i++) {
      const p = await selectDeployment(host, weighted, { estimate: ESTIMATE, strategy: 'weighted' })
      counts[p.deployment.id as 'a' | 'b']++
      await p.reservation.release()
    }
    // Expected 360 / 40; the seeded generator makes this exact run repeatable.
    expect(counts.a).toBeGreaterThan(320)
    expect(counts.b).toBeGreaterThan(15)
    await manager.setBudget('provider:openai', { maxBudget: 1 })
    await manager.setBudget('provider:azure', { maxBudget: 1 })
    await (await manager.reserve({ provider: 'openai' }, 0.5)).commit(0.5)
    const p = await selectDeployment(host, weighted, { estimate: ESTIMATE, strategy: 'least-spend' })
    expect(p.deployment.id).toBe('b')
    await p.reservation.release()
  })

  it('bad input is a typed error and holds nothing', async () => {
    const { manager, host } = setup()
    await manager.setBudget('global', { maxBudget: 100 })
    await expect(selectDeployment(host, [], { estimate: ESTIMATE })).rejects.toBeInstanceOf(InvalidInputError)
    await expect(
      selectDeployment(host, DEPLOYMENTS, { estimate: ESTIMATE, strategy: 'lowest-cst' as never }),
    ).rejects.toThrow(/did you mean 'lowest-cost'/)
    await expect(selectDeployment(host, [DEPLOYMENTS[0]!, DEPLOYMENTS[0]!], { estimate: ESTIMATE })).rejects.toThrow(
      /appears twice/,
    )
    await expect(
      selectDeployment(host, [{ id: 'w', model: 'gpt-4o', weight: -1 }], { estimate: ESTIMATE }),
    ).rejects.toBeInstanceOf(InvalidInputError)
    await expect(
      selectDeployment(host, [{ id: 'z', model: 'no-such-model-xyz' }, DEPLOYMENTS[0]!], { estimate: ESTIMATE }),
    ).rejects.toBeInstanceOf(UnknownModelError)
    expect((await manager.getStatus('global')).reserved).toBe(0)
  })
})
