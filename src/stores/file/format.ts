/**
 * On-disk framing of the file store: every journal frame and every snapshot is
 *
 * ```
 * magic "LBf1" (4 bytes) | payload length (uint32 LE) | crc32 of length + payload (uint32 LE) | payload (UTF-8 JSON)
 * ```
 *
 * A journal frame holds one group commit: a JSON array of operations, written with one `write` and made durable
 * with one `fdatasync`. A frame is therefore all or nothing: a crash during the write leaves a torn last frame
 * that fails its checksum and is dropped on recovery, together with every operation in it (none of them was
 * acknowledged in `fsync` mode).
 *
 * @internal Node-only helper of the file store.
 */
import { crc32 } from 'node:zlib'

/** Magic bytes at the start of every frame. */
export const MAGIC = Buffer.from('LBf1', 'latin1')
/** Bytes before the payload. */
export const FRAME_HEADER_BYTES = 12
/** Largest journal frame accepted when reading (a group commit is cut well below this when writing). */
export const MAX_JOURNAL_FRAME_BYTES = 256 * 1024 * 1024
/** Largest snapshot frame accepted when reading (V8 strings cannot be much longer). */
export const MAX_SNAPSHOT_FRAME_BYTES = 1024 * 1024 * 1024

function checksum(header: Buffer, payload: Buffer): number {
  return crc32(payload, crc32(header.subarray(4, 8)))
}

/** Frames a UTF-8 JSON payload. */
export function encodeFrame(payload: string): Buffer {
  const body = Buffer.from(payload, 'utf8')
  const frame = Buffer.allocUnsafe(FRAME_HEADER_BYTES + body.length)
  MAGIC.copy(frame, 0)
  frame.writeUInt32LE(body.length, 4)
  body.copy(frame, FRAME_HEADER_BYTES)
  frame.writeUInt32LE(checksum(frame, body), 8)
  return frame
}

/** Why a frame could not be read. */
export type FrameProblem = 'bad magic' | 'length out of range' | 'truncated' | 'checksum mismatch'

/** The result of reading one frame at an offset of a buffer. */
export type FrameRead = { ok: true; payload: Buffer; end: number } | { ok: false; problem: FrameProblem }

/** Reads the frame that starts at `offset` of `buffer`. */
export function readFrame(buffer: Buffer, offset: number, maxBytes: number): FrameRead {
  if (buffer.length - offset < FRAME_HEADER_BYTES) {
    return {
      ok: false,
      problem: buffer.length - offset > 0 && !startsWithMagicPrefix(buffer, offset) ? 'bad magic' : 'truncated',
    }
  }
  if (buffer.compare(MAGIC, 0, 4, offset, offset + 4) !== 0) return { ok: false, problem: 'bad magic' }
  const length = buffer.readUInt32LE(offset + 4)
  if (length > maxBytes) return { ok: false, problem: 'length out of range' }
  const end = offset + FRAME_HEADER_BYTES + length
  if (end > buffer.length) return { ok: false, problem: 'truncated' }
  const header = buffer.subarray(offset, offset + FRAME_HEADER_BYTES)
  const payload = buffer.subarray(offset + FRAME_HEADER_BYTES, end)
  if (checksum(header, payload) !== buffer.readUInt32LE(offset + 8)) return { ok: false, problem: 'checksum mismatch' }
  return { ok: true, payload, end }
}

function startsWithMagicPrefix(buffer: Buffer, offset: number): boolean {
  const n = Math.min(4, buffer.length - offset)
  return buffer.compare(MAGIC, 0, n, offset, offset + n) === 0
}

/**
 * Offset of the first valid frame that starts after `from`, or -1. Used to tell a torn tail (nothing valid after
 * the damage: a crash during the last write) from mid-file corruption (valid frames follow the damage: data
 * that was once acknowledged is unreadable).
 */
export function findNextValidFrame(buffer: Buffer, from: number, maxBytes: number): number {
  let at = buffer.indexOf(MAGIC, from + 1)
  while (at !== -1) {
    if (readFrame(buffer, at, maxBytes).ok) return at
    at = buffer.indexOf(MAGIC, at + 1)
  }
  return -1
}
