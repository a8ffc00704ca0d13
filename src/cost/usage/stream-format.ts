/**
 * The contract of one provider's stream reader inside the usage accumulator.
 *
 * @internal
 * @packageDocumentation
 */
import type { Draft, Obj } from './shared.js'

/** Reads the usage out of one provider's stream events, one event at a time, keeping only what it needs. */
export interface StreamFormat {
  /** Looks at one event (any provider's); remembers what belongs to this format. */
  add(event: Obj): void
  /** True once an event of this format was seen. */
  readonly seen: boolean
  /** True once the event that carries the final usage was seen. */
  readonly complete: boolean
  /** The usage found so far, or undefined when none was. */
  draft(provider: string | undefined): Draft | undefined
}
