// withBudget with `deployments`: each call picks a deployment atomically with its reservation, is called with that
// deployment's model and is charged to it; a failed call is released, not retried elsewhere; bad input is typed.
import { describe, expect, it } from 'vitest'
import { BudgetManager, withBudget, type Deployment } from '../../src/budget/index.js'
import { estimateCost } from '../../src/cost/index.js'
import { BudgetConfigError, BudgetExceededError, InvalidInputError } from '../../src/errors.js'
import { memoryStore } from '../../src/stores/memory.js'

const DEPLOYMENTS: Deployment[] = [
  { id: 'oai-4o', model: 'gpt-4o', provider: 'openai' },
  { id: 'claude', model: 'claude-3-5-sonnet-20241022', provider: 'anthropic' },
]
const ESTIMATE = { inputTokens: 1_000, maxOutputTokens: 500 }
const PER_CALL = estimateCost({ model: 'gpt-4o', ...ESTIMATE }).totalCost

interface Request {
  model?: string
  messages: { role: string; content: string }[]
  max_tokens: number
}

/** A provider double: answers with the model it was asked for and fixed usage. */
function provider(calls: Request[]) {
  return async (request: Request) => {
    calls.push(request)
    return { model: request.model, usage: { prompt_tokens: 100, completion_tokens: 50 } }
  }
}

describe('withBudget({ deployments })', () => {
  it('calls with the chosen deployment’s model (default applyModel) and charges that deployment', async () => {
    const manager = new BudgetManager({ store: memoryStore() })
    await manager.setBudget('provider:openai', { maxBudget: PER_CALL / 2 })
    const calls: Request[] = []
    const chat = withBudget(provider(calls), {
      manager,
      context: { user: 'alice' },
      deployments: DEPLOYMENTS,
      strategy: 'priority',
      estimate: ESTIMATE,
    })
    await chat({ messages: [{ role: 'user', content: 'hi' }], max_tokens: 500 })
    expect(calls.map((c) => c.model)).toEqual(['claude-3-5-sonnet-20241022'])
    const [record] = await manager.spendRecords({})
    expect(record?.provider).toBe('anthropic')
    expect(record?.model).toBe('claude-3-5-sonnet-20241022')
    expect((record?.context as { deployment?: string }).deployment).toBe('claude')
    expect((await manager.getStatus('provider:openai')).spend).toBe(0)
  })

  it('the default estimate reads the request’s messages and max_tokens, priced per deployment (lowest-cost)', async () => {
    const manager = new BudgetManager({ store: memoryStore() })
    const calls: Request[] = []
    const chat = withBudget(provider(calls), {
      manager,
      context: { user: 'alice' },
      deployments: [...DEPLOYMENTS, { id: 'mini', model: 'gpt-4o-mini', provider: 'openai' }],
    })
    await chat({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }], max_tokens: 100 })
    expect(calls[0]?.model).toBe('gpt-4o-mini')
  })

  it('60 concurrent calls against an OpenAI budget that holds 23 go to OpenAI exactly 23 times', async () => {
    const manager = new BudgetManager({ store: memoryStore() })
    await manager.setBudget('provider:openai', { maxBudget: 23 * PER_CALL })
    let release!: () => void
    const gate = new Promise<void>((r) => (release = r))
    const models: string[] = []
    const chat = withBudget(
      async (request: Request) => {
        models.push(request.model!)
        await gate
        return { model: request.model, usage: { prompt_tokens: 1, completion_tokens: 1 } }
      },
      { manager, context: { user: 'u' }, deployments: DEPLOYMENTS, strategy: 'priority', estimate: ESTIMATE },
    )
    const all = Promise.all(
      Array.from({ length: 60 }, () => chat({ messages: [{ role: 'user', content: 'x' }], max_tokens: 500 })),
    )
    while (models.length < 60) await new Promise((r) => setTimeout(r, 5))
    release()
    await all
    expect(models.filter((m) => m === 'gpt-4o')).toHaveLength(23)
    expect(models.filter((m) => m === 'claude-3-5-sonnet-20241022')).toHaveLength(37)
  })

  it('a custom applyModel gets the args, the model and the deployment', async () => {
    const manager = new BudgetManager({ store: memoryStore() })
    const seen: unknown[] = []
    const run = withBudget(
      async (model: string, prompt: string) => ({
        model,
        text: prompt,
        usage: { prompt_tokens: 1, completion_tokens: 1 },
      }),
      {
        manager,
        context: { user: 'alice' },
        deployments: DEPLOYMENTS,
        strategy: 'priority',
        estimate: ESTIMATE,
        applyModel: (args, model, deployment) => {
          seen.push(model, deployment?.id)
          return [model, args[1]]
        },
      },
    )
    const out = await run('ignored', 'hello')
    expect(out.model).toBe('gpt-4o')
    expect(seen).toEqual(['gpt-4o', 'oai-4o'])
  })

  it('a failed call releases its hold and is not retried on the next deployment', async () => {
    const manager = new BudgetManager({ store: memoryStore() })
    await manager.setBudget('provider:openai', { maxBudget: 1 })
    let calls = 0
    const chat = withBudget(
      async (_request: Request) => {
        calls++
        throw new Error('provider down')
      },
      { manager, context: { user: 'alice' }, deployments: DEPLOYMENTS, strategy: 'priority', estimate: ESTIMATE },
    )
    await expect(chat({ messages: [], max_tokens: 500 })).rejects.toThrow('provider down')
    expect(calls).toBe(1)
    expect((await manager.getStatus('provider:openai')).reserved).toBe(0)
    expect(await manager.spendRecords({})).toEqual([])
  })

  it('none fits: BudgetExceededError with each refusal, and fn is not called', async () => {
    const manager = new BudgetManager({ store: memoryStore() })
    await manager.setBudget('provider:openai', { maxBudget: 0 })
    await manager.setBudget('provider:anthropic', { maxBudget: 0 })
    let calls = 0
    const chat = withBudget(
      async (_request: Request) => {
        calls++
        return {}
      },
      { manager, context: { user: 'alice' }, deployments: DEPLOYMENTS, estimate: ESTIMATE },
    )
    const error = await chat({ messages: [], max_tokens: 500 }).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(BudgetExceededError)
    expect((error as BudgetExceededError).refusals?.map((r) => r.deployment).sort()).toEqual(['claude', 'oai-4o'])
    expect(calls).toBe(0)
  })

  it('bad input is a typed error and changes nothing', async () => {
    const manager = new BudgetManager({ store: memoryStore() })
    await manager.setBudget('provider:openai', { maxBudget: 1 })
    const fn = async (_request: Request) => ({})
    const base = { manager, context: { user: 'alice' }, estimate: ESTIMATE }
    expect(() => withBudget(fn, { ...base, deployments: [] })).toThrow(BudgetConfigError)
    expect(() => withBudget(fn, { ...base, deployments: DEPLOYMENTS, strategy: 'cheapest' as never })).toThrow(
      /`strategy` must be one of .*got "cheapest"/,
    )
    expect(() => withBudget(fn, { ...base, deployments: DEPLOYMENTS, strategy: 'lowest-cots' as never })).toThrow(
      /did you mean 'lowest-cost'/,
    )
    expect(() => withBudget(fn, { ...base, strategy: 'priority' })).toThrow(/needs `deployments`/)
    expect(() =>
      withBudget(fn, {
        ...base,
        deployments: [
          { id: 'a', model: 'gpt-4o' },
          { id: 'a', model: 'gpt-4o' },
        ],
      }),
    ).toThrow(/appears twice/)
    const noRouter = { reserve: manager.reserve.bind(manager) } as unknown as BudgetManager
    expect(() => withBudget(fn, { ...base, manager: noRouter, deployments: DEPLOYMENTS })).toThrow(/selectDeployment/)
    // A USD estimate cannot be priced per deployment; a first argument without a request object cannot take a model.
    const usd = withBudget(fn, { ...base, estimate: 0.01, deployments: DEPLOYMENTS })
    await expect(usd({ messages: [], max_tokens: 1 })).rejects.toThrow(InvalidInputError)
    const positional = withBudget(async (_prompt: string) => ({}), { ...base, deployments: DEPLOYMENTS })
    await expect(positional('hello')).rejects.toThrow(/applyModel/)
    const status = await manager.getStatus('provider:openai')
    expect([status.spend, status.reserved]).toEqual([0, 0])
    expect(await manager.spendRecords({})).toEqual([])
  })
})
