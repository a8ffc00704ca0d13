/**
 * `llm-budget/alerts`: alert sinks (JSON webhook, Slack, email through your own send function), routing alerts per
 * scope pattern, and daily or weekly digests that go out once per period across instances.
 *
 * ```ts
 * import { routeAlerts, slackSink, subscribeAlerts } from 'llm-budget/alerts'
 * subscribeAlerts(budgets, routeAlerts([{ scopes: ['team:*'], sink: slackSink({ webhookUrl }) }]))
 * ```
 *
 * @packageDocumentation
 */
export { alertName, alertPayload, alertText, emailSink, slackSink, webhookSink } from './budget/alerts.js'
export type {
  AlertEvent,
  AlertSink,
  DeliveryOptions,
  EmailSinkOptions,
  SlackSinkOptions,
  WebhookSinkOptions,
} from './budget/alerts.js'
export { routeAlerts, subscribeAlerts } from './budget/alert-routing.js'
export type { AlertEventName, AlertRoute } from './budget/alert-routing.js'
export { buildDigest, digestHtml, digestPayload, digestSlackMessage, digestText, sendDigest } from './budget/digest.js'
export type { Digest, DigestEntry, DigestPeriod, SendDigestOptions } from './budget/digest.js'
