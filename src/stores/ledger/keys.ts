/**
 * Ledger keys: one per scope, window and unit, `|` separated and short, e.g. `t:search|mo:2026-11|usd` or
 * `u:alice|m:gpt-4o|d:2026-11-29|usd`. The window id is part of the key, so a new window starts from zero
 * with no reset job. Ids are percent-encoded where they contain `%`, `|`, `{`, `}` or spaces, so two
 * different scopes never share a key; an id whose encoded form is long is replaced by a 106-bit hash.
 *
 * @internal
 * @packageDocumentation
 */
import type { Scope, ScopeType } from '../../budget/scopes.js'

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

const UNSAFE = /[%|{} ]/g
const LONG_ID = 200

function cyrb53(text: string, seed: number): number {
  let h1 = 0xdeadbeef ^ seed
  let h2 = 0x41c6ce57 ^ seed
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i)
    h1 = Math.imul(h1 ^ ch, 2654435761)
    h2 = Math.imul(h2 ^ ch, 1597334677)
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909)
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909)
  return 4294967296 * (2097151 & h2) + (h1 >>> 0)
}

/** Key-safe form of an id. */
export function encodeId(id: string): string {
  const encoded = UNSAFE.test(id) ? id.replace(UNSAFE, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`) : id
  UNSAFE.lastIndex = 0
  if (encoded.length <= LONG_ID) return encoded
  return `#${cyrb53(id, 1).toString(36)}${cyrb53(id, 0x9e3779b9).toString(36)}`
}

/**
 * A string with the same characters in one flat piece. A string built with `+` or a template is a tree of pieces
 * (about 32 bytes per piece in V8) until something reads it whole; strings kept for long (keys, scope strings,
 * call ids a store remembers) are built by `join`, which writes one flat string.
 */
export function flatString(text: string): string {
  return text.length < 13 ? text : [text.slice(0, 1), text.slice(1)].join('')
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
