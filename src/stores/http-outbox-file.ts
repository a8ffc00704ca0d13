/**
 * `fileOutbox({ path })`: a durable outbox for `httpStore` on Node, exported by `llm-budget/file`. Undelivered
 * commits are appended to a journal file and fsynced before `commit` resolves, so they survive a crash or `kill -9`
 * of the process and are delivered by the next process that opens the same file. A damaged line is quarantined
 * (kept aside, reported), never a reason to lose the other entries.
 *
 * @internal Module of the `llm-budget/file` entry.
 * @packageDocumentation
 */
import { closeSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs'
import { mkdir, open, readFile, rename, type FileHandle } from 'node:fs/promises'
import { dirname } from 'node:path'
import { z } from 'zod'
import { StorageError } from '../errors.js'
import { parseOptions } from '../internal/options.js'
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

/** What opening a {@link fileOutbox} found. */
export interface FileOutboxRecovery {
  /** Entries waiting for delivery when the outbox was opened. */
  entries: number
  /**
   * Lines that could not be read (damaged, not an outbox operation, or torn by a crash during a write): each was
   * copied to {@link quarantinedTo} and left out; every other entry is kept and delivered.
   */
  quarantined: { line: number; problem: string }[]
  /** The file the quarantined lines were appended to (`<path>.quarantine`), or `null` when there were none. */
  quarantinedTo: string | null
}

/** A {@link HttpOutbox} in a file, with the report of what opening it found. */
export interface FileOutbox extends HttpOutbox {
  /** What opening the outbox found (waits for the opening); rejects if it could not be opened. */
  recovery(): Promise<FileOutboxRecovery>
}

const optionsSchema = z.object({
  path: z
    .string({ error: 'must be the outbox file, e.g. "./budget-outbox.jsonl"' })
    .min(1, { error: 'must be the outbox file, e.g. "./budget-outbox.jsonl"' })
    .refine((path) => !path.includes('\0'), { error: 'must not contain a NUL character' }),
})

const entrySchema = z.object({
  id: z.string(),
  queuedAt: z.number(),
  request: z.looseObject({
    callId: z.string(),
    now: z.number(),
    entries: z.array(z.unknown()),
    dedupeUntil: z.number(),
  }),
})
const lineSchema = z.union([z.object({ a: entrySchema }), z.object({ d: z.string() })])

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
        throw new StorageError(
          'file',
          `the outbox ${lockPath.slice(0, -5)} is in use by process ${owner}; give each process its own outbox file`,
          { retryable: false },
        )
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

interface Replayed {
  live: Map<string, HttpOutboxEntry>
  bad: { line: number; problem: string; text: string }[]
}

/** Parses the journal. A line that cannot be read is set aside; the others are applied in order. */
function replay(text: string): Replayed {
  const live = new Map<string, HttpOutboxEntry>()
  const bad: Replayed['bad'] = []
  const lines = text.split('\n')
  const torn = lines.pop() // after the last newline: empty, or a line cut short by a crash
  for (let i = 0; i < lines.length; i++) {
    const text = lines[i]!
    if (text === '') continue
    let value: unknown
    try {
      value = JSON.parse(text)
    } catch {
      bad.push({ line: i + 1, problem: 'not JSON', text })
      continue
    }
    const op = lineSchema.safeParse(value)
    if (!op.success) {
      bad.push({ line: i + 1, problem: 'not an outbox operation', text })
      continue
    }
    if ('a' in op.data) live.set(op.data.a.id, (value as { a: HttpOutboxEntry }).a)
    else live.delete(op.data.d)
  }
  if (torn !== undefined && torn !== '') bad.push({ line: lines.length + 1, problem: 'torn last line', text: torn })
  return { live, bad }
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
export function fileOutbox(options: FileOutboxOptions): FileOutbox {
  const path = parseOptions('fileOutbox()', optionsSchema, options).path
  const lockPath = `${path}.lock`
  const quarantinePath = `${path}.quarantine`
  let live = new Map<string, HttpOutboxEntry>()
  let handle: FileHandle | null = null
  let closed = false
  let report: FileOutboxRecovery = { entries: 0, quarantined: [], quarantinedTo: null }

  const opened = (async () => {
    await mkdir(dirname(path), { recursive: true })
    takeLock(lockPath)
    let text = ''
    try {
      text = await readFile(path, 'utf8')
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error
    }
    const replayed = replay(text)
    live = replayed.live
    if (replayed.bad.length > 0) {
      // Kept aside before the journal is rewritten without them (appended: earlier quarantines stay).
      const at = new Date().toISOString()
      const kept = replayed.bad
        .map((b) => `${JSON.stringify({ at, line: b.line, problem: b.problem })}\n${b.text}\n`)
        .join('')
      const out = await open(quarantinePath, 'a')
      await out.writeFile(kept)
      await out.sync()
      await out.close()
    }
    report = {
      entries: live.size,
      quarantined: replayed.bad.map((b) => ({ line: b.line, problem: b.problem })),
      quarantinedTo: replayed.bad.length > 0 ? quarantinePath : null,
    }
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
  let batch: { lines: string[]; waiters: { resolve: () => void; reject: (error: unknown) => void }[] } = {
    lines: [],
    waiters: [],
  }
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
    recovery: async () => {
      await opened
      return structuredClone(report)
    },
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
