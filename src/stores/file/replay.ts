/**
 * Reading a journal: which frames count, in order, and what damage is.
 *
 * Every frame (format 2) says where its writer expected it to land (`at`) and where the journal's valid frames ended
 * when it looked (`after`). Frames are appended (`O_APPEND`), never written at an offset, so a writer that lost the
 * lock (frozen for longer than `staleLockMs`) cannot overwrite anybody's frame: its late frame lands after them, at
 * a place it did not expect, and is skipped ("fenced") by every reader. A frame counts when it is at its `at` and
 * continues the chain (`after` is the end of the previous frame that counted). Between two frames that count, the
 * only bytes allowed are fenced frames and a torn frame (a crash during a write) that the next writer saw as the
 * end of the journal.
 *
 * A seal frame closes a journal for a compaction: operation frames after it are fenced, and whoever sees it fences
 * the compaction named in it (removes its new journal) and finishes the compaction itself, after a seal of its own
 * (seals may follow seals).

 *
 * Damage is anything else: a complete frame whose checksum fails (even the last one), bytes that are not a frame,
 * a frame that does not continue the chain. It refuses to open unless `repair`, which drops it and reports it. Only
 * a torn last frame (its length runs past the end of the file, or fewer bytes than a header are left) is a crash
 * during a write, and is skipped.
 *
 * @internal Node-only helper of the file store.
 * @packageDocumentation
 */
import { findNextValidFrame, MAX_JOURNAL_FRAME_BYTES, readFrame } from './format.js'
import type { Operation } from './operations.js'

/** The seal of a journal: the compaction that replaces it, by the name of its new journal file. */
export interface Seal {
  /** Temporary name of the new journal; removing it fences a compaction that has not renamed it yet. */
  journal: string
}

/** The payload of a journal frame (format 2). Format 1 frames are a bare array of operations. */
export type FramePayload = { after: number; at: number; ops: Operation[] } | { after: number; at: number; seal: Seal }

/** A damaged range that `repair` dropped. */
export interface DroppedRange {
  offset: number
  length: number
  problem: string
}

/** What a scan found. Offsets are journal byte offsets. */
export interface ScanOutcome {
  /** End of the last frame that counted (where the next frame continues the chain). */
  end: number
  /** Where the next scan starts: the start of a torn last frame, or the end of the bytes scanned. */
  resume: number
  frames: number
  operations: number
  /** Frames of writers that had lost their place (skipped). */
  fenced: number
  /** A torn last frame (left in place, skipped), or null. */
  tornTail: { offset: number; length: number } | null
  /** Damaged ranges dropped (only with `repair`). */
  dropped: DroppedRange[]
  /** The seals that count, in order (a journal is closed from its first seal on). */
  seals: Seal[]
}

/** Damage found while scanning without `repair`. */
export class JournalDamage extends Error {
  constructor(
    readonly offset: number,
    message: string,
  ) {
    super(message)
  }
}

/** What {@link scanJournal} needs besides the bytes. */
export interface ScanInput {
  /** The journal's bytes from offset `base` to its current end. */
  buffer: Buffer
  base: number
  /** Where to start (`base` or later). */
  start: number
  /** End of the last frame that counted before `start`. */
  end: number
  /** The journal was already sealed before `start` (every later operation frame is fenced). */
  sealed: boolean
  repair: boolean
  /** Applies the operations of a frame that counts. */
  apply(operations: Operation[]): void
  /** Called between frames; resolves when the scan may go on (the store yields to the event loop here). */
  pause?(): Promise<void> | undefined
}

function parsePayload(payload: Buffer, offset: number): Operation[] | FramePayload {
  let value: unknown
  try {
    value = JSON.parse(payload.toString('utf8'))
  } catch {
    throw new JournalDamage(offset, `the frame at byte ${offset} has a right checksum but its content is not JSON`)
  }
  if (Array.isArray(value)) return value as Operation[]
  const frame = value as Partial<{ after: unknown; at: unknown; ops: unknown; seal: unknown }> | null
  if (frame !== null && typeof frame === 'object' && typeof frame.after === 'number' && typeof frame.at === 'number') {
    if (Array.isArray(frame.ops)) return frame as FramePayload
    if (typeof (frame.seal as Seal | undefined)?.journal === 'string') return frame as FramePayload
  }
  throw new JournalDamage(offset, `the frame at byte ${offset} is not a journal frame`)
}

/** Reads the frames of `input.buffer` from `input.start`, applying those that count. */
export async function scanJournal(input: ScanInput): Promise<ScanOutcome> {
  const { buffer, base, repair } = input
  const limit = base + buffer.length
  const outcome: ScanOutcome = {
    end: input.end,
    resume: limit,
    frames: 0,
    operations: 0,
    fenced: 0,
    tornTail: null,
    dropped: [],
    seals: [],
  }
  let sealed = input.sealed
  const damage = (offset: number, length: number, problem: string, message: string): void => {
    if (!repair) throw new JournalDamage(offset, message)
    const last = outcome.dropped.at(-1)
    // A chain broken by a range already dropped is the same damage, reported once.
    if (last !== undefined && last.offset >= offset && last.offset + last.length === offset + length) return
    outcome.dropped.push({ offset, length, problem })
  }
  let at = input.start
  while (at < limit) {
    const frame = readFrame(buffer, at - base, MAX_JOURNAL_FRAME_BYTES)
    if (frame.ok) {
      const frameEnd = base + frame.end
      let payload: Operation[] | FramePayload
      try {
        payload = parsePayload(frame.payload, at)
      } catch (error) {
        if (!(error instanceof JournalDamage)) throw error
        damage(at, frameEnd - at, 'not a journal frame', error.message)
        at = frameEnd
        continue
      }
      if (Array.isArray(payload)) {
        // Format 1: no position; it counts only right after the previous frame.
        if (at !== outcome.end)
          damage(
            outcome.end,
            at - outcome.end,
            'gap',
            `the journal has ${at - outcome.end} unreadable bytes at byte ${outcome.end}, followed by valid frames (mid-file corruption)`,
          )
        input.apply(payload)
        outcome.frames++
        outcome.operations += payload.length
      } else if (payload.at !== at || (sealed && !('seal' in payload))) {
        outcome.fenced++ // written by a process that had lost the lock, or after a seal: never counted
        at = frameEnd
        continue
      } else {
        if (payload.after !== outcome.end) {
          damage(
            outcome.end,
            Math.max(0, at - outcome.end),
            'chain broken',
            `the frame at byte ${at} continues the journal from byte ${payload.after}, but its frames that count end at byte ${outcome.end}: the bytes between are damaged (mid-file corruption)`,
          )
        }
        if ('seal' in payload) {
          outcome.seals.push(payload.seal)
          sealed = true
        } else {
          input.apply(payload.ops)
          outcome.frames++
          outcome.operations += payload.ops.length
        }
      }
      outcome.end = frameEnd
      outcome.tornTail = null
      at = frameEnd
      const paused = input.pause?.()
      if (paused !== undefined) await paused
      continue
    }
    const next = findNextValidFrame(buffer, at - base, MAX_JOURNAL_FRAME_BYTES)
    const stop = next === -1 ? limit : base + next
    const bounded = readFrame(buffer.subarray(0, stop - base), at - base, MAX_JOURNAL_FRAME_BYTES)
    const torn = !bounded.ok && bounded.problem === 'truncated'
    if (torn && next === -1) {
      outcome.tornTail = { offset: at, length: limit - at }
      outcome.resume = at
      break
    }
    if (!torn) {
      const problem = frame.problem
      damage(
        at,
        stop - at,
        problem,
        next === -1
          ? `the journal's last frame, at byte ${at}, is complete but damaged (${problem}): not a write cut short by a crash, so it is not dropped (damage to acknowledged data)`
          : `the journal is damaged at byte ${at} (${problem}) and ${limit - stop} bytes of valid frames follow it (mid-file corruption)`,
      )
    }
    // A torn frame followed by more frames: the next frame that counts must continue the chain from before it,
    // which proves that its writer saw these bytes as the torn end of the journal.
    at = stop
  }
  return outcome
}
