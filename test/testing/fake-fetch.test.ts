// fakeLLMFetch: the real SDKs talk to it as to the provider's API (JSON and SSE), and the usage it reports is
// what the budget wrappers charge.
import Anthropic from '@anthropic-ai/sdk'
import OpenAI from 'openai'
import { describe, expect, it } from 'vitest'
import { fakeLLMFetch } from '../../src/testing/index.js'

describe('fakeLLMFetch', () => {
  it('answers the OpenAI SDK, plain and streamed, with the usage it was given', async () => {
    const fetch = fakeLLMFetch({ inputTokens: 1000, outputTokens: 200, reply: 'hi there' })
    const openai = new OpenAI({ apiKey: 'sk-test', fetch, maxRetries: 0 })
    const completion = await openai.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'Hi' }],
    })
    expect(completion.choices[0]?.message.content).toBe('hi there')
    expect(completion.usage).toMatchObject({ prompt_tokens: 1000, completion_tokens: 200 })
    const stream = await openai.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'Hi' }],
      stream: true,
      stream_options: { include_usage: true },
    })
    let text = ''
    let usage: unknown = null
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? ''
      if (chunk.usage) usage = chunk.usage
    }
    expect(text).toBe('hi there')
    expect(usage).toMatchObject({ prompt_tokens: 1000, completion_tokens: 200 })
    expect(fetch.calls).toBe(2)
    expect(fetch.requests.map((r) => r.stream ?? false)).toEqual([false, true])
  })

  it('answers the Anthropic SDK, plain and streamed (message_start + message_delta usage)', async () => {
    const fetch = fakeLLMFetch({ inputTokens: 50, outputTokens: 7, reply: 'hello' })
    const anthropic = new Anthropic({ apiKey: 'sk-ant-test', fetch, maxRetries: 0 })
    const message = await anthropic.messages.create({
      model: 'claude-haiku-4-5',
      max_tokens: 100,
      messages: [{ role: 'user', content: 'Hi' }],
    })
    expect(message.content[0]).toMatchObject({ type: 'text', text: 'hello' })
    expect(message.usage).toMatchObject({ input_tokens: 50, output_tokens: 7 })
    const final = await anthropic.messages
      .stream({ model: 'claude-haiku-4-5', max_tokens: 100, messages: [{ role: 'user', content: 'Hi' }] })
      .finalMessage()
    expect(final.content[0]).toMatchObject({ type: 'text', text: 'hello' })
    expect(final.usage).toMatchObject({ input_tokens: 50, output_tokens: 7 })
    expect(fetch.calls).toBe(2)
  })

  it('answers an unknown route with 404 and a body without a model with 400, counting neither', async () => {
    const fetch = fakeLLMFetch()
    const missing = await fetch('http://fake.invalid/v1/embeddings', { method: 'POST', body: '{"model":"x"}' })
    expect(missing.status).toBe(404)
    expect(await missing.text()).toMatch(/no route \/v1\/embeddings/)
    const bad = await fetch(
      new Request('http://fake.invalid/v1/chat/completions', { method: 'POST', body: '{"messages":[]}' }),
    )
    expect(bad.status).toBe(400)
    expect(fetch.calls).toBe(0)
  })
})
