/**
 * `deployments` and `cache` on the wrappers added after the shared options got them: Google Gen AI and Mistral go
 * through the budgeted fetch (routing and cache), Bedrock through its middleware (routing; `cache` is refused, never
 * silently ignored). Real SDKs against the local wire servers, which count the requests they received.
 */
import { BedrockRuntimeClient, ConverseCommand } from '@aws-sdk/client-bedrock-runtime'
import { GoogleGenAI } from '@google/genai'
import { Mistral } from '@mistralai/mistralai'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { responseCache } from '../../src/budget/index.js'
import { BudgetConfigError } from '../../src/errors.js'
import { withBedrockBudget } from '../../src/integrations/bedrock.js'
import { withGoogleBudget } from '../../src/integrations/google.js'
import { withMistralBudget } from '../../src/integrations/mistral.js'
import { reserved, setup } from './helpers.js'
import { startBedrockServer } from './servers/bedrock.js'
import { startGoogleServer } from './servers/google.js'
import { startMistralServer, type WireServer } from './servers/mistral.js'

let google: WireServer
let bedrock: WireServer
let mistral: WireServer
beforeAll(async () => {
  google = await startGoogleServer()
  bedrock = await startBedrockServer()
  mistral = await startMistralServer()
})
afterAll(async () => {
  await Promise.all([google.close(), bedrock.close(), mistral.close()])
})
beforeEach(() => {
  google.reset()
  bedrock.reset()
  mistral.reset()
})

const googleSdk = () => new GoogleGenAI({ apiKey: 'test-key', httpOptions: { baseUrl: google.url } })
const mistralSdk = () => new Mistral({ apiKey: 'test-key', serverURL: mistral.url })
const bedrockSdk = () =>
  new BedrockRuntimeClient({
    region: 'us-east-1',
    credentials: { accessKeyId: 'AKIDTEST', secretAccessKey: 'secret' },
    endpoint: bedrock.url,
    maxAttempts: 1,
  })

describe('Google Gen AI', () => {
  it('routes: the chosen deployment’s model goes into the URL and the record', async () => {
    const { manager, events } = await setup()
    await manager.setBudget('deployment:pro', { maxBudget: 0 })
    const ai = withGoogleBudget(googleSdk(), {
      manager,
      context: { user: 'alice' },
      deployments: [
        { id: 'pro', model: 'gemini-2.5-pro', provider: 'gemini' },
        { id: 'flash', model: 'gemini-2.5-flash', provider: 'gemini' },
      ],
      strategy: 'priority',
    })
    await ai.models.generateContent({ model: 'gemini-2.5-pro', contents: 'hi' })
    expect(google.requests.map((r) => r.path)).toEqual([expect.stringContaining('/models/gemini-2.5-flash:')])
    expect((events[0]!.record['context'] as { deployment?: string }).deployment).toBe('flash')
    expect(await reserved(manager)).toBe(0)
  })

  it('caches: the second identical call sends nothing and records $0 with what it saved', async () => {
    const { manager, events } = await setup()
    const ai = withGoogleBudget(googleSdk(), { manager, context: { user: 'alice' }, cache: responseCache({ max: 10 }) })
    const first = await ai.models.generateContent({ model: 'gemini-2.5-flash', contents: 'hi' })
    const second = await ai.models.generateContent({ model: 'gemini-2.5-flash', contents: 'hi' })
    expect(google.count()).toBe(1)
    expect(second.text).toBe(first.text)
    expect(events.map((e) => e.record['status'])).toEqual(['success', 'cache_hit'])
    const cost = events[0]!.record['costNanoUsd'] as number
    expect(cost).toBeGreaterThan(0)
    expect(events[1]!.record).toMatchObject({ costNanoUsd: 0, cacheHit: true, savedNanoUsd: cost })
  })
})

describe('Mistral', () => {
  it('caches chat.complete: one request for two identical calls', async () => {
    const { manager, events } = await setup()
    const client = withMistralBudget(mistralSdk(), {
      manager,
      context: { user: 'alice' },
      cache: responseCache({ max: 10 }),
    })
    const request = { model: 'mistral-small-latest', messages: [{ role: 'user' as const, content: 'hi' }] }
    await client.chat.complete(request)
    await client.chat.complete(request)
    expect(mistral.count()).toBe(1)
    expect(events.map((e) => e.record['status'])).toEqual(['success', 'cache_hit'])
  })

  it('routes among the client’s models', async () => {
    const { manager } = await setup()
    await manager.setBudget('deployment:large', { maxBudget: 0 })
    const client = withMistralBudget(mistralSdk(), {
      manager,
      context: { user: 'alice' },
      deployments: [
        { id: 'large', model: 'mistral-large-latest', provider: 'mistral' },
        { id: 'small', model: 'mistral-small-latest', provider: 'mistral' },
      ],
      strategy: 'priority',
    })
    await client.chat.complete({ model: 'mistral-large-latest', messages: [{ role: 'user', content: 'hi' }] })
    expect(mistral.requests.map((r) => (r.body as { model?: string }).model)).toEqual(['mistral-small-latest'])
  })
})

describe('Bedrock', () => {
  it('routes: the chosen deployment’s model id is signed into the path', async () => {
    const { manager, events } = await setup()
    await manager.setBudget('deployment:sonnet', { maxBudget: 0 })
    const client = withBedrockBudget(bedrockSdk(), {
      manager,
      context: { user: 'alice' },
      deployments: [
        { id: 'sonnet', model: 'anthropic.claude-sonnet-4-20250514-v1:0', provider: 'bedrock' },
        { id: 'haiku', model: 'anthropic.claude-3-5-haiku-20241022-v1:0', provider: 'bedrock' },
      ],
      strategy: 'priority',
    })
    await client.send(
      new ConverseCommand({
        modelId: 'anthropic.claude-sonnet-4-20250514-v1:0',
        messages: [{ role: 'user', content: [{ text: 'hi' }] }],
      }),
    )
    expect(bedrock.requests.map((r) => decodeURIComponent(r.path))).toEqual([
      expect.stringContaining('anthropic.claude-3-5-haiku-20241022-v1:0'),
    ])
    expect((events[0]!.record['context'] as { deployment?: string }).deployment).toBe('haiku')
  })

  it('refuses `cache` with a typed error instead of ignoring it', async () => {
    const { manager } = await setup()
    expect(() => withBedrockBudget(bedrockSdk(), { manager, cache: responseCache({ max: 1 }) } as never)).toThrow(
      BudgetConfigError,
    )
    expect(bedrock.count()).toBe(0)
  })
})
