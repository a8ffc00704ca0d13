/**
 * Small file helpers of the file store: appending with a callback-style `write` turned into a promise, syncing,
 * reading a range whole, writing a file durably, syncing a directory.
 *
 * @internal Node-only helper of the file store.
 * @packageDocumentation
 */
import { closeSync, fdatasync, fdatasyncSync, openSync, readSync, write, writeSync } from 'node:fs'

/** The `code` of a Node error, or its message. */
export function errorCode(error: unknown): string {
  return String((error as { code?: unknown } | null)?.code ?? (error as Error)?.message ?? error)
}

/** An error with a `code`, as Node's own I/O errors have. */
export function ioError(code: string, message: string): Error {
  return Object.assign(new Error(`${code}: ${message}`), { code })
}

/** Writes all of `data` at the end of a file opened with `O_APPEND` (the kernel picks the offset). */
export function append(fd: number, data: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    let done = 0
    const step = (): void => {
      if (done >= data.length) {
        resolve()
        return
      }
      write(fd, data, done, data.length - done, null, (error, written) => {
        if (error) reject(error)
        else {
          done += written
          step()
        }
      })
    }
    step()
  })
}

/** `fdatasync` as a promise. */
export function datasync(fd: number): Promise<void> {
  return new Promise((resolve, reject) => fdatasync(fd, (error) => (error ? reject(error) : resolve())))
}

/** The bytes `[from, to)` of an open file (fewer if the file is shorter). */
export function readRange(fd: number, from: number, to: number): Buffer {
  const buffer = Buffer.allocUnsafe(Math.max(0, to - from))
  let done = 0
  while (done < buffer.length) {
    const n = readSync(fd, buffer, done, buffer.length - done, from + done)
    if (n === 0) return buffer.subarray(0, done)
    done += n
  }
  return buffer
}

/** Creates (or replaces) `file` with `data` and syncs it; `afterWrite` runs between the write and the sync. */
export function writeDurably(file: string, data: Buffer, afterWrite?: () => void, afterSync?: () => void): void {
  const out = openSync(file, 'w', 0o644)
  try {
    let done = 0
    while (done < data.length) done += writeSync(out, data, done, data.length - done)
    afterWrite?.()
    fdatasyncSync(out)
    afterSync?.()
  } finally {
    closeSync(out)
  }
}

/** Syncs a directory, so that a rename or a link in it is durable. */
export function fsyncDirectory(directory: string): void {
  let dirFd: number
  try {
    dirFd = openSync(directory, 'r')
  } catch (error) {
    if (process.platform === 'win32') return // directories cannot be opened for sync there; NTFS journals renames
    throw error
  }
  try {
    fdatasyncSync(dirFd)
  } catch (error) {
    if (process.platform !== 'win32') throw error
  } finally {
    closeSync(dirFd)
  }
}
