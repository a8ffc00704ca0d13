/**
 * `httpStore.queryRecords`: pages through the server's `/v1/records` answers (each at most the server's
 * `maxRecordsPerPage`), continuing from the last `endedAt` and skipping the records already seen at it.
 *
 * @internal Used by `httpStore`.
 */
import { StorageError } from '../../errors.js'
import type { RecordQuery, SpendRecord } from '../types.js'
import type { Call } from './caller.js'

export async function queryAllRecords(call: Call, query: RecordQuery): Promise<SpendRecord[]> {
  const out: SpendRecord[] = []
  let from = query.from
  let seenAtFrom = new Set<string>()
  for (;;) {
    const remaining = query.limit === undefined ? undefined : query.limit - out.length
    if (remaining !== undefined && remaining <= 0) break
    const page = (await call('queryRecords', {
      ...(from === undefined ? {} : { from }),
      ...(query.to === undefined ? {} : { to: query.to }),
      ...(remaining === undefined ? {} : { limit: remaining + seenAtFrom.size }),
    })) as { records: SpendRecord[]; more: boolean }
    let added = 0
    for (const record of page.records) {
      if (record.endedAt === from && seenAtFrom.has(record.callId)) continue
      if (remaining !== undefined && added >= remaining) break
      out.push(record)
      added++
    }
    if (!page.more) break
    if (added === 0) {
      throw new StorageError(
        'http',
        "queryRecords: more records share one `endedAt` than fit in one page; raise the server's `maxRecordsPerPage`",
        { retryable: false },
      )
    }
    const last = out[out.length - 1]!.endedAt
    seenAtFrom = new Set(out.filter((r) => r.endedAt === last).map((r) => r.callId))
    from = last
  }
  return out
}
