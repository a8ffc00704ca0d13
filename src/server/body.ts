/**
 * Reading a request's JSON body: media type, size limit (413 while reading), UTF-8, JSON, an object, and a
 * nesting limit.
 *
 * @internal Used by the handler.
 */
import { truncate } from '../internal/describe.js'
import { HttpError } from './errors.js'
import type { CoreRequest } from './handler.js'

/** Deepest JSON nesting accepted in a body. */
export const MAX_JSON_DEPTH = 32

/** Whether `value` nests deeper than `max` levels (a scalar is level 0, `{}` level 1). Allocates nothing. */
function jsonDepthExceeds(value: unknown, max: number): boolean {
  if (typeof value !== 'object' || value === null) return false
  if (max === 0) return true
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) if (jsonDepthExceeds(value[i], max - 1)) return true
  } else {
    for (const key in value) if (jsonDepthExceeds((value as Record<string, unknown>)[key], max - 1)) return true
  }
  return false
}

/** One decoder for every body (decoding whole buffers keeps no state between calls). */
const utf8 = new TextDecoder('utf-8', { fatal: true })

/**
 * What the server still reads (and discards) of a body that passed the limit, so that a client that sends its
 * whole body before reading the answer gets its 413 instead of a broken pipe. Beyond this the connection is cut.
 */
export const MAX_DISCARDED_BYTES = 64 * 1024 * 1024

/** A request body read by {@link readJson}: its bytes as received, its text and the JSON object parsed from it. */
export interface JsonBody {
  bytes: Uint8Array
  text: string
  value: unknown
}

/** The body of `request` as text and parsed JSON object; throws a 4xx {@link HttpError} for anything else. */
export async function readJson(request: CoreRequest, maxBodyBytes: number): Promise<JsonBody> {
  const type = request.header('content-type')
  if (type !== null && !/^application\/json\s*(;|$)/i.test(type)) {
    throw new HttpError(
      415,
      'UNSUPPORTED_MEDIA_TYPE',
      `send JSON with \`Content-Type: application/json\`, got ${JSON.stringify(truncate(type, 100))}`,
    )
  }
  const length = request.header('content-length')
  // An announced length over the limit is refused at once only past what the server would read and discard anyway:
  // within that, the body is read (and discarded) first, so that a client that sends it whole before reading the
  // answer (fetch does) gets its 413, not a connection reset by the close that follows the answer.
  if (length !== null && Number(length) > maxBodyBytes + MAX_DISCARDED_BYTES) {
    throw new HttpError(
      413,
      'PAYLOAD_TOO_LARGE',
      `the body is ${truncate(length, 20)} bytes; at most ${maxBodyBytes} are accepted`,
      undefined,
      { connection: 'close' },
    )
  }
  const bytes = await request.readBody(maxBodyBytes)
  if (bytes === null)
    throw new HttpError(413, 'PAYLOAD_TOO_LARGE', `the body exceeds ${maxBodyBytes} bytes`, undefined, {
      connection: 'close',
    })
  let text: string
  try {
    text = utf8.decode(bytes)
  } catch {
    throw new HttpError(400, 'INVALID_JSON', 'the body is not valid UTF-8')
  }
  let value: unknown
  try {
    value = text.length === 0 ? {} : JSON.parse(text)
  } catch {
    throw new HttpError(400, 'INVALID_JSON', 'the body is not valid JSON')
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new HttpError(400, 'INVALID_JSON', 'the body must be a JSON object')
  if (jsonDepthExceeds(value, MAX_JSON_DEPTH))
    throw new HttpError(400, 'INVALID_JSON', `the body nests deeper than ${MAX_JSON_DEPTH} levels`)
  return { bytes, text, value }
}
