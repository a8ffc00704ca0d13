// fileOutbox (the durable outbox of httpStore on Node): one damaged line is quarantined (kept aside in
// `<path>.quarantine`, reported by `recovery()`) and every other entry is still delivered (issue 11, finding 8: one
// damaged line used to make the whole outbox refuse to open, so every later commit was lost).
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { fileOutbox } from '../../src/stores/file.js'
import type { HttpOutboxEntry } from '../../src/stores/http-outbox.js'

const root = mkdtempSync(join(tmpdir(), 'llm-budget-outbox-'))
afterAll(() => rmSync(root, { recursive: true, force: true }))
let counter = 0

const entry = (i: number): HttpOutboxEntry => ({
  id: `e${i}`,
  queuedAt: 1_800_000_000_000 + i,
  request: {
    callId: `call-${i}`,
    now: 1_800_000_000_000 + i,
    entries: [{ key: 'u:a|all|usd', amount: 50_000_000, expiresAt: null }],
    dedupeUntil: 1_900_000_000_000,
  },
})

async function filled(count: number): Promise<string> {
  const path = join(root, `o${++counter}`, 'outbox.jsonl')
  const outbox = fileOutbox({ path })
  for (let i = 0; i < count; i++) await outbox.add(entry(i))
  await outbox.close()
  return path
}

describe('fileOutbox damage', () => {
  it('quarantines a damaged line and delivers the other 19 entries', async () => {
    const path = await filled(20)
    const lines = readFileSync(path, 'utf8').split('\n')
    const damaged = lines[4]!.slice(0, 30) + '\u0000garbage'
    lines[4] = damaged
    writeFileSync(path, lines.join('\n'))
    const outbox = fileOutbox({ path })
    const entries = await outbox.entries()
    expect(entries.map((e) => e.id)).toEqual(Array.from({ length: 20 }, (_, i) => `e${i}`).filter((id) => id !== 'e4'))
    const report = await outbox.recovery()
    expect(report.quarantined).toEqual([{ line: 5, problem: expect.stringMatching(/JSON/) }])
    expect(report.quarantinedTo).toBe(`${path}.quarantine`)
    expect(readFileSync(`${path}.quarantine`, 'utf8')).toContain(damaged)
    // new commits still go through, and the next open finds nothing damaged
    await outbox.add(entry(99))
    await outbox.close()
    const again = fileOutbox({ path })
    expect((await again.entries()).length).toBe(20)
    expect((await again.recovery()).quarantined).toEqual([])
    await again.close()
  })

  it('quarantines a line that is JSON but not an outbox operation', async () => {
    const path = await filled(3)
    writeFileSync(path, readFileSync(path, 'utf8').replace('{"a":{"id":"e1"', '{"a":{"id":1'))
    const outbox = fileOutbox({ path })
    expect((await outbox.entries()).map((e) => e.id)).toEqual(['e0', 'e2'])
    expect((await outbox.recovery()).quarantined).toEqual([
      { line: 2, problem: expect.stringMatching(/not an outbox/) },
    ])
    await outbox.close()
  })

  it('a torn last line (a crash during a write) is kept aside too, and nothing else is lost', async () => {
    const path = await filled(3)
    writeFileSync(path, readFileSync(path, 'utf8') + '{"a":{"id":"e3","que')
    const outbox = fileOutbox({ path })
    expect((await outbox.entries()).map((e) => e.id)).toEqual(['e0', 'e1', 'e2'])
    expect((await outbox.recovery()).quarantined).toEqual([{ line: 4, problem: 'torn last line' }])
    await outbox.close()
  })
})
