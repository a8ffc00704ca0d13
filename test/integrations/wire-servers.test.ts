// The local wire servers for Google Gen AI, Bedrock Runtime, Mistral and Cohere v2 speak formats the real SDKs
// parse, and the usage those SDKs hand back normalizes to the usage each server was told to report.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { GoogleGenAI } from '@google/genai'
import {
  BedrockRuntimeClient,
  ConverseCommand,
  ConverseStreamCommand,
  InvokeModelCommand,
  InvokeModelWithResponseStreamCommand,
} from '@aws-sdk/client-bedrock-runtime'
import { Mistral } from '@mistralai/mistralai'
import { CohereClientV2 } from 'cohere-ai'
import { normalizeUsage } from '../../src/index.js'
import { startGoogleServer } from './servers/google.js'
import { startBedrockServer } from './servers/bedrock.js'
import { startMistralServer } from './servers/mistral.js'
import { startCohereServer } from './servers/cohere.js'
import type { WireServer } from './servers/base.js'

const USAGE = { input: 1_200, output: 80, cacheRead: 1_024, reasoning: 30 }

describe('wire servers with the real SDKs', () => {
  const servers: WireServer[] = []
  let google: WireServer, bedrock: WireServer, mistral: WireServer, cohere: WireServer
  beforeAll(async () => {
    servers.push(
      (google = await startGoogleServer()),
      (bedrock = await startBedrockServer()),
      (mistral = await startMistralServer()),
      (cohere = await startCohereServer()),
    )
    for (const s of servers) s.reset({ usage: USAGE, text: 'Hello from the wire' })
  })
  afterAll(async () => {
    await Promise.all(servers.map((s) => s.close()))
  })

  it('@google/genai generateContent and generateContentStream', async () => {
    const ai = new GoogleGenAI({ apiKey: 'test-key', httpOptions: { baseUrl: google.url } })
    const response = await ai.models.generateContent({ model: 'gemini-2.5-flash', contents: 'hi' })
    expect(response.text).toBe('Hello from the wire')
    const expected = {
      inputTokens: 1_200,
      outputTokens: 80,
      cacheReadTokens: 1_024,
      cacheWriteTokens: 0,
      reasoningTokens: 30,
    }
    expect(normalizeUsage(response, { provider: 'gemini' })).toMatchObject(expected)
    const chunks = []
    for await (const chunk of await ai.models.generateContentStream({ model: 'gemini-2.5-flash', contents: 'hi' }))
      chunks.push(chunk)
    expect(chunks.map((c) => c.text).join('')).toBe('Hello from the wire')
    expect(normalizeUsage(chunks, { provider: 'gemini' })).toMatchObject(expected)
    expect(google.requests.map((r) => r.path)).toEqual([
      '/v1beta/models/gemini-2.5-flash:generateContent',
      '/v1beta/models/gemini-2.5-flash:streamGenerateContent',
    ])
  })

  it('Bedrock Converse, ConverseStream (event-stream framing), InvokeModel and its stream', async () => {
    const client = new BedrockRuntimeClient({
      region: 'us-east-1',
      endpoint: bedrock.url,
      credentials: { accessKeyId: 'AKIDTEST', secretAccessKey: 'secret' },
    })
    const modelId = 'us.anthropic.claude-sonnet-4-20250514-v1:0'
    const messages = [{ role: 'user' as const, content: [{ text: 'hi' }] }]
    const expected = { inputTokens: 1_200, outputTokens: 80, cacheReadTokens: 1_024, cacheWriteTokens: 0 }
    const converse = await client.send(new ConverseCommand({ modelId, messages }))
    expect(converse.output?.message?.content?.[0]?.text).toBe('Hello from the wire')
    expect(normalizeUsage(converse, { provider: 'bedrock', model: modelId })).toMatchObject(expected)
    const stream = await client.send(new ConverseStreamCommand({ modelId, messages }))
    const events = []
    for await (const event of stream.stream!) events.push(event)
    expect(events.map((e) => e.contentBlockDelta?.delta?.text ?? '').join('')).toBe('Hello from the wire')
    expect(events.at(-1)?.metadata?.usage).toEqual({
      inputTokens: 176,
      outputTokens: 80,
      totalTokens: 1_280,
      cacheReadInputTokens: 1_024,
      cacheWriteInputTokens: 0,
    })
    expect(normalizeUsage(events, { provider: 'bedrock', model: modelId })).toMatchObject(expected)
    const body = JSON.stringify({
      anthropic_version: 'bedrock-2023-05-31',
      max_tokens: 100,
      messages: [{ role: 'user', content: 'hi' }],
    })
    const invoked = await client.send(new InvokeModelCommand({ modelId, body, contentType: 'application/json' }))
    const message = JSON.parse(new TextDecoder().decode(invoked.body)) as Record<string, unknown>
    expect(normalizeUsage(message, { provider: 'anthropic' })).toMatchObject(expected)
    const invokedStream = await client.send(
      new InvokeModelWithResponseStreamCommand({ modelId, body, contentType: 'application/json' }),
    )
    const decoded = []
    for await (const part of invokedStream.body!)
      decoded.push(JSON.parse(new TextDecoder().decode(part.chunk!.bytes)) as Record<string, unknown>)
    expect(decoded.map((e) => e['type'])).toEqual([
      'message_start',
      'content_block_start',
      'content_block_delta',
      'content_block_delta',
      'content_block_delta',
      'content_block_stop',
      'message_delta',
      'message_stop',
    ])
    expect(normalizeUsage(decoded, { provider: 'anthropic' })).toMatchObject(expected)
  })

  it('@mistralai/mistralai chat.complete and chat.stream', async () => {
    const client = new Mistral({ apiKey: 'test-key', serverURL: mistral.url })
    const response = await client.chat.complete({
      model: 'mistral-small-latest',
      messages: [{ role: 'user', content: 'hi' }],
    })
    expect(response.choices?.[0]?.message?.content).toBe('Hello from the wire')
    const expected = { inputTokens: 1_200, outputTokens: 80 }
    expect(normalizeUsage(response, { provider: 'mistral' })).toMatchObject(expected)
    const chunks = []
    for await (const chunk of await client.chat.stream({
      model: 'mistral-small-latest',
      messages: [{ role: 'user', content: 'hi' }],
    }))
      chunks.push(chunk)
    expect(normalizeUsage(chunks, { provider: 'mistral' })).toMatchObject(expected)
  })

  it('cohere-ai v2 chat and chatStream (billed units)', async () => {
    const client = new CohereClientV2({ token: 'test-key', environment: cohere.url })
    const response = await client.chat({ model: 'command-a-03-2025', messages: [{ role: 'user', content: 'hi' }] })
    expect(response.message?.content?.[0]).toMatchObject({ type: 'text', text: 'Hello from the wire' })
    expect(normalizeUsage(response, { provider: 'cohere' })).toMatchObject({ inputTokens: 1_200, outputTokens: 80 })
    const events = []
    for await (const event of await client.chatStream({
      model: 'command-a-03-2025',
      messages: [{ role: 'user', content: 'hi' }],
    }))
      events.push(event)
    expect(events.at(-1)).toMatchObject({ type: 'message-end' })
  })
})
