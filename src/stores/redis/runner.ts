/**
 * How the Redis store sends commands: one timeout per operation, a circuit that fails fast while Redis is
 * unreachable, and scripts run by SHA (`EVALSHA`, falling back to `EVAL` when Redis has forgotten them).
 *
 * @internal
 */
import { InvalidInputError, StorageError } from '../../errors.js'
import { describeValue } from '../../internal/describe.js'
import type { RedisTransport } from './client.js'

const NAME = 'redis'

/** A Lua script with its SHA once known. */
export interface Script {
  readonly source: string
  sha: string | null
  loading: Promise<string> | null
}

/** A script the runner can run. */
export function script(source: string): Script {
  return { source, sha: null, loading: null }
}

/** Why a command failed, as far as the caller needs to know. */
export type Failure =
  /** Nothing was sent (closed store, open circuit, client not connected): the command did not run. */
  | 'not-sent'
  /** Sent, and no answer (timeout, connection lost): the command may or may not have run. */
  | 'unknown'
  /** Redis answered with an error: the command ran (and failed). */
  | 'answered'

const failures = new WeakMap<object, Failure>()

/** What is known of the outcome of a failed command (`answered` for errors the runner did not see). */
export function failureOf(error: unknown): Failure {
  return (typeof error === 'object' && error !== null ? failures.get(error) : undefined) ?? 'answered'
}

function mark<E extends object>(error: E, failure: Failure): E {
  failures.set(error, failure)
  return error
}

/** An error from the client that says the connection, not Redis, failed. */
const CONNECTION =
  /ECONNREFUSED|ECONNRESET|EPIPE|ETIMEDOUT|EHOSTUNREACH|ENOTCONN|Connection is closed|connection (was )?closed|Socket closed|socket closed|The client is closed|CLUSTERDOWN|Too many Cluster redirections|Failed to refresh slots cache|None of startup nodes is available/i

/** Options of {@link createRunner}. */
export interface RunnerOptions {
  transport: RedisTransport
  timeoutMs: number
  failFast: { failures: number; probeAfterMs: number } | false
  /** Monotonic enough wall clock for the circuit (the local clock). */
  localNow(): number
}

/** Sends commands and runs scripts for one store. */
export interface Runner {
  /** Sends one command (routed by `firstKey` in a cluster), with the timeout and the circuit. */
  send(what: string, args: string[], firstKey?: string): Promise<unknown>
  /** Runs a script command (`['EVALSHA', '', numkeys, ...keys, ...args]`): by SHA, else by source. */
  evalScript(what: string, s: Script, command: string[]): Promise<unknown>
  /** Marks the store closed: every later command fails. */
  close(): void
  /** True after {@link close}. */
  readonly closed: boolean
}

/** A `StorageError` for a failure of `what`, keeping typed errors as they are. */
export function storageError(what: string, error: unknown): Error {
  if (error instanceof InvalidInputError || error instanceof StorageError) return error
  const message = error instanceof Error ? error.message : describeValue(error)
  const wrapped = new StorageError(NAME, `${what} failed: ${message}`, { cause: error })
  return mark(wrapped, failureOf(error))
}

/** Builds the runner of one store. */
export function createRunner(options: RunnerOptions): Runner {
  const { transport, timeoutMs, failFast, localNow } = options
  let closed = false
  let failuresInRow = 0
  let openUntil = 0
  let probing = false

  const fastFailure = (what: string): StorageError | null => {
    if (failFast === false || failuresInRow < failFast.failures) return null
    if (localNow() < openUntil || probing) {
      return mark(
        new StorageError(
          NAME,
          `${what} failed fast: the last ${failuresInRow} operations could not reach Redis (next attempt after ${failFast.probeAfterMs} ms)`,
        ),
        'not-sent',
      )
    }
    probing = true
    return null
  }
  const settled = (reachable: boolean): void => {
    probing = false
    if (reachable) {
      failuresInRow = 0
      return
    }
    failuresInRow++
    if (failFast !== false && failuresInRow >= failFast.failures) openUntil = localNow() + failFast.probeAfterMs
  }

  const send = (what: string, args: string[], firstKey?: string): Promise<unknown> => {
    if (closed)
      return Promise.reject(mark(new StorageError(NAME, 'the store is closed', { retryable: false }), 'not-sent'))
    const unavailable = transport.unavailable()
    if (unavailable !== null) {
      settled(false)
      return Promise.reject(mark(new StorageError(NAME, `${what} failed: ${unavailable}`), 'not-sent'))
    }
    const fast = fastFailure(what)
    if (fast !== null) return Promise.reject(fast)
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        settled(false)
        reject(mark(new StorageError(NAME, `${what} timed out after ${timeoutMs} ms (is Redis reachable?)`), 'unknown'))
      }, timeoutMs)
      let pending: Promise<unknown>
      try {
        pending = transport.send(args, firstKey)
      } catch (error) {
        clearTimeout(timer)
        settled(false)
        reject(mark(storageError(what, error), 'not-sent'))
        return
      }
      pending.then(
        (reply) => {
          clearTimeout(timer)
          settled(true)
          resolve(reply)
        },
        (error: unknown) => {
          clearTimeout(timer)
          const message = error instanceof Error ? error.message : String(error)
          const connection = CONNECTION.test(message)
          settled(!connection)
          reject(typeof error === 'object' && error !== null ? mark(error, connection ? 'unknown' : 'answered') : error)
        },
      )
    })
  }

  const isNoScript = (error: unknown): boolean => error instanceof Error && /NOSCRIPT/.test(error.message)
  const isTryAgain = (error: unknown): boolean => error instanceof Error && /^TRYAGAIN/.test(error.message)

  const loadScript = (what: string, s: Script, firstKey: string): Promise<string> => {
    if (s.loading === null) {
      // On a cluster `SCRIPT LOAD` has no key, so the client would send it to any node (ioredis) or to every
      // node (node-redis: it then fails while any node is down). The SHA is computed here instead; the first
      // `EVALSHA` on the slot's node answers `NOSCRIPT` and the `EVAL` that follows caches the script there.
      const digest = transport.cluster ? sha1(s.source) : null
      s.loading = (digest ?? send(what, ['SCRIPT', 'LOAD', s.source], firstKey)).then(
        (sha) => {
          s.sha = String(sha)
          return s.sha
        },
        (error: unknown) => {
          s.loading = null
          throw error
        },
      )
    }
    return s.loading
  }

  const evalOnce = async (what: string, s: Script, command: string[]): Promise<unknown> => {
    const firstKey = command[3]!
    command[1] = s.sha ?? (await loadScript(what, s, firstKey))
    try {
      return await send(what, command, firstKey)
    } catch (error) {
      if (!isNoScript(error)) throw error
      const again = command.slice()
      again[0] = 'EVAL'
      again[1] = s.source
      return send(what, again, firstKey)
    }
  }

  const evalScript = async (what: string, s: Script, command: string[]): Promise<unknown> => {
    const startedAt = localNow()
    for (;;) {
      try {
        return await evalOnce(what, s, command)
      } catch (error) {
        // A cluster moving the store's slot answers TRYAGAIN (before running anything) while a script's keys are
        // split between the two nodes; node-redis does not retry it by itself.
        if (!isTryAgain(error) || localNow() - startedAt > timeoutMs) throw error
        await new Promise((resolve) => setTimeout(resolve, 20))
      }
    }
  }

  return {
    send,
    evalScript,
    close: () => {
      closed = true
    },
    get closed() {
      return closed
    },
  }
}

/**
 * The SHA-1 of a script as lowercase hex (Redis's script id), with Web Crypto (Node 20, browsers, edge);
 * `null` where Web Crypto is missing (the store then asks Redis with `SCRIPT LOAD`).
 */
function sha1(source: string): Promise<string> | null {
  const subtle = (
    globalThis as { crypto?: { subtle?: { digest(algorithm: string, data: Uint8Array): Promise<ArrayBuffer> } } }
  ).crypto?.subtle
  if (subtle === undefined) return null
  return subtle.digest('SHA-1', new TextEncoder().encode(source)).then((hash) => {
    let hex = ''
    for (const byte of new Uint8Array(hash)) hex += byte.toString(16).padStart(2, '0')
    return hex
  })
}
