/**
 * The outbox of `httpStore`: commits that could not be delivered wait here, oldest first, until the server
 * answers again. This module holds the interface and the in-memory outbox; the durable file outbox for Node
 * is in `./http-outbox-file.ts` (a Node-only module, exported by `llm-budget/file`) so that this one imports nothing
 * from `node:`.
 *
 * @packageDocumentation
 */
import type { CommitRequest } from './types.js'

/** One commit waiting for delivery. */
export interface HttpOutboxEntry {
  /** Unique id of the entry (also used as the `Idempotency-Key` of every delivery attempt). */
  id: string
  /** The commit, as the application made it (call ids without any tenant prefix). */
  request: CommitRequest
  /** When it was queued, epoch ms. */
  queuedAt: number
}

/**
 * Where `httpStore` keeps undelivered commits. `add` must not resolve before the entry is durable (for a
 * durable outbox); `entries` returns what is left, oldest first; `remove` forgets a delivered entry.
 * Implementations: {@link memoryOutbox} (default) and `fileOutbox({ path })` (Node, survives `kill -9`).
 */
export interface HttpOutbox {
  /** Short name for messages, e.g. `memory`, `file`. */
  readonly name: string
  /** Appends an entry; resolves once it is stored. */
  add(entry: HttpOutboxEntry): Promise<void>
  /** The entries not yet removed, oldest first. */
  entries(): Promise<HttpOutboxEntry[]>
  /** Forgets a delivered entry. Removing an unknown id does nothing. */
  remove(id: string): Promise<void>
  /** Releases resources; entries of a durable outbox stay for the next process. */
  close(): Promise<void>
}

/**
 * An outbox in process memory: commits wait while the server is down and are delivered when it is back, but
 * are lost if the process dies first. Use `fileOutbox` from `llm-budget/file` on Node when that matters.
 */
export function memoryOutbox(): HttpOutbox {
  const queue = new Map<string, HttpOutboxEntry>()
  return {
    name: 'memory',
    add: (entry) => {
      queue.set(entry.id, structuredClone(entry))
      return Promise.resolve()
    },
    entries: () => Promise.resolve([...queue.values()]),
    remove: (id) => {
      queue.delete(id)
      return Promise.resolve()
    },
    close: () => Promise.resolve(),
  }
}
