/**
 * Fair shares of the spend-record cap. A call id's namespace is its text before the first `/` (the budget
 * server prefixes every tenant's call ids with `<tenant>/`; other call ids usually have none and all share one
 * namespace). When the records pass the cap, each namespace keeps its newest records up to a common level, so
 * one namespace's commits drop its own oldest records first and never another's while that one holds no more
 * than its share. With a single namespace this is plain oldest-first dropping.
 *
 * @internal Used by the ledger.
 */
import type { SpendRecord } from '../types.js'

/** The namespace of a call id: its text before the first `/`, or `''`. */
export function namespaceOf(callId: string): string {
  const slash = callId.indexOf('/')
  return slash === -1 ? '' : callId.slice(0, slash)
}

/**
 * `namespaceOf(callId)`, reusing `previous` (the namespace of the record before) when it is the same: records of
 * one tenant come in runs, and this spares a new string per record.
 */
function sameOrNamespaceOf(callId: string, previous: string): string {
  if (previous === '') return callId.indexOf('/') === -1 ? '' : namespaceOf(callId)
  return callId.startsWith(previous) && callId.charCodeAt(previous.length) === 47 ? previous : namespaceOf(callId)
}

/** How many of `records` each namespace holds. */
export function countNamespaces(records: readonly SpendRecord[]): Map<string, number> {
  const counts = new Map<string, number>()
  let ns = ''
  for (const record of records) {
    ns = sameOrNamespaceOf(record.callId, ns)
    counts.set(ns, (counts.get(ns) ?? 0) + 1)
  }
  return counts
}

/** Takes `dropped` records out of `counts` (what {@link countNamespaces} answered for the records they were in). */
export function uncount(counts: Map<string, number>, dropped: readonly SpendRecord[]): void {
  for (const record of dropped) {
    const ns = namespaceOf(record.callId)
    const left = (counts.get(ns) ?? 0) - 1
    if (left > 0) counts.set(ns, left)
    else counts.delete(ns)
  }
}

/**
 * Cuts `records` (oldest first) in place to at most `max`, every namespace keeping its newest within its share, and
 * answers the records dropped (in their order). In place, so that a ledger's record array keeps its capacity: a new
 * array of `max` records per trim, and the growth copy of it on the next pushes, cost more than the trim itself.
 *
 * `counts` is how many records each namespace holds (what {@link countNamespaces} answers); a ledger keeps it as it
 * appends, since counting means reading every kept record's call id, scattered over the heap (about 3 ms for
 * 100,000 records, 90% of a trim). It is updated here to the records kept.
 */
export function trimRecords(records: SpendRecord[], max: number, counts: Map<string, number>): SpendRecord[] {
  if (records.length <= max) return []
  // One namespace (a store without tenants, or a server with one): plain oldest-first. `splice` moves the kept
  // records down in one block copy (`copyWithin` goes element by element).
  if (counts.size === 1) {
    const [ns] = counts.keys()
    if (max === 0) counts.delete(ns!)
    else counts.set(ns!, max)
    return records.splice(0, records.length - max)
  }
  // The highest level L with sum(min(count, L)) <= max (water filling, smallest namespaces first).
  const sorted = [...counts.values()].sort((a, b) => a - b)
  let room = max
  let level = 0
  for (let i = 0; i < sorted.length; i++) {
    const even = Math.floor(room / (sorted.length - i))
    if (sorted[i]! <= even) {
      room -= sorted[i]!
      level = sorted[i]!
    } else {
      level = even
      break
    }
  }
  const drop = new Map<string, number>()
  for (const [ns, count] of counts) {
    if (count <= level) continue
    drop.set(ns, count - level)
    if (level === 0) counts.delete(ns)
    else counts.set(ns, level)
  }
  const dropped: SpendRecord[] = []
  let kept = 0
  let ns = ''
  for (let i = 0; i < records.length; i++) {
    const record = records[i]!
    ns = sameOrNamespaceOf(record.callId, ns)
    const left = drop.get(ns)
    if (left === undefined || left === 0) {
      records[kept++] = record
    } else {
      drop.set(ns, left - 1)
      dropped.push(record)
    }
  }
  records.length = kept
  return dropped
}
