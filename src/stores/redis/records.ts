/**
 * Spend records in the Redis store's stream: each record is one stream entry whose fields are the record's
 * fields, each value as JSON text (so `XRANGE` shows them and no script parses JSON). The entry id is
 * `max(endedAt, previous id)`, so records are read back by `endedAt` with an id range.
 *
 * @internal
 */
import { InvalidInputError } from '../../errors.js'
import type { JsonValue, RecordQuery, SpendRecord } from '../types.js'

/** Most spend records returned per `XRANGE` page. */
const PAGE = 1000
/** Spend records must end within the range of a JavaScript `Date`. */
export const MAX_TIME = 8.64e15

/** JSON text of a value, or an `InvalidInputError` naming `field`. */
export function json(field: string, value: unknown): string {
  let text: string | undefined
  try {
    text = JSON.stringify(value)
  } catch (error) {
    throw new InvalidInputError(field, `\`${field}\` must be JSON-serialisable: ${(error as Error).message}`, {
      cause: error,
    })
  }
  if (text === undefined) throw new InvalidInputError(field, `\`${field}\` must be JSON-serialisable`)
  return text
}

/** Appends a record's stream fields (name, JSON value) to `out`; fields whose value JSON drops are left out. */
export function pushRecordFields(record: SpendRecord, out: string[]): void {
  if (!Number.isFinite(record.endedAt) || record.endedAt < 0 || record.endedAt > MAX_TIME) {
    throw new InvalidInputError(
      'record.endedAt',
      `\`record.endedAt\` must be between 0 and ${MAX_TIME} epoch milliseconds, got ${record.endedAt}`,
    )
  }
  for (const name of Object.keys(record)) {
    const value = record[name]
    if (value === undefined || typeof value === 'function' || typeof value === 'symbol') continue
    out.push(name, json(`record.${name}`, value))
  }
}

/** A record from a stream entry's fields: the fields of this format, or one `d` field of JSON (older entries). */
function decodeEntry(fields: unknown): SpendRecord | null {
  const flat: string[] = []
  if (Array.isArray(fields)) {
    for (const item of fields) flat.push(String(item))
  } else if (typeof fields === 'object' && fields !== null) {
    for (const [name, value] of Object.entries(fields)) flat.push(name, String(value))
  } else {
    return null
  }
  // Told apart by their names first, so that each value is parsed once (an older entry's `d` is the whole record).
  let legacy: string | undefined
  let hasCallId = false
  for (let i = 0; i + 1 < flat.length; i += 2) {
    if (flat[i] === 'callId') hasCallId = true
    else if (flat[i] === 'd') legacy = flat[i + 1]
  }
  if (!hasCallId) return legacy === undefined ? null : (JSON.parse(legacy) as SpendRecord)
  const record: Record<string, JsonValue> = {}
  for (let i = 0; i + 1 < flat.length; i += 2) record[flat[i]!] = JSON.parse(flat[i + 1]!) as JsonValue
  return record as SpendRecord
}

/** Validates a record query; `null` when it can match nothing. */
export function recordRange(query: RecordQuery): { from: number; to: number; limit: number | undefined } | null {
  const from = query?.from ?? Number.NEGATIVE_INFINITY
  const to = query?.to ?? Number.POSITIVE_INFINITY
  if (typeof from !== 'number' || typeof to !== 'number' || Number.isNaN(from) || Number.isNaN(to)) {
    throw new InvalidInputError('from', '`from` and `to` must be numbers of epoch milliseconds')
  }
  if (query.limit !== undefined && (!Number.isSafeInteger(query.limit) || query.limit < 0)) {
    throw new InvalidInputError('limit', `\`limit\` must be a non-negative safe integer, got ${String(query.limit)}`)
  }
  if (to <= 0 || from >= to || from > MAX_TIME) return null
  return { from, to, limit: query.limit }
}

/**
 * Reads the records with `from <= endedAt < to`, oldest first. A record's stream id is at least its endedAt and
 * at most its endedAt plus the largest lateness seen (`late`), so this reads that id range and filters.
 */
export async function readRecords(
  xrange: (start: string, end: string, count: number) => Promise<unknown>,
  late: number,
  range: { from: number; to: number; limit: number | undefined },
): Promise<SpendRecord[]> {
  const { from, to, limit } = range
  let start = Number.isFinite(from) && from > 0 ? `${Math.floor(from)}-0` : '-'
  const end = Number.isFinite(to) ? `${Math.floor(to) + late}-18446744073709551615` : '+'
  const found: SpendRecord[] = []
  for (;;) {
    const page = await xrange(start, end, PAGE)
    if (!Array.isArray(page) || page.length === 0) break
    let lastId = ''
    for (const item of page as unknown[]) {
      if (!Array.isArray(item)) continue
      lastId = String(item[0])
      const record = decodeEntry(item[1])
      if (record !== null && record.endedAt >= from && record.endedAt < to) found.push(record)
    }
    if (page.length < PAGE || lastId === '') break
    const [ms, seq] = lastId.split('-')
    start = `${ms}-${BigInt(seq ?? '0') + 1n}`
  }
  found.sort((a, b) => a.endedAt - b.endedAt)
  return limit === undefined ? found : found.slice(0, limit)
}
