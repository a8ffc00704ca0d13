/**
 * Time-zone arithmetic for budget windows: the offset of an IANA zone at an instant, and the instant of a local
 * wall time. Local wall times are represented as "wall milliseconds": the epoch milliseconds the wall-clock reading
 * would have in UTC.
 *
 * Offsets come from `Intl.DateTimeFormat` (en-US, h23, one cached formatter per zone), read from the text of
 * `format()` rather than from `formatToParts()`, which allocates an object per part and costs about five times as
 * much. The order of the numbers in that text is learned once per zone from `formatToParts()`, so the parse does not
 * depend on the locale data's layout (see docs/decisions/0010).
 *
 * Internal: not part of the package's public surface.
 */

const SECOND = 1000
const HOUR = 3_600_000
/** 400 Gregorian years are exactly 146,097 days: the calendar repeats. */
const FOUR_CENTURIES = 146_097 * 86_400_000

/** tzdb has no transitions before 1800; Intl may misbehave for far dates, so offsets are looked up inside. */
const OFFSET_LOOKUP_MIN = -5_364_662_400_000 // 1800-01-01T00:00:00Z
const OFFSET_LOOKUP_MAX = 253_402_300_799_999 // 9999-12-31T23:59:59.999Z

/** Part types of the formatter, in the order `fields` holds them. */
const FIELD_TYPES = ['year', 'month', 'day', 'hour', 'minute', 'second'] as const

interface Zone {
  formatter: Intl.DateTimeFormat
  /**
   * For the n-th number in the formatter's text, the index in {@link FIELD_TYPES} of the field it is; undefined
   * when the text is not exactly those six numbers separated by non-digits (then `formatToParts` is read).
   */
  order: number[] | undefined
  /** Instants of wall times already resolved in this zone (see {@link resolveWall}). */
  resolved: Map<number, number>
}

const zones = new Map<string, Zone>()

/** Numbers of the last parsed text, in {@link FIELD_TYPES} order (reused: the arithmetic here is synchronous). */
const fields = [0, 0, 0, 0, 0, 0]

function learnOrder(formatter: Intl.DateTimeFormat): number[] | undefined {
  const order: number[] = []
  for (const part of formatter.formatToParts(0)) {
    const index = (FIELD_TYPES as readonly string[]).indexOf(part.type)
    if (index >= 0) order.push(index)
    else if (part.type !== 'literal' || /\d/.test(part.value)) return undefined
  }
  return order.length === FIELD_TYPES.length && new Set(order).size === order.length ? order : undefined
}

/**
 * The zone's cached formatter state, created on first use.
 *
 * @throws RangeError from `Intl.DateTimeFormat` for a zone this runtime does not know.
 */
function zoneFor(name: string): Zone {
  let zone = zones.get(name)
  if (zone === undefined) {
    const formatter = new Intl.DateTimeFormat('en-US', {
      timeZone: name,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    })
    zone = { formatter, order: learnOrder(formatter), resolved: new Map() }
    zones.set(name, zone)
  }
  return zone
}

/** Whether `name` was already accepted as a zone by this runtime. */
export function isKnownZone(name: string): boolean {
  return zones.has(name)
}

/**
 * Makes sure `name` is a zone this runtime knows (and caches its formatter).
 *
 * @throws RangeError from `Intl.DateTimeFormat` when it is not.
 */
export function loadZone(name: string): void {
  zoneFor(name)
}

export function mod(a: number, b: number): number {
  const r = a % b
  return r < 0 ? r + b : r
}

/** UTC milliseconds of a proleptic Gregorian date-time; months and days may overflow; any year. */
export function wallMs(year: number, month: number, day: number, hour = 0, minute = 0, second = 0, ms = 0): number {
  if (year >= 100) return Date.UTC(year, month, day, hour, minute, second, ms)
  // Date.UTC maps years 0..99 to 1900..1999; the Gregorian calendar repeats every 400 years.
  const shift = Math.ceil((100 - year) / 400)
  return Date.UTC(year + shift * 400, month, day, hour, minute, second, ms) - shift * FOUR_CENTURIES
}

function isUtc(zone: string): boolean {
  return zone === 'UTC' || zone === 'Etc/UTC'
}

/** Reads the six numbers of `text` into {@link fields}; false when there are not exactly six. */
function parseFields(text: string, order: number[]): boolean {
  let count = 0
  let value = -1
  for (let i = 0; i < text.length; i++) {
    const digit = text.charCodeAt(i) - 48
    if (digit >= 0 && digit <= 9) {
      value = value < 0 ? digit : value * 10 + digit
    } else if (value >= 0) {
      if (count === 6) return false
      fields[order[count++] ?? 0] = value
      value = -1
    }
  }
  if (value >= 0) {
    if (count === 6) return false
    fields[order[count++] ?? 0] = value
  }
  return count === 6
}

function readParts(formatter: Intl.DateTimeFormat, at: number): void {
  fields.fill(0) // a field the parts leave out reads 0, not the previous reading's
  for (const part of formatter.formatToParts(at)) {
    const index = (FIELD_TYPES as readonly string[]).indexOf(part.type)
    if (index >= 0) fields[index] = Number(part.value)
  }
}

/** Offset of `zone` from UTC at instant `t`, in milliseconds (wall = t + offset). */
export function zoneOffset(zone: string, t: number): number {
  if (isUtc(zone)) return 0
  const at = t < OFFSET_LOOKUP_MIN ? OFFSET_LOOKUP_MIN : t > OFFSET_LOOKUP_MAX ? OFFSET_LOOKUP_MAX : t
  const { formatter, order } = zoneFor(zone)
  if (order === undefined || !parseFields(formatter.format(at), order)) readParts(formatter, at)
  const [year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0] = fields
  return wallMs(year, month - 1, day, hour % 24, minute, second) - (at - mod(at, SECOND))
}

/** Resolved wall times kept in all zones' `resolved` maps together. */
let resolvedCount = 0
const RESOLVED_LIMIT = 10_000

/**
 * The earliest instant whose local wall time in `zone` is at or after `wall`. For a wall time that exists
 * once, that is the instant; inside a DST gap (or a skipped day) it is the end of the gap; for a wall time
 * that occurs twice it is the first occurrence. Non-decreasing in `wall`, so boundaries never cross.
 * Answers are cached (bounded): the end of one window is the start of the next.
 */
export function resolveWall(zone: string, wall: number): number {
  if (isUtc(zone)) return wall
  const { resolved } = zoneFor(zone)
  let instant = resolved.get(wall)
  if (instant === undefined) {
    instant = searchWall(zone, wall)
    // Emptied when full rather than oldest first: deleting a Map's first entries one by one leaves holes that
    // every later keys().next() walks over until the table is rebuilt.
    if (resolvedCount >= RESOLVED_LIMIT) {
      for (const each of zones.values()) each.resolved.clear()
      resolvedCount = 0
    }
    resolved.set(wall, instant)
    resolvedCount++
  }
  return instant
}

/** {@link resolveWall} without its cache. */
export function searchWall(zone: string, wall: number): number {
  if (isUtc(zone)) return wall
  // Offsets stay within +-16 h (including historical local mean time), so this instant is before `wall`.
  let t = wall - 27 * HOUR
  let offset = zoneOffset(zone, t)
  for (let step = 0; step < 16; step++) {
    if (t + offset >= wall) return t
    const candidate = wall - offset
    if (zoneOffset(zone, candidate) === offset) return candidate
    // A transition lies in (t, candidate]: find its first instant. Offsets and tzdb transitions are whole seconds,
    // so the offset is the same all through a whole second and the search runs over seconds.
    let low = Math.floor(t / SECOND)
    let high = Math.floor(candidate / SECOND)
    while (high - low > 1) {
      const middle = low + Math.floor((high - low) / 2)
      if (zoneOffset(zone, middle * SECOND) === offset) low = middle
      else high = middle
    }
    t = high * SECOND
    offset = zoneOffset(zone, t)
  }
  /* c8 ignore next */
  throw new Error(`llm-budget: could not resolve local time ${new Date(wall).toISOString()} in ${zone}`)
}
