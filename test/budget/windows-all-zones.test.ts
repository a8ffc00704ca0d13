// Every time zone this runtime knows, walked window by window through years with unusual transitions
// (Samoa's skipped day in 2011, the wartime and post-war changes of the 1940s): windows tile time with no gap
// or overlap, and each calendar window starts at the first instant of its local day.
import { formatInTimeZone } from 'date-fns-tz'
import { describe, expect, it } from 'vitest'
import { nextWindow, windowAt, type BudgetWindow, type WindowSpec } from '../../src/budget/windows.js'

const zones = Intl.supportedValuesOf('timeZone')
const local = (instant: number, zone: string): string => formatInTimeZone(instant, zone, "yyyy-MM-dd'T'HH:mm:ss.SSS")

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
