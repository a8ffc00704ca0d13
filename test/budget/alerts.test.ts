import { createServer, type IncomingMessage } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { emailSink, slackSink, webhookSink, type AlertEvent } from '../../src/alerts.js'
import { BudgetManager } from '../../src/budget/index.js'
import { BudgetConfigError } from '../../src/errors.js'
import { memoryStore } from '../../src/stores/memory.js'
import { fakeClock } from '../../src/testing/index.js'

const servers: ReturnType<typeof createServer>[] = []
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((resolve) => s.close(resolve))))
})

async function server(statuses: number[]): Promise<{ url: string; bodies: unknown[] }> {
  const bodies: unknown[] = []
  let n = 0
  const s = createServer((req: IncomingMessage, res) => {
    let data = ''
    req.on('data', (chunk) => (data += chunk))
    req.on('end', () => {
      bodies.push(JSON.parse(data))
      res.statusCode = statuses[Math.min(n++, statuses.length - 1)] ?? 200
      res.end()
    })
  })
  servers.push(s)
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve))
  return { url: `http://127.0.0.1:${(s.address() as AddressInfo).port}/hook`, bodies }
}

function waitFor<T>(register: (done: (value: T) => void) => void): Promise<T> {
  return new Promise((resolve) => register(resolve))
}

describe('alert sinks', () => {
  it('webhook: delivers threshold.crossed as JSON, retrying a failed delivery, without blocking the call', async () => {
    const hook = await server([500, 200])
    const manager = new BudgetManager({ store: memoryStore(), clock: fakeClock(Date.UTC(2026, 10, 15)) })
    await manager.setBudget('team:t', { maxBudget: 1, alertThresholds: [0.5], duration: 'monthly' })
    const delivered = waitFor<AlertEvent>((done) =>
      manager.on('threshold.crossed', webhookSink({ url: hook.url, retryDelayMs: 10, onDelivered: done })),
    )
    await manager.record({ team: 't' }, 0.6)
    await delivered
    expect(hook.bodies).toHaveLength(2)
    expect(hook.bodies[1]).toMatchObject({
      event: 'threshold.crossed',
      scope: 'team:t',
      kind: 'alert',
      fraction: 0.5,
      threshold: 0.5,
      spend: 0.6,
      limit: 1,
      percent: 60,
      window: { resetsAt: '2026-12-01T00:00:00.000Z' },
    })
  })

  it('slack and email sinks format one line; failures go to onError, never to the caller', async () => {
    const slack = await server([200])
    const manager = new BudgetManager({ store: memoryStore() })
    await manager.setBudget('user:u', { maxBudget: 0.1 })
    const slackDone = waitFor<AlertEvent>((done) =>
      manager.on('budget.exceeded', slackSink({ webhookUrl: slack.url, onDelivered: done })),
    )
    const mails: string[] = []
    manager.on(
      'budget.exceeded',
      emailSink({ to: ['ops@example.com'], send: async (m) => void mails.push(`${m.subject}: ${m.text}`) }),
    )
    const failed = waitFor<unknown>((done) =>
      manager.on(
        'budget.exceeded',
        emailSink({
          to: ['x@example.com'],
          attempts: 2,
          retryDelayMs: 1,
          send: () => Promise.reject(new Error('smtp down')),
          onError: done,
        }),
      ),
    )
    await expect(manager.reserve({ user: 'u' }, 1)).rejects.toMatchObject({ code: 'BUDGET_EXCEEDED' })
    await slackDone
    expect((slack.bodies[0] as { text: string }).text).toContain('Budget user:u refused a call: limit $0.1')
    expect(mails).toEqual([expect.stringContaining('[llm-budget] user:u: Budget user:u refused a call')])
    expect(((await failed) as Error).message).toBe('smtp down')
  })

  it('validates sink options when they are given', () => {
    expect(() => webhookSink({ url: 'ftp://x' })).toThrow(BudgetConfigError)
    expect(() => slackSink({ webhookUrl: 'not a url' })).toThrow(BudgetConfigError)
    expect(() => emailSink({ to: [], send: async () => undefined })).toThrow(BudgetConfigError)
    expect(() => webhookSink({ url: 'https://example.com', attempts: 0 })).toThrow(BudgetConfigError)
  })
})

describe('sink options', () => {
  it('refuse unknown keys with the closest known one', () => {
    expect(() => slackSink({ webhookUrl: 'https://hooks.slack.com/x', timeout: 5 } as never)).toThrow(
      'Did you mean `timeoutMs`?',
    )
    expect(() => webhookSink({ url: 'https://example.com/hook', atempts: 2 } as never)).toThrow(
      'Did you mean `attempts`?',
    )
    expect(() => emailSink({ send: async () => undefined, to: ['a@example.com'], too: [] } as never)).toThrow(
      /emailSink\(\) has no option/,
    )
  })
})
