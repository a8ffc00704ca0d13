/**
 * The spend record of a commit: numbers and ids (never content), the call's context, the priced fields and the
 * project. Internal to the manager.
 *
 * @packageDocumentation
 */
import type { JsonValue, SpendRecord } from '../../stores/types.js'
import type { CallStatus } from '../manager-types.js'
import { type CallContext, EMPTY_METADATA } from '../scopes.js'

/** What a record is built from: the call and its priced commit. */
export interface RecordInput {
  callId: string
  context: CallContext
  startedAt: number
  priced: { nano: number; status: CallStatus; estimated: boolean; fields: Record<string, JsonValue>; plain: boolean }
  modelRequested: string | undefined
  estimateNano: number | null
  guarded: boolean
}

/** The spend record of a commit written at `now` costing `costText` USD. */
export function buildRecord(args: RecordInput, now: number, costText: string, projectName: string | null): SpendRecord {
  const { context, priced } = args
  const ctx = recordContext(context)
  const fields = priced.fields
  if (
    priced.plain &&
    fields.metadata !== undefined &&
    context.metadata === undefined &&
    args.estimateNano !== null &&
    args.guarded &&
    projectName === null
  )
    return plainRecord(args, now, costText, ctx, fields)
  const record: SpendRecord = {
    callId: args.callId,
    startedAt: args.startedAt,
    endedAt: Math.max(now, args.startedAt),
    model: args.modelRequested ?? null,
    modelServed: args.modelRequested ?? null,
    provider: context.provider ?? null,
    costNanoUsd: priced.nano,
    cost: costText,
    status: priced.status,
    estimated: priced.estimated,
    context: ctx,
  }
  const names = Object.keys(fields)
  for (let i = 0; i < names.length; i++) record[names[i]!] = fields[names[i]!]!
  if (context.metadata !== undefined)
    record.metadata = mergedMetadata(context.metadata, priced.fields.metadata as Record<string, JsonValue> | undefined)
  else if (isPlainObject(record.metadata)) record.metadata = frozenMetadata(record.metadata)
  if (args.estimateNano !== null) record.estimateNanoUsd = args.estimateNano
  if (projectName !== null) record.project = projectName
  if (!args.guarded) record.guarded = false
  return record
}

/**
 * {@link buildRecord} for the usual commit (a cost and no usage, with its metadata, a reservation's estimate, no
 * context metadata, guarded, no project name): the same fields in the same order, written in one object literal. Added one by one,
 * the fields past the literal's eleven would go to a second object (a property array), kept as long as the record.
 */
function plainRecord(
  args: RecordInput,
  now: number,
  costText: string,
  ctx: Record<string, JsonValue>,
  fields: Record<string, JsonValue>,
): SpendRecord {
  const { context, priced } = args
  const model = args.modelRequested ?? null
  const modelServed = fields.modelServed === undefined ? model : fields.modelServed
  const provider = fields.provider === undefined ? (context.provider ?? null) : fields.provider
  const endedAt = Math.max(now, args.startedAt)
  const record: SpendRecord = {
    callId: args.callId,
    startedAt: args.startedAt,
    endedAt,
    model,
    modelServed,
    provider,
    costNanoUsd: priced.nano,
    cost: costText,
    status: priced.status,
    estimated: priced.estimated,
    context: ctx,
    metadata: frozenMetadata(fields.metadata as Record<string, JsonValue>),
    priceSource: fields.priceSource!,
    estimateNanoUsd: args.estimateNano!,
  }
  if (!sameTail(record)) {
    const kept = lastTail
    kept.model = record.model
    kept.modelServed = record.modelServed
    kept.provider = record.provider
    kept.costNanoUsd = record.costNanoUsd
    kept.cost = record.cost
    kept.status = record.status
    kept.estimated = record.estimated
    kept.context = record.context
    kept.metadata = record.metadata
    kept.priceSource = record.priceSource
    kept.estimateNanoUsd = record.estimateNanoUsd
    lastTailToken = {}
  }
  lastPlain = record
  return record
}

/**
 * The fields after `endedAt` of the last plain record, as it was built (a copy: the record itself is handed to the
 * caller, who may change it), and the token of those values: a new object whenever one of them changes.
 */
const lastTail: Record<string, JsonValue | undefined> = {
  model: null,
  modelServed: null,
  provider: null,
  costNanoUsd: Number.NaN,
  cost: '',
  status: '',
  estimated: false,
  context: null,
  metadata: null,
  priceSource: '',
  estimateNanoUsd: Number.NaN,
}
let lastTailToken: object = {}
let lastPlain: SpendRecord | undefined

/**
 * Whether `record`'s fields after `endedAt` are those of {@link lastTail} (`Object.is`, as the record table compares).
 * Every field a plain record has must be compared here, or a token would stand for records that differ in it
 * (`test/budget/commit-record.test.ts` changes each field of a real record in turn). Exported for that test.
 */
export function sameTail(record: SpendRecord): boolean {
  const kept = lastTail
  return (
    Object.is(kept.model, record.model) &&
    Object.is(kept.modelServed, record.modelServed) &&
    Object.is(kept.provider, record.provider) &&
    Object.is(kept.costNanoUsd, record.costNanoUsd) &&
    Object.is(kept.cost, record.cost) &&
    Object.is(kept.status, record.status) &&
    Object.is(kept.estimated, record.estimated) &&
    Object.is(kept.context, record.context) &&
    Object.is(kept.metadata, record.metadata) &&
    Object.is(kept.priceSource, record.priceSource) &&
    Object.is(kept.estimateNanoUsd, record.estimateNanoUsd)
  )
}

/**
 * A token of the fields after `endedAt` of `record`, when it is the plain record last built and not changed since
 * (`undefined` otherwise): every plain record given the same token has the same fields after `endedAt`, in the same
 * order, with the same values (`Object.is`), so that the memory store's record table can share its kept tail
 * without comparing them (see `RecordTable.push`). Asked for by the commit right after building the record, before
 * any other code could change it.
 */
export function tailTokenOf(record: SpendRecord): object | undefined {
  return record === lastPlain ? lastTailToken : undefined
}

function isPlainObject(value: unknown): value is Record<string, JsonValue> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/** A record's `metadata`, frozen: the shared empty one is already. */
function frozenMetadata(metadata: Record<string, JsonValue>): Record<string, JsonValue> {
  return metadata === EMPTY_METADATA ? metadata : Object.freeze(metadata)
}

/** The merged `metadata` of the last commit with context metadata, and its keys in order. */
let lastMerged: Readonly<Record<string, JsonValue>> = EMPTY_METADATA
let lastMergedKeys: readonly string[] = []

/**
 * A record's `metadata` when the call's context has some: the context's entries, then the commit's over them, frozen;
 * the previous such record's object while the entries, their order and their values are the same (a static
 * withBudget context with metadata), so that records share it.
 */
function mergedMetadata(
  base: Readonly<Record<string, JsonValue>>,
  own: Readonly<Record<string, JsonValue>> | undefined,
): Record<string, JsonValue> {
  const extra = own ?? EMPTY_METADATA
  if (sameMerged(base, extra)) return lastMerged
  const merged = Object.freeze({ ...base, ...extra })
  lastMerged = merged
  lastMergedKeys = Object.keys(merged)
  return merged
}

/**
 * Whether `{ ...base, ...extra }` would have the last merged object's keys, in its order, and values. Both are
 * plain objects of validated metadata (own enumerable keys only, primitive values).
 */
function sameMerged(base: Readonly<Record<string, JsonValue>>, extra: Readonly<Record<string, JsonValue>>): boolean {
  const last = lastMerged
  const keys = lastMergedKeys
  let i = 0
  for (const key in base) {
    if (keys[i] !== key) return false
    const value = Object.hasOwn(extra, key) ? extra[key] : base[key]
    if (!Object.is(last[key], value)) return false
    i++
  }
  for (const key in extra) {
    if (Object.hasOwn(base, key)) continue
    if (keys[i] !== key || !Object.is(last[key], extra[key])) return false
    i++
  }
  return i === keys.length
}

/**
 * The record `context` of the last commit, kept while commits keep the same context fields (a static withBudget
 * context, a service's usual caller): records share it, frozen, instead of keeping one object each.
 */
let lastContext: Readonly<Record<string, JsonValue>> = Object.freeze({})
let lastTags: readonly string[] | undefined

/** The `context` field of a record: the call's scope ids, frozen, shared with the previous record when equal. */
function recordContext(context: CallContext): Record<string, JsonValue> {
  const last = lastContext
  if (
    last.user === context.user &&
    last.team === context.team &&
    last.org === context.org &&
    last.key === context.key &&
    last.endUser === context.endUser &&
    last.deployment === context.deployment &&
    sameTags(lastTags, context.tags)
  )
    return last
  const ctx: Record<string, JsonValue> = {}
  if (context.user !== undefined) ctx.user = context.user
  if (context.team !== undefined) ctx.team = context.team
  if (context.org !== undefined) ctx.org = context.org
  if (context.key !== undefined) ctx.key = context.key
  if (context.endUser !== undefined) ctx.endUser = context.endUser
  if (context.tags !== undefined) ctx.tags = Object.freeze([...context.tags]) as string[]
  if (context.deployment !== undefined) ctx.deployment = context.deployment
  lastContext = Object.freeze(ctx)
  lastTags = ctx.tags as readonly string[] | undefined
  return ctx
}

function sameTags(kept: readonly string[] | undefined, tags: readonly string[] | undefined): boolean {
  if (kept === undefined || tags === undefined) return kept === tags
  if (kept.length !== tags.length) return false
  for (let i = 0; i < kept.length; i++) if (kept[i] !== tags[i]) return false
  return true
}
