/**
 * Counters with a bounded number of label sets, kept as exact integers and rendered in the Prometheus text
 * exposition format. Shared by `budgetMetrics` and the prom-client registration.
 *
 * @packageDocumentation
 */
import { formatNano } from './money.js'

/** Label names to values. */
export type Labels = Record<string, string>

/** A counter family: one exact integer (nano-USD, tokens, calls) per label set, at most `maxSeries` label sets. */
export class CounterFamily {
  private readonly series = new Map<string, { labels: Labels; value: number }>()

  /**
   * @param labelNames The label names, in order (every `add` passes exactly these).
   * @param usd True when values are nano-USD (rendered as exact decimal USD).
   */
  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly string[],
    private readonly maxSeries: number,
    readonly usd = false,
  ) {}

  /** Adds `amount` (> 0) to a series; a new label set beyond `maxSeries` is folded into `overflowLabel="other"`. */
  add(labels: Labels, amount: number, overflowLabel: string): void {
    if (!Number.isFinite(amount) || amount <= 0) return
    let key = labelText(labels)
    let entry = this.series.get(key)
    if (entry === undefined && this.series.size >= this.maxSeries) {
      labels = { ...labels, [overflowLabel]: 'other' }
      key = labelText(labels)
      entry = this.series.get(key)
    }
    if (entry === undefined) {
      entry = { labels, value: 0 }
      this.series.set(key, entry)
    }
    entry.value += amount
  }

  /** Every series: its labels and its exact integer value. */
  entries(): IterableIterator<{ labels: Labels; value: number }> {
    return this.series.values()
  }

  /** Appends the family in the text exposition to `out`. */
  render(out: string[]): void {
    out.push(`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} counter`)
    for (const [labels, entry] of this.series)
      out.push(`${this.name}${labels} ${this.usd ? formatNano(entry.value) : String(entry.value)}`)
  }
}

/** Escapes a label value for the text exposition. */
export function escapeLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')
}

function labelText(labels: Labels): string {
  const parts = Object.entries(labels).map(([name, value]) => `${name}="${escapeLabel(value)}"`)
  return parts.length === 0 ? '' : `{${parts.join(',')}}`
}
