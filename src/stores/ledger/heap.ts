/**
 * The expiry heaps of the ledger: when held calls expire, and when finished call ids may be forgotten.
 *
 * @internal Used by the ledger.
 * @packageDocumentation
 */

/**
 * A binary min-heap of (instant, call id) in two parallel arrays: no allocation per entry. Entries are never
 * removed early; a popped entry is checked against the current state and ignored when stale.
 */
export interface ExpiryHeap {
  at: number[]
  ids: string[]
}

/**
 * A new empty heap whose arrays start with the elements they will hold (doubles, strings): a `[]` starts with
 * small-integer elements and changes its shape at its first entry, which made the ledger's optimized code
 * deoptimize ("lost precision or NaN", "not a Smi") on each fresh ledger's first reservation.
 */
export function emptyHeap(): ExpiryHeap {
  const at = [0.5]
  at.pop()
  const ids = ['']
  ids.pop()
  return { at, ids }
}

/** Adds an entry. */
export function heapPush(heap: ExpiryHeap, at: number, id: string): void {
  let i = heap.at.length
  heap.at.push(at)
  heap.ids.push(id)
  while (i > 0) {
    const parent = (i - 1) >> 1
    if (heap.at[parent]! <= at) break
    heap.at[i] = heap.at[parent]!
    heap.ids[i] = heap.ids[parent]!
    i = parent
  }
  heap.at[i] = at
  heap.ids[i] = id
}

/** Removes and returns the id of the earliest entry. */
export function heapPop(heap: ExpiryHeap): string {
  const top = heap.ids[0]!
  const lastAt = heap.at.pop()!
  const lastId = heap.ids.pop()!
  const n = heap.at.length
  if (n > 0) {
    let i = 0
    for (;;) {
      const left = 2 * i + 1
      if (left >= n) break
      const right = left + 1
      const child = right < n && heap.at[right]! < heap.at[left]! ? right : left
      if (heap.at[child]! >= lastAt) break
      heap.at[i] = heap.at[child]!
      heap.ids[i] = heap.ids[child]!
      i = child
    }
    heap.at[i] = lastAt
    heap.ids[i] = lastId
  }
  return top
}

/** Ids of heap entries due at `now`, without changing the heap (depth-first over the due part only). */
export function heapDue(heap: ExpiryHeap, now: number): string[] {
  const due: string[] = []
  const stack = heap.at.length > 0 && heap.at[0]! <= now ? [0] : []
  while (stack.length > 0) {
    const i = stack.pop()!
    due.push(heap.ids[i]!)
    for (const child of [2 * i + 1, 2 * i + 2]) if (child < heap.at.length && heap.at[child]! <= now) stack.push(child)
  }
  return due
}
