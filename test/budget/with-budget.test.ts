import { describe, expect, it } from 'vitest'
import { BudgetManager, withBudget } from '../../src/budget/index.js'
import { calculateCost } from '../../src/cost/index.js'
import { BudgetExceededError } from '../../src/errors.js'
import { memoryStore } from '../../src/stores/memory.js'
import { fakeAnthropic, fakeClock, fakeOpenAI } from '../../src/testing/index.js'
import type { SpendRecord } from '../../src/stores/types.js'

const T0 = Date.UTC(2026, 10, 15, 12)

async function setup() {
  const clock = fakeClock(T0)
  const manager = new BudgetManager({ store: memoryStore(), clock })
  await manager.setBudget('user:alice', { maxBudget: 10 })
  return { clock, manager }
}

async function records(manager: BudgetManager): Promise<SpendRecord[]> {
  return manager.spendRecords({})
}

describe('withBudget', () => {
  it('commits the catalog cost of a response, priced at the model that served it', async () => {
    const { manager } = await setup()
    const client = fakeOpenAI({ inputTokens: 1000, outputTokens: 200, responseModel: 'gpt-4o-mini-2024-07-18' })
    const chat = withBudget(
      (request: { model: string; messages: { role: string; content: string }[]; max_tokens: number }) =>
        client.chat.completions.create(request),
      {
        manager,
        context: { user: 'alice' },
      },
    )
    const reply = (await chat({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'hello' }],
      max_tokens: 300,
    })) as { model: string }
    expect(reply.model).toBe('gpt-4o-mini-2024-07-18')
    const expected = calculateCost({ model: 'gpt-4o-mini', usage: { prompt_tokens: 1000, completion_tokens: 200 } })
      .exact.totalNanoUsd
    const [record] = await records(manager)
    expect(record?.costNanoUsd).toBe(expected)
    expect(record?.model).toBe('gpt-4o-mini')
    expect(record?.modelServed).toBe('gpt-4o-mini-2024-07-18')
    expect(record?.status).toBe('success')
    expect(record?.priceSource).toBe('catalog')
    expect(typeof record?.catalogVersion).toBe('string')
    expect((await manager.getStatus('user:alice')).reserved).toBe(0)
  })

  it('context and estimate may be functions of the arguments; this is passed through', async () => {
    const { manager } = await setup()
    await manager.setBudget('user:bob', { maxBudget: 0.05 })
    const service = {
      prefix: 'p:',
      run: withBudget(
        async function (this: { prefix: string }, user: string, amount: number) {
          return `${this.prefix}${user}:${amount}`
        },
        {
          manager,
          context: (user) => ({ user }),
          estimate: (_user, amount) => amount,
          cost: (_r, [, amount]) => amount,
        },
      ),
    }
    expect(await service.run('bob', 0.03)).toBe('p:bob:0.03')
    await expect(service.run('bob', 0.03)).rejects.toBeInstanceOf(BudgetExceededError)
    expect((await manager.getStatus('user:bob')).spend).toBe(0.03)
  })

  it('a throw before the provider answered releases the hold and records nothing', async () => {
    const { manager } = await setup()
    const client = fakeOpenAI({ fail: () => new Error('connection reset') })
    const chat = withBudget((r: { model: string }) => client.chat.completions.create(r), {
      manager,
      context: { user: 'alice' },
      estimate: 1,
    })
    await expect(chat({ model: 'gpt-4o' })).rejects.toThrow('connection reset')
    const status = await manager.getStatus('user:alice')
    expect(status.reserved).toBe(0)
    expect(status.spend).toBe(0)
    expect(await records(manager)).toHaveLength(0)
  })

  it('a cache hit records $0 with status cache_hit', async () => {
    const { manager } = await setup()
    const cached = withBudget(async () => ({ cached: true }), {
      manager,
      context: { user: 'alice' },
      estimate: 0.5,
      cacheHit: (r) => r.cached,
    })
    await cached()
    const [record] = await records(manager)
    expect(record?.status).toBe('cache_hit')
    expect(record?.costNanoUsd).toBe(0)
    expect((await manager.getStatus('user:alice')).reserved).toBe(0)
  })

  it('a result without usage commits the estimate flagged estimated (never a silent $0)', async () => {
    const { manager } = await setup()
    const call = withBudget(async () => ({ text: 'no usage here' }), {
      manager,
      context: { user: 'alice' },
      estimate: 0.25,
    })
    await call()
    const [record] = await records(manager)
    expect(record?.estimated).toBe(true)
    expect(record?.costNanoUsd).toBe(250_000_000)
  })

  describe('streams', () => {
    const request = {
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'hi' }],
      max_tokens: 100,
      stream: true,
      stream_options: { include_usage: true },
    }

    it('an async iterable that ends commits its usage once', async () => {
      const { manager } = await setup()
      const client = fakeOpenAI({ inputTokens: 40, outputTokens: 30, reply: 'hello world' })
      const chat = withBudget(
        (r: typeof request) => client.chat.completions.create(r) as Promise<AsyncIterable<unknown>>,
        { manager, context: { user: 'alice' } },
      )
      const stream = await chat(request)
      expect(await records(manager)).toHaveLength(0)
      expect((await manager.getStatus('user:alice')).reserved).toBeGreaterThan(0)
      const seen: unknown[] = []
      for await (const chunk of stream) seen.push(chunk)
      expect(seen.length).toBe(4)
      const all = await records(manager)
      expect(all).toHaveLength(1)
      expect(all[0]?.estimated).toBe(false)
      expect(all[0]?.costNanoUsd).toBe(
        calculateCost({ model: 'gpt-4o-mini', usage: { prompt_tokens: 40, completion_tokens: 30 } }).exact.totalNanoUsd,
      )
      expect((await manager.getStatus('user:alice')).reserved).toBe(0)
    })

    it('break out of a stream commits the estimate flagged estimated, status aborted, exactly once', async () => {
      const { manager } = await setup()
      const client = fakeOpenAI({ reply: 'a long answer', chunks: 5 })
      const chat = withBudget(
        (r: typeof request) => client.chat.completions.create(r) as Promise<AsyncIterable<unknown>>,
        { manager, context: { user: 'alice' }, estimate: 0.02 },
      )
      const stream = await chat(request)
      for await (const _chunk of stream) break
      const all = await records(manager)
      expect(all).toHaveLength(1)
      expect(all[0]?.status).toBe('aborted')
      expect(all[0]?.estimated).toBe(true)
      expect(all[0]?.costNanoUsd).toBe(20_000_000)
      expect((await manager.getStatus('user:alice')).reserved).toBe(0)
    })

    it('Anthropic-style events abandoned after message_start commit the usage seen so far', async () => {
      const { manager } = await setup()
      const client = fakeAnthropic({ inputTokens: 1000, outputTokens: 500 })
      const call = withBudget(
        (r: { model: string; stream: boolean; max_tokens: number; messages: { role: string; content: string }[] }) =>
          client.messages.create(r) as Promise<AsyncIterable<unknown>>,
        {
          manager,
          context: { user: 'alice' },
          estimate: 1,
        },
      )
      const stream = await call({
        model: 'claude-sonnet-4-5',
        stream: true,
        max_tokens: 1000,
        messages: [{ role: 'user', content: 'x' }],
      })
      let n = 0
      for await (const _event of stream) if (++n === 2) break
      const [record] = await records(manager)
      expect(record?.status).toBe('aborted')
      expect(record?.costNanoUsd).toBeLessThan(1_000_000_000)
      expect(record?.costNanoUsd).toBeGreaterThan(0)
    })

    it('a stream that throws commits once and rethrows', async () => {
      const { manager } = await setup()
      async function* failing() {
        yield { id: 1 }
        throw new Error('stream broke')
      }
      const call = withBudget(async () => failing(), { manager, context: { user: 'alice' }, estimate: 0.5 })
      const stream = await call()
      const consume = async () => {
        for await (const _ of stream) {
          // consume
        }
      }
      await expect(consume()).rejects.toThrow('stream broke')
      const all = await records(manager)
      expect(all).toHaveLength(1)
      expect(all[0]?.estimated).toBe(true)
      expect((await manager.getStatus('user:alice')).reserved).toBe(0)
    })

    it('a ReadableStream that ends or is cancelled commits exactly once', async () => {
      const { manager } = await setup()
      const makeStream = () =>
        new ReadableStream<{ usage?: { prompt_tokens: number; completion_tokens: number } }>({
          start(controller) {
            controller.enqueue({})
            controller.enqueue({ usage: { prompt_tokens: 10, completion_tokens: 5 } })
            controller.close()
          },
        })
      const call = withBudget(async () => makeStream(), {
        manager,
        context: { user: 'alice' },
        estimate: 0.1,
        model: () => 'gpt-4o-mini',
      })
      const stream = await call()
      const reader = stream.getReader()
      while (!(await reader.read()).done) {
        // drain
      }
      let all = await records(manager)
      expect(all).toHaveLength(1)
      expect(all[0]?.estimated).toBe(false)
      const second = await call()
      await second.cancel('not needed')
      all = await records(manager)
      expect(all).toHaveLength(2)
      expect(all[1]?.status).toBe('aborted')
      expect(all[1]?.estimated).toBe(true)
      expect((await manager.getStatus('user:alice')).reserved).toBe(0)
    })

    it('a stream read through its own helper methods (SDK toReadableStream(), tee()) is charged once', async () => {
      const { manager } = await setup()
      // The shape of the OpenAI and Anthropic SDKs' Stream: `[Symbol.asyncIterator]` delegates to `iterator()`,
      // and helpers iterate `this`.
      class SdkStream {
        async *iterator() {
          yield { model: 'gpt-4o-mini' }
          yield { usage: { prompt_tokens: 100, completion_tokens: 20 } }
        }
        [Symbol.asyncIterator]() {
          return this.iterator()
        }
        async collect() {
          const out: unknown[] = []
          for await (const chunk of this) out.push(chunk)
          return out
        }
        tee() {
          const chunks = this.iterator()
          return chunks
        }
      }
      const call = withBudget(async () => new SdkStream(), {
        manager,
        context: { user: 'alice' },
        estimate: 0.1,
        model: () => 'gpt-4o-mini',
      })
      const stream = await call()
      expect(stream).toBeInstanceOf(SdkStream)
      expect(await stream.collect()).toHaveLength(2)
      const teed = (await call()).tee()
      while (!(await teed.next()).done) {
        // drain
      }
      const all = await records(manager)
      expect(all.map((r) => [r.status, r.estimated])).toEqual([
        ['success', false],
        ['success', false],
      ])
      const status = await manager.getStatus('user:alice')
      expect(status.reserved).toBe(0)
      // gpt-4o-mini: 100 x $0.15/M + 20 x $0.60/M = $0.000027 per call
      expect(status.exact.spend).toBe('0.000054000')
    })
  })

  it('fallbackModel: a refused reservation is retried with the fallback model', async () => {
    const { manager } = await setup()
    await manager.setBudget('user:frugal', {
      maxBudget: 1,
      modelMaxBudget: { 'gpt-4o': { maxBudget: 0.001 } },
      onExceeded: { fallbackModel: 'gpt-4o-mini' },
    })
    const reservation = await manager.reserve(
      { user: 'frugal' },
      { model: 'gpt-4o', inputTokens: 1000, maxOutputTokens: 1000 },
    )
    expect(reservation.model).toBe('gpt-4o-mini')
    await reservation.release()
  })
})
