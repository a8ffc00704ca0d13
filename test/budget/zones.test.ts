// The zone arithmetic reads offsets from the text of Intl's format() (cheaper than formatToParts): the numbers it
// reads must be the ones formatToParts names, for every zone this runtime knows, at instants from 1800 to 9999.
import { describe, expect, it } from 'vitest'
import { resolveWall, searchWall, zoneOffset } from '../../src/budget/zones.js'

const zones = Intl.supportedValuesOf('timeZone')

/** The offset as formatToParts gives it: wall-clock fields read part by part, minus the whole-second instant. */
function offsetFromParts(formatter: Intl.DateTimeFormat, at: number): number {
  const parts = formatter.formatToParts(at)
  const field = (type: string): number => Number(parts.find((part) => part.type === type)?.value)
  const wall = Date.UTC(
    field('year'),
    field('month') - 1,
    field('day'),
    field('hour') % 24,
    field('minute'),
    field('second'),
  )
  return wall - Math.floor(at / 1000) * 1000
}

function formatterFor(zone: string): Intl.DateTimeFormat {
  return new Intl.DateTimeFormat('en-US', {
    timeZone: zone,
    hourCycle: 'h23',
    year: 'numeric',
    month: 'numeric',
    day: 'numeric',
    hour: 'numeric',
    minute: 'numeric',
    second: 'numeric',
  })
}

describe('zone offsets', () => {
  it('equal the formatToParts reading in every zone, LMT seconds and the edges of the range included', () => {
    const instants = [
      Date.parse('1800-01-01T00:00:00Z'),
      Date.parse('1890-06-15T12:34:56.789Z'),
      Date.parse('1945-04-02T01:59:59.999Z'),
      Date.parse('2011-12-29T10:00:00Z'),
      Date.parse('2011-12-30T10:00:00.500Z'),
      Date.parse('2026-03-29T01:00:00Z'),
      Date.parse('2026-10-25T00:59:59.999Z'),
      Date.parse('9999-12-31T23:59:59.999Z'),
    ]
    const wrong: string[] = []
    for (const zone of zones) {
      const formatter = formatterFor(zone)
      for (const at of instants) {
        const expected = offsetFromParts(formatter, at)
        const actual = zoneOffset(zone, at)
        if (actual !== expected) wrong.push(`${zone} at ${new Date(at).toISOString()}: ${actual} != ${expected}`)
      }
    }
    expect(wrong).toEqual([])
  })

  it('keep whole seconds of local mean time (Europe/Berlin before 1893 is +0:53:28)', () => {
    expect(zoneOffset('Europe/Berlin', Date.parse('1880-01-01T00:00:00Z'))).toBe((53 * 60 + 28) * 1000)
  })
})

describe('resolving a wall time', () => {
  it('gives the end of a DST gap, the first of two occurrences, and the same answer cached or not', () => {
    const berlin = 'Europe/Berlin'
    // 2026-03-29 02:30 does not exist in Berlin: the gap ends at 03:00 CEST = 01:00Z.
    expect(resolveWall(berlin, Date.parse('2026-03-29T02:30:00Z'))).toBe(Date.parse('2026-03-29T01:00:00Z'))
    // 2026-10-25 02:30 happens twice: first in CEST (00:30Z).
    expect(resolveWall(berlin, Date.parse('2026-10-25T02:30:00Z'))).toBe(Date.parse('2026-10-25T00:30:00Z'))
    // Samoa skipped 2011-12-30: its midnight resolves to the start of the 31st (10:00Z on the 30th).
    expect(resolveWall('Pacific/Apia', Date.parse('2011-12-30T00:00:00Z'))).toBe(Date.parse('2011-12-30T10:00:00Z'))
    for (const wall of [Date.parse('2026-03-29T02:30:00Z'), Date.parse('1945-05-24T01:30:00Z')]) {
      expect(resolveWall(berlin, wall)).toBe(searchWall(berlin, wall))
      expect(resolveWall(berlin, wall)).toBe(searchWall(berlin, wall))
    }
  })
})
