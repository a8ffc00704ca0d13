// The Redis store's batcher keeps one batch in flight: the operations issued while a batch is out wait for its
// answer and go together (a larger batch shares Redis's per-script work among more operations), unless the answer
// is later than MAX_WAIT_MS or MAX_BATCH operations wait. The script itself is covered by the redis* tests; here
// `send` is a function the test answers, so that what is sent when is exact.
import { Redis } from 'ioredis'
import { describe, expect, it } from 'vitest'
import { redisStore } from '../../src/stores/redis.js'
import { createBatcher, MAX_WAIT_MS, repeated, type BatchOp } from '../../src/stores/redis/batch.js'
import { MAX_BATCH } from '../../src/stores/redis/scripts.js'
import { redisForSuite } from '../helpers/shared-stores.js'

interface Sent {
  command: string[]
  answer(reply: unknown): void
  fail(error: Error): void
}

function batcher() {
  const sent: Sent[] = []
  const batcher = createBatcher(
    (_what, command) =>
      new Promise((resolve, reject) => {
        sent.push({ command, answer: resolve, fail: reject })
      }),
    ['e', 'l', 's', 'm', 'u'],
    ['~100', '', ''],
    () => ['s', '100', '{p}:', 'epoch'],
  )
  let order = 0
  const op = (id: string): Promise<string[]> => {
    const o: BatchOp = { kind: 'x', keys: [`{p}:c:${id}`], now: 1000, args: ['5000'], terms: [], order: order++ }
    return batcher.submit(o)
  }
  return { sent, op, submit: batcher.submit, flush: batcher.flush }
}

/** The call records a sent batch names, in order. */
const records = (s: Sent) => s.command.filter((a) => a.startsWith('{p}:c:')).map((a) => a.slice(6))
/** The answer of a batch of `n` releases (flat: per operation the number of its values, then its values). */
const answer = (n: number) => ['1000', 'ok', ...Array.from({ length: n }, () => [1, 'released']).flat()]
const turn = () => new Promise((resolve) => setImmediate(resolve))

describe('redisStore batcher: the flat reply', () => {
  it('gives each operation its values, fails the one that failed alone, and refuses a reply that does not add up', async () => {
    const { sent, op } = batcher()
    const ops = [op('a'), op('b'), op('c')]
    await turn()
    sent[0]!.answer(['1000', 'ok', 1, 'released', 2, 'error', 'WRONGTYPE boom', 3, 'ok', 5, '6'])
    expect(await ops[0]).toEqual(['1000', 'released'])
    await expect(ops[1]).rejects.toThrow('WRONGTYPE boom')
    expect(await ops[2]).toEqual(['1000', 'ok', '5', '6'])
    // counts that do not match the batch: every operation fails
    const more = [op('d'), op('e')]
    await turn()
    sent[1]!.answer(['1000', 'ok', 1, 'released', 3, 'released'])
    for (const p of more) await expect(p).rejects.toThrow(/unexpected reply/)
  })
})

describe('redisStore batcher: the short answer of an operation that repeats the one before it', () => {
  const reserve: BatchOp = {
    kind: 'R',
    keys: ['{p}:c:r', 'k1', 'k2'],
    now: 1000,
    args: ['9000', '30'],
    terms: [],
    order: 0,
  }
  const commit: BatchOp = {
    kind: 'C',
    keys: ['{p}:c:c', 'k1', 'k2'],
    now: 1000,
    args: ['9000', '1001', '25'],
    terms: [],
    order: 0,
  }
  const before = ['1000', 'ok', '100', '70', '5', '9007199254740900']

  it("makes a reservation's values from the operation before: its amount added to each reserved", () => {
    expect(repeated(reserve, before, ['1001', '='])).toEqual(['1001', 'ok', '100', '100', '5', '9007199254740930'])
  })

  it("makes a commit's values from the operation before: its amount added to each after, the held amount taken off each reserved", () => {
    expect(repeated(commit, before, ['1001', '=', '30'])).toEqual(['1001', 'ok', '125', '40', '30', '9007199254740870'])
  })

  it('refuses a short answer it cannot make values of', () => {
    // no operation before, or one that did not answer ok
    expect(() => repeated(reserve, null, ['1001', '='])).toThrow(/unexpected reply/)
    expect(() => repeated(reserve, ['1000', 'refused', '0', '1', '2'], ['1001', '='])).toThrow(/unexpected reply/)
    // a kind that never repeats, or the wrong number of values
    expect(() => repeated({ ...reserve, kind: 'r' }, before, ['1001', '='])).toThrow(/unexpected reply/)
    expect(() => repeated(commit, before, ['1001', '='])).toThrow(/unexpected reply/)
    expect(() => repeated(reserve, before, ['1001', '=', '1'])).toThrow(/unexpected reply/)
    // a sum past 2^53 - 1, or a reserved below 0
    expect(() => repeated({ ...reserve, args: ['9000', '100'] }, before, ['1001', '='])).toThrow(/unexpected reply/)
    expect(() => repeated(commit, before, ['1001', '=', '71'])).toThrow(/unexpected reply/)
  })

  it('gives the made values to the operation, and fails one whose operation before failed', async () => {
    const { sent, submit } = batcher()
    const ops = [0, 1, 2, 3].map((order) => submit({ ...reserve, order }))
    await turn()
    sent[0]!.answer(['1000', 'ok', 5, 'ok', '100', '70', '5', '7', 1, '=', 2, 'error', 'boom', 1, '='])
    expect(await ops[0]).toEqual(['1000', 'ok', '100', '70', '5', '7'])
    expect(await ops[1]).toEqual(['1000', 'ok', '100', '100', '5', '37'])
    await expect(ops[2]).rejects.toThrow('boom')
    await expect(ops[3]).rejects.toThrow(/unexpected reply/)
  })
})

describe('redisStore batcher: a run of operations answering the same short answer (-k)', () => {
  const reserve: BatchOp = { kind: 'R', keys: ['{p}:c:r', 'k1'], now: 1000, args: ['9000', '30'], terms: [], order: 0 }

  it('gives each of the k operations the short answer of the operation before them, and values made from it', async () => {
    const { sent, submit } = batcher()
    const ops = [0, 1, 2, 3, 4].map((order) => submit({ ...reserve, order }))
    await turn()
    // the first answers its values, the second '=', the next 2 the same as it (-2), the last '=' again
    sent[0]!.answer(['1000', 'ok', 3, 'ok', '100', '70', 1, '=', -2, 1, '='])
    expect(await ops[0]).toEqual(['1000', 'ok', '100', '70'])
    expect(await ops[1]).toEqual(['1000', 'ok', '100', '100'])
    expect(await ops[2]).toEqual(['1000', 'ok', '100', '130'])
    expect(await ops[3]).toEqual(['1000', 'ok', '100', '160'])
    expect(await ops[4]).toEqual(['1000', 'ok', '100', '190'])
  })

  it('refuses a run after an operation that did not answer short, or longer than the batch', async () => {
    const { sent, submit } = batcher()
    const first = [0, 1, 2].map((order) => submit({ ...reserve, order }))
    await turn()
    sent[0]!.answer(['1000', 'ok', 3, 'ok', '100', '70', -2])
    for (const p of first) await expect(p).rejects.toThrow(/unexpected reply/)
    const second = [3, 4, 5].map((order) => submit({ ...reserve, order }))
    await turn()
    sent[1]!.answer(['1000', 'ok', 3, 'ok', '100', '70', 1, '=', -2])
    for (const p of second) await expect(p).rejects.toThrow(/unexpected reply/)
  })
})

describe('redisStore batcher: one batch in flight', () => {
  it('sends the operations issued while a batch is in flight together, once it is answered', async () => {
    const { sent, op } = batcher()
    const a = op('a')
    await turn()
    expect(sent.map(records)).toEqual([['a']])
    // three operations, each in a turn of its own, while 'a' is out
    const b = op('b')
    await turn()
    const c = op('c')
    await turn()
    const d = op('d')
    await turn()
    expect(sent.length).toBe(1)
    sent[0]!.answer(answer(1))
    expect(await a).toEqual(['1000', 'released'])
    await turn()
    expect(sent.map(records)).toEqual([['a'], ['b', 'c', 'd']])
    sent[1]!.answer(answer(3))
    expect(await Promise.all([b, c, d])).toEqual([1, 2, 3].map(() => ['1000', 'released']))
  })

  it('sends the waiting operations when the batch in flight fails', async () => {
    const { sent, op } = batcher()
    const a = op('a')
    await turn()
    const b = op('b')
    await turn()
    sent[0]!.fail(new Error('connection lost'))
    await expect(a).rejects.toThrow('connection lost')
    await turn()
    expect(sent.map(records)).toEqual([['a'], ['b']])
    sent[1]!.answer(answer(1))
    expect(await b).toEqual(['1000', 'released'])
  })

  it(`sends the waiting operations after ${MAX_WAIT_MS} ms when the batch in flight is not answered`, async () => {
    const { sent, op } = batcher()
    void op('a')
    await turn()
    const b = op('b')
    await new Promise((resolve) => setTimeout(resolve, 3 * MAX_WAIT_MS))
    expect(sent.map(records)).toEqual([['a'], ['b']])
    sent[1]!.answer(answer(1))
    expect(await b).toEqual(['1000', 'released'])
  })

  it(`sends at once when ${MAX_BATCH} operations wait`, async () => {
    const { sent, op } = batcher()
    void op('a')
    await turn()
    const waiting = Array.from({ length: MAX_BATCH }, (_, i) => op(`w${i}`))
    expect(sent.length).toBe(2)
    expect(records(sent[1]!).length).toBe(MAX_BATCH)
    sent[1]!.answer(answer(MAX_BATCH))
    expect((await Promise.all(waiting)).length).toBe(MAX_BATCH)
  })

  it('flush() sends the waiting operations at once, while a batch is in flight', async () => {
    const { sent, op, flush } = batcher()
    const a = op('a')
    await turn()
    const b = op('b')
    flush()
    expect(sent.map(records)).toEqual([['a'], ['b']])
    sent[0]!.answer(answer(1))
    sent[1]!.answer(answer(1))
    expect(await Promise.all([a, b])).toEqual([1, 2].map(() => ['1000', 'released']))
  })
})

describe('redisStore close() with a batch in flight', () => {
  const suite = redisForSuite()

  it('still sends the operations issued before close() that wait behind the batch in flight', async () => {
    const prefix = `close-flight-${process.pid}`
    const store = redisStore({ client: suite.io, prefix, time: 'client' })
    const now = Date.now()
    const commit = (callId: string) =>
      store.commit({ callId, now, dedupeUntil: now + 60_000, entries: [{ key: 'k', amount: 5, expiresAt: null }] })
    await commit('warm-up')
    // another connection keeps Redis busy for 200 ms, so that 'a' stays in flight while 'b' is issued
    const other = new Redis(suite.server.port, '127.0.0.1')
    const busy = other.eval(
      "local t = redis.call('TIME') local s = t[1] * 1000000 + t[2] repeat local u = redis.call('TIME') until u[1] * 1000000 + u[2] - s > 200000 return 1",
      0,
    )
    await new Promise((resolve) => setTimeout(resolve, 20))
    const a = commit('a')
    await turn()
    await turn()
    const b = commit('b')
    await turn()
    await store.close()
    await busy
    other.disconnect()
    const outcomes = await Promise.allSettled([a, b])
    expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'fulfilled'])
    const again = redisStore({ client: suite.io, prefix, time: 'client' })
    const [k] = await again.balances({ keys: ['k'], now: Date.now() })
    await again.close()
    expect(k?.spent).toBe(15)
  })
})
