/**
 * Defects of issue 10 on the integration paths, each reproduced with the real SDK against a local wire server:
 * no silent $0 (a non-streamed OpenAI response without usage counts the text it returned), per-unit calls reserve a
 * real estimate, LangChain without a user never records the user "undefined".
 */
import { ChatAnthropic } from '@langchain/anthropic'
import { ChatOpenAI } from '@langchain/openai'
import OpenAI from 'openai'
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest'
import { BudgetManager } from '../../src/budget/manager.js'
import { estimateCost } from '../../src/cost/index.js'
import { BudgetExceededError, InvalidInputError } from '../../src/errors.js'
import { BudgetCallbackHandler } from '../../src/integrations/langchain.js'
import { withOpenAIBudget } from '../../src/integrations/openai.js'
import { memoryStore } from '../../src/stores/memory.js'
import { setup } from './helpers.js'
import { startAnthropicServer } from './servers/anthropic.js'
import { startOpenAIServer, type WireServer } from './servers/openai.js'

let openai: WireServer
let anthropic: WireServer
beforeAll(async () => {
  openai = await startOpenAIServer()
  anthropic = await startAnthropicServer()
})
afterAll(async () => {
  await openai.close()
  await anthropic.close()
})
beforeEach(() => {
  openai.reset()
  anthropic.reset()
})

const sdk = () => new OpenAI({ apiKey: 'sk-test', baseURL: `${openai.url}/v1`, maxRetries: 0 })

describe('no silent $0', () => {
  it('a non-streamed OpenAI response without usage is charged its input and the text it returned, flagged', async () => {
    const { manager, events } = await setup()
    const client = withOpenAIBudget(sdk(), { manager, context: { user: 'alice' } })
    const text = 'Paris is the capital of France, and has been for a very long time indeed.'
    openai.defaultBehavior = { noUsage: true, text }
    const messages = [{ role: 'user' as const, content: 'Capital of France?' }]
    await client.chat.completions.create({ model: 'gpt-4o', messages, max_tokens: 1000 })
    expect(events).toHaveLength(1)
    const inputOnly = estimateCost({ model: 'gpt-4o-2024-08-06', messages, maxOutputTokens: 0 }).totalCost
    expect(events[0]!.estimated).toBe(true)
    expect(events[0]!.record['status']).toBe('estimated')
    expect(events[0]!.record['metadata']).toMatchObject({ outputTokensSeen: Math.ceil(text.length / 4) })
    expect(events[0]!.cost).toBeGreaterThan(inputOnly)
  })
})

describe('per-unit calls reserve a real estimate', () => {
  async function spentOut() {
    const manager = new BudgetManager({ store: memoryStore() })
    await manager.setBudget('user:alice', { maxBudget: 0.001 })
    return withOpenAIBudget(sdk(), { manager, context: { user: 'alice' } })
  }

  it('image generation, speech and transcription are refused before the call when the budget cannot hold them', async () => {
    const client = await spentOut()
    await expect(
      client.images.generate({ model: 'gpt-image-1', prompt: 'a lighthouse', size: '1024x1024', quality: 'medium' }),
    ).rejects.toThrow(BudgetExceededError)
    await expect(
      client.audio.speech.create({ model: 'tts-1', voice: 'alloy', input: 'Hello there, caller. '.repeat(40) }),
    ).rejects.toThrow(BudgetExceededError)
    await expect(
      client.audio.transcriptions.create({
        model: 'whisper-1',
        file: new File([new Uint8Array(64_000)], 'a.mp3', { type: 'audio/mpeg' }),
      }),
    ).rejects.toThrow(BudgetExceededError)
    expect(openai.requests).toHaveLength(0)
  })

  it('the reservation follows the request: image count and quality, characters, file size', async () => {
    const manager = new BudgetManager({ store: memoryStore() })
    const reserves: number[] = []
    const counting = {
      reserve: async (...args: Parameters<BudgetManager['reserve']>) => {
        const reservation = await manager.reserve(...args)
        reserves.push(reservation.estimateUsd)
        return reservation
      },
    }
    const client = withOpenAIBudget(sdk(), { manager: counting, context: { user: 'alice' } })
    await client.images.generate({ model: 'gpt-image-1', prompt: 'a lighthouse', size: '1024x1024', quality: 'low' })
    await client.images.generate({
      model: 'gpt-image-1',
      prompt: 'a lighthouse',
      size: '1024x1024',
      quality: 'high',
      n: 2,
    })
    await client.audio.speech.create({ model: 'tts-1', voice: 'alloy', input: 'Hi.' })
    await client.audio.speech.create({ model: 'tts-1', voice: 'alloy', input: 'Hi. '.repeat(100) })
    expect(reserves.every((usd) => usd > 0)).toBe(true)
    expect(reserves[1]!).toBeGreaterThan(reserves[0]! * 2)
    expect(reserves[3]!).toBeGreaterThan(reserves[2]!)
  })
})

describe('LangChain without a user', () => {
  for (const provider of ['openai', 'anthropic'] as const) {
    const model = (handler: BudgetCallbackHandler) =>
      provider === 'openai'
        ? new ChatOpenAI({
            model: 'gpt-4o-mini',
            apiKey: 'sk-test',
            configuration: { baseURL: `${openai.url}/v1` },
            maxRetries: 0,
            maxTokens: 200,
            callbacks: [handler],
          })
        : new ChatAnthropic({
            model: 'claude-haiku-4-5',
            apiKey: 'sk-ant-test',
            anthropicApiUrl: anthropic.url,
            maxRetries: 0,
            maxTokens: 200,
            callbacks: [handler],
          })

    it(`${provider}: the documented String(run.metadata.user) pattern on a run without metadata is a clear error, not user "undefined"`, async () => {
      const manager = new BudgetManager({ store: memoryStore() })
      const handler = new BudgetCallbackHandler({ manager, context: (run) => ({ user: String(run.metadata['user']) }) })
      const error = await model(handler)
        .invoke('Hello')
        .catch((caught: unknown) => caught)
      expect(error).toBeInstanceOf(InvalidInputError)
      expect(String(error)).toMatch(/metadata/)
      expect(await manager.spendRecords()).toHaveLength(0)
    })

    it(`${provider}: without \`context\` the run's metadata names the user, and a run without one records no user`, async () => {
      const manager = new BudgetManager({ store: memoryStore() })
      const handler = new BudgetCallbackHandler({ manager })
      const chat = model(handler)
      await chat.invoke('Hello', { metadata: { user: 'alice' } })
      await chat.invoke('Hello')
      await vi.waitFor(async () => expect(await manager.spendRecords()).toHaveLength(2))
      const users = (await manager.spendRecords()).map((record) => (record['context'] as { user?: string }).user)
      expect(users).toEqual(['alice', undefined])
      expect(await manager.getCurrentCost('alice')).toBeGreaterThan(0)
      expect(await manager.getCurrentCost('undefined')).toBe(0)
    })
  }
})
