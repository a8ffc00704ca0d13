import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { PriceCatalog, UnknownModelError, calculateCost, defaultCatalog } from '../../src/cost/index.js'

const catalog = defaultCatalog

describe('model resolution', () => {
  it.each([
    ['gpt-4o', undefined, 'gpt-4o', 'exact'],
    ['gpt-4o-2024-08-06', undefined, 'gpt-4o-2024-08-06', 'exact'],
    ['gpt-4o-2024-05-13', undefined, 'gpt-4o-2024-05-13', 'exact'],
    ['gpt-4o-2099-01-01', undefined, 'gpt-4o', 'date-stripped'],
    ['claude-sonnet-4-6-20260101', undefined, 'claude-sonnet-4-6', 'date-stripped'],
    ['vertex_ai/claude-sonnet-4-5@20991231', undefined, 'vertex_ai/claude-sonnet-4-5', 'date-stripped'],
    ['openai/gpt-4o', undefined, 'gpt-4o', 'provider-stripped'],
    ['openai/gpt-4o-mini', undefined, 'gpt-4o-mini', 'provider-stripped'],
    ['azure/gpt-4o', undefined, 'azure/gpt-4o', 'exact'],
    ['gpt-4o', 'azure', 'azure/gpt-4o', 'provider-prefixed'],
    ['gemini/gemini-2.5-pro', undefined, 'gemini/gemini-2.5-pro', 'exact'],
    ['gemini-2.5-pro', 'gemini', 'gemini/gemini-2.5-pro', 'provider-prefixed'],
    ['gemini-2.5-flash', 'google', 'gemini/gemini-2.5-flash', 'provider-prefixed'],
    ['vertex_ai/gemini-2.5-pro', undefined, 'gemini-2.5-pro', 'provider-stripped'],
    ['gemini-2.5-pro', 'vertex_ai', 'gemini-2.5-pro', 'exact'],
    ['bedrock/us-east-1/deepseek.v3.2', undefined, 'bedrock/us-east-1/deepseek.v3.2', 'exact'],
    [
      'bedrock/eu-west-1/anthropic.claude-3-5-sonnet-20240620-v1:0',
      undefined,
      'anthropic.claude-3-5-sonnet-20240620-v1:0',
      'provider-stripped',
    ],
    [
      'bedrock/us.anthropic.claude-sonnet-4-5-20250929-v1:0',
      undefined,
      'us.anthropic.claude-sonnet-4-5-20250929-v1:0',
      'provider-stripped',
    ],
    [
      'bedrock/converse/us.anthropic.claude-sonnet-4-5-20250929-v1:0',
      undefined,
      'us.anthropic.claude-sonnet-4-5-20250929-v1:0',
      'provider-stripped',
    ],
    [
      'us.anthropic.claude-sonnet-4-5-20250929-v1:0',
      'bedrock',
      'us.anthropic.claude-sonnet-4-5-20250929-v1:0',
      'exact',
    ],
    [
      'ca.anthropic.claude-sonnet-4-5-20250929-v1:0',
      undefined,
      'anthropic.claude-sonnet-4-5-20250929-v1:0',
      'provider-stripped',
    ],
    ['mistral-small-latest', 'mistral', 'mistral/mistral-small-latest', 'provider-prefixed'],
    ['grok-4', 'xai', 'xai/grok-4', 'provider-prefixed'],
    ['o1-mini', undefined, 'o1-mini', 'exact'],
    ['claude-3-5-sonnet-20241022', undefined, 'claude-3-5-sonnet-20241022', 'exact'],
  ])('%s (provider %s) -> %s by %s', (model, provider, key, rule) => {
    const r = catalog.resolve(model, { provider })
    expect([r.key, r.rule]).toEqual([key, rule])
  })

  it('retired models are marked, not dropped', () => {
    expect(catalog.resolve('o1-mini').entry.retired).toBe(true)
    expect(catalog.resolve('gpt-4o').entry.retired).toBe(false)
  })

  it.each([
    ['gpt-4o-mini', 'gpt-4o'],
    ['o3-pro', 'o3'],
    ['gpt-5.1', 'gpt-5'],
    ['gpt-5-mini', 'gpt-5'],
    ['o4-mini', 'o4'],
  ])('%s never resolves to %s', (model, wrong) => {
    expect(catalog.resolve(model).key).toBe(model)
    expect(catalog.resolve(model).key).not.toBe(wrong)
    expect(catalog.resolve(`${model}-2099-01-01`).key).toBe(model)
  })

  it('never prefix-matches an unknown variant', () => {
    for (const name of ['gpt-4o-ultra', 'o3-pro-max', 'gpt-5.1-hyper', 'claude-sonnet-4-5-turbo']) {
      expect(catalog.tryResolve(name)).toBeUndefined()
    }
  })

  it('gpt-4o-ultra is an UnknownModelError with tried and useful suggestions', () => {
    try {
      catalog.resolve('gpt-4o-ultra', { provider: 'openai' })
      expect.unreachable()
    } catch (error) {
      expect(error).toBeInstanceOf(UnknownModelError)
      const e = error as UnknownModelError
      expect(e.model).toBe('gpt-4o-ultra')
      expect(e.provider).toBe('openai')
      expect(e.tried).toEqual(['gpt-4o-ultra', 'openai/gpt-4o-ultra'])
      expect(e.suggestions.slice(0, 2)).toEqual(['gpt-4o', 'gpt-4o-mini'])
      expect(e.message).toMatch(/Did you mean `gpt-4o`/)
    }
  })

  it('calculateCost raises UnknownModelError too (never $0)', () => {
    expect(() =>
      calculateCost({
        model: 'gpt-4o-ultra',
        usage: { inputTokens: 1, outputTokens: 1, cacheReadTokens: 0, cacheWriteTokens: 0, reasoningTokens: null },
      }),
    ).toThrow(UnknownModelError)
  })
})

describe('aliases, deployments and custom prices', () => {
  it('aliases and Azure deployment maps resolve to the base model', () => {
    const c = new PriceCatalog().alias('my-gpt', 'gpt-4o-mini').deployments('azure', { 'prod-4o': 'gpt-4o' })
    expect([c.resolve('my-gpt').key, c.resolve('my-gpt').rule]).toEqual(['gpt-4o-mini', 'alias'])
    expect([c.resolve('prod-4o', { provider: 'azure' }).key, c.resolve('prod-4o', { provider: 'azure' }).rule]).toEqual(
      ['azure/gpt-4o', 'deployment'],
    )
    expect([c.resolve('azure/prod-4o').key, c.resolve('azure/prod-4o').rule]).toEqual(['azure/gpt-4o', 'deployment'])
    expect(c.tryResolve('prod-4o')).toBeUndefined()
  })

  it('custom prices win over exact, prefixed, stripped and dated names', () => {
    const c = new PriceCatalog().register('gpt-4o', { inputPerMillion: '1', outputPerMillion: '1' })
    for (const name of ['gpt-4o', 'openai/gpt-4o', 'gpt-4o-2024-08-06'])
      expect(c.resolve(name).entry.source).toBe('custom')
    expect(c.resolve('gpt-4o', { provider: 'azure' }).entry.source).toBe('custom')
    expect(c.resolve('gpt-4o-mini').entry.source).toBe('catalog')
  })

  it('effectiveFrom switches prices at a point in time', () => {
    const c = new PriceCatalog().register('gpt-4o', { inputPerMillion: '2' }, { effectiveFrom: '2030-01-01T00:00:00Z' })
    const usage = {
      inputTokens: 1_000_000,
      outputTokens: 0,
      cacheReadTokens: 0,
      cacheWriteTokens: 0,
      reasoningTokens: null,
    }
    expect(
      calculateCost({ model: 'gpt-4o', usage, catalog: c, at: Date.parse('2029-12-31T23:59:59Z') }).exact.totalCost,
    ).toBe('2.5')
    expect(
      calculateCost({ model: 'gpt-4o', usage, catalog: c, at: Date.parse('2030-01-01T00:00:00Z') }).exact.totalCost,
    ).toBe('2')
  })

  it('free is distinct from unpriced', () => {
    const c = new PriceCatalog({ table: 'empty' }).register('free-model', { inputPerMillion: 0, outputPerMillion: 0 })
    expect(c.resolve('free-model').entry.prices).toEqual({ input_cost_per_token: '0', output_cost_per_token: '0' })
    expect(() => c.resolve('other')).toThrow(UnknownModelError)
  })

  it.each([
    [{ inputPerMillion: -1 }, 'prices.inputPerMillion'],
    [{ inputPerMillion: Number.NaN }, 'prices.inputPerMillion'],
    [{ inputPerMillion: Number.POSITIVE_INFINITY }, 'prices.inputPerMillion'],
    [{ input_cost_per_token: '1e9' }, 'prices.input_cost_per_token'],
    [{ inputPerMillion: 'abc' }, 'prices.inputPerMillion'],
    [{ bogus_field: 1 }, 'prices.bogus_field'],
    [{}, 'prices'],
  ])('register rejects %j naming %s', (prices, field) => {
    expect(() => new PriceCatalog().register('x', prices as never)).toThrow(expect.objectContaining({ field }))
  })
})

describe('refresh (opt-in)', () => {
  let server: Server
  let base = ''
  const table = {
    sample_spec: { litellm_provider: 'x' },
    'gpt-4o': {
      litellm_provider: 'openai',
      mode: 'chat',
      input_cost_per_token: 0.000002,
      output_cost_per_token: 0.00001,
    },
    'brand-new-model': {
      litellm_provider: 'openai',
      mode: 'chat',
      input_cost_per_token: 1e-6,
      output_cost_per_token: 2e-6,
    },
    'bad-model': { litellm_provider: 'openai', input_cost_per_token: -1 },
  }
  beforeAll(async () => {
    server = createServer((req, res) => {
      if (req.url === '/prices.json') {
        res.setHeader('content-type', 'application/json')
        res.end(JSON.stringify(table))
      } else if (req.url === '/slow') {
        setTimeout(() => res.end('{}'), 2_000)
      } else {
        res.statusCode = 500
        res.end('boom')
      }
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  })
  afterAll(async () => {
    server.closeAllConnections()
    await new Promise((resolve) => server.close(resolve))
  })

  it('loads, validates and reports added / changed / removed; removed models stay (retired)', async () => {
    const c = new PriceCatalog()
    const report = await c.refresh({ url: `${base}/prices.json`, timeoutMs: 5_000 })
    expect(report.ok).toBe(true)
    expect(report.added).toEqual(['brand-new-model'])
    expect(report.changed).toEqual(['gpt-4o'])
    expect(report.removed.length).toBeGreaterThan(2_000)
    expect(report.rejected.map((r) => r.key)).toEqual(['bad-model'])
    expect(c.resolve('gpt-4o').entry.prices.input_cost_per_token).toBe('0.000002')
    expect(c.resolve('claude-sonnet-4-5').entry.retired).toBe(true)
    expect(defaultCatalog.resolve('gpt-4o').entry.prices.input_cost_per_token).toBe('0.0000025')
  })

  it('falls back to the bundled data on HTTP errors and timeouts', async () => {
    const c = new PriceCatalog()
    const failed = await c.refresh({ url: `${base}/missing`, timeoutMs: 5_000 })
    expect(failed.ok).toBe(false)
    expect(failed.error).toMatch(/HTTP 500/)
    const slow = await c.refresh({ url: `${base}/slow`, timeoutMs: 100 })
    expect(slow.ok).toBe(false)
    expect(c.resolve('gpt-4o').entry.prices.input_cost_per_token).toBe('0.0000025')
    expect(c.dataVersion.id).toBe(defaultCatalog.dataVersion.id)
  })

  it('accepts a parsed table and refuses garbage', async () => {
    const c = new PriceCatalog()
    expect((await c.refresh({ json: [1, 2, 3] })).ok).toBe(false)
    expect((await c.refresh({ json: table })).ok).toBe(true)
  })
})

describe('data version', () => {
  it('records the source commits, dates and licence', () => {
    const v = defaultCatalog.dataVersion
    expect(v.sources.map((s) => [s.commit, s.role])).toEqual([
      ['00035b69f416be24e2e323c13198d9b7d2d1bdf9', 'current'],
      ['caddc6dd0fc26931b3fcc4e91e81a3d90080f3ef', 'retired'],
    ])
    expect(v.retired).toBe(195)
    expect(defaultCatalog.license).toMatch(/MIT License/)
  })
})
