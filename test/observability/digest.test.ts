import { createServer, type IncomingMessage, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildDigest, digestHtml, sendDigest } from '../../src/budget/digest.js'
import { BudgetManager } from '../../src/budget/manager.js'
import { memoryStore } from '../../src/stores/memory.js'
import { fakeClock } from '../../src/testing/clock.js'

const received: { path: string; body: any }[] = []
let server: Server
let url = ''
beforeAll(async () => {
  server = createServer((request: IncomingMessage, response) => {
    let text = ''
    request.on('data', (c: Buffer) => (text += c.toString()))
    request.on('end', () => {
      received.push({ path: request.url ?? '', body: JSON.parse(text) })
      response.writeHead(request.url === '/broken' ? 500 : 200).end('ok')
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
})
afterAll(async () => {
  server.closeAllConnections()
  await new Promise((resolve) => server.close(resolve))
})

async function seeded() {
  const clock = fakeClock('2026-12-05T10:00:00Z')
  const store = memoryStore()
  const one = new BudgetManager({ clock, store })
  const two = new BudgetManager({ clock, store })
  await one.setBudget('team:search', { maxBudget: 10, duration: 'monthly' })
  await one.record({ user: 'alice', team: 'search' }, { cost: 4, model: 'gpt-4o' })
  await one.record({ user: '<b>bob</b>', team: 'search' }, { cost: 5, model: 'claude-sonnet-4-5' })
  clock.set('2026-12-06T08:00:00Z')
  await one.record({ user: 'carol' }, { cost: 100, model: 'gpt-4o' }) // today: not in yesterday's digest
  return { one, two, clock }
}

describe('digests', () => {
  it('summarise the previous day exactly: totals, top lists, budgets near their limit and projected to overrun', async () => {
    const { one } = await seeded()
    const digest = await buildDigest(one, 'daily')
    expect(digest.periodId).toBe('d2026-12-05')
    expect(digest.total).toEqual({ cost: '9.000000000', calls: 2 })
    expect(digest.topUsers.map((e) => e.key)).toEqual(['<b>bob</b>', 'alice'])
    expect(digest.topModels[0]).toEqual({ key: 'claude-sonnet-4-5', cost: '5.000000000', calls: 1 })
    expect(digest.nearLimit).toEqual([
      { scope: 'team:search', spend: '9.000000000', limit: '10.000000000', percentUsed: 90 },
    ])
    expect(digest.projectedOver.map((b) => b.scope)).toEqual(['team:search'])
    expect(digestHtml(digest)).toContain('&lt;b&gt;bob&lt;/b&gt;')
    expect(digestHtml(digest)).not.toContain('<b>bob')
    const weekly = await buildDigest(one, 'weekly')
    expect(weekly.periodId).toBe('w2026-11-23')
  })

  it('go out once per period across instances, to Slack (blocks), a webhook (JSON) and email (text + HTML)', async () => {
    const { one, two, clock } = await seeded()
    received.length = 0
    const emails: { subject: string; text: string; html: string }[] = []
    const options = {
      period: 'daily' as const,
      slack: { webhookUrl: `${url}/slack` },
      webhook: { url: `${url}/hook` },
      email: {
        to: ['ops@example.com'],
        send: async (m: { subject: string; text: string; html: string }) => void emails.push(m),
      },
    }
    const results = await Promise.all([sendDigest(one, options), sendDigest(two, options), sendDigest(one, options)])
    expect(results.filter((r) => r.sent)).toHaveLength(1)
    expect(received.map((r) => r.path).sort()).toEqual(['/hook', '/slack'])
    const slack = received.find((r) => r.path === '/slack')!.body
    expect(slack.blocks[0].type).toBe('header')
    expect(slack.blocks.map((b: { text: { text: string } }) => b.text.text).join('\n')).toContain('team:search')
    expect(received.find((r) => r.path === '/hook')!.body).toMatchObject({
      event: 'digest',
      periodId: 'd2026-12-05',
      total: { cost: '9.000000000' },
    })
    expect(emails).toHaveLength(1)
    expect(emails[0]!.subject).toContain('$9.00')
    // The next day is a new period.
    clock.set('2026-12-07T08:00:00Z')
    expect((await sendDigest(two, options)).sent).toBe(true)
  })

  it('report a destination that keeps failing, and refuse options without one', async () => {
    const { one } = await seeded()
    const result = await sendDigest(one, { period: 'weekly', webhook: { url: `${url}/broken` } })
    expect(result.sent).toBe(true)
    expect(result.errors).toHaveLength(1)
    await expect(sendDigest(one, { period: 'daily' })).rejects.toThrow(/slack/)
    await expect(sendDigest(one, { period: 'hourly' as never, slack: { webhookUrl: url } })).rejects.toThrow(/period/)
  })
})
