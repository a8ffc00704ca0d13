// The Redis store as built. The build drops the comment lines of its Lua scripts (tsup.config.ts,
// `dropLuaCommentLines`), so the scripts Redis runs from dist/ are not the source's text: the store contract runs
// against the built store on a real Redis, and the built files are checked for what was dropped. Needs `npm run build`.
import { readFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startRedisServer, type RedisServer } from '../helpers/redis-server.js'

const dist = resolve(import.meta.dirname, '../../dist')
const built = <T>(file: string): Promise<T> => import(pathToFileURL(join(dist, file)).href) as Promise<T>
const { redisStore } = await built<typeof import('../../src/stores/redis.js')>('redis.js')
const { runStoreContract } = await built<typeof import('../../src/testing/index.js')>('testing.js')

let server: RedisServer
let io: Redis
let n = 0

beforeAll(async () => {
  server = await startRedisServer()
  io = new Redis(server.port, '127.0.0.1')
})

afterAll(async () => {
  io?.disconnect()
  await server?.stop()
})

describe('the built Redis store (Lua comment lines dropped)', () => {
  it('has no Lua comment line left in either format, and the source has them', () => {
    const commentLine = /^[ \t]*--(?:[ \t]|$)/m
    for (const file of ['redis.js', 'redis.cjs']) {
      const text = readFileSync(join(dist, file), 'utf8')
      expect(text).toContain("redis.call('")
      expect([file, commentLine.test(text)]).toEqual([file, false])
    }
    const source = readFileSync(resolve(import.meta.dirname, '../../src/stores/redis/scripts.ts'), 'utf8')
    expect(commentLine.test(source)).toBe(true)
  })

  runStoreContract(it, () => redisStore({ client: io, prefix: `dist${process.pid}-${n++}`, time: 'client' }))
})
