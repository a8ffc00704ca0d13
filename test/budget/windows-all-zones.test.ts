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

function walk(spec: WindowSpec, from: number, count: number, check: (window: BudgetWindow) => void): void {
  let window = windowAt(spec, from)
  const ids = new Set<string>()
  for (let i = 0; i < count; i++) {
    const next = nextWindow(spec, window)
    expect(next.start, `${String(spec.timezone)} ${window.id}`).toBe(window.end)
    expect(next.end).toBeGreaterThan(next.start)
    expect(ids.has(next.id)).toBe(false)
    ids.add(next.id)
    check(next)
    window = next
  }
}

describe(`all ${zones.length} time zones`, () => {
  it('covers the whole zone list of this runtime', () => {
    expect(zones.length).toBeGreaterThan(300)
    expect(zones).toContain('Pacific/Apia')
    expect(zones).toContain('Australia/Lord_Howe')
  })

  it('daily windows from October 2011 to April 2012 tile time and start at local midnight', () => {
    for (const zone of zones) {
      walk({ duration: 'daily', timezone: zone }, Date.parse('2011-10-01T12:00:00Z'), 183, (window) => {
        expect(
          startsAtLocalMidnight(window, zone, window.id.slice(1)),
          `${zone} ${window.id} ${local(window.start, zone)}`,
        ).toBe(true)
      })
    }
  })

  it('monthly windows from 1938 to 1952 tile time and start at local midnight on the 1st', () => {
    for (const zone of zones) {
      walk({ duration: 'monthly', timezone: zone }, Date.parse('1938-01-15T00:00:00Z'), 168, (window) => {
        expect(
          startsAtLocalMidnight(window, zone, `${window.id.slice(1)}-01`),
          `${zone} ${window.id} ${local(window.start, zone)}`,
        ).toBe(true)
      })
    }
  })

  it('rolling 1mo windows from a 31st anchor tile time (1938 to 1952)', () => {
    for (const zone of zones) {
      walk(
        { duration: '1mo', timezone: zone, anchor: Date.parse('1945-01-31T03:30:00Z') },
        Date.parse('1938-01-15T00:00:00Z'),
        168,
        () => {},
      )
    }
  })
})
