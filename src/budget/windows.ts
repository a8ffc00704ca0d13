/**
 * Budget windows: which stretch of time a budget's spend is counted in.
 *
 * - Calendar durations (`daily`, `weekly`, `monthly`, `yearly`) align to local midnight, the week start,
 *   the 1st of the month and 1 January in the budget's IANA time zone, DST-correct.
 * - Rolling durations use LiteLLM's grammar `<n><unit>`: `s`, `m`, `h`, `d`, `w` are fixed lengths of
 *   elapsed time (`1d` is always 24 hours); `mo` and `y` are calendar months and years counted from the
 *   anchor in the budget's time zone, each boundary computed from the anchor (never chained).
 *
 * A window has a short deterministic `id` that goes into the ledger key, so a new window starts from zero
 * by itself: no reset job, no cron.
 *
 * The functions here are pure (no clock, no I/O, no `node:` imports). {@link windowAt} keeps the last
 * window per spec, so repeated calls inside one window cost a map lookup and two comparisons.
 *
 * @packageDocumentation
 */
import { z } from 'zod'
import { BudgetConfigError } from '../errors.js'
import {
  isKnownZone,
  loadZone,
  mod,
  resolveWall as resolveWallCached,
  searchWall,
  wallMs,
  zoneOffset,
} from './zones.js'

/** A calendar duration: windows align to local midnight, the week start, the 1st of the month or 1 January. */
export type CalendarDuration = 'daily' | 'weekly' | 'monthly' | 'yearly'

/**
 * A rolling duration in LiteLLM's grammar, `<n><unit>`: `30s`, `15m`, `1h`, `7d`, `2w`, `1mo`, `1y`. The type
 * catches a wrong unit (`'1month'`, `'month'`) in the editor; the count (a whole number from 1 to 10,000) is
 * checked at run time.
 */
export type RollingDuration = `${number}${'s' | 'm' | 'h' | 'd' | 'w' | 'mo' | 'y'}`

/** A budget duration as written in a definition: {@link CalendarDuration} or {@link RollingDuration}. */
export type Duration = CalendarDuration | RollingDuration

/** A parsed duration. */
export type WindowDuration =
  | { kind: 'calendar'; unit: 'daily' | 'weekly' | 'monthly' | 'yearly' }
  | { kind: 'rolling'; count: number; unit: 's' | 'm' | 'h' | 'd' | 'w' | 'mo' | 'y' }

/** What a budget's window is made of. */
export interface WindowSpec {
  /**
   * `'daily' | 'weekly' | 'monthly' | 'yearly'` (calendar) or `'<n><unit>'` (rolling, LiteLLM grammar:
   * `30s`, `15m`, `1h`, `7d`, `2w`, `1mo`, `1y`), or an already parsed {@link WindowDuration}.
   */
  duration: string | WindowDuration
  /** IANA time zone, e.g. `'Europe/Berlin'`. Default `'UTC'`. */
  timezone?: string
  /** First day of a `weekly` window: 0 = Sunday ... 6 = Saturday. Default 1 (Monday). */
  weekStartsOn?: 0 | 1 | 2 | 3 | 4 | 5 | 6
  /** Epoch milliseconds that rolling windows are anchored at (usually the budget's creation). Default 0. */
  anchor?: number
}

/** One window: `[start, end)` in epoch milliseconds, with a deterministic id for ledger keys. */
export interface BudgetWindow {
  /**
   * Short, stable id: the same spec and any instant inside the window give the same id on every machine.
   * Contains no `|` and no whitespace. Calendar: `d2026-11-29`, `w2026-11-23` (the week's first day),
   * `m2026-11`, `y2026` (local dates in the spec's zone). Rolling: `r<n><unit>-<start in base 36>`,
   * e.g. `r1h-mhx3c5c0`.
   */
  id: string
  /** Epoch milliseconds, inclusive. */
  start: number
  /** Epoch milliseconds, exclusive; the moment the budget resets (`resetsAt`). */
  end: number
}

/** Largest `<n>` accepted in a rolling duration. */
export const MAX_DURATION_COUNT = 10_000

/** Earliest accepted `now` / `anchor`: 0001-01-01T00:00:00.000Z. */
export const MIN_WINDOW_INSTANT = -62_135_596_800_000
/** Latest accepted `now` / `anchor`: 9999-12-31T23:59:59.999Z. */
export const MAX_WINDOW_INSTANT = 253_402_300_799_999

const SECOND = 1000
const MINUTE = 60 * SECOND
const HOUR = 60 * MINUTE
const DAY = 24 * HOUR

const FIXED_UNIT_MS = { s: SECOND, m: MINUTE, h: HOUR, d: DAY, w: 7 * DAY } as const
const CALENDAR_UNITS = ['daily', 'weekly', 'monthly', 'yearly'] as const
const ROLLING_UNITS = ['s', 'm', 'h', 'd', 'w', 'mo', 'y'] as const

const GRAMMAR =
  "'daily', 'weekly', 'monthly', 'yearly' (calendar) or '<n><unit>' (rolling) with <n> a whole number from 1 to " +
  `${MAX_DURATION_COUNT} and <unit> one of s (seconds), m (minutes), h (hours), d (days of 24 hours), ` +
  "w (weeks), mo (calendar months), y (calendar years), e.g. '30s', '1h', '7d', '2w', '1mo', '1y'"

// ---------------------------------------------------------------------------------------------------------
// Parsing and validation
// ---------------------------------------------------------------------------------------------------------

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 60 ? `${value.slice(0, 60)}...` : value)
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value)
  if (value === null) return 'null'
  if (value === undefined) return 'undefined'
  return Array.isArray(value) ? 'an array' : `a ${typeof value}`
}

const UNIT_WORDS: Record<string, (typeof ROLLING_UNITS)[number]> = {
  s: 's',
  sec: 's',
  secs: 's',
  second: 's',
  seconds: 's',
  m: 'm',
  min: 'm',
  mins: 'm',
  minute: 'm',
  minutes: 'm',
  h: 'h',
  hr: 'h',
  hrs: 'h',
  hour: 'h',
  hours: 'h',
  d: 'd',
  day: 'd',
  days: 'd',
  w: 'w',
  wk: 'w',
  wks: 'w',
  week: 'w',
  weeks: 'w',
  mo: 'mo',
  mon: 'mo',
  mos: 'mo',
  month: 'mo',
  months: 'mo',
  y: 'y',
  yr: 'y',
  yrs: 'y',
  year: 'y',
  years: 'y',
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i)
  for (let i = 1; i <= a.length; i++) {
    let diagonal = row[0] ?? 0
    row[0] = i
    for (let j = 1; j <= b.length; j++) {
      const above = row[j] ?? 0
      row[j] = Math.min(above + 1, (row[j - 1] ?? 0) + 1, diagonal + (a[i - 1] === b[j - 1] ? 0 : 1))
      diagonal = above
    }
  }
  return row[b.length] ?? 0
}

function suggestion(input: string): string {
  const lower = input.trim().toLowerCase()
  const calendar = CALENDAR_UNITS.find((unit) => editDistance(lower, unit) <= 2)
  if (calendar !== undefined && lower !== calendar) return ` Did you mean '${calendar}'?`
  if (lower !== input && (CALENDAR_UNITS as readonly string[]).includes(lower)) return ` Did you mean '${lower}'?`
  const upper = /^(\d+)M$/.exec(input.trim())
  if (upper !== null) return ` Units are lower case: '${upper[1]}mo' is months, '${upper[1]}m' is minutes.`
  if (/^-\d/.test(lower)) return ' The count must be positive.'
  const match = /^(\d+(?:\.\d+)?)\s*([a-z]+)$/.exec(lower)
  if (match !== null) {
    const unit = UNIT_WORDS[match[2] ?? '']
    const count = Number(match[1])
    if (unit !== undefined && Number.isInteger(count) && count >= 1 && count <= MAX_DURATION_COUNT) {
      if (`${count}${unit}` !== input) return ` Did you mean '${count}${unit}'?`
    }
    if (unit !== undefined && !Number.isInteger(count)) {
      return ' Fractions are not accepted: use a whole number of a smaller unit (e.g. 90m instead of 1.5h).'
    }
  }
  return ''
}

/**
 * Parses a duration string.
 *
 * @param input - `'daily' | 'weekly' | 'monthly' | 'yearly'` or `'<n><unit>'` (`30s`, `15m`, `1h`, `7d`,
 *   `2w`, `1mo`, `1y`), exactly as written: no spaces, lower case, `<n>` a whole number 1..10,000.
 * @returns The parsed {@link WindowDuration}.
 * @throws BudgetConfigError (field `duration`) for anything else; never a silent default.
 *
 * @example
 * parseDuration('monthly') // { kind: 'calendar', unit: 'monthly' }
 * parseDuration('30d')     // { kind: 'rolling', count: 30, unit: 'd' }
 */
export function parseDuration(input: string): WindowDuration {
  const cached = parsedDurations.get(input)
  if (cached !== undefined) return { ...cached } as WindowDuration
  if (typeof input !== 'string') {
    throw new BudgetConfigError('duration', `\`duration\` must be a string, got ${describe(input)}. Use ${GRAMMAR}.`)
  }
  let parsed: WindowDuration
  if ((CALENDAR_UNITS as readonly string[]).includes(input)) {
    parsed = { kind: 'calendar', unit: input as (typeof CALENDAR_UNITS)[number] }
  } else {
    const match = /^(\d+)(s|m|h|d|w|mo|y)$/.exec(input)
    if (match === null) {
      throw new BudgetConfigError(
        'duration',
        `\`duration\` ${describe(input)} is not a duration.${suggestion(input)} Use ${GRAMMAR}.`,
      )
    }
    const digits = match[1] ?? ''
    const count = Number(digits)
    if (count < 1 || count > MAX_DURATION_COUNT || digits.startsWith('0')) {
      throw new BudgetConfigError(
        'duration',
        `\`duration\` ${describe(input)} has count ${digits}; the count must be a whole number from 1 to ${MAX_DURATION_COUNT} without leading zeros. Use ${GRAMMAR}.`,
      )
    }
    parsed = { kind: 'rolling', count, unit: match[2] as (typeof ROLLING_UNITS)[number] }
  }
  remember(parsedDurations, input, Object.freeze(parsed))
  return { ...parsed }
}
const parsedDurations = new Map<string, Readonly<WindowDuration>>()

/** Entries kept per content-keyed cache; the oldest entry goes first. */
const CACHE_LIMIT = 10_000

function remember<V>(cache: Map<string, V>, key: string, value: V): void {
  if (cache.size >= CACHE_LIMIT) {
    const oldest = cache.keys().next()
    if (oldest.done !== true) cache.delete(oldest.value)
  }
  cache.set(key, value)
}

const durationObjectSchema = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('calendar'), unit: z.enum(CALENDAR_UNITS) }),
  z.strictObject({
    kind: z.literal('rolling'),
    count: z.number().int().min(1).max(MAX_DURATION_COUNT),
    unit: z.enum(ROLLING_UNITS),
  }),
])

function toDuration(value: unknown): WindowDuration {
  if (typeof value === 'string') return parseDuration(value)
  const result = durationObjectSchema.safeParse(value)
  if (!result.success) {
    const problems = result.error.issues
      .map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`)
      .join('; ')
    throw new BudgetConfigError(
      'duration',
      `\`duration\` ${describe(value)} is not a valid duration (${problems}). Pass a string (${GRAMMAR}) or { kind: 'calendar', unit } / { kind: 'rolling', count, unit }.`,
    )
  }
  return result.data
}

/**
 * Checks that `zone` is an IANA time zone this runtime knows (e.g. `'UTC'`, `'Europe/Berlin'`).
 *
 * @returns `zone`, unchanged.
 * @throws BudgetConfigError (field `timezone`) for an unknown zone, an empty string or a non-string.
 */
export function validateTimezone(zone: string): string {
  if (typeof zone === 'string' && isKnownZone(zone)) return zone
  const fix = "Use an IANA time zone name such as 'UTC', 'Europe/Berlin' or 'America/New_York'."
  if (typeof zone !== 'string' || zone.length === 0 || zone.length > 100 || zone.trim() !== zone) {
    throw new BudgetConfigError('timezone', `\`timezone\` must be a time zone name, got ${describe(zone)}. ${fix}`)
  }
  try {
    loadZone(zone)
  } catch (error) {
    throw new BudgetConfigError('timezone', `\`timezone\` ${describe(zone)} is not a known time zone. ${fix}`, {
      cause: error,
    })
  }
  return zone
}

function checkInstant(field: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw new BudgetConfigError(
      field,
      `\`${field}\` must be a finite number of epoch milliseconds, got ${describe(value)}.`,
    )
  }
  if (value < MIN_WINDOW_INSTANT || value > MAX_WINDOW_INSTANT) {
    throw new BudgetConfigError(
      field,
      `\`${field}\` must be between ${MIN_WINDOW_INSTANT} (year 1) and ${MAX_WINDOW_INSTANT} (year 9999) epoch milliseconds, got ${value}.`,
    )
  }
  return value
}

// ---------------------------------------------------------------------------------------------------------
// Windows
// ---------------------------------------------------------------------------------------------------------

interface ResolvedSpec {
  duration: WindowDuration
  zone: string
  weekStartsOn: number
  anchor: number
  /** Last window computed for this spec (shared by every spec object with the same content). */
  last: BudgetWindow | undefined
  /** The spec object of the previous call that went through the content-keyed cache. */
  lastObject: object | undefined
}

function pad(value: number, width: number): string {
  return String(value).padStart(width, '0')
}

function ymd(wall: number): string {
  const date = new Date(wall)
  return `${pad(date.getUTCFullYear(), 4)}-${pad(date.getUTCMonth() + 1, 2)}-${pad(date.getUTCDate(), 2)}`
}

function isLeapYear(year: number): boolean {
  return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0
}

const MONTH_DAYS = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]

function daysInMonth(year: number, month: number): number {
  return month === 1 && isLeapYear(year) ? 29 : (MONTH_DAYS[month] ?? 31)
}

/** Window of a sequence of boundaries `boundary(p)`, non-decreasing in p; finds p with b(p) <= now < b(p+1). */
function locate(
  now: number,
  initial: number,
  boundary: (p: number) => number,
  id: (p: number, start: number) => string,
): BudgetWindow {
  let p = initial
  let start = boundary(p)
  while (now < start) {
    p -= 1
    start = boundary(p)
  }
  let end = boundary(p + 1)
  while (now >= end) {
    p += 1
    start = end
    end = boundary(p + 1)
  }
  return Object.freeze({ id: id(p, start), start, end })
}

function compute(spec: ResolvedSpec, now: number, resolveWall = resolveWallCached): BudgetWindow {
  const { duration, zone } = spec
  if (duration.kind === 'rolling') {
    const prefix = `r${duration.count}${duration.unit}-`
    if (duration.unit !== 'mo' && duration.unit !== 'y') {
      const length = duration.count * FIXED_UNIT_MS[duration.unit]
      const start = spec.anchor + Math.floor((now - spec.anchor) / length) * length
      return Object.freeze({ id: prefix + start.toString(36), start, end: start + length })
    }
    // Calendar months/years from the anchor's local wall time, each boundary computed from the anchor.
    const stepMonths = duration.unit === 'mo' ? duration.count : duration.count * 12
    const anchorWall = new Date(spec.anchor + zoneOffset(zone, spec.anchor))
    const anchorYear = anchorWall.getUTCFullYear()
    const anchorMonths = anchorYear * 12 + anchorWall.getUTCMonth()
    const anchorDay = anchorWall.getUTCDate()
    const timeOfDay = anchorWall.getTime() - wallMs(anchorYear, anchorWall.getUTCMonth(), anchorDay)
    const boundary = (k: number): number => {
      const months = anchorMonths + k * stepMonths
      const year = Math.floor(months / 12)
      const month = mod(months, 12)
      return resolveWall(zone, wallMs(year, month, Math.min(anchorDay, daysInMonth(year, month))) + timeOfDay)
    }
    const nowWall = new Date(now + zoneOffset(zone, now))
    const initial = Math.floor((nowWall.getUTCFullYear() * 12 + nowWall.getUTCMonth() - anchorMonths) / stepMonths)
    return locate(now, initial, boundary, (_k, start) => prefix + start.toString(36))
  }
  const nowWall = now + zoneOffset(zone, now)
  switch (duration.unit) {
    case 'daily':
      return locate(
        now,
        Math.floor(nowWall / DAY),
        (p) => resolveWall(zone, p * DAY),
        (p) => `d${ymd(p * DAY)}`,
      )
    case 'weekly': {
      // p counts weeks; week p starts on day 7p + offset, where 1970-01-01 (day 0) was a Thursday.
      const firstDay = mod(spec.weekStartsOn - 4, 7)
      const initial = Math.floor((Math.floor(nowWall / DAY) - firstDay) / 7)
      const wall = (p: number): number => (p * 7 + firstDay) * DAY
      return locate(
        now,
        initial,
        (p) => resolveWall(zone, wall(p)),
        (p) => `w${ymd(wall(p))}`,
      )
    }
    case 'monthly': {
      const date = new Date(nowWall)
      const wall = (p: number): number => wallMs(Math.floor(p / 12), mod(p, 12), 1)
      return locate(
        now,
        date.getUTCFullYear() * 12 + date.getUTCMonth(),
        (p) => resolveWall(zone, wall(p)),
        (p) => `m${ymd(wall(p)).slice(0, -3)}`,
      )
    }
    case 'yearly':
      return locate(
        now,
        new Date(nowWall).getUTCFullYear(),
        (p) => resolveWall(zone, wallMs(p, 0, 1)),
        (p) => `y${pad(p, 4)}`,
      )
  }
}

const resolvedSpecs = new Map<string, ResolvedSpec>()

function resolveSpec(spec: WindowSpec): ResolvedSpec {
  if (typeof spec !== 'object' || spec === null) {
    throw new BudgetConfigError('window', `A window spec must be an object with \`duration\`, got ${describe(spec)}.`)
  }
  const { duration: input, timezone, weekStartsOn, anchor } = spec
  const durationKey =
    typeof input === 'string'
      ? input
      : typeof input === 'object' && input !== null
        ? `${String(input.kind)}:${String((input as { count?: unknown }).count)}:${String(input.unit)}`
        : `?${describe(input)}`
  const key = `${durationKey}|${String(timezone)}|${String(weekStartsOn)}|${String(anchor)}`
  const known = resolvedSpecs.get(key)
  if (known !== undefined) return known
  const duration = toDuration(input)
  const zone = timezone === undefined ? 'UTC' : validateTimezone(timezone)
  if (weekStartsOn !== undefined && !(Number.isInteger(weekStartsOn) && weekStartsOn >= 0 && weekStartsOn <= 6)) {
    throw new BudgetConfigError(
      'weekStartsOn',
      `\`weekStartsOn\` must be an integer from 0 (Sunday) to 6 (Saturday), got ${describe(weekStartsOn)}.`,
    )
  }
  const resolved: ResolvedSpec = {
    duration,
    zone,
    weekStartsOn: weekStartsOn ?? 1,
    anchor: anchor === undefined ? 0 : checkInstant('anchor', anchor),
    last: undefined,
    lastObject: undefined,
  }
  remember(resolvedSpecs, key, resolved)
  return resolved
}

/** Per spec object: the inputs it had when cached (to notice mutation) and its last window. */
interface SpecCacheEntry {
  duration: WindowSpec['duration']
  kind: string
  unit: string
  count: number | undefined
  timezone: string | undefined
  weekStartsOn: number | undefined
  anchor: number | undefined
  start: number
  end: number
  window: BudgetWindow
}

const bySpecObject = new WeakMap<object, SpecCacheEntry>()

function stillMatches(entry: SpecCacheEntry, spec: WindowSpec): boolean {
  const duration = spec.duration
  if (duration !== entry.duration || spec.timezone !== entry.timezone) return false
  if (spec.weekStartsOn !== entry.weekStartsOn || spec.anchor !== entry.anchor) return false
  if (typeof duration === 'string') return true
  return (
    duration.kind === entry.kind &&
    duration.unit === entry.unit &&
    (duration as { count?: number }).count === entry.count
  )
}

/**
 * The window of `spec` that contains the instant `now`.
 *
 * Fast when called repeatedly with the same spec: the last window per spec is kept, and an instant inside
 * it is answered without any time-zone work.
 *
 * @param spec - Duration, time zone, week start and anchor.
 * @param now - Epoch milliseconds (finite, years 1..9999). Instants before the anchor work too.
 * @returns A frozen {@link BudgetWindow} with `start <= now < end`.
 * @throws BudgetConfigError naming the field (`duration`, `timezone`, `weekStartsOn`, `anchor`, `now`).
 *
 * @example
 * windowAt({ duration: 'monthly', timezone: 'Europe/Berlin' }, Date.parse('2026-11-29T12:00:00Z'))
 * // { id: 'm2026-11', start: Date.parse('2026-10-31T23:00:00Z'), end: Date.parse('2026-11-30T23:00:00Z') }
 */
export function windowAt(spec: WindowSpec, now: number): BudgetWindow {
  let entry: SpecCacheEntry | undefined
  if (typeof now === 'number' && typeof spec === 'object' && spec !== null) {
    entry = bySpecObject.get(spec)
    if (entry !== undefined && now >= entry.start && now < entry.end && stillMatches(entry, spec)) return entry.window
  }
  const resolved = resolveSpec(spec)
  checkInstant('now', now)
  let window = resolved.last
  if (window === undefined || now < window.start || now >= window.end) {
    window = compute(resolved, now)
    resolved.last = window
  }
  // Spec objects enter the per-object cache when they come back: callers that build a fresh spec object for
  // every call use the content-keyed cache only and never pay for a WeakMap insert.
  if (entry === undefined && resolved.lastObject !== spec) {
    resolved.lastObject = spec
    return window
  }
  const duration = spec.duration
  bySpecObject.set(spec, {
    duration,
    kind: typeof duration === 'string' ? '' : duration.kind,
    unit: typeof duration === 'string' ? '' : duration.unit,
    count: typeof duration === 'string' ? undefined : (duration as { count?: number }).count,
    timezone: spec.timezone,
    weekStartsOn: spec.weekStartsOn,
    anchor: spec.anchor,
    start: window.start,
    end: window.end,
    window,
  })
  return window
}

/**
 * The same as {@link windowAt}, computed from scratch without reading or writing any cache. Slower; meant
 * for tests and diagnostics.
 */
export function windowAtUncached(spec: WindowSpec, now: number): BudgetWindow {
  const resolved = resolveSpec(spec)
  return compute({ ...resolved, last: undefined, lastObject: undefined }, checkInstant('now', now), searchWall)
}

/**
 * The window right after `window`: the one that starts at `window.end`.
 *
 * @param spec - The spec `window` came from.
 * @param window - A window of `spec` (only its `end` is used).
 * @returns The next window; `nextWindow(spec, w).start === w.end`.
 * @throws BudgetConfigError for an invalid spec or a `window.end` that is not a valid instant.
 */
export function nextWindow(spec: WindowSpec, window: BudgetWindow): BudgetWindow {
  if (typeof window !== 'object' || window === null) {
    throw new BudgetConfigError('window', `\`window\` must be a window ({ id, start, end }), got ${describe(window)}.`)
  }
  return windowAt(spec, checkInstant('window.end', window.end))
}

/**
 * The canonical string form of a duration (`'monthly'`, `'30d'`), e.g. for error messages and status.
 *
 * @throws BudgetConfigError (field `duration`) for an invalid duration.
 */
export function formatDuration(duration: string | WindowDuration): string {
  const parsed = toDuration(duration)
  return parsed.kind === 'calendar' ? parsed.unit : `${parsed.count}${parsed.unit}`
}
