/**
 * `llm-budget prices update --from <LiteLLM JSON path or URL> [--out ./llm-budget-prices.json]
 * [--timeout 30000] [--commit SHA] [--dry-run] [--json]`: validates a LiteLLM-format price table and writes a
 * user-level price file in llm-budget's compact format, loadable with `catalog.load(json)`.
 *
 * @packageDocumentation
 */
import { createHash } from 'node:crypto'
import { readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { basename, dirname, resolve } from 'node:path'
import { PriceCatalog } from '../../cost/catalog.js'
import type { CompactPriceTable } from '../../cost/table.js'
import { EXIT, UsageError, parseArgs, type Command } from '../dispatch.js'

const USAGE = `Usage: llm-budget prices update --from <path|url> [--out ./llm-budget-prices.json] [options]

Loads a LiteLLM-format price table (model_prices_and_context_window.json) from a file or an http(s) URL,
validates every entry, and writes a price file in llm-budget's compact format. Models of the bundled table
that the new table lacks are kept, marked retired. Load the file in your application with
  await defaultCatalog.load(JSON.parse(readFileSync('llm-budget-prices.json', 'utf8')))

Options:
  --from P|URL         LiteLLM-format JSON: a file path or an http(s) URL (required)
  --out FILE           where to write (default ./llm-budget-prices.json; replaced atomically)
  --timeout MS         download timeout for a URL (default 30000)
  --commit SHA         upstream commit of the table, recorded in the data version (default unknown)
  --dry-run            validate and print the changes; write nothing
  --json               print the summary as JSON

Exit codes: 0 written, 1 download failed, 2 bad arguments, invalid JSON or invalid prices (nothing written).`

/** A problem with the input table: printed without the usage text, exit code 2, nothing written. */
class InputError extends Error {}

/** Reads the source text: an http(s) URL with a timeout, or a file. */
async function readSource(from: string, timeoutMs: number): Promise<string> {
  if (/^https?:\/\//i.test(from)) {
    let url: URL
    try {
      url = new URL(from)
    } catch {
      throw new UsageError(`--from ${JSON.stringify(from)} is not a valid URL`)
    }
    let response: Response
    try {
      response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), redirect: 'follow' })
    } catch (error) {
      const reason =
        error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError')
          ? `no answer within ${timeoutMs} ms`
          : error instanceof Error
            ? error.cause instanceof Error
              ? error.cause.message
              : error.message
            : String(error)
      throw new Error(`GET ${from}: ${reason}`, { cause: error })
    }
    if (!response.ok) throw new Error(`GET ${from}: HTTP ${response.status} ${response.statusText}`)
    try {
      return await response.text()
    } catch (error) {
      throw new Error(
        `GET ${from}: ${error instanceof Error && error.name === 'TimeoutError' ? `body not received within ${timeoutMs} ms` : String(error)}`,
        { cause: error },
      )
    }
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(from))
    throw new UsageError(`--from must be a file path or an http(s) URL, got ${JSON.stringify(from)}`)
  try {
    return readFileSync(from, 'utf8')
  } catch (error) {
    throw new UsageError(
      `cannot read --from ${from}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
    )
  }
}

/** What `prices update` computed (also the `--json` output). */
export interface PricesUpdateSummary {
  from: string
  out: string | null
  models: number
  added: number
  changed: number
  removed: number
  examples: { added: string[]; changed: string[]; removed: string[] }
  bundledVersion: string
  dataVersion: CompactPriceTable['dataVersion']
}

/**
 * Validates a LiteLLM table's text and builds the compact table against the bundled one.
 *
 * @throws InputError when the text is not JSON, not a table, or has invalid entries.
 */
async function buildTable(
  text: string,
  from: string,
  commit: string,
): Promise<{ table: CompactPriceTable; summary: Omit<PricesUpdateSummary, 'out'> }> {
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch (error) {
    throw new InputError(`${from} is not valid JSON: ${(error as Error).message}`)
  }
  const { importLiteLLMTable, compactTable, mergeWithPrevious } = await import('../../cost/litellm-import.js')
  let imported: ReturnType<typeof importLiteLLMTable>
  try {
    imported = importLiteLLMTable(json)
  } catch (error) {
    throw new InputError(`${from}: ${(error as Error).message}`)
  }
  if (imported.rejected.length > 0) {
    const shown = imported.rejected.slice(0, 20).map((r) => `  ${r.key}: ${r.reason}`)
    const more = imported.rejected.length > 20 ? [`  ... and ${imported.rejected.length - 20} more`] : []
    throw new InputError(
      [
        `${from}: ${imported.rejected.length} invalid ${imported.rejected.length === 1 ? 'entry' : 'entries'}:`,
        ...shown,
        ...more,
      ].join('\n'),
    )
  }
  if (imported.entries.size === 0) throw new InputError(`${from}: the table has no model entries`)
  const bundled = new PriceCatalog()
  const { merged, added, changed, removed } = mergeWithPrevious(imported.entries, bundled.keys(), (key) =>
    bundled.get(key),
  )
  const date = new Date().toISOString().slice(0, 10)
  const digest = createHash('sha256').update(text).digest('hex').slice(0, 8)
  const source = { file: /^https?:/i.test(from) ? from : basename(from), commit, date, role: 'current' as const }
  const sources = [source, ...bundled.dataVersion.sources.map((s) => ({ ...s, role: 'retired' as const }))]
  const table = compactTable(merged, { format: 'litellm', id: `update@${date}.${digest}`, sources }, bundled.license)
  // The file must load back: validate it exactly as `catalog.load()` will.
  await new PriceCatalog({ table: 'empty' }).load(JSON.parse(JSON.stringify(table)))
  return {
    table,
    summary: {
      from,
      models: imported.entries.size,
      added: added.length,
      changed: changed.length,
      removed: removed.length,
      examples: { added: added.slice(0, 3), changed: changed.slice(0, 3), removed: removed.slice(0, 3) },
      bundledVersion: bundled.dataVersion.id,
      dataVersion: table.dataVersion,
    },
  }
}

/** Refuses an `--out` whose directory does not exist, before anything is downloaded. */
function checkOutDirectory(path: string): void {
  const dir = dirname(path)
  let ok: boolean
  try {
    ok = statSync(dir).isDirectory()
  } catch {
    ok = false
  }
  if (!ok) throw new UsageError(`--out ${path}: the directory ${dir} does not exist`)
}

/** Writes `text` to `path` through a temporary file in the same directory and a rename. */
function writeAtomically(path: string, text: string): void {
  const tmp = `${path}.${process.pid}.tmp`
  try {
    writeFileSync(tmp, text, { mode: 0o644 })
    renameSync(tmp, path)
  } catch (error) {
    rmSync(tmp, { force: true })
    throw error
  }
}

function examples(list: string[], count: number): string {
  return list.length === 0 ? '' : `   e.g. ${list.join(', ')}${count > list.length ? ', ...' : ''}`
}

export const pricesCommand: Command = {
  name: 'prices',
  summary: 'write a price file from a LiteLLM table: prices update --from <path|url>',
  usage: USAGE,
  async run({ argv, out, err }) {
    const args = parseArgs(argv, { values: ['from', 'out', 'timeout', 'commit'], switches: ['dry-run', 'json'] })
    const [sub, ...extra] = args.positionals
    if (sub === undefined) throw new UsageError('missing subcommand: prices update --from <path|url>')
    if (sub !== 'update') throw new UsageError(`unknown subcommand ${JSON.stringify(sub)}; the only one is \`update\``)
    if (extra.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(extra[0])}`)
    const from = args.values.get('from')
    if (from === undefined || from === '') throw new UsageError('--from <LiteLLM JSON path or URL> is required')
    const timeoutText = args.values.get('timeout') ?? '30000'
    if (!/^\d{1,9}$/.test(timeoutText) || Number(timeoutText) < 1)
      throw new UsageError(`--timeout must be a whole number of milliseconds >= 1, got ${JSON.stringify(timeoutText)}`)
    const commit = args.values.get('commit') ?? 'unknown'
    if (!/^[0-9A-Za-z._-]{1,100}$/.test(commit))
      throw new UsageError('--commit must be a commit id (letters, digits, . _ -)')
    const outPath = resolve(args.values.get('out') ?? 'llm-budget-prices.json')
    const dryRun = args.switches.has('dry-run')
    if (!dryRun) checkOutDirectory(outPath)

    const text = await readSource(from, Number(timeoutText))
    let built: Awaited<ReturnType<typeof buildTable>>
    try {
      built = await buildTable(text, from, commit)
    } catch (error) {
      if (!(error instanceof InputError)) throw error
      err(`llm-budget prices update: ${error.message}`)
      err('Nothing was written.')
      return EXIT.usage
    }
    const { table, summary } = built
    if (!dryRun) writeAtomically(outPath, `${JSON.stringify(table)}\n`)
    const full: PricesUpdateSummary = { ...summary, out: dryRun ? null : outPath }
    if (args.switches.has('json')) {
      out(JSON.stringify(full, null, 2))
      return EXIT.ok
    }
    out(`Read ${from}: ${summary.models} valid models.`)
    out(`Against the bundled table ${summary.bundledVersion}:`)
    out(`  added    ${String(summary.added).padStart(6)}${examples(summary.examples.added, summary.added)}`)
    out(`  changed  ${String(summary.changed).padStart(6)}${examples(summary.examples.changed, summary.changed)}`)
    out(
      `  removed  ${String(summary.removed).padStart(6)}${examples(summary.examples.removed, summary.removed)}${summary.removed > 0 ? '  (kept, marked retired)' : ''}`,
    )
    const version = `data version ${table.dataVersion.id}, ${table.dataVersion.models} models (${table.dataVersion.retired} retired)`
    if (dryRun) {
      out(`Dry run: nothing written (${version}).`)
    } else {
      out(`Wrote ${outPath}: ${version}.`)
      out(
        `Load it with: await defaultCatalog.load(JSON.parse(readFileSync('${outPath.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}', 'utf8')))`,
      )
    }
    return EXIT.ok
  },
}

export default pricesCommand
