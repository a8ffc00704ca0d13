/**
 * Scopes (what a budget belongs to) and call contexts (what a call counts against).
 *
 * User strings are data, never object keys: ids like `__proto__` or `constructor` are ordinary ids, and
 * every lookup by id goes through a `Map`.
 *
 * @packageDocumentation
 */
import { InvalidInputError } from '../errors.js'
import type { BudgetRun } from './run.js'

/** Every scope type, in the order budgets are checked and reported. */
export const SCOPE_TYPES = [
  'global',
  'org',
  'team',
  'user',
  'key',
  'endUser',
  'tag',
  'provider',
  'deployment',
  'model',
] as const

/** A scope type: `global`, `org`, `team`, `user`, `key` (API key), `endUser`, `tag`, `provider`, `deployment`, `model`. */
export type ScopeType = (typeof SCOPE_TYPES)[number]

/** A scope in object form. The `global` scope's id is `global`. */
export interface Scope {
  type: ScopeType
  id: string
}

/**
 * A scope in string form: `'global'`, or `'<type>:<id>'` with one of the scope types, e.g. `'team:search'`.
 * A typo in the type (`'customer:42'`, `'users:7'`) is a compile error. For a string that arrives at run time
 * (from a request or a database), check it with {@link parseScope}, which throws a typed error.
 */
export type ScopeString = 'global' | `${ScopeType}:${string}`

/** A scope as accepted everywhere: `{ type, id }` or a {@link ScopeString} such as `'team:search'`. */
export type ScopeInput = Scope | ScopeString

/** Longest accepted id. */
export const MAX_ID_LENGTH = 256
/** Most tags on one call. */
export const MAX_TAGS = 32

const SCOPE_TYPE_SET: ReadonlySet<string> = new Set(SCOPE_TYPES)
// C0 and C1 control characters, DEL, and lone surrogates are refused in ids.
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const CONTROL = /[\u0000-\u001f\u007f-\u009f]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/u

function describe(value: unknown): string {
  if (typeof value === 'string')
    return value.length > 40 ? `a string of ${value.length} characters` : JSON.stringify(value)
  if (value === null) return 'null'
  return typeof value
}

/**
 * Checks an id: a string of 1 to 256 characters without control characters. Returns it unchanged.
 *
 * @throws InvalidInputError naming `field`.
 */
export function validateId(field: string, id: unknown): string {
  if (typeof id !== 'string' || id.length === 0 || id.length > MAX_ID_LENGTH) {
    throw new InvalidInputError(
      field,
      `\`${field}\` must be a string of 1 to ${MAX_ID_LENGTH} characters, got ${describe(id)}`,
    )
  }
  if (CONTROL.test(id)) {
    throw new InvalidInputError(field, `\`${field}\` must not contain control characters or unpaired surrogates`)
  }
  return id
}

function checkType(field: string, type: unknown): ScopeType {
  if (typeof type !== 'string' || !SCOPE_TYPE_SET.has(type)) {
    throw new InvalidInputError(field, `\`${field}\` must be one of ${SCOPE_TYPES.join(', ')}; got ${describe(type)}`)
  }
  return type as ScopeType
}

/**
 * Parses and validates a scope. `'team:search'` and `{ type: 'team', id: 'search' }` are the same scope; the
 * id is everything after the first `:` (so `'deployment:azure:eu'` has id `azure:eu`).
 *
 * @throws InvalidInputError for an unknown type or a bad id; nothing is changed.
 */
export function parseScope(input: ScopeInput | string | { type: string; id: string }, field = 'scope'): Scope {
  if (typeof input === 'string') {
    if (input === 'global') return { type: 'global', id: 'global' }
    const colon = input.indexOf(':')
    if (colon <= 0) {
      throw new InvalidInputError(
        field,
        `\`${field}\` must be written \`type:id\` (e.g. \`team:search\`) or \`{ type, id }\`, got ${describe(input)}`,
      )
    }
    const type = checkType(`${field}.type`, input.slice(0, colon))
    return { type, id: validateId(`${field}.id`, input.slice(colon + 1)) }
  }
  if (typeof input !== 'object' || input === null) {
    throw new InvalidInputError(
      field,
      `\`${field}\` must be \`{ type, id }\` or a \`type:id\` string, got ${describe(input)}`,
    )
  }
  const type = checkType(`${field}.type`, input.type)
  return { type, id: validateId(`${field}.id`, input.id) }
}

/** The canonical `type:id` string of a scope. */
export function scopeKey(scope: Scope): ScopeString {
  return `${scope.type}:${scope.id}`
}

/**
 * What a call counts against. Every field is optional; the call counts against the `global` budget (if one
 * exists) and every budget of the scopes named here, plus the per-model limits inside them.
 */
export interface CallContext {
  /** Internal user (LiteLLM's `user`). */
  user?: string | undefined
  /** Team. */
  team?: string | undefined
  /** Organisation. */
  org?: string | undefined
  /** API key (or its id). */
  key?: string | undefined
  /** The end user of your application (LiteLLM's `end_user`). */
  endUser?: string | undefined
  /** Tags, each a `tag` scope. At most 32. */
  tags?: readonly string[] | undefined
  /** Model requested. Counts against `model:<name>` budgets and `modelMaxBudget` limits. */
  model?: string | undefined
  /** Provider (LiteLLM names: `openai`, `anthropic`, ...). */
  provider?: string | undefined
  /** Deployment (e.g. an Azure deployment name). */
  deployment?: string | undefined
  /** Your own numbers and ids for the spend record (never prompt or response content). */
  metadata?: Record<string, string | number | boolean | null> | undefined
  /**
   * A run budget (`manager.run()`) the call also draws on. Only needed where there is no `AsyncLocalStorage`:
   * elsewhere calls made inside the run's function find it by themselves.
   */
  run?: BudgetRun | undefined
}

/** A validated context, with its scopes listed once each. */
export interface ResolvedContext {
  context: CallContext
  /** Scopes the call counts against, `global` first, deduplicated. */
  scopes: Scope[]
  /** The scopes in `type:id` form, same order. */
  keys: ScopeString[]
  /** The all-time ledger keys of `scopes`, kept once computed for a context resolved once and used for many calls. */
  tracked?: readonly string[] | undefined
  /** The manager's plan for calls in this context, kept while it is still their plan (`manager/plan-memo.ts`). */
  plan?: object | undefined
}

const CONTEXT_FIELDS: ReadonlyArray<readonly [keyof CallContext, ScopeType]> = [
  ['org', 'org'],
  ['team', 'team'],
  ['user', 'user'],
  ['key', 'key'],
  ['endUser', 'endUser'],
  ['provider', 'provider'],
  ['deployment', 'deployment'],
  ['model', 'model'],
]
const KNOWN_FIELDS: ReadonlySet<string> = new Set([
  'user',
  'team',
  'org',
  'key',
  'endUser',
  'tags',
  'model',
  'provider',
  'deployment',
  'metadata',
  'run',
])
const GLOBAL: Scope = Object.freeze({ type: 'global', id: 'global' }) as Scope

/**
 * Validates a call context and lists its scopes. Unknown fields are refused (a typo such as `users` would
 * otherwise silently skip a budget).
 *
 * @throws InvalidInputError naming the field.
 */
export function resolveContext(input: unknown, field = 'context'): ResolvedContext {
  if (input === undefined || input === null) return { context: {}, scopes: [GLOBAL], keys: ['global:global'] }
  if (typeof input !== 'object' || Array.isArray(input)) {
    throw new InvalidInputError(
      field,
      `\`${field}\` must be an object such as \`{ user: 'alice', team: 'search' }\`, got ${describe(input)}`,
    )
  }
  const record = input as Record<string, unknown>
  for (const name of Object.keys(record)) {
    if (!KNOWN_FIELDS.has(name)) {
      throw new InvalidInputError(
        `${field}.${name.slice(0, 40)}`,
        `\`${field}\` has an unknown field ${describe(name)}; known fields: ${[...KNOWN_FIELDS].join(', ')}`,
      )
    }
  }
  const context: CallContext = {}
  const scopes: Scope[] = [GLOBAL]
  const keys: ScopeString[] = ['global:global']
  for (const [name, type] of CONTEXT_FIELDS) {
    const value = record[name]
    if (value === undefined) continue
    const id = validateId(`${field}.${name}`, value)
    ;(context as Record<string, unknown>)[name] = id
    scopes.push({ type, id })
    keys.push(`${type}:${id}`)
  }
  const tags = record.tags
  if (tags !== undefined) {
    if (!Array.isArray(tags) || tags.length > MAX_TAGS) {
      throw new InvalidInputError(`${field}.tags`, `\`${field}.tags\` must be an array of at most ${MAX_TAGS} strings`)
    }
    const seen = new Set<string>()
    const list: string[] = []
    for (let i = 0; i < tags.length; i++) {
      const tag = validateId(`${field}.tags[${i}]`, tags[i])
      if (seen.has(tag)) continue
      seen.add(tag)
      list.push(tag)
      scopes.push({ type: 'tag', id: tag })
      keys.push(`tag:${tag}`)
    }
    context.tags = list
  }
  const metadata = record.metadata
  if (metadata !== undefined) context.metadata = validateMetadata(`${field}.metadata`, metadata)
  // Checked against the manager's store when the call is planned (run.ts).
  if (record.run !== undefined) context.run = record.run as BudgetRun
  return { context, scopes, keys }
}

/** Most keys in a metadata object. */
const MAX_METADATA_KEYS = 32
/** Longest metadata string value. */
const MAX_METADATA_STRING = 1024

/** The `metadata` of a spend record without any: one frozen empty object shared by all of them. */
export const EMPTY_METADATA: Readonly<Record<string, never>> = Object.freeze({})

/**
 * Validates flat metadata: at most 32 keys, values strings (<= 1024 characters), finite numbers, booleans or
 * null. Returns a fresh copy with a null prototype-free plain object built from validated entries, or `empty`
 * itself (when given) for an object without entries.
 */
export function validateMetadata(
  field: string,
  value: unknown,
  empty?: Readonly<Record<string, never>>,
): Record<string, string | number | boolean | null> {
  // The shared empty object (a settled call without metadata passes it): no entries to read.
  if (value === EMPTY_METADATA && empty !== undefined) return empty
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new InvalidInputError(field, `\`${field}\` must be a flat object of strings, numbers, booleans or null`)
  }
  const entries = Object.entries(value as Record<string, unknown>)
  if (entries.length > MAX_METADATA_KEYS)
    throw new InvalidInputError(
      field,
      `\`${field}\` has ${entries.length} keys; at most ${MAX_METADATA_KEYS} are allowed`,
    )
  if (entries.length === 0 && empty !== undefined) return empty
  const out: Record<string, string | number | boolean | null> = {}
  for (const [key, item] of entries) {
    validateId(`${field} key`, key)
    const ok =
      item === null ||
      typeof item === 'boolean' ||
      (typeof item === 'number' && Number.isFinite(item)) ||
      (typeof item === 'string' && item.length <= MAX_METADATA_STRING)
    if (!ok)
      throw new InvalidInputError(
        `${field}.${key.slice(0, 40)}`,
        `\`${field}.${key.slice(0, 40)}\` must be a string of at most ${MAX_METADATA_STRING} characters, a finite number, a boolean or null`,
      )
    Object.defineProperty(out, key, { value: item, enumerable: true, writable: true, configurable: true })
  }
  return out
}

/**
 * The user id of a LiteLLM-style `user` argument: `'erin'` and `'user:erin'` are the same user. A string that starts
 * with another scope type (`'team:search'`) is refused rather than read as a user of that name; a user whose id
 * starts that way is written `'user:team:search'`.
 *
 * @throws InvalidInputError naming `field`.
 */
export function parseUser(field: string, input: unknown): string {
  const id = validateId(field, input)
  if (id.startsWith('user:')) return validateId(field, id.slice(5))
  const colon = id.indexOf(':')
  if (colon > 0 && SCOPE_TYPE_SET.has(id.slice(0, colon))) {
    throw new InvalidInputError(
      field,
      `\`${field}\` names a user (\`erin\` or \`user:erin\`), got the ${id.slice(0, colon)} scope ${describe(id)}; use getStatus() for other scopes, or prefix \`user:\` when the user id itself contains a colon`,
    )
  }
  return id
}
