/**
 * Prometheus metrics of the budget server, kept in plain counters (no dependency) and rendered in the text
 * exposition format. Labels come from fixed sets (route names, status classes), so cardinality is bounded
 * whatever clients send.
 *
 * @internal Used by the handler.
 */

const BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5]

class Histogram {
  readonly counts = new Array<number>(BUCKETS.length).fill(0)
  sum = 0
  count = 0
  observe(seconds: number): void {
    this.sum += seconds
    this.count++
    for (let i = 0; i < BUCKETS.length; i++) if (seconds <= BUCKETS[i]!) this.counts[i]!++
  }
}

/** Metrics of one handler. */
export class ServerMetrics {
  private readonly requests = new Map<string, number>()
  private readonly durations = new Map<string, Histogram>()
  private readonly storeDurations = new Map<string, Histogram>()
  inFlight = 0
  idempotencyReplays = 0
  authFailures = 0

  /** Counts a finished request. `route` must come from a fixed set. */
  request(route: string, method: string, status: number, seconds: number): void {
    const key = `route="${route}",method="${method}",status="${status}"`
    this.requests.set(key, (this.requests.get(key) ?? 0) + 1)
    let h = this.durations.get(route)
    if (h === undefined) this.durations.set(route, (h = new Histogram()))
    h.observe(seconds)
  }

  /** Times one store operation (to tell the server's own overhead from the store's time). */
  storeOperation(operation: string, seconds: number): void {
    let h = this.storeDurations.get(operation)
    if (h === undefined) this.storeDurations.set(operation, (h = new Histogram()))
    h.observe(seconds)
  }

  /** The Prometheus text exposition (format 0.0.4). */
  render(extra: { idempotencyEntries: number; idempotencyBytes: number }): string {
    const lines: string[] = []
    lines.push('# HELP llm_budget_http_requests_total Requests answered, by route, method and status.')
    lines.push('# TYPE llm_budget_http_requests_total counter')
    for (const [labels, n] of this.requests) lines.push(`llm_budget_http_requests_total{${labels}} ${n}`)
    histogram(
      lines,
      'llm_budget_http_request_duration_seconds',
      'Time from request to answer, by route.',
      'route',
      this.durations,
    )
    histogram(
      lines,
      'llm_budget_store_operation_duration_seconds',
      'Time spent inside the budget store, by operation.',
      'operation',
      this.storeDurations,
    )
    lines.push('# HELP llm_budget_http_requests_in_flight Requests being served.')
    lines.push('# TYPE llm_budget_http_requests_in_flight gauge')
    lines.push(`llm_budget_http_requests_in_flight ${this.inFlight}`)
    lines.push('# HELP llm_budget_idempotency_replays_total Answers replayed for a repeated Idempotency-Key.')
    lines.push('# TYPE llm_budget_idempotency_replays_total counter')
    lines.push(`llm_budget_idempotency_replays_total ${this.idempotencyReplays}`)
    lines.push('# HELP llm_budget_auth_failures_total Requests refused with 401 or 403.')
    lines.push('# TYPE llm_budget_auth_failures_total counter')
    lines.push(`llm_budget_auth_failures_total ${this.authFailures}`)
    lines.push('# HELP llm_budget_idempotency_cache_entries Idempotency keys remembered.')
    lines.push('# TYPE llm_budget_idempotency_cache_entries gauge')
    lines.push(`llm_budget_idempotency_cache_entries ${extra.idempotencyEntries}`)
    lines.push('# HELP llm_budget_idempotency_cache_bytes Approximate bytes of remembered answers.')
    lines.push('# TYPE llm_budget_idempotency_cache_bytes gauge')
    lines.push(`llm_budget_idempotency_cache_bytes ${extra.idempotencyBytes}`)
    return `${lines.join('\n')}\n`
  }
}

function histogram(lines: string[], name: string, help: string, label: string, map: Map<string, Histogram>): void {
  lines.push(`# HELP ${name} ${help}`)
  lines.push(`# TYPE ${name} histogram`)
  for (const [value, h] of map) {
    for (let i = 0; i < BUCKETS.length; i++)
      lines.push(`${name}_bucket{${label}="${value}",le="${BUCKETS[i]}"} ${h.counts[i]}`)
    lines.push(`${name}_bucket{${label}="${value}",le="+Inf"} ${h.count}`)
    lines.push(`${name}_sum{${label}="${value}"} ${h.sum}`)
    lines.push(`${name}_count{${label}="${value}"} ${h.count}`)
  }
}
