// `llm-budget digest` as a real process over a file store, posting to a local webhook; a second run sends nothing.
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { BudgetManager } from '../../src/budget/manager.js'
import { fileStore } from '../../src/stores/file.js'
import { bundledEntry } from '../helpers/entries.js'
import { fakeClock } from '../../src/testing/clock.js'

const MAIN = bundledEntry('cli') // src/cli/main.ts, bundled once per run
const dir = mkdtempSync(join(tmpdir(), 'llm-budget-digest-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

function run(args: string[]): Promise<{ code: number | null; output: string }> {
  const child = spawn(process.execPath, [MAIN, 'digest', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  child.stdout.on('data', (c: Buffer) => (output += c.toString()))
  child.stderr.on('data', (c: Buffer) => (output += c.toString()))
  return new Promise((resolve) => child.on('exit', (code) => resolve({ code, output })))
}

describe('llm-budget digest', () => {
  it("sends yesterday's digest once, and exits 2 on bad arguments", async () => {
    const store = fileStore({ path: dir })
    const manager = new BudgetManager({ store, clock: fakeClock(Date.now() - 86_400_000) })
    await manager.record({ user: 'alice' }, { cost: 2.5, model: 'gpt-4o' })
    await store.close()
    const bodies: any[] = []
    const server = createServer((request, response) => {
      let text = ''
      request.on('data', (c: Buffer) => (text += c.toString()))
      request.on('end', () => {
        bodies.push(JSON.parse(text))
        response.end('ok')
      })
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    const hook = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`
    try {
      const first = await run(['--store', `file:${dir}`, '--period', 'daily', '--webhook', hook])
      expect(first.output).toMatch(/sent d\d{4}-\d\d-\d\d \(2\.500000000 USD in 1 calls\)/)
      expect(first.code).toBe(0)
      const second = await run(['--store', `file:${dir}`, '--period', 'daily', '--webhook', hook])
      expect(second.output).toMatch(/already sent/)
      expect(bodies).toHaveLength(1)
      expect(bodies[0]).toMatchObject({ event: 'digest', topUsers: [{ key: 'alice', cost: '2.500000000', calls: 1 }] })
      expect((await run(['--store', `file:${dir}`, '--period', 'hourly', '--webhook', hook])).code).toBe(2)
    } finally {
      server.closeAllConnections()
      await new Promise((resolve) => server.close(resolve))
    }
  }, 60_000)
})
