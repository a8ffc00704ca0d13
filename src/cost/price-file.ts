/**
 * Validation of a compact price table read from outside the package (a price file written by
 * `llm-budget prices update`, loaded with `catalog.load(json)`). Loaded lazily by `load()`, like the zod
 * import of `refresh()` (docs/decisions/0003), so importing the cost module stays cheap.
 *
 * @packageDocumentation
 */
import { z } from 'zod'
import { RETIRED_FLAG, SENTINEL_PRICE_USD, isUsedField, UNPRICED_FIELDS, type CompactPriceTable } from './table.js'

const NAME = z
  .string()
  .min(1)
  .max(200)
  .regex(/^[^\t\n\r]+$/, 'no tabs or newlines')
const DECIMAL = /^(0|[1-9][0-9]*)(\.[0-9]+)?$/

const tableSchema = z.object({
  format: z.literal(2),
  dataVersion: z.object({
    format: z.literal('litellm'),
    id: z.string().min(1).max(200),
    sources: z
      .array(
        z
          .object({
            file: z.string().max(2000),
            commit: z.string().max(200),
            date: z.string().max(100),
            role: z.enum(['current', 'retired']),
          })
          .loose(),
      )
      .max(100),
    models: z.number().int().nonnegative(),
    retired: z.number().int().nonnegative(),
  }),
  license: z.string().max(100_000),
  providers: z.array(NAME),
  modes: z.array(NAME),
  // Fields declared unpriced are accepted (older price files may have them) and not billed.
  fields: z.array(
    NAME.refine(
      (f) => isUsedField(f) || Object.prototype.hasOwnProperty.call(UNPRICED_FIELDS, f),
      'not a price field the calculator knows',
    ),
  ),
  rows: z.string().startsWith('\n').endsWith('\n'),
  unpricedFields: z.array(NAME).max(1000).optional(),
})

function index(cell: string | undefined, length: number): number | undefined {
  if (cell === undefined || !/^(0|[1-9][0-9]*)$/.test(cell)) return undefined
  const n = Number(cell)
  return n < length ? n : undefined
}

/**
 * Checks a parsed compact table (`{ format: 2, dataVersion, license, providers, modes, fields, rows }`):
 * the shape, and every model line (indices in range, unique keys, prices plain decimals >= 0 and below
 * the sentinel bound, counts matching `dataVersion`). Returns the table as a fresh object.
 *
 * @throws TypeError naming the first problem.
 */
export function parseCompactTable(json: unknown): CompactPriceTable {
  const parsed = tableSchema.safeParse(json)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!
    throw new TypeError(`not a compact price table: ${issue.path.join('.') || '(top)'}: ${issue.message}`)
  }
  const table = parsed.data
  const lines = table.rows.slice(1, -1).split('\n')
  if (table.rows === '\n') lines.length = 0
  const seen = new Set<string>()
  let retired = 0
  for (let n = 0; n < lines.length; n++) {
    const cells = lines[n]!.split('\t')
    const [key] = cells
    const where = `rows line ${n + 1}${key ? ` (${JSON.stringify(key.slice(0, 80))})` : ''}`
    if (cells.length < 5 || key === undefined || key === '' || /\r/.test(key))
      throw new TypeError(
        `${where}: expected key, provider, mode, flags, max output tokens and prices separated by tabs`,
      )
    if (seen.has(key)) throw new TypeError(`${where}: the key appears twice`)
    seen.add(key)
    if (index(cells[1], table.providers.length) === undefined)
      throw new TypeError(`${where}: provider index out of range`)
    if (index(cells[2], table.modes.length) === undefined) throw new TypeError(`${where}: mode index out of range`)
    const flags = index(cells[3], RETIRED_FLAG + 1)
    if (flags === undefined) throw new TypeError(`${where}: flags must be 0 or ${RETIRED_FLAG}`)
    if ((flags & RETIRED_FLAG) !== 0) retired++
    if (index(cells[4], Number.MAX_SAFE_INTEGER) === undefined)
      throw new TypeError(`${where}: max output tokens must be a whole number >= 0`)
    const fields = new Set<number>()
    for (let i = 5; i < cells.length; i++) {
      const cell = cells[i]!
      const eq = cell.indexOf('=')
      const field = index(eq < 0 ? undefined : cell.slice(0, eq), table.fields.length)
      if (field === undefined || fields.has(field))
        throw new TypeError(
          `${where}: price ${JSON.stringify(cell.slice(0, 40))} must be <field index>=<decimal>, each field once`,
        )
      fields.add(field)
      const value = cell.slice(eq + 1)
      if (!DECIMAL.test(value))
        throw new TypeError(
          `${where}: ${table.fields[field]} must be a plain decimal >= 0, got ${JSON.stringify(value.slice(0, 40))}`,
        )
      if (Number(value.split('.')[0]) >= SENTINEL_PRICE_USD)
        throw new TypeError(
          `${where}: ${table.fields[field]} ${value} looks like a sentinel value (>= ${SENTINEL_PRICE_USD} USD per unit)`,
        )
    }
  }
  if (table.dataVersion.models !== lines.length)
    throw new TypeError(`dataVersion.models is ${table.dataVersion.models} but rows has ${lines.length} models`)
  if (table.dataVersion.retired !== retired)
    throw new TypeError(`dataVersion.retired is ${table.dataVersion.retired} but rows has ${retired} retired models`)
  return {
    format: 2,
    dataVersion: {
      ...table.dataVersion,
      sources: table.dataVersion.sources.map((s) => ({ file: s.file, commit: s.commit, date: s.date, role: s.role })),
    },
    license: table.license,
    providers: [...table.providers],
    modes: [...table.modes],
    fields: [...table.fields],
    rows: table.rows,
    ...(table.unpricedFields !== undefined ? { unpricedFields: [...table.unpricedFields] } : {}),
  }
}
