// Budget windows (SPEC 4.3): calendar and rolling windows across time zones with DST, a 30-minute DST
// shift (Lord Howe) and a skipped day (Apia, 30 Dec 2011). date-fns-tz's formatInTimeZone is the
// independent oracle for local wall times.
import fc from 'fast-check'
import { formatInTimeZone } from 'date-fns-tz'
import { describe, expect, it } from 'vitest'
import { isBudgetError } from '../../src/errors.js'
import {
  MAX_WINDOW_INSTANT,
  formatDuration,
  nextWindow,
  parseDuration,
  validateTimezone,
  windowAt,
  windowAtUncached,
  type BudgetWindow,
  type WindowSpec,
} from '../../src/budget/windows.js'

const ZONES = [
  'UTC',
  'America/New_York',
  'Europe/Berlin',
  'Australia/Lord_Howe',
  'Asia/Kolkata',
  'Pacific/Apia',
] as const
const CALENDAR = ['daily', 'weekly', 'monthly', 'yearly'] as const
const ROLLING = ['30s', '15m', '1h', '7d', '30d', '1w', '2w', '1mo', '3mo', '1y'] as const
const HOUR = 3_600_000
const DAY = 24 * HOUR

const t = (iso: string): number => {
  const value = Date.parse(iso)
  if (Number.isNaN(value)) throw new Error(`bad date ${iso}`)
  return value
}
const local = (instant: number, zone: string, pattern = "yyyy-MM-dd'T'HH:mm:ss.SSS"): string =>
  formatInTimeZone(instant, zone, pattern)
const hours = (window: BudgetWindow): number => (window.end - window.start) / HOUR

/** Instants from 1970 to 2100, with a bias towards the Apia skip and ordinary DST seasons. */
const instant = fc.oneof(
  fc.integer({ min: t('1970-01-01T00:00:00Z'), max: t('2100-01-01T00:00:00Z') }),
  fc.integer({ min: t('2011-12-20T00:00:00Z'), max: t('2012-01-10T00:00:00Z') }),
  fc.integer({ min: t('2026-03-01T00:00:00Z'), max: t('2026-11-15T00:00:00Z') }),
)
const zone = fc.constantFrom(...ZONES)
const weekStartsOn = fc.constantFrom(0, 1, 2, 3, 4, 5, 6) as fc.Arbitrary<0 | 1 | 2 | 3 | 4 | 5 | 6>
const spec: fc.Arbitrary<WindowSpec> = fc.record({
  duration: fc.constantFrom<string>(...CALENDAR, ...ROLLING),
  timezone: zone,
  weekStartsOn,
  anchor: instant,
})

function expectConfigError(run: () => unknown, field: string): void {
  let caught: unknown
  try {
    run()
  } catch (error) {
    caught = error
  }
  expect(isBudgetError(caught), `expected a BudgetConfigError for field ${field}`).toBe(true)
  expect((caught as { name: string }).name).toBe('BudgetConfigError')
  expect((caught as { code: string }).code).toBe('BUDGET_CONFIG')
  expect((caught as { field: string }).field).toBe(field)
}

describe('parseDuration', () => {
  it('parses calendar words and the LiteLLM <n><unit> grammar', () => {
    expect(parseDuration('daily')).toEqual({ kind: 'calendar', unit: 'daily' })
    expect(parseDuration('weekly')).toEqual({ kind: 'calendar', unit: 'weekly' })
    expect(parseDuration('monthly')).toEqual({ kind: 'calendar', unit: 'monthly' })
    expect(parseDuration('yearly')).toEqual({ kind: 'calendar', unit: 'yearly' })
    expect(parseDuration('30s')).toEqual({ kind: 'rolling', count: 30, unit: 's' })
    expect(parseDuration('1h')).toEqual({ kind: 'rolling', count: 1, unit: 'h' })
    expect(parseDuration('7d')).toEqual({ kind: 'rolling', count: 7, unit: 'd' })
    expect(parseDuration('2w')).toEqual({ kind: 'rolling', count: 2, unit: 'w' })
    expect(parseDuration('1mo')).toEqual({ kind: 'rolling', count: 1, unit: 'mo' })
    expect(parseDuration('1y')).toEqual({ kind: 'rolling', count: 1, unit: 'y' })
    expect(parseDuration('10000m')).toEqual({ kind: 'rolling', count: 10_000, unit: 'm' })
  })

  it('returns a fresh object each time (callers may not corrupt the cache)', () => {
    const first = parseDuration('5m') as { count: number }
    first.count = 99
    expect(parseDuration('5m')).toEqual({ kind: 'rolling', count: 5, unit: 'm' })
  })

  it.each([
    '',
    '0d',
    '-1d',
    '1.5h',
    '1 month',
    'monthy',
    '10000000d',
    '10001d',
    'Daily',
    '1M',
    ' 1d',
    '1d ',
    '01d',
    '1',
    'd',
    '1mon',
    '1e3s',
    'Infinityd',
  ])('rejects %j with a BudgetConfigError naming `duration` and showing the grammar', (input) => {
    expectConfigError(() => parseDuration(input), 'duration')
    try {
      parseDuration(input)
    } catch (error) {
      expect((error as Error).message).toContain("'<n><unit>'")
      expect((error as Error).message).toContain("'1mo'")
    }
  })

  it('suggests the likely intended spelling', () => {
    const message = (input: string): string => {
      try {
        parseDuration(input)
      } catch (error) {
        return (error as Error).message
      }
      throw new Error('no error')
    }
    expect(message('monthy')).toContain("Did you mean 'monthly'?")
    expect(message('1 month')).toContain("Did you mean '1mo'?")
    expect(message('30 days')).toContain("Did you mean '30d'?")
    expect(message('1M')).toContain("'1mo' is months")
    expect(message('1.5h')).toContain('whole number')
  })

  it('rejects non-strings at runtime', () => {
    for (const input of [undefined, null, 30, {}, ['1d']])
      expectConfigError(() => parseDuration(input as never), 'duration')
  })

  it('property: every <n><unit> with 1 <= n <= 10000 round-trips through formatDuration', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 10_000 }),
        fc.constantFrom('s', 'm', 'h', 'd', 'w', 'mo', 'y'),
        (count, unit) => {
          expect(parseDuration(`${count}${unit}`)).toEqual({ kind: 'rolling', count, unit })
          expect(formatDuration(`${count}${unit}`)).toBe(`${count}${unit}`)
        },
      ),
    )
  })

  it('property: any other string is a BudgetConfigError, never a default', () => {
    const valid = /^(daily|weekly|monthly|yearly|[1-9]\d*(s|m|h|d|w|mo|y))$/
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.stringMatching(/^-?\d{0,9}(\.\d)? ?[a-zA-Z]{0,7}$/)), (input) => {
        const accepted = valid.test(input) && Number.parseInt(input, 10) <= 10_000
        if (accepted) expect(() => parseDuration(input)).not.toThrow()
        else expectConfigError(() => parseDuration(input), 'duration')
      }),
      { numRuns: 500 },
    )
  })
})

describe('validateTimezone', () => {
  it('accepts IANA zones and returns them unchanged', () => {
    for (const name of ZONES) expect(validateTimezone(name)).toBe(name)
  })

  it.each(['Mars/Olympus', '', ' UTC', 'Europe/Berlin ', '+05:30x', 'x'.repeat(200)])('rejects %j', (name) => {
    expectConfigError(() => validateTimezone(name), 'timezone')
  })

  it('rejects non-strings', () => {
    for (const name of [undefined, null, 0, {}]) expectConfigError(() => validateTimezone(name as never), 'timezone')
  })

  it('is applied by windowAt', () => {
    expectConfigError(() => windowAt({ duration: 'daily', timezone: 'Mars/Olympus' }, 0), 'timezone')
    expectConfigError(() => windowAt({ duration: '1h', timezone: '' }, 0), 'timezone')
  })
})

describe('spec and instant validation', () => {
  it('rejects bad weekStartsOn, anchor, now and duration objects with typed errors', () => {
    for (const value of [7, -1, 1.5, Number.NaN, '1']) {
      expectConfigError(() => windowAt({ duration: 'weekly', weekStartsOn: value as never }, 0), 'weekStartsOn')
    }
    for (const value of [Number.NaN, Number.POSITIVE_INFINITY, '0', 1e20, null]) {
      expectConfigError(() => windowAt({ duration: '1h', anchor: value as never }, 0), 'anchor')
    }
    for (const value of [Number.NaN, Number.NEGATIVE_INFINITY, '5', 1e20, -1e20, undefined]) {
      expectConfigError(() => windowAt({ duration: 'daily' }, value as never), 'now')
    }
    for (const value of [
      { kind: 'rolling', count: 0, unit: 'd' },
      { kind: 'rolling', count: 1.5, unit: 'h' },
      { kind: 'rolling', count: 10_001, unit: 'h' },
      { kind: 'rolling', count: 1, unit: 'months' },
      { kind: 'calendar', unit: 'hourly' },
      { kind: 'calendar', unit: 'daily', extra: 1 },
      null,
      42,
    ]) {
      expectConfigError(() => windowAt({ duration: value as never }, 0), 'duration')
    }
    expectConfigError(() => windowAt(null as never, 0), 'window')
    expectConfigError(() => nextWindow({ duration: 'daily' }, null as never), 'window')
    expectConfigError(() => nextWindow({ duration: 'daily' }, { id: 'x', start: 0, end: Number.NaN }), 'window.end')
  })

  it('rejects a bad `now` even when a cached window would match', () => {
    const daily = { duration: 'daily' }
    windowAt(daily, t('2026-01-01T12:00:00Z'))
    expectConfigError(() => windowAt(daily, String(t('2026-01-01T12:00:00Z')) as never), 'now')
  })

  it('accepts parsed duration objects and gives the same windows as strings', () => {
    const now = t('2026-05-17T08:00:00Z')
    expect(windowAt({ duration: { kind: 'rolling', count: 30, unit: 'd' } }, now)).toEqual(
      windowAt({ duration: '30d' }, now),
    )
    expect(windowAt({ duration: { kind: 'calendar', unit: 'monthly' }, timezone: 'Asia/Kolkata' }, now)).toEqual(
      windowAt({ duration: 'monthly', timezone: 'Asia/Kolkata' }, now),
    )
  })
})

describe('windows are contiguous, without gap or overlap (property, all zones and durations)', () => {
  it('now is inside its window; next starts at end; windowAt(end) is next; windowAt(start - 1) ends at start', () => {
    fc.assert(
      fc.property(spec, instant, (windowSpec, now) => {
        const window = windowAt(windowSpec, now)
        expect(window.start).toBeLessThanOrEqual(now)
        expect(now).toBeLessThan(window.end)
        const next = nextWindow(windowSpec, window)
        expect(next.start).toBe(window.end)
        expect(next.end).toBeGreaterThan(next.start)
        expect(windowAt(windowSpec, window.end)).toEqual(next)
        const previous = windowAt(windowSpec, window.start - 1)
        expect(previous.end).toBe(window.start)
        expect(windowAt(windowSpec, window.end - 1)).toEqual(window)
      }),
      { numRuns: 1500 },
    )
  })

  it('a walk of 60 consecutive windows tiles time exactly', () => {
    fc.assert(
      fc.property(spec, instant, (windowSpec, now) => {
        let window = windowAt(windowSpec, now)
        const ids = new Set<string>([window.id])
        for (let i = 0; i < 60; i++) {
          const next = nextWindow(windowSpec, window)
          expect(next.start).toBe(window.end)
          expect(ids.has(next.id)).toBe(false)
          ids.add(next.id)
          window = next
        }
      }),
      { numRuns: 150 },
    )
  })
})

describe('window ids', () => {
  it('property: every instant of a window gives its id; instants in different windows give different ids', () => {
    fc.assert(
      fc.property(
        spec,
        instant,
        fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true }),
        instant,
        (windowSpec, now, fraction, other) => {
          const window = windowAt(windowSpec, now)
          const inside = window.start + Math.floor((window.end - window.start) * fraction)
          expect(windowAtUncached(windowSpec, inside).id).toBe(window.id)
          expect(windowAt(windowSpec, inside).id).toBe(window.id)
          const otherWindow = windowAtUncached(windowSpec, other)
          expect(otherWindow.id === window.id).toBe(otherWindow.start === window.start)
          expect(window.id).toMatch(/^[A-Za-z0-9-]{2,40}$/)
          expect(nextWindow(windowSpec, window).id).not.toBe(window.id)
        },
      ),
      { numRuns: 1000 },
    )
  })

  it('have the documented shapes', () => {
    const now = t('2026-11-29T12:00:00Z')
    expect(windowAt({ duration: 'daily' }, now).id).toBe('d2026-11-29')
    expect(windowAt({ duration: 'weekly' }, now).id).toBe('w2026-11-23')
    expect(windowAt({ duration: 'weekly', weekStartsOn: 0 }, now).id).toBe('w2026-11-29')
    expect(windowAt({ duration: 'monthly' }, now).id).toBe('m2026-11')
    expect(windowAt({ duration: 'yearly' }, now).id).toBe('y2026')
    const hourly = windowAt({ duration: '1h' }, now)
    expect(hourly.id).toBe(`r1h-${t('2026-11-29T12:00:00Z').toString(36)}`)
    expect(windowAt({ duration: 'daily', timezone: 'Pacific/Apia' }, now).id).toBe('d2026-11-30')
  })

  it('are the same for equal specs given as different objects', () => {
    const now = t('2026-07-04T18:00:00Z')
    const a = windowAt({ duration: 'weekly', timezone: 'America/New_York', weekStartsOn: 0 }, now)
    const b = windowAt({ weekStartsOn: 0, timezone: 'America/New_York', duration: 'weekly' }, now)
    expect(a).toEqual(b)
  })
})

describe('calendar windows align to local boundaries (property)', () => {
  const calendarSpec = fc.record({ duration: fc.constantFrom(...CALENDAR), timezone: zone, weekStartsOn })

  it('start at local midnight on the right day; the id names the local date of the window start', () => {
    fc.assert(
      fc.property(calendarSpec, instant, (windowSpec, now) => {
        const window = windowAt(windowSpec, now)
        const zoneName = windowSpec.timezone
        // A window starts and ends at the first instant of a local day: local midnight, or the end of the gap
        // when a zone's offset change skipped midnight (Lord Howe 1 March 1981, Kolkata 1941, Apia 1950).
        for (const edge of [window.start, window.end]) {
          expect(local(edge - 1, zoneName, 'yyyy-MM-dd')).not.toBe(local(edge, zoneName, 'yyyy-MM-dd'))
          if (local(edge, zoneName, 'HH:mm:ss.SSS') !== '00:00:00.000') {
            // Midnight itself was skipped: the day before ran to its last millisecond.
            expect(local(edge - 1, zoneName, 'HH:mm:ss.SSS')).toBe('23:59:59.999')
          }
        }
        const startDate = local(window.start, zoneName, 'yyyy-MM-dd')
        switch (windowSpec.duration) {
          case 'daily':
            expect(window.id).toBe(`d${startDate}`)
            expect(local(now, zoneName, 'yyyy-MM-dd')).toBe(startDate)
            break
          case 'weekly': {
            // The id names the week's nominal first day; it differs from the local start date only when
            // that day was skipped (Apia, Friday 30 December 2011), and then the week starts a day later.
            const nominal = Date.parse(`${window.id.slice(1)}T00:00:00Z`)
            expect(new Date(nominal).getUTCDay()).toBe(windowSpec.weekStartsOn)
            if (window.id !== `w${startDate}`) {
              expect(window.id).toBe('w2011-12-30')
              expect(startDate).toBe('2011-12-31')
            }
            break
          }
          case 'monthly':
            expect(startDate.slice(8)).toBe('01')
            expect(window.id).toBe(`m${startDate.slice(0, 7)}`)
            expect(local(now, zoneName, 'yyyy-MM')).toBe(startDate.slice(0, 7))
            break
          case 'yearly':
            expect(startDate.slice(5)).toBe('01-01')
            expect(window.id).toBe(`y${startDate.slice(0, 4)}`)
            expect(local(now, zoneName, 'yyyy')).toBe(startDate.slice(0, 4))
            break
        }
      }),
      { numRuns: 1500 },
    )
  })

  it('daily windows last 24 hours, or the DST-shifted length on a transition day', () => {
    const allowed: Record<(typeof ZONES)[number], number[]> = {
      UTC: [24],
      'America/New_York': [23, 24, 25],
      'Europe/Berlin': [23, 24, 25],
      'Australia/Lord_Howe': [23.5, 24, 24.5],
      'Asia/Kolkata': [24],
      'Pacific/Apia': [23, 24, 25],
    }
    fc.assert(
      fc.property(zone, instant, (zoneName, now) => {
        expect(allowed[zoneName]).toContain(hours(windowAt({ duration: 'daily', timezone: zoneName }, now)))
      }),
      { numRuns: 1000 },
    )
  })
})

describe('DST days and the Apia skip (examples)', () => {
  it('a midnight skipped by an offset change starts the window at the end of the gap (Lord Howe, 1 March 1981)', () => {
    // Lord Howe moved from +10:00 to +10:30 at local midnight of 1 March 1981: 00:00 to 00:29 never happened.
    const feb = windowAt({ duration: 'monthly', timezone: 'Australia/Lord_Howe' }, Date.parse('1981-02-15T00:00:00Z'))
    expect(feb).toEqual({
      id: 'm1981-02',
      start: Date.parse('1981-01-31T14:00:00Z'),
      end: Date.parse('1981-02-28T14:00:00Z'),
    })
    expect(formatInTimeZone(feb.end, 'Australia/Lord_Howe', 'yyyy-MM-dd HH:mm')).toBe('1981-03-01 00:30')
    expect(formatInTimeZone(feb.end - 1, 'Australia/Lord_Howe', 'yyyy-MM-dd HH:mm:ss.SSS')).toBe(
      '1981-02-28 23:59:59.999',
    )
    expect(windowAt({ duration: 'monthly', timezone: 'Australia/Lord_Howe' }, feb.end).start).toBe(feb.end)
  })

  const daily = (zoneName: string, localNoonIso: string): BudgetWindow =>
    windowAt({ duration: 'daily', timezone: zoneName }, t(localNoonIso))

  it('New York: spring forward is 23 h, fall back is 25 h', () => {
    const spring = daily('America/New_York', '2026-03-08T17:00:00Z')
    expect(spring).toEqual({ id: 'd2026-03-08', start: t('2026-03-08T05:00:00Z'), end: t('2026-03-09T04:00:00Z') })
    expect(hours(spring)).toBe(23)
    expect(hours(daily('America/New_York', '2026-11-01T17:00:00Z'))).toBe(25)
    expect(hours(daily('America/New_York', '2026-07-01T17:00:00Z'))).toBe(24)
  })

  it('Berlin: 23 h on 29 March 2026, 25 h on 25 October 2026', () => {
    expect(hours(daily('Europe/Berlin', '2026-03-29T10:00:00Z'))).toBe(23)
    expect(hours(daily('Europe/Berlin', '2026-10-25T10:00:00Z'))).toBe(25)
  })

  it('Lord Howe: the 30-minute shift makes 24.5 h and 23.5 h days', () => {
    expect(hours(daily('Australia/Lord_Howe', '2026-04-05T01:00:00Z'))).toBe(24.5)
    expect(hours(daily('Australia/Lord_Howe', '2026-10-04T01:00:00Z'))).toBe(23.5)
  })

  it('Kolkata (UTC+5:30, no DST): days start at 18:30 UTC', () => {
    expect(daily('Asia/Kolkata', '2026-03-08T06:00:00Z')).toEqual({
      id: 'd2026-03-08',
      start: t('2026-03-07T18:30:00Z'),
      end: t('2026-03-08T18:30:00Z'),
    })
  })

  it('Apia skipped 30 December 2011: 29 December is followed directly by 31 December', () => {
    const apia = { duration: 'daily', timezone: 'Pacific/Apia' }
    const before = windowAt(apia, t('2011-12-29T22:00:00Z')) // 12:00 local on the 29th (UTC-10)
    expect(before).toEqual({ id: 'd2011-12-29', start: t('2011-12-29T10:00:00Z'), end: t('2011-12-30T10:00:00Z') })
    const after = nextWindow(apia, before)
    expect(after).toEqual({ id: 'd2011-12-31', start: t('2011-12-30T10:00:00Z'), end: t('2011-12-31T10:00:00Z') })
    const week = windowAt({ duration: 'weekly', timezone: 'Pacific/Apia' }, t('2011-12-29T22:00:00Z'))
    expect(week.id).toBe('w2011-12-26')
    expect(hours(week)).toBe(6 * 24)
    // A week that would start on the skipped Friday keeps its nominal id and starts at the next midnight.
    const fridayWeek = windowAt(
      { duration: 'weekly', timezone: 'Pacific/Apia', weekStartsOn: 5 },
      t('2011-12-31T12:00:00Z'),
    )
    expect(fridayWeek).toEqual({ id: 'w2011-12-30', start: t('2011-12-30T10:00:00Z'), end: t('2012-01-05T10:00:00Z') })
    const month = windowAt({ duration: 'monthly', timezone: 'Pacific/Apia' }, t('2011-12-29T22:00:00Z'))
    expect(month.id).toBe('m2011-12')
    expect(hours(month)).toBe(30 * 24)
  })

  it('monthly windows start on the 1st at local midnight, DST included (Berlin, March 2026 is 743 h)', () => {
    const march = windowAt({ duration: 'monthly', timezone: 'Europe/Berlin' }, t('2026-03-15T12:00:00Z'))
    expect(march).toEqual({ id: 'm2026-03', start: t('2026-02-28T23:00:00Z'), end: t('2026-03-31T22:00:00Z') })
    expect(hours(march)).toBe(31 * 24 - 1)
  })
})

describe('rolling windows', () => {
  it('1mo from 31 January gives 29 February (leap year), then 31 March, 30 April, 31 May: never chained', () => {
    const anchor = t('2024-01-30T23:00:00Z') // 31 January 00:00 in Berlin
    const monthly = { duration: '1mo', timezone: 'Europe/Berlin', anchor }
    const starts: string[] = []
    let window = windowAt(monthly, anchor)
    for (let i = 0; i < 5; i++) {
      starts.push(local(window.start, 'Europe/Berlin', "yyyy-MM-dd'T'HH:mm"))
      window = nextWindow(monthly, window)
    }
    expect(starts).toEqual([
      '2024-01-31T00:00',
      '2024-02-29T00:00',
      '2024-03-31T00:00',
      '2024-04-30T00:00',
      '2024-05-31T00:00',
    ])
  })

  it('a boundary on the day Apia skipped moves to the next local midnight', () => {
    const anchor = t('2015-06-29T11:00:00Z') // 30 June 2015 00:00 in Apia (UTC+13)
    const window = windowAt({ duration: '1mo', timezone: 'Pacific/Apia', anchor }, t('2011-12-20T00:00:00Z'))
    expect(window.end).toBe(t('2011-12-30T10:00:00Z')) // 31 December 2011 00:00 local; the 30th never happened
    expect(local(window.end, 'Pacific/Apia', "yyyy-MM-dd'T'HH:mm")).toBe('2011-12-31T00:00')
  })

  it('1mo from 31 January 2025 gives 28 February then 31 March; 2mo gives 31 March then 31 May', () => {
    const anchor = t('2025-01-31T10:00:00Z')
    const one = { duration: '1mo', anchor }
    expect(windowAt(one, t('2025-02-15T00:00:00Z'))).toEqual({
      id: `r1mo-${t('2025-01-31T10:00:00Z').toString(36)}`,
      start: t('2025-01-31T10:00:00Z'),
      end: t('2025-02-28T10:00:00Z'),
    })
    expect(windowAt(one, t('2025-03-01T00:00:00Z')).end).toBe(t('2025-03-31T10:00:00Z'))
    const two = { duration: '2mo', anchor }
    const first = windowAt(two, anchor)
    expect(first.end).toBe(t('2025-03-31T10:00:00Z'))
    expect(nextWindow(two, first).end).toBe(t('2025-05-31T10:00:00Z'))
  })

  it('1y from 29 February 2024 gives 28 February in common years and 29 February in 2028', () => {
    const yearly = { duration: '1y', anchor: t('2024-02-29T12:00:00Z') }
    expect(windowAt(yearly, t('2025-06-01T00:00:00Z'))).toMatchObject({
      start: t('2025-02-28T12:00:00Z'),
      end: t('2026-02-28T12:00:00Z'),
    })
    expect(windowAt(yearly, t('2028-01-01T00:00:00Z')).end).toBe(t('2028-02-29T12:00:00Z'))
  })

  it('mo windows keep the local time of day across DST (New York)', () => {
    const anchor = t('2026-01-15T14:00:00Z') // 09:00 EST
    const monthly = { duration: '1mo', timezone: 'America/New_York', anchor }
    const july = windowAt(monthly, t('2026-07-20T00:00:00Z'))
    expect(july.start).toBe(t('2026-07-15T13:00:00Z')) // 09:00 EDT
    expect(local(july.start, 'America/New_York', 'dd HH:mm')).toBe('15 09:00')
  })

  it('30d is exactly 720 hours and 1w exactly 168 hours, across DST in any zone', () => {
    const anchor = t('2026-03-01T00:00:00Z')
    for (const zoneName of ZONES) {
      const thirty = windowAt({ duration: '30d', timezone: zoneName, anchor }, t('2026-03-20T00:00:00Z'))
      expect(hours(thirty)).toBe(720)
      expect(thirty.start).toBe(anchor)
      const week = windowAt({ duration: '1w', timezone: zoneName, anchor }, t('2026-03-29T12:00:00Z'))
      expect(hours(week)).toBe(7 * 24)
      expect(week.start).toBe(anchor + 28 * DAY)
    }
  })

  it('property: fixed-length windows have the exact length and are aligned to the anchor, before it too', () => {
    const lengths: Record<string, number> = {
      '30s': 30_000,
      '15m': 900_000,
      '1h': HOUR,
      '7d': 7 * DAY,
      '30d': 30 * DAY,
      '1w': 7 * DAY,
      '2w': 14 * DAY,
    }
    fc.assert(
      fc.property(
        fc.constantFrom(...Object.keys(lengths)),
        zone,
        instant,
        instant,
        (duration, zoneName, anchor, now) => {
          const window = windowAt({ duration, timezone: zoneName, anchor }, now)
          const length = lengths[duration] ?? 0
          expect(window.end - window.start).toBe(length)
          expect((((window.start - anchor) % length) + length) % length).toBe(0)
          expect(window.start <= now && now < window.end).toBe(true)
        },
      ),
      { numRuns: 500 },
    )
  })

  it('property: mo/y boundaries fall on the anchor day (clamped to month end) at the anchor time of day', () => {
    const daysIn = (year: number, month: number): number => new Date(Date.UTC(year, month, 0)).getUTCDate()
    fc.assert(
      fc.property(fc.constantFrom('1mo', '3mo', '1y'), zone, instant, instant, (duration, zoneName, anchor, now) => {
        const window = windowAt({ duration, timezone: zoneName, anchor }, now)
        const anchorDay = Number(local(anchor, zoneName, 'd'))
        const anchorTime = local(anchor, zoneName, 'HH:mm:ss.SSS')
        for (const boundary of [window.start, window.end]) {
          const [year, month, day] = local(boundary, zoneName, 'yyyy-M-d').split('-').map(Number) as [
            number,
            number,
            number,
          ]
          if (day !== Math.min(anchorDay, daysIn(year, month))) {
            // Only a skipped day moves the boundary to the next day: Apia, 30 December 2011.
            expect([zoneName, year, month, day, Math.min(anchorDay, daysIn(year, month))]).toEqual([
              'Pacific/Apia',
              2011,
              12,
              31,
              30,
            ])
          }
          // Only a DST gap at the anchor's time of day can move the boundary (to the end of the gap).
          if (local(boundary, zoneName, 'HH:mm:ss.SSS') !== anchorTime) {
            expect(
              Math.abs(
                new Date(`1970-01-01T${local(boundary, zoneName, 'HH:mm:ss.SSS')}Z`).getTime() -
                  new Date(`1970-01-01T${anchorTime}Z`).getTime(),
              ),
            ).toBeLessThanOrEqual(DAY)
          }
          const monthsFromAnchor =
            (year - Number(local(anchor, zoneName, 'yyyy'))) * 12 + (month - Number(local(anchor, zoneName, 'M')))
          const step = duration === '3mo' ? 3 : duration === '1y' ? 12 : 1
          expect(((monthsFromAnchor % step) + step) % step).toBe(0)
        }
      }),
      { numRuns: 400 },
    )
  })

  it('instants long before the anchor still have windows', () => {
    const anchor = t('2026-06-01T00:00:00Z')
    const early = t('1999-12-31T23:59:59.999Z')
    for (const duration of ROLLING) {
      const window = windowAt({ duration, timezone: 'Europe/Berlin', anchor }, early)
      expect(window.start).toBeLessThanOrEqual(early)
      expect(window.end).toBeGreaterThan(early)
    }
  })

  it('the largest counts work at the edges of the accepted range', () => {
    for (const duration of ['10000y', '10000mo', '10000w', '10000d', 'yearly', 'monthly']) {
      for (const now of [-62_135_596_800_000, 0, MAX_WINDOW_INSTANT]) {
        const window = windowAt({ duration, timezone: 'America/New_York', anchor: 0 }, now)
        expect(window.start <= now && now < window.end).toBe(true)
      }
    }
  })
})

describe('cache', () => {
  it('property: the cached path gives the same window as a fresh computation, also when spec objects are reused or mutated', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(spec, fc.integer({ min: 0, max: 4 })), { minLength: 1, maxLength: 4 }),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: -2 * DAY, max: 40 * DAY }), fc.boolean()), {
          minLength: 1,
          maxLength: 40,
        }),
        instant,
        (specs, steps, start) => {
          const objects = specs.map(([windowSpec]) => ({ ...windowSpec }))
          let now = start
          for (const [index, delta, mutate] of steps) {
            const slot = index % objects.length
            const object = objects[slot]!
            if (mutate) object.duration = specs[(slot + 1) % specs.length]![0].duration
            now = Math.min(Math.max(now + delta, t('1970-01-01T00:00:00Z')), t('2100-01-01T00:00:00Z'))
            expect(windowAt(object, now)).toEqual(windowAtUncached(object, now))
            expect(windowAt({ ...object }, now)).toEqual(windowAtUncached(object, now))
          }
        },
      ),
      { numRuns: 300 },
    )
  })

  it('notices in-place changes of a duration object', () => {
    const duration = { kind: 'rolling' as const, count: 1, unit: 'h' as 's' | 'm' | 'h' | 'd' | 'w' | 'mo' | 'y' }
    const windowSpec = { duration }
    const now = t('2026-02-02T10:30:00Z')
    expect(hours(windowAt(windowSpec, now))).toBe(1)
    duration.unit = 'd'
    expect(hours(windowAt(windowSpec, now))).toBe(24)
    duration.count = 2
    expect(hours(windowAt(windowSpec, now))).toBe(48)
  })

  it('returns frozen windows that callers cannot corrupt', () => {
    const window = windowAt({ duration: 'daily' }, t('2026-02-02T10:30:00Z'))
    expect(Object.isFrozen(window)).toBe(true)
  })
})
