/**
 * Client adapters: the Redis store talks to Redis through one function, `send(args)`, whatever client the
 * user passed. Neither `ioredis` nor `redis` is imported here; clients are recognised by their shape.
 *
 * @internal
 */

/** The part of an ioredis `Redis` or `Cluster` the store uses. */
export interface IoRedisLike {
  /** Sends any command (ioredis 5+). */
  call(command: string, ...args: string[]): Promise<unknown>
  /** Starts a pipeline (ioredis); used to send the commands of one tick in one write. */
  pipeline?(): IoRedisPipelineLike
  /** Connection status: `wait`, `connecting`, `connect`, `ready`, `reconnecting`, `close` or `end`. */
  readonly status: string
}

/** The part of an ioredis pipeline the store uses. */
export interface IoRedisPipelineLike {
  call(command: string, ...args: string[]): unknown
  exec(): Promise<[Error | null, unknown][] | null>
}

/** The part of a node-redis (`redis` 4+) client the store uses. */
export interface NodeRedisLike {
  /** Sends any command as an array of arguments. */
  sendCommand(args: string[]): Promise<unknown>
  /** True while the socket is open (also while reconnecting). */
  readonly isOpen: boolean
  /** True when the client is connected and can send commands. */
  readonly isReady: boolean
}

/** The part of a node-redis cluster (`createCluster`) the store uses. */
export interface NodeRedisClusterLike {
  /** Sends any command, routed by `firstKey`. */
  sendCommand(firstKey: string | undefined, isReadonly: boolean | undefined, args: string[]): Promise<unknown>
  /** The cluster's masters (only used to recognise a cluster). */
  readonly masters: unknown
}

/** A Redis client the store accepts: ioredis (`Redis`, `Cluster`) or node-redis (`createClient`, `createCluster`). */
export type RedisClientLike = IoRedisLike | NodeRedisLike | NodeRedisClusterLike

/** What the store needs from a client. */
export interface RedisTransport {
  /** `ioredis` or `node-redis`. */
  readonly kind: 'ioredis' | 'node-redis' | 'node-redis-cluster'
  /**
   * True for a Redis Cluster client (ioredis `Cluster`, node-redis `createCluster`). A cluster client routes a
   * command by its keys and sends a command without keys to any node (or, with node-redis, to every node), so
   * the store sends only commands with a key in its own slot: no `SCRIPT LOAD` (the SHA is computed locally,
   * `EVAL` on `NOSCRIPT` caches the script on the slot's node) and `TIME` inside a script with the store's key.
   */
  readonly cluster: boolean
  /**
   * Sends one command. `firstKey` routes it in a cluster. Resolves with the raw reply (arrays of strings for
   * the store's scripts).
   */
  send(args: string[], firstKey?: string): Promise<unknown>
  /**
   * Why the client cannot send now (it is reconnecting or closed), or `null` when it can or when it is still
   * making its first connection (commands then wait in the client's queue, bounded by the store's timeout).
   */
  unavailable(): string | null
}

/** A command waiting for the end of the tick. */
interface Pending {
  args: string[]
  resolve(reply: unknown): void
  reject(error: unknown): void
}

type Tick = (fn: () => void) => void
const nextTick: Tick = (globalThis as { process?: { nextTick?: Tick } }).process?.nextTick ?? queueMicrotask

/**
 * Sends every command given to it in one tick (in practice: all commands issued by the continuations of one
 * batch of replies) as one ioredis pipeline, so one socket write carries them all instead of one write per
 * command. Each command is still its own command (its own script run); only the writes are shared.
 * `process.nextTick` runs after the current microtasks, so the continuations of a whole batch of replies
 * join the same write.
 */
function ioBatcher(io: IoRedisLike & { pipeline(): IoRedisPipelineLike }): (args: string[]) => Promise<unknown> {
  let queue: Pending[] = []
  const flush = (): void => {
    const batch = queue
    queue = []
    if (batch.length === 1) {
      const only = batch[0]!
      io.call(only.args[0]!, ...only.args.slice(1)).then(only.resolve, only.reject)
      return
    }
    const failAll = (error: unknown): void => {
      for (const pending of batch) pending.reject(error)
    }
    try {
      const pipeline = io.pipeline()
      for (const pending of batch) pipeline.call(pending.args[0]!, ...pending.args.slice(1))
      pipeline.exec().then((results) => {
        if (!Array.isArray(results) || results.length !== batch.length)
          return failAll(new Error('the pipeline returned no results'))
        for (let i = 0; i < batch.length; i++) {
          const [error, reply] = results[i]!
          if (error) batch[i]!.reject(error)
          else batch[i]!.resolve(reply)
        }
      }, failAll)
    } catch (error) {
      failAll(error)
    }
  }
  return (args) =>
    new Promise((resolve, reject) => {
      queue.push({ args, resolve, reject })
      if (queue.length === 1) nextTick(flush)
    })
}

function isObject(value: unknown): value is Record<string, unknown> {
  return (typeof value === 'object' || typeof value === 'function') && value !== null
}

/** Recognises the client and wraps it, or returns `null` when it is neither ioredis nor node-redis. */
export function adaptClient(client: unknown): RedisTransport | null {
  if (!isObject(client)) return null
  if (typeof client.call === 'function' && typeof client.status === 'string') {
    const io = client as unknown as IoRedisLike
    // A Cluster pipeline must stay within one node; each store has its own batcher and sends only keys of its
    // own slot, so its pipelines do.
    const batched = typeof io.pipeline === 'function'
    return {
      kind: 'ioredis',
      cluster: (client as { isCluster?: unknown }).isCluster === true,
      send: batched
        ? ioBatcher(io as IoRedisLike & { pipeline(): IoRedisPipelineLike })
        : (args) => io.call(args[0]!, ...args.slice(1)),
      unavailable: () => {
        const status = io.status
        return status === 'reconnecting' || status === 'close' || status === 'end'
          ? `the ioredis client is ${status}`
          : null
      },
    }
  }
  if (typeof client.sendCommand === 'function' && 'masters' in client) {
    const cluster = client as unknown as NodeRedisClusterLike
    return {
      kind: 'node-redis-cluster',
      cluster: true,
      send: (args, firstKey) => cluster.sendCommand(firstKey, false, args),
      unavailable: () => null,
    }
  }
  if (typeof client.sendCommand === 'function' && typeof client.isOpen === 'boolean') {
    const node = client as unknown as NodeRedisLike
    return {
      kind: 'node-redis',
      cluster: false,
      send: (args) => node.sendCommand(args),
      unavailable: () => {
        if (!node.isOpen) return 'the node-redis client is not open (call `await client.connect()` first)'
        return node.isReady ? null : 'the node-redis client is reconnecting'
      },
    }
  }
  return null
}
