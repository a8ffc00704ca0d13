/**
 * The cross-process lock of the file store: an exclusively created file (`open(path, 'wx')`, atomic on local
 * POSIX file systems) that holds its owner's pid, host name and a random token, and whose modification time is
 * the owner's heartbeat.
 *
 * A lock is stale, and may be broken, when its owner runs on this host and is dead (`process.kill(pid, 0)`
 * fails with `ESRCH`), or when its heartbeat is older than `staleMs` (a frozen or foreign-host owner, or a pid
 * that was reused). Breaking is itself serialised by a second exclusive file (`lock.break`), and the breaker
 * checks that the lock is still the one it judged stale (same inode, same token) before removing it, so two
 * processes that see the same stale lock cannot both take over.
 *
 * Lock metadata operations use synchronous calls: they are a few microseconds each on a local disk, and
 * keeping them synchronous makes each step atomic with respect to this process's own event loop.
 *
 * @internal Node-only helper of the file store.
 */
import {
  closeSync,
  fstatSync,
  futimesSync,
  linkSync,
  openSync,
  readdirSync,
  readFileSync,
  statSync,
  unlinkSync,
  writeSync,
} from 'node:fs'
import { hostname } from 'node:os'
import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { StorageError } from '../../errors.js'

/** What the lock file says about its owner. */
export interface LockOwner {
  pid: number
  host: string
  token: string
  acquiredAt: number
  /** The holder's own `staleMs`: it heart-beats every quarter of it, so no breaker judges it stale sooner. */
  staleMs?: number
}

/** Options of {@link FileLock}. */
export interface FileLockOptions {
  /** A lock whose heartbeat is older than this (ms) is stale. */
  staleMs: number
  /** Give up acquiring after this many ms with a `StorageError`. */
  timeoutMs: number
  /** Called right after the lock was taken (tests kill the process here). */
  onAcquired?: () => void
}

const HOST = hostname()

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

/** Removes a file; a file already gone is fine. */
export function unlinkQuietly(path: string): void {
  try {
    unlinkSync(path)
  } catch {
    // already gone
  }
}

/**
 * Removes private lock files (`lock.tmp-<pid>-<token>`) left by processes that died while taking the lock.
 * Call while holding the lock.
 */
export function removeDeadLockFiles(directory: string): void {
  for (const name of readdirSync(directory)) {
    const match = /^lock\.tmp-(\d+)-[0-9a-f]+$/.exec(name)
    if (match !== null && Number(match[1]) !== process.pid && !isAlive(Number(match[1])))
      unlinkQuietly(join(directory, name))
  }
}

function errorCode(error: unknown): string | undefined {
  return (error as { code?: string } | null)?.code
}

/** Whether a process with this pid exists on this host. */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return errorCode(error) === 'EPERM'
  }
}

interface Observed {
  ino: number
  mtimeMs: number
  owner: LockOwner | null
}

/** A cross-process mutual exclusion lock on one directory. */
export class FileLock {
  readonly path: string
  private readonly breakPath: string
  private readonly options: FileLockOptions
  private fd: number | null = null
  private ino = -1
  private token = ''
  private heartbeat: ReturnType<typeof setInterval> | null = null
  /** Stale locks this instance broke (for tests and stats). */
  brokenStaleLocks = 0

  constructor(directory: string, options: FileLockOptions) {
    this.path = join(directory, 'lock')
    this.breakPath = join(directory, 'lock.break')
    this.options = options
  }

  /** True while this instance holds the lock. */
  get held(): boolean {
    return this.fd !== null
  }

  /** Takes the lock, waiting (with capped exponential backoff) while another live process holds it. */
  async acquire(): Promise<void> {
    if (this.fd !== null) throw new Error('file lock: already held by this store')
    const deadline = Date.now() + this.options.timeoutMs
    let delay = 0.5
    let lastOwner: LockOwner | null
    for (;;) {
      if (this.tryCreate()) return
      const observed = this.observe()
      if (observed !== null) {
        lastOwner = observed.owner
        if (this.isStale(observed)) {
          this.breakStale(observed)
          continue
        }
      } else {
        continue // released between our attempt and our look: try again at once
      }
      if (Date.now() >= deadline) {
        const who =
          lastOwner === null
            ? 'an unknown process'
            : `pid ${lastOwner.pid} on ${lastOwner.host} (since ${new Date(lastOwner.acquiredAt).toISOString()})`
        throw new StorageError(
          'file',
          `could not take the lock ${this.path} within ${this.options.timeoutMs} ms: it is held by ${who}. If no process is using the store, delete that file; otherwise raise \`lockTimeoutMs\`.`,
        )
      }
      await sleep(delay * (0.5 + Math.random()))
      delay = Math.min(delay * 2, 8)
    }
  }

  private tryCreate(): boolean {
    // The owner is written to a private file first and then hard-linked to the lock name: `link` fails with
    // EEXIST when the lock exists, so taking the lock is atomic and the lock never exists without its owner
    // (a process killed half-way leaves at most its private file, which the store removes later).
    const owner: LockOwner = {
      pid: process.pid,
      host: HOST,
      token: randomBytes(8).toString('hex'),
      acquiredAt: Date.now(),
      staleMs: this.options.staleMs,
    }
    const privatePath = `${this.path}.tmp-${process.pid}-${owner.token}`
    let fd: number
    try {
      fd = openSync(privatePath, 'wx', 0o644)
    } catch (error) {
      throw new StorageError('file', `cannot create the lock file ${privatePath}: ${String(error)}`, { cause: error })
    }
    let linked = false
    try {
      writeSync(fd, JSON.stringify(owner))
      linkSync(privatePath, this.path)
      linked = true
    } catch (error) {
      if (errorCode(error) !== 'EEXIST') {
        closeSync(fd)
        unlinkQuietly(privatePath)
        throw new StorageError('file', `cannot create the lock file ${this.path}: ${String(error)}`, { cause: error })
      }
    }
    unlinkQuietly(privatePath)
    if (!linked) {
      closeSync(fd)
      return false
    }
    this.ino = fstatSync(fd).ino
    this.token = owner.token
    this.fd = fd
    const interval = Math.max(10, Math.floor(this.options.staleMs / 4))
    this.heartbeat = setInterval(() => this.beat(), interval)
    this.heartbeat.unref()
    this.options.onAcquired?.()
    return true
  }

  private beat(): void {
    if (this.fd === null) return
    try {
      const now = new Date()
      futimesSync(this.fd, now, now)
    } catch {
      // a missed heartbeat only makes the lock look stale sooner
    }
  }

  private observe(): Observed | null {
    let fd: number
    try {
      fd = openSync(this.path, 'r')
    } catch (error) {
      if (errorCode(error) === 'ENOENT') return null
      throw new StorageError('file', `cannot read the lock file ${this.path}: ${String(error)}`, { cause: error })
    }
    try {
      const stat = fstatSync(fd)
      let owner: LockOwner | null = null
      try {
        const parsed = JSON.parse(readFileSync(fd, 'utf8')) as LockOwner
        if (typeof parsed?.pid === 'number' && typeof parsed.token === 'string') owner = parsed
      } catch {
        owner = null // being written, or left empty by a crash: judged by its age only
      }
      return { ino: stat.ino, mtimeMs: stat.mtimeMs, owner }
    } finally {
      closeSync(fd)
    }
  }

  private isStale(observed: Observed): boolean {
    const owner = observed.owner
    if (owner !== null && owner.host === HOST && owner.pid !== process.pid && !isAlive(owner.pid)) return true
    // A holder configured with a longer staleLockMs heart-beats less often: judge it by its own setting.
    const ownerStaleMs = typeof owner?.staleMs === 'number' && Number.isFinite(owner.staleMs) ? owner.staleMs : 0
    return Date.now() - observed.mtimeMs > Math.max(this.options.staleMs, ownerStaleMs)
  }

  /** Removes a stale lock if it is still the one observed. */
  private breakStale(observed: Observed): void {
    let breakFd: number
    try {
      breakFd = openSync(this.breakPath, 'wx', 0o644)
    } catch (error) {
      if (errorCode(error) !== 'EEXIST')
        throw new StorageError('file', `cannot create ${this.breakPath}: ${String(error)}`, { cause: error })
      // Someone else is breaking it. A breaker holds this file for microseconds; if it is old, its owner died.
      try {
        if (Date.now() - statSync(this.breakPath).mtimeMs > this.options.staleMs) unlinkSync(this.breakPath)
      } catch {
        // gone already
      }
      return
    }
    try {
      const again = this.observe()
      if (
        again !== null &&
        again.ino === observed.ino &&
        again.mtimeMs === observed.mtimeMs &&
        again.owner?.token === observed.owner?.token &&
        this.isStale(again)
      ) {
        unlinkSync(this.path)
        this.brokenStaleLocks++
      }
    } finally {
      closeSync(breakFd)
      try {
        unlinkSync(this.breakPath)
      } catch {
        // nothing to do
      }
    }
  }

  /**
   * Whether the lock file is still the one this instance created (same inode, same random token): false once
   * another process broke it as stale (this process was frozen or stalled for longer than `staleMs`). The file
   * store calls it before it acknowledges a write, so a resumed stale holder acknowledges nothing.
   */
  verify(): boolean {
    if (this.fd === null) return false
    const observed = this.observe()
    return observed !== null && observed.ino === this.ino && observed.owner?.token === this.token
  }

  /** Releases the lock if this instance still owns it. */
  release(): void {
    if (this.fd === null) return
    if (this.heartbeat !== null) clearInterval(this.heartbeat)
    this.heartbeat = null
    try {
      // Only remove the file if it is still ours (it could have been broken as stale while we were frozen).
      if (this.verify()) unlinkSync(this.path)
    } catch {
      // already gone
    } finally {
      closeSync(this.fd)
      this.fd = null
    }
  }
}
