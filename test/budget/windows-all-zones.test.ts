// Every time zone this runtime knows, walked window by window through years with unusual transitions
// (Samoa's skipped day in 2011, the wartime and post-war changes of the 1940s): windows tile time with no gap
// or overlap, and each calendar window starts at the first instant of its local day.
import { formatInTimeZone } from 'date-fns-tz'
import { describe, expect, it } from 'vitest'
import { nextWindow, windowAt, type BudgetWindow, type WindowSpec } from '../../src/budget/windows.js'

const zones = Intl.supportedValuesOf('timeZone')

const formatters = new Map<string, Intl.DateTimeFormat>()
const LOCAL_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}$/
/**
 * The local wall time of `instant` in `zone`, `yyyy-MM-ddTHH:mm:ss.SSS`, as ICU reads it: the Swedish locale writes
 * ISO-like dates (`2011-12-31 00:00:00,000`), one cached formatter per zone. It replaced date-fns-tz's
 * `formatInTimeZone`, which gave the same text for all 293,436 instants these walks check at five times the CPU
 * (ADR 0120, amendment 6); the first test below still compares the two.
 */
function local(instant: number, zone: string): string {
  let formatter = formatters.get(zone)
  if (formatter === undefined) {
    formatter = new Intl.DateTimeFormat('sv-SE', {
      timeZone: zone,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
      fractionalSecondDigits: 3,
    })
    formatters.set(zone, formatter)
  }
  const text = formatter.format(instant).replace(' ', 'T').replace(',', '.')
  if (!LOCAL_TIME.test(text)) throw new Error(`${zone}: unexpected local time text ${JSON.stringify(text)}`)
  return text
}

/** The window starts at local midnight of `date`, or, when that midnight does not exist, at the end of the gap. */
function startsAtLocalMidnight(window: BudgetWindow, zone: string, date: string): boolean {
  const atStart = local(window.start, zone)
  if (atStart === `${date}T00:00:00.000`) return true
  return local(window.start - 1, zone) < `${date}T00:00:00.000` && atStart > `${date}T00:00:00.000`
}

/**
 * Walks `count` windows from the one holding `from`: each starts where the previous one ends, ends after it starts and
 * has an id not seen before, and passes `check` (which returns what is wrong, or null). Failures are collected in
 * plain code and asserted once per test (the checks are the same; an expect() per window cost most of the time).
 */
function walk(
  spec: WindowSpec,
  from: number,
  count: number,
  check: (window: BudgetWindow) => string | null,
  failures: string[],
): void {
  let window = windowAt(spec, from)
  const ids = new Set<string>()
  for (let i = 0; i < count; i++) {
    const next = nextWindow(spec, window)
    const where = (): string => `${String(spec.timezone)} ${window.id} -> ${next.id}`
    if (next.start !== window.end)
      failures.push(`${where()}: starts at ${next.start}, the previous ends at ${window.end}`)
    if (!(next.end > next.start)) failures.push(`${where()}: ends at ${next.end}, not after its start ${next.start}`)
    if (ids.has(next.id)) failures.push(`${where()}: the id ${next.id} comes twice`)
    ids.add(next.id)
    const wrong = check(next)
    if (wrong !== null) failures.push(`${where()}: ${wrong}`)
    window = next
  }
}

/** Asserts that no window failed (showing how many did, and the first 20). */
function expectNoFailures(failures: string[]): void {
  expect({ failed: failures.length, first: failures.slice(0, 20) }).toEqual({ failed: 0, first: [] })
}

describe(`all ${zones.length} time zones`, () => {
  it('covers the whole zone list of this runtime', () => {
    expect(zones.length).toBeGreaterThan(300)
    expect(zones).toContain('Pacific/Apia')
    expect(zones).toContain('Australia/Lord_Howe')
  })

  it("reads local times as date-fns-tz's formatInTimeZone does, in every zone", () => {
    const instants = ['2011-12-29T10:00:00.000Z', '2011-12-30T10:00:00.000Z', '1940-05-16T00:00:00.123Z', '1945-08-01']
    const failures: string[] = []
    for (const zone of zones) {
      for (const at of instants.map((text) => Date.parse(text))) {
        const expected = formatInTimeZone(at, zone, "yyyy-MM-dd'T'HH:mm:ss.SSS")
        if (local(at, zone) !== expected) failures.push(`${zone} ${at}: ${local(at, zone)}, not ${expected}`)
      }
    }
    expectNoFailures(failures)
  })

  it('daily windows from October 2011 to April 2012 tile time and start at local midnight', () => {
    const failures: string[] = []
    for (const zone of zones) {
      walk(
        { duration: 'daily', timezone: zone },
        Date.parse('2011-10-01T12:00:00Z'),
        183,
        (window) =>
          startsAtLocalMidnight(window, zone, window.id.slice(1))
            ? null
            : `starts at ${local(window.start, zone)}, not at local midnight`,
        failures,
      )
    }
    expectNoFailures(failures)
  })

  it('monthly windows from 1938 to 1952 tile time and start at local midnight on the 1st', () => {
    const failures: string[] = []
    for (const zone of zones) {
      walk(
        { duration: 'monthly', timezone: zone },
        Date.parse('1938-01-15T00:00:00Z'),
        168,
        (window) =>
          startsAtLocalMidnight(window, zone, `${window.id.slice(1)}-01`)
            ? null
            : `starts at ${local(window.start, zone)}, not at local midnight on the 1st`,
        failures,
      )
    }
    expectNoFailures(failures)
  })

  it('rolling 1mo windows from a 31st anchor tile time (1938 to 1952)', () => {
    const failures: string[] = []
    for (const zone of zones) {
      walk(
        { duration: '1mo', timezone: zone, anchor: Date.parse('1945-01-31T03:30:00Z') },
        Date.parse('1938-01-15T00:00:00Z'),
        168,
        () => null,
        failures,
      )
    }
    expectNoFailures(failures)
  })
})
