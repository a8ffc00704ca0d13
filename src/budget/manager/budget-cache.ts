/**
 * The budget cache: compiled budgets per scope (and "no budget" answers), fresh for `budgetCacheTtlMs`, with one
 * store read in flight per scope however many calls wait for it. Internal to the manager.
 *
 * @packageDocumentation
 */
import { LRUCache } from 'lru-cache'
import { flatString } from '../../stores/ledger/keys.js'
import type { BudgetStore } from '../../stores/types.js'
import type { Clock } from '../manager-types.js'
import type { Scope, ScopeString } from '../scopes.js'
import type { CachedBudget, CompiledBudget } from './compiled.js'
import type { PolicyCompiler } from './policy.js'

export class BudgetCache {
  readonly #cache: LRUCache<string, CachedBudget>
  readonly #pending = new Map<string, Promise<CompiledBudget | null>>()
  /** Bumped by every change of `#cache` (a set, which may evict, or a delete). */
  #version = 0
  /**
   * The last answer of {@link BudgetCache.cached}: its keys and budgets, the cache's version then, and the oldest
   * and newest `fetchedAt` of its entries (every entry is fresh when the oldest and the newest are). Asked again for
   * the same keys with those budgets as `previous`, the cache unchanged and the entries still fresh, the answer is
   * the same: given without reading the cache again.
   */
  #memoKeys: readonly string[] | undefined
  #memoBudgets: readonly (CompiledBudget | null)[] | undefined
  #memoVersion = -1
  #memoOldest = 0
  #memoNewest = 0

  constructor(
    private readonly store: BudgetStore,
    private readonly clock: Clock,
    private readonly policies: PolicyCompiler,
    private readonly ttlMs: number,
    max: number,
  ) {
    // Bounded by size (each entry counts 1) rather than by `max`: the same least-recently-used cache of at most `max`
    // entries, but lru-cache allocates its tables as entries come instead of all up front. With `max` (100,000 by
    // default) every new manager spent about 15 ms of CPU and 2.8 MB filling them, however few scopes it then cached.
    this.#cache = new LRUCache({ maxSize: max, sizeCalculation: () => 1 })
  }

  /** Reads a scope's budget from the store (one read in flight per scope) and caches the answer. */
  async load(scope: Scope, scopeString: ScopeString): Promise<CompiledBudget | null> {
    const inflight = this.#pending.get(scopeString)
    if (inflight !== undefined) return inflight
    const promise = (async () => {
      try {
        const stored = await this.store.getBudget(scopeString)
        const fetchedAt = this.clock.now()
        const budget = this.policies.fromStored(scope, scopeString, stored, fetchedAt)
        const entry: CachedBudget = budget ?? { fetchedAt }
        this.#cache.set(budget?.scopeString ?? flatString(scopeString), entry)
        this.#version++
        return budget
      } finally {
        this.#pending.delete(scopeString)
      }
    })()
    this.#pending.set(scopeString, promise)
    return promise
  }

  /**
   * Budgets of the scopes from the cache when all are fresh (the fast path), else `undefined`. `previous` (the
   * budgets a kept plan was made with) is answered itself when they are still the budgets, instead of a new array.
   */
  cached(
    keys: readonly string[],
    now: number,
    previous?: readonly (CompiledBudget | null)[],
  ): readonly (CompiledBudget | null)[] | undefined {
    if (
      previous !== undefined &&
      previous === this.#memoBudgets &&
      keys === this.#memoKeys &&
      this.#version === this.#memoVersion &&
      now >= this.#memoNewest &&
      now - this.#memoOldest < this.ttlMs
    )
      return previous
    let out: (CompiledBudget | null)[] | undefined
    const same = previous !== undefined && previous.length === keys.length
    let oldest = Number.POSITIVE_INFINITY
    let newest = Number.NEGATIVE_INFINITY
    for (let i = 0; i < keys.length; i++) {
      const hit = this.#cache.get(keys[i]!)
      if (hit === undefined || now - hit.fetchedAt >= this.ttlMs || now < hit.fetchedAt) return undefined
      if (hit.fetchedAt < oldest) oldest = hit.fetchedAt
      if (hit.fetchedAt > newest) newest = hit.fetchedAt
      const budget = hit.policy === undefined ? null : hit
      if (out === undefined && same && previous[i] === budget) continue
      if (out === undefined) {
        out = new Array<CompiledBudget | null>(keys.length)
        for (let j = 0; j < i; j++) out[j] = previous![j]!
      }
      out[i] = budget
    }
    const answer = out ?? (same ? previous : [])
    this.#memoKeys = keys
    this.#memoBudgets = answer
    this.#memoVersion = this.#version
    this.#memoOldest = oldest
    this.#memoNewest = newest
    return answer
  }

  /** Budgets of the scopes, fresh ones from the cache and the others read from the store. */
  async budgetsFor(
    scopes: readonly Scope[],
    keys: readonly ScopeString[],
    now: number,
  ): Promise<(CompiledBudget | null)[]> {
    return Promise.all(
      scopes.map((scope, i) => {
        const scopeString = keys[i]!
        const hit = this.#cache.get(scopeString)
        if (hit !== undefined && now - hit.fetchedAt < this.ttlMs && now >= hit.fetchedAt)
          return hit.policy === undefined ? null : hit
        return this.load(scope, scopeString)
      }),
    )
  }

  /** Forgets a scope's budget (after a write), so the next call reads it again. */
  invalidate(scopeString: string): void {
    this.#cache.delete(scopeString)
    this.#version++
  }
}
