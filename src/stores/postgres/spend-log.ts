/**
 * A spend record as a row of `llm_budget_spend_logs`: the columns LiteLLM's `LiteLLM_SpendLogs` has (request id,
 * start and end, model, provider, tokens, spend, user, team, organization, hashed key, end user, tags, metadata,
 * status), taken from the record's numbers and ids. Records carry no prompt or response content, so neither does
 * the row.
 *
 * @internal
 * @packageDocumentation
 */
import { createHash } from 'node:crypto'
import { InvalidInputError } from '../../errors.js'
import type { JsonValue, SpendRecord } from '../types.js'

function objectOf(value: JsonValue | undefined): Record<string, JsonValue> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? value : {}
}

function text(value: JsonValue | undefined): string | null {
  return typeof value === 'string' ? value : null
}

function count(value: JsonValue | undefined): number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 ? value : 0
}

/** Years 1 to 9999, which both JavaScript dates and PostgreSQL timestamps hold. */
const MIN_TIME = -62_135_596_800_000
const MAX_TIME = 253_402_300_799_999

function timestamp(field: string, ms: number): string {
  if (!(ms >= MIN_TIME && ms <= MAX_TIME))
    throw new InvalidInputError(field, `\`${field}\` must be an instant in the years 1 to 9999, got ${ms}`)
  return new Date(ms).toISOString()
}

/** The USD amount of integer nano-USD, as an exact decimal string. */
function usd(nano: number): string {
  const whole = Math.floor(nano / 1e9)
  return `${whole}.${String(nano - whole * 1e9).padStart(9, '0')}`
}

/** The spend-log row of a record, every column but `record` (which the store sends as the record's own text). */
export function spendLogRow(record: SpendRecord): Record<string, JsonValue> {
  const context = objectOf(record.context)
  const usage = objectOf(record.usage)
  const key = text(context.key)
  const tags = Array.isArray(context.tags) ? context.tags.filter((t): t is string => typeof t === 'string') : []
  const input = count(usage.inputTokens)
  const output = count(usage.outputTokens)
  const nano = count(record.costNanoUsd)
  return {
    request_id: record.callId,
    start_time: timestamp('record.startedAt', record.startedAt),
    end_time: timestamp('record.endedAt', record.endedAt),
    ended_at_ms: record.endedAt,
    model: text(record.model),
    model_served: text(record.modelServed),
    provider: text(record.provider),
    prompt_tokens: input,
    completion_tokens: output,
    total_tokens: input + output,
    cache_read_tokens: count(usage.cacheReadTokens),
    cache_write_tokens: count(usage.cacheWriteTokens),
    spend: usd(nano),
    spend_nano_usd: nano,
    saved_nano_usd: count(record.savedNanoUsd),
    user: text(context.user),
    team_id: text(context.team),
    organization_id: text(context.org),
    // As LiteLLM does: the key's SHA-256, so the table can be joined on keys without holding them.
    api_key: key === null ? null : createHash('sha256').update(key).digest('hex'),
    end_user: text(context.endUser),
    deployment: text(context.deployment),
    request_tags: tags,
    metadata: objectOf(record.metadata),
    status: text(record.status),
    estimated: record.estimated === true,
    project: text(record.project),
  }
}
