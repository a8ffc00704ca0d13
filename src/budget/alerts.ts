/**
 * Alert sinks: listeners for `threshold.crossed`, `forecast.exceeded`, `budget.exceeded` and `budget.overshot` that deliver to a
 * JSON webhook, a Slack incoming webhook, or email through your own send function. A sink never blocks or
 * fails the LLM call: delivery runs in the background, is retried with backoff, and failures are reported
 * to `onError` (never thrown).
 *
 * ```ts
 * budgets.on('threshold.crossed', slackSink({ webhookUrl: process.env.SLACK_WEBHOOK! }))
 * ```
 *
 * @packageDocumentation
 */
import { z } from 'zod'
import { parseOptions } from '../internal/options.js'
import { BudgetConfigError } from '../errors.js'
import { formatMoney } from '../internal/format-money.js'
import type {
  BudgetExceededEvent,
  BudgetOvershotEvent,
  ForecastExceededEvent,
  ThresholdCrossedEvent,
} from './events.js'

/** Events the sinks deliver. */
export type AlertEvent = ThresholdCrossedEvent | ForecastExceededEvent | BudgetExceededEvent | BudgetOvershotEvent

/** A listener that delivers alerts; pass it to `manager.on(...)`. */
export type AlertSink = (event: AlertEvent) => void

/** Delivery options shared by the sinks. */
export interface DeliveryOptions {
  /** Attempts per alert, including the first. Default 3. */
  attempts?: number
  /** First retry delay in ms (doubled each time, with jitter). Default 500. */
  retryDelayMs?: number
  /** Called once per alert that could not be delivered after every attempt. */
  onError?: (error: unknown, event: AlertEvent) => void
  /** Called after a successful delivery (for tests and metrics). */
  onDelivered?: (event: AlertEvent) => void
}

/** Options of {@link webhookSink}. */
export interface WebhookSinkOptions extends DeliveryOptions {
  /** URL that receives a `POST` with the event as JSON. */
  url: string
  /** Extra headers (e.g. an `authorization` header). */
  headers?: Record<string, string>
  /** Per-attempt timeout in ms. Default 5000. */
  timeoutMs?: number
  /** `fetch` to use. Default: the global `fetch`. */
  fetch?: typeof fetch
}

function checkUrl(field: string, url: unknown): string {
  if (typeof url !== 'string') throw new BudgetConfigError(field, `\`${field}\` must be an http(s) URL`)
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    throw new BudgetConfigError(field, `\`${field}\` must be an http(s) URL, got an unparseable string`)
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:')
    throw new BudgetConfigError(field, `\`${field}\` must use http or https`)
  return url
}

function checkDelivery(options: DeliveryOptions): { attempts: number; retryDelayMs: number } {
  const attempts = options.attempts ?? 3
  const retryDelayMs = options.retryDelayMs ?? 500
  if (!Number.isSafeInteger(attempts) || attempts < 1 || attempts > 20)
    throw new BudgetConfigError('attempts', '`attempts` must be a whole number from 1 to 20')
  if (!Number.isFinite(retryDelayMs) || retryDelayMs < 0)
    throw new BudgetConfigError('retryDelayMs', '`retryDelayMs` must be a number of milliseconds >= 0')
  return { attempts, retryDelayMs }
}

function deliverInBackground(options: DeliveryOptions, send: (event: AlertEvent) => Promise<void>): AlertSink {
  const { attempts, retryDelayMs } = checkDelivery(options)
  return (event) => {
    void (async () => {
      let lastError: unknown
      for (let attempt = 0; attempt < attempts; attempt++) {
        if (attempt > 0)
          await new Promise((resolve) => setTimeout(resolve, retryDelayMs * 2 ** (attempt - 1) * (0.5 + Math.random())))
        try {
          await send(event)
          options.onDelivered?.(event)
          return
        } catch (error) {
          lastError = error
        }
      }
      try {
        options.onError?.(lastError, event)
      } catch {
        // a failing error handler must not surface either
      }
    })()
  }
}

/** The event name of an alert: `threshold.crossed`, `forecast.exceeded`, `budget.exceeded` or `budget.overshot`. */
export function alertName(
  event: AlertEvent,
): 'threshold.crossed' | 'forecast.exceeded' | 'budget.exceeded' | 'budget.overshot' {
  return 'kind' in event
    ? 'threshold.crossed'
    : 'projectedSpend' in event
      ? 'forecast.exceeded'
      : 'action' in event
        ? 'budget.exceeded'
        : 'budget.overshot'
}

/** The event as plain JSON (dates as ISO strings), with its name. */
export function alertPayload(event: AlertEvent): Record<string, unknown> {
  const name = alertName(event)
  return JSON.parse(JSON.stringify({ event: name, ...event })) as Record<string, unknown>
}

/** Describes an alert in one line of text (for Slack and email), money in the budget's currency with USD alongside. */
export function alertText(event: AlertEvent): string {
  const resets = event.window.resetsAt ? `; resets ${event.window.resetsAt.toISOString()}` : ''
  const { currency, rate } = event
  const $ =
    currency === undefined || rate === undefined
      ? (usd: number | null): string => `$${usd}`
      : (usd: number | null): string =>
          usd === null ? '-' : `${formatMoney(usd / rate, currency)} (${formatMoney(usd, 'USD')})`
  if ('kind' in event) {
    const pct = event.percent === null ? '' : ` (${event.percent.toFixed(1)}% of ${$(event.limit)})`
    return `Budget ${event.scope}: spend ${$(event.spend)} crossed the ${event.kind === 'soft' ? 'soft budget' : `${(event.fraction ?? 0) * 100}% alert`} of ${$(event.threshold)}${pct}${resets}`
  }
  if ('projectedSpend' in event) {
    const runsOut = event.exhaustsAt === null ? '' : `; at this rate it runs out ${event.exhaustsAt.toISOString()}`
    return `Budget ${event.scope}: projected to spend ${$(event.projectedSpend)} by the end of the window, over its limit of ${$(event.limit)} (spent ${$(event.spend)} so far${runsOut})${resets}`
  }
  if ('action' in event) {
    return `Budget ${event.scope}${event.model ? ` (model ${event.model})` : ''} ${event.action === 'warn' ? 'is over its limit (warn only)' : 'refused a call'}: limit ${$(event.limit)}, spent ${$(event.spent)}, reserved ${$(event.reserved)}, requested ${$(event.requested)}${resets}`
  }
  return `Budget ${event.scope}${event.model ? ` (model ${event.model})` : ''} overshot its limit of ${$(event.limit)} by ${$(event.overshoot)} (spent ${$(event.spent)})${resets}`
}

/** POSTs JSON with a timeout; throws on a non-2xx answer. Used by the sinks and the digests. */
export async function post(
  fetchImpl: typeof fetch,
  url: string,
  body: unknown,
  headers: Record<string, string>,
  timeoutMs: number,
): Promise<void> {
  const controller = new AbortController()
  const timer = setTimeout(() => controller.abort(), timeoutMs)
  try {
    const response = await fetchImpl(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify(body),
      signal: controller.signal,
    })
    if (!response.ok) throw new Error(`alert delivery to ${new URL(url).host} failed with HTTP ${response.status}`)
    await response.body?.cancel()
  } finally {
    clearTimeout(timer)
  }
}

/** A sink that `POST`s each alert as JSON (`{ event: 'threshold.crossed', scope, spend, ... }`) to a URL. */
/** The option names of each sink: unknown keys are refused (values keep their own checks below). */
function knownKeys(where: string, options: unknown, names: readonly string[]): void {
  parseOptions(
    where,
    z.object(Object.fromEntries([...DELIVERY_KEYS, ...names].map((n) => [n, z.unknown().optional()]))),
    options,
  )
}
const DELIVERY_KEYS = ['attempts', 'retryDelayMs', 'onError', 'onDelivered'] as const

export function webhookSink(options: WebhookSinkOptions): AlertSink {
  knownKeys('webhookSink()', options, ['url', 'headers', 'timeoutMs', 'fetch'])
  const url = checkUrl('url', options.url)
  const fetchImpl = options.fetch ?? globalThis.fetch
  if (typeof fetchImpl !== 'function') throw new BudgetConfigError('fetch', 'no global `fetch`; pass `fetch`')
  const timeoutMs = options.timeoutMs ?? 5000
  return deliverInBackground(options, (event) =>
    post(fetchImpl, url, alertPayload(event), options.headers ?? {}, timeoutMs),
  )
}

/** Options of {@link slackSink}. */
export interface SlackSinkOptions extends DeliveryOptions {
  /** Slack incoming-webhook URL. */
  webhookUrl: string
  /** Per-attempt timeout in ms. Default 5000. */
  timeoutMs?: number
  fetch?: typeof fetch
}

/** A sink that posts each alert as a message to a Slack incoming webhook. */
export function slackSink(options: SlackSinkOptions): AlertSink {
  knownKeys('slackSink()', options, ['webhookUrl', 'timeoutMs', 'fetch'])
  const url = checkUrl('webhookUrl', options.webhookUrl)
  const fetchImpl = options.fetch ?? globalThis.fetch
  if (typeof fetchImpl !== 'function') throw new BudgetConfigError('fetch', 'no global `fetch`; pass `fetch`')
  return deliverInBackground(options, (event) =>
    post(fetchImpl, url, { text: `:warning: ${alertText(event)}` }, {}, options.timeoutMs ?? 5000),
  )
}

/** Options of {@link emailSink}. */
export interface EmailSinkOptions extends DeliveryOptions {
  /** Sends one email (your SMTP client, SES, Resend, ...). */
  send: (message: { to: string[]; subject: string; text: string }) => Promise<unknown>
  /** Recipients. */
  to: string[]
}

/** A sink that emails each alert through your `send` function. */
export function emailSink(options: EmailSinkOptions): AlertSink {
  knownKeys('emailSink()', options, ['send', 'to'])
  if (typeof options.send !== 'function')
    throw new BudgetConfigError('send', '`send` must be a function `({ to, subject, text }) => Promise`')
  if (!Array.isArray(options.to) || options.to.length === 0)
    throw new BudgetConfigError('to', '`to` must list at least one recipient')
  return deliverInBackground(options, async (event) => {
    await options.send({ to: [...options.to], subject: `[llm-budget] ${event.scope}`, text: alertText(event) })
  })
}
