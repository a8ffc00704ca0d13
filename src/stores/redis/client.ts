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
  /** Connection status: `wait`, `connecting`, `connect`, `ready`, `reconnecting`, `close` or `end`. */
  readonly status: string
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

function isObject(value: unknown): value is Record<string, unknown> {
  return (typeof value === 'object' || typeof value === 'function') && value !== null
}

/** Recognises the client and wraps it, or returns `null` when it is neither ioredis nor node-redis. */
export function adaptClient(client: unknown): RedisTransport | null {
  if (!isObject(client)) return null
  if (typeof client.call === 'function' && typeof client.status === 'string') {
    const io = client as unknown as IoRedisLike
    return {
      kind: 'ioredis',
      send: (args) => io.call(args[0]!, ...args.slice(1)),
      unavailable: () => {
        const status = io.status
        return status === 'reconnecting' || status === 'close' || status === 'end' ? `the ioredis client is ${status}` : null
      },
    }
  }
  if (typeof client.sendCommand === 'function' && 'masters' in client) {
    const cluster = client as unknown as NodeRedisClusterLike
    return {
      kind: 'node-redis-cluster',
      send: (args, firstKey) => cluster.sendCommand(firstKey, false, args),
      unavailable: () => null,
    }
  }
  if (typeof client.sendCommand === 'function' && typeof client.isOpen === 'boolean') {
    const node = client as unknown as NodeRedisLike
    return {
      kind: 'node-redis',
      send: (args) => node.sendCommand(args),
      unavailable: () => {
        if (!node.isOpen) return 'the node-redis client is not open (call `await client.connect()` first)'
        return node.isReady ? null : 'the node-redis client is reconnecting'
      },
    }
  }
  return null
}
