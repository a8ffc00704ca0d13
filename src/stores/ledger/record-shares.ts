/**
 * Fair shares of the spend-record cap. A call id's namespace is its text before the first `/` (the budget
 * server prefixes every tenant's call ids with `<tenant>/`; other call ids usually have none and all share one
 * namespace). When the records pass the cap, each namespace keeps its newest records up to a common level, so
 * one namespace's commits drop its own oldest records first and never another's while that one holds no more
 * than its share. With a single namespace this is plain oldest-first dropping.
 *
 * @internal Used by the ledger's record table (`record-table.ts`), which keeps how many records each namespace holds
 * as it appends and drops, so that a trim need not read every record's call id.
 */

/** The namespace of a call id: its text before the first `/`, or `''`. */
export function namespaceOf(callId: string): string {
  const slash = callId.indexOf('/')
  return slash === -1 ? '' : callId.slice(0, slash)
}

/**
 * `namespaceOf(callId)`, reusing `previous` (the namespace of the record before) when it is the same: records of
 * one tenant come in runs, and this spares a new string per record.
 */
export function sameOrNamespaceOf(callId: string, previous: string): string {
  if (previous === '') return callId.indexOf('/') === -1 ? '' : namespaceOf(callId)
  return callId.startsWith(previous) && callId.charCodeAt(previous.length) === 47 ? previous : namespaceOf(callId)
}

/**
 * How many records each namespace drops so that `max` are left, each keeping its newest up to a common level
 * (water filling, smallest namespaces first); `counts` is updated to what is kept.
 */
export function dropCounts(counts: Map<string, number>, max: number): Map<string, number> {
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
  return drop
}
