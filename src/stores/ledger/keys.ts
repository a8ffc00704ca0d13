/**
 * Ledger keys: one per scope, window and unit, `|` separated and short, e.g. `t:search|mo:2026-11|usd` or
 * `u:alice|m:gpt-4o|d:2026-11-29|usd`. The window id is part of the key, so a new window starts from zero
 * with no reset job.
 *
 * The id encoding is injective by construction, so two different scopes never share a key: ids are
 * percent-encoded where they contain `%`, `|`, `{`, `}`, `#` or spaces (`%7C`), and lone UTF-16 surrogates
 * (`%uD800`), so an encoded id never contains `#` and is well-formed text; an id whose encoded form is longer than
 * 200 characters becomes `#` followed by the SHA-256 of its encoded form. A
 * hashed form starts with the one character no encoded form contains, and two hashed forms are equal only for
 * equal ids (or a SHA-256 collision).
 *
 * @internal
 * @packageDocumentation
 */
import type { Scope, ScopeType } from '../../budget/scopes.js'
import { sha256Hex } from '../../internal/sha256.js'

/** The units a key counts. */
export type LedgerUnit = 'usd' | 'tok' | 'req' | 'par'

const TYPE_CODES: Record<ScopeType, string> = {
  global: 'g',
  org: 'o',
  team: 't',
  user: 'u',
  key: 'k',
  endUser: 'e',
  tag: 'tg',
  provider: 'p',
  deployment: 'd',
  model: 'm',
}

/** The characters that are escaped: the separators, `%` and `#` themselves, and lone UTF-16 surrogates. */
const UNSAFE = /[%|{} #]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g
const LONG_ID = 200

function escape(c: string): string {
  const code = c.charCodeAt(0)
  const hex = code.toString(16).toUpperCase()
  return code < 0x100 ? `%${hex.padStart(2, '0')}` : `%u${hex}`
}

/** Key-safe form of an id (injective: see the module comment). */
export function encodeId(id: string): string {
  const encoded = id.replace(UNSAFE, escape)
  if (encoded.length <= LONG_ID) return encoded
  // The encoded form is well-formed UTF-16 (lone surrogates are escaped), so its UTF-8 bytes are injective too.
  return `#${sha256Hex(encoded)}`
}

/**
 * A string with the same characters in one flat piece. A string built with `+` or a template is a tree of pieces
 * (about 32 bytes per piece in V8) until something reads it whole; strings kept for long (keys, scope strings,
 * call ids a store remembers) are built by `join`, which writes one flat string.
 */
export function flatString<T extends string>(text: T): T {
  return text.length < 13 ? text : ([text.slice(0, 1), text.slice(1)].join('') as T)
}

/** The key prefix of a scope: `t:search`. Computed once per compiled budget. */
export function scopePrefix(scope: Scope): string {
  return [TYPE_CODES[scope.type], ':', encodeId(scope.id)].join('')
}

/** The key prefix of a per-model limit inside a scope: `u:alice|m:gpt-4o`. */
export function modelPrefix(scopePrefixText: string, model: string): string {
  return [scopePrefixText, '|m:', encodeId(model)].join('')
}

/** A full ledger key (flat: it is kept by the store and by the compiled budget). `windowId` is `all` for a budget without a window. */
export function ledgerKey(prefix: string, windowId: string, unit: LedgerUnit): string {
  return [prefix, '|', windowId, '|', unit].join('')
}
