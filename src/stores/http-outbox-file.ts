/**
 * `fileOutbox({ path })`: a durable outbox for `httpStore` on Node. Undelivered commits are appended to a
 * journal file and fsynced before `commit` resolves, so they survive a crash or `kill -9` of the process and
 * are delivered by the next process that opens the same file.
 *
 * @packageDocumentation
 */
import { closeSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs'
import { mkdir, open, readFile, rename, type FileHandle } from 'node:fs/promises'
import { dirname } from 'node:path'
import { BudgetConfigError, StorageError } from '../errors.js'
import { isAlive } from './file/lock.js'
import type { HttpOutbox, HttpOutboxEntry } from './http-outbox.js'

/** Options of {@link fileOutbox}. */
export interface FileOutboxOptions {
  /**
   * The journal file, e.g. `./budget-outbox/app-1.jsonl`; its directory is created. One process at a time
   * may use it (a `<path>.lock` file holds the owner's pid; a lock left by a dead process is taken over).
   */
  path: string
}

function takeLock(lockPath: string): void {
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fd = openSync(lockPath, 'wx')
      writeSync(fd, String(process.pid))
      closeSync(fd)
      return
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
      const owner = Number.parseInt(readFileSync(lockPath, 'utf8'), 10)
      if (Number.isSafeInteger(owner) && owner !== process.pid && isAlive(owner)) {
        throw new StorageError('file', `the outbox ${lockPath.slice(0, -5)} is in use by process ${owner}; give each process its own outbox file`, { retryable: false })
      }
      try {
        unlinkSync(lockPath) // left by a dead process (or by this one)
      } catch {
        // another process took it over first; try again
      }
    }
  }
  throw new StorageError('file', `could not lock the outbox ${lockPath.slice(0, -5)}`, { retryable: false })
}

/** Parses the journal; a torn last line (no newline, from a crash mid-write) is dropped. */
function replay(text: string, path: string): Map<string, HttpOutboxEntry> {
  const live = new Map<string, HttpOutboxEntry>()
  const lines = text.split('\n')
  lines.pop() // after the last newline: empty, or a torn line
  for (let i = 0; i < lines.length; i++) {
    let op: { a?: HttpOutboxEntry; d?: string }
    try {
      op = JSON.parse(lines[i]!) as { a?: HttpOutboxEntry; d?: string }
    } catch (error) {
      throw new StorageError('file', `the outbox ${path} is corrupt at line ${i + 1}; move it aside and deliver its entries by hand`, { cause: error, retryable: false })
    }
    if (op.a !== undefined && typeof op.a.id === 'string') live.set(op.a.id, op.a)
    else if (typeof op.d === 'string') live.delete(op.d)
  }
  return live
}

/**
 * A durable outbox for `httpStore` on Node: commits that could not be delivered are journaled to `path`
 * (fsync before the commit resolves, several concurrent commits share one fsync) and survive a crash.
 *
 * @example
 * ```ts
 * const store = httpStore({ url, token, outbox: fileOutbox({ path: `./outbox/${process.pid}.jsonl` }) })
 * ```
 */
export function fileOutbox(options: FileOutboxOptions): HttpOutbox {
  if (typeof options?.path !== 'string' || options.path.length === 0) throw new BudgetConfigError('path', '`path` must be the outbox file, e.g. `./budget-outbox.jsonl`')
  const path = options.path
  const lockPath = `${path}.lock`
  let live = new Map<string, HttpOutboxEntry>()
  let handle: FileHandle | null = null
  let closed = false

  const opened = (async () => {
    await mkdir(dirname(path), { recursive: true })
    takeLock(lockPath)
    let text = ''
    try {
      text = await readFile(path, 'utf8')
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error
    }
    live = replay(text, path)
    // Compact: write the live entries to a temp file, fsync, rename over the journal, fsync the directory.
    const temp = `${path}.tmp`
    const out = await open(temp, 'w')
    await out.writeFile([...live.values()].map((entry) => `${JSON.stringify({ a: entry })}\n`).join(''))
    await out.sync()
    await out.close()
    await rename(temp, path)
    const dir = await open(dirname(path), 'r')
    await dir.sync().catch(() => undefined)
    await dir.close()
    handle = await open(path, 'a')
  })()
  opened.catch(() => undefined)

  // Group commit: lines written while a write is in flight share the next write and fsync.
  let batch: { lines: string[]; waiters: { resolve: () => void; reject: (error: unknown) => void }[] } = { lines: [], waiters: [] }
  let writing: Promise<void> | null = null

  const writeLoop = async (): Promise<void> => {
    while (batch.lines.length > 0) {
      const current = batch
      batch = { lines: [], waiters: [] }
      try {
        const fh = handle!
        await fh.write(current.lines.join(''))
        if (live.size === 0 && batch.lines.length === 0) await fh.truncate(0)
        await fh.sync()
        for (const w of current.waiters) w.resolve()
      } catch (error) {
        const failure = new StorageError('file', `could not write the outbox ${path}`, { cause: error })
        for (const w of current.waiters) w.reject(failure)
      }
    }
    writing = null
  }

  const append = async (line: string): Promise<void> => {
    await opened
    if (closed) throw new StorageError('file', `the outbox ${path} is closed`, { retryable: false })
    return new Promise<void>((resolve, reject) => {
      batch.lines.push(line)
      batch.waiters.push({ resolve, reject })
      writing ??= writeLoop()
    })
  }

  return {
    name: 'file',
    add: async (entry) => {
      await opened
      live.set(entry.id, structuredClone(entry))
      await append(`${JSON.stringify({ a: entry })}\n`)
    },
    entries: async () => {
      await opened
      return [...live.values()]
    },
    remove: async (id) => {
      await opened
      if (!live.delete(id)) return
      await append(`${JSON.stringify({ d: id })}\n`)
    },
    close: async () => {
      await opened.catch(() => undefined)
      if (closed) return
      await writing
      closed = true
      await handle?.close()
      handle = null
      try {
        unlinkSync(lockPath)
      } catch {
        // already gone
      }
    },
  }
}
