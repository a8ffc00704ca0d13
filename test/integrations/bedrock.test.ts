/**
 * withBedrockBudget with the real `@aws-sdk/client-bedrock-runtime` against a local server speaking Bedrock
 * Runtime's wire format over cleartext HTTP/2: Converse JSON, ConverseStream and InvokeModelWithResponseStream in
 * the binary event-stream framing, InvokeModel with Anthropic bodies.
 */
import {
  BedrockRuntime,
  BedrockRuntimeClient,
  ConverseCommand,
  ConverseStreamCommand,
  InvokeModelCommand,
  InvokeModelWithResponseStreamCommand,
} from '@aws-sdk/client-bedrock-runtime'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { BudgetExceededError } from '../../src/errors.js'
import { withBedrockBudget } from '../../src/integrations/bedrock.js'
import { countingReserves, expectedNano, reserved, setup, spend } from './helpers.js'
import { converseUsage, startBedrockServer, type WireServer, type WireUsage } from './servers/bedrock.js'

let server: WireServer
beforeAll(async () => {
  server = await startBedrockServer()
})
afterAll(async () => {
  await server.close()
})
beforeEach(() => server.reset())

const CLIENT = {
  region: 'us-east-1',
  credentials: { accessKeyId: 'AKIDTEST', secretAccessKey: 'secret' },
  retryMode: 'standard',
}

function sdk(maxAttempts = 1): BedrockRuntimeClient {
  return new BedrockRuntimeClient({ ...CLIENT, endpoint: server.url, maxAttempts })
}

/** Cache reads and 5-minute cache writes: Converse reports both outside `inputTokens`. */
const USAGE: WireUsage = { input: 2400, output: 120, cacheRead: 1024, cacheWrite5m: 512 }
const PROFILE = 'us.anthropic.claude-sonnet-4-20250514-v1:0'
const messages = [{ role: 'user' as const, content: [{ text: 'What is the capital of France?' }] }]
const anthropicBody = JSON.stringify({
  anthropic_version: 'bedrock-2023-05-31',
  max_tokens: 300,
  messages: [{ role: 'user', content: 'What is the capital of France?' }],
})

function nano(model = PROFILE, usage: WireUsage = USAGE): number {
  return expectedNano(model, { usage: converseUsage(usage), stopReason: 'end_turn' }, 'bedrock')
}

async function drain(stream: AsyncIterable<unknown> | undefined): Promise<void> {
  for await (const _ of stream!) {
    // consume
  }
}

describe('withBedrockBudget', () => {
  it('Converse, ConverseStream, InvokeModel and its stream charge the same usage the same, cache included', async () => {
    const { manager, events } = await setup()
    const client = withBedrockBudget(sdk(), { manager, context: { user: 'alice' } })
    server.defaultBehavior = { usage: USAGE }
    const converse = await client.send(
      new ConverseCommand({ modelId: PROFILE, messages, inferenceConfig: { maxTokens: 300 } }),
    )
    expect(converse.usage?.cacheWriteInputTokens).toBe(512)
    await drain((await client.send(new ConverseStreamCommand({ modelId: PROFILE, messages }))).stream)
    await client.send(new InvokeModelCommand({ modelId: PROFILE, body: anthropicBody }))
    await drain(
      (await client.send(new InvokeModelWithResponseStreamCommand({ modelId: PROFILE, body: anthropicBody }))).body,
    )
    expect(events.map((e) => e.record['metadata'])).toEqual([
      { endpoint: 'converse' },
      { endpoint: 'converseStream' },
      { endpoint: 'invokeModel' },
      { endpoint: 'invokeModelStream' },
    ])
    for (const event of events) {
      expect(event.estimated).toBe(false)
      expect(event.record).toMatchObject({ provider: 'bedrock', modelServed: PROFILE, costNanoUsd: nano() })
      expect(event.record['usage']).toMatchObject({
        inputTokens: 2400,
        outputTokens: 120,
        cacheReadTokens: 1024,
        cacheWriteTokens: 512,
      })
    }
    expect(await reserved(manager)).toBe(0)
  })

  it('InvokeModel for other model families (Llama): the token-count headers, the stream invocation metrics', async () => {
    const { manager, events } = await setup()
    const client = withBedrockBudget(sdk(), { manager, context: { user: 'alice' } })
    const llama = 'us.meta.llama3-3-70b-instruct-v1:0'
    const usage = { input: 900, output: 60 }
    server.defaultBehavior = { usage }
    const body = JSON.stringify({ prompt: 'What is the capital of France?', max_gen_len: 200 })
    await client.send(new InvokeModelCommand({ modelId: llama, body }))
    await drain((await client.send(new InvokeModelWithResponseStreamCommand({ modelId: llama, body }))).body)
    const expected = expectedNano(llama, { inputTokens: 900, outputTokens: 60 }, 'bedrock')
    expect(expected).toBeGreaterThan(0)
    expect(events.map((e) => [e.record['costNanoUsd'], e.estimated])).toEqual([
      [expected, false],
      [expected, false],
    ])
    expect(await reserved(manager)).toBe(0)
  })

  it('cross-region inference profiles and model ARNs are priced at their base model', async () => {
    const { manager, events } = await setup()
    const client = withBedrockBudget(sdk(), { manager, context: { user: 'alice' } })
    server.defaultBehavior = { usage: USAGE }
    const arn = `arn:aws:bedrock:us-east-1:123456789012:inference-profile/${PROFILE}`
    await client.send(new ConverseCommand({ modelId: arn, messages }))
    await client.send(new ConverseCommand({ modelId: 'anthropic.claude-sonnet-4-20250514-v1:0', messages }))
    expect(server.requests[0]!.path).toContain(encodeURIComponent(arn))
    expect(events[0]!.record['modelServed']).toBe(PROFILE)
    // A profile the price list does not name (Canada) is priced at its base model.
    await client.send(new ConverseCommand({ modelId: 'ca.anthropic.claude-sonnet-4-5-20250929-v1:0', messages }))
    expect(events.map((e) => e.record['costNanoUsd'])).toEqual([
      nano(),
      nano(),
      nano('anthropic.claude-sonnet-4-5-20250929-v1:0'),
    ])
    expect(nano('anthropic.claude-sonnet-4-20250514-v1:0')).toBe(nano())
  })

  it('the aggregated BedrockRuntime client is budgeted too; the original client is untouched', async () => {
    const { manager, events } = await setup()
    const original = new BedrockRuntime({ ...CLIENT, endpoint: server.url, maxAttempts: 1 })
    const client = withBedrockBudget(original, { manager, context: { user: 'alice' } })
    server.defaultBehavior = { usage: USAGE }
    await client.converse({ modelId: PROFILE, messages })
    await original.converse({ modelId: PROFILE, messages })
    expect(server.count()).toBe(2)
    expect(events).toHaveLength(1)
  })

  it('a refusal throws BudgetExceededError, is not retried by the SDK, and sends nothing', async () => {
    const { manager, events } = await setup(0.000001)
    const counting = countingReserves(manager)
    const client = withBedrockBudget(sdk(3), { manager: counting.manager, context: { user: 'alice' } })
    await expect(client.send(new ConverseCommand({ modelId: PROFILE, messages }))).rejects.toBeInstanceOf(
      BudgetExceededError,
    )
    await expect(client.send(new ConverseStreamCommand({ modelId: PROFILE, messages }))).rejects.toBeInstanceOf(
      BudgetExceededError,
    )
    expect(counting.reserves()).toBe(2)
    expect(server.count()).toBe(0)
    expect(events).toHaveLength(0)
  })

  it('SDK retries after 500s: each attempt is admitted, only the billed attempt is charged', async () => {
    const { manager, events } = await setup()
    const counting = countingReserves(manager)
    const client = withBedrockBudget(sdk(3), { manager: counting.manager, context: { user: 'alice' } })
    server.defaultBehavior = { usage: USAGE }
    server.enqueue({ status: 500 }, { status: 503 })
    await drain((await client.send(new ConverseStreamCommand({ modelId: PROFILE, messages }))).stream)
    expect(server.count()).toBe(3)
    expect(counting.reserves()).toBe(3)
    expect(events).toHaveLength(1)
    expect(events[0]!.record['costNanoUsd']).toBe(nano())
    expect(await reserved(manager)).toBe(0)
  })

  it('a budget fallback model is signed and sent in the path, and priced at that model', async () => {
    const haiku = 'us.anthropic.claude-3-5-haiku-20241022-v1:0'
    const { manager, events } = await setup(0.01, { onExceeded: { fallbackModel: haiku } })
    const client = withBedrockBudget(sdk(), { manager, context: { user: 'alice' } })
    server.defaultBehavior = { usage: USAGE }
    await client.send(new ConverseCommand({ modelId: PROFILE, messages, inferenceConfig: { maxTokens: 1000 } }))
    expect(server.requests[0]!.path).toBe(`/model/${encodeURIComponent(haiku)}/converse`)
    // The signature covers the path that was sent.
    expect(String(server.requests[0]!.headers['authorization'])).toContain('SignedHeaders=')
    expect(events[0]!.record).toMatchObject({ modelServed: haiku, metadata: { requestedModel: PROFILE } })
    expect(events[0]!.record['costNanoUsd']).toBe(nano(haiku))
  })

  it('a stream the server cuts: charged once at an estimate flagged estimated, hold released', async () => {
    const { manager, events } = await setup()
    const client = withBedrockBudget(sdk(), { manager, context: { user: 'alice' } })
    server.defaultBehavior = { usage: USAGE, chunks: 6, cutAfterChunks: 2 }
    const output = await client.send(new ConverseStreamCommand({ modelId: PROFILE, messages }))
    // The SDK may end a reset HTTP/2 stream quietly rather than throw: either way no usage arrived.
    await drain(output.stream).catch(() => undefined)
    expect(events).toHaveLength(1)
    expect(events[0]!.estimated).toBe(true)
    expect(events[0]!.record['metadata']).toMatchObject({ outputTokensSeen: expect.any(Number) })
    expect(events[0]!.cost).toBeGreaterThan(0)
    expect(await reserved(manager)).toBe(0)
  })

  it('200 concurrent streams against a budget that fits 100: exactly 100 reach the server', async () => {
    const perCall = nano()
    const { manager, events } = await setup((perCall * 100) / 1e9)
    // The estimate equals the actual cost, so the outcome does not depend on timing.
    const client = withBedrockBudget(sdk(), { manager, context: { user: 'alice' }, estimate: perCall / 1e9 })
    server.defaultBehavior = { usage: USAGE, chunkDelayMs: 2 }
    const results = await Promise.allSettled(
      Array.from({ length: 200 }, async () => {
        await drain((await client.send(new ConverseStreamCommand({ modelId: PROFILE, messages }))).stream)
      }),
    )
    const refused = results.filter((r) => r.status === 'rejected')
    expect(server.count()).toBe(100)
    expect(refused).toHaveLength(100)
    expect(refused.every((r) => (r as PromiseRejectedResult).reason instanceof BudgetExceededError)).toBe(true)
    expect(events).toHaveLength(100)
    expect(await spend(manager)).toBe((perCall * 100) / 1e9)
    expect(await reserved(manager)).toBe(0)
  })
})
