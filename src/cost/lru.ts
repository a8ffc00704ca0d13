/**
 * A minimal LRU map for the resolution cache (Map insertion order = recency). Used instead of lru-cache
 * in the cost module because importing lru-cache costs ~3 ms of the 15 ms cold-start budget
 * (docs/decisions/0003-cost-cold-start.md).
 *
 * @internal
 * @packageDocumentation
 */
export class TinyLru<K, V> {
  readonly #map = new Map<K, V>()
  readonly #max: number

  constructor(max: number) {
    this.#max = max
  }

  get(key: K): V | undefined {
    const value = this.#map.get(key)
    if (value !== undefined) {
      this.#map.delete(key)
      this.#map.set(key, value)
    }
    return value
  }

  set(key: K, value: V): void {
    this.#map.delete(key)
    this.#map.set(key, value)
    if (this.#map.size > this.#max) this.#map.delete(this.#map.keys().next().value as K)
  }

  clear(): void {
    this.#map.clear()
  }

  get size(): number {
    return this.#map.size
  }
}
