/**
 * `llm-budget cost <model> --input N --output N [--cached N] [--cache-write N] [--cache-write-1h N]
 * [--reasoning N] [--provider P] [--tier flex|priority] [--batch] [--json]`: price one call and explain it.
 *
 * @packageDocumentation
 */
import { calculateCost, defaultCatalog, isUnknownModelError, type NormalizedUsage } from '../../cost/index.js'
import { InvalidInputError } from '../../errors.js'
import { EXIT, UsageError, parseArgs, type Command } from '../dispatch.js'

const USAGE = `Usage: llm-budget cost <model> --input N --output N [options]

Prices one call from the bundled LiteLLM price table and shows how the model name was resolved.

Options:
  --input N            all input tokens, including cached ones (required)
  --output N           all output tokens, including reasoning (required)
  --cached N           input tokens read from the prompt cache
  --cache-write N      input tokens written to the prompt cache (5-minute writes)
  --cache-write-1h N   of --cache-write, tokens written with a 1-hour lifetime
  --reasoning N        of --output, reasoning tokens
  --provider P         provider hint (openai, azure, anthropic, bedrock, vertex_ai, gemini, ...)
  --tier T             service tier: flex or priority
  --batch              batch prices
  --json               print the result as JSON

Exit codes: 0 priced, 2 bad arguments or unknown model.`

function count(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined
  if (!/^\d+$/.test(value.replace(/_/g, '')))
    throw new UsageError(`--${name} must be a whole number >= 0, got ${JSON.stringify(value)}`)
  return Number(value.replace(/_/g, ''))
}

function usd(value: string): string {
  return `$${value}`
}

export const costCommand: Command = {
  name: 'cost',
  summary: 'price one call: cost <model> --input N --output N',
  usage: USAGE,
  run({ argv, out, err }) {
    const args = parseArgs(argv, {
      values: ['input', 'output', 'cached', 'cache-write', 'cache-write-1h', 'reasoning', 'provider', 'tier'],
      switches: ['batch', 'json'],
    })
    if (args.positionals.length !== 1)
      throw new UsageError(
        args.positionals.length === 0 ? 'missing <model>' : `expected one model, got ${args.positionals.join(' ')}`,
      )
    const model = args.positionals[0]!
    const input = count('input', args.values.get('input'))
    const output = count('output', args.values.get('output'))
    if (input === undefined) throw new UsageError('--input is required')
    if (output === undefined) throw new UsageError('--output is required')
    const cacheWrite = count('cache-write', args.values.get('cache-write')) ?? 0
    const write1h = count('cache-write-1h', args.values.get('cache-write-1h'))
    const usage: NormalizedUsage = {
      inputTokens: input,
      outputTokens: output,
      cacheReadTokens: count('cached', args.values.get('cached')) ?? 0,
      cacheWriteTokens: cacheWrite,
      reasoningTokens: count('reasoning', args.values.get('reasoning')) ?? null,
    }
    if (write1h !== undefined) usage.cacheWrite1hTokens = write1h
    // Typed arguments that do not add up are a typo, not provider data: refuse them (the library clamps and reports).
    if (usage.cacheReadTokens + cacheWrite > input)
      throw new UsageError(
        `--cached + --cache-write (${usage.cacheReadTokens + cacheWrite}) cannot exceed --input (${input}): --input counts all input tokens`,
      )
    if (write1h !== undefined && write1h > cacheWrite)
      throw new UsageError(`--cache-write-1h (${write1h}) cannot exceed --cache-write (${cacheWrite})`)
    if ((usage.reasoningTokens ?? 0) > output)
      throw new UsageError(
        `--reasoning (${usage.reasoningTokens ?? 0}) cannot exceed --output (${output}): --output counts all output tokens`,
      )
    const provider = args.values.get('provider')
    const tier = args.values.get('tier')
    if (tier !== undefined && tier !== 'flex' && tier !== 'priority' && tier !== 'standard')
      throw new UsageError(`--tier must be flex, priority or standard, got ${tier}`)
    let result
    try {
      result = calculateCost({
        model,
        usage,
        provider,
        serviceTier: tier as 'flex' | 'priority' | 'standard' | undefined,
        batch: args.switches.has('batch'),
      })
    } catch (error) {
      if (isUnknownModelError(error)) {
        err(
          `Unknown model \`${model}\`${provider ? ` (provider ${provider})` : ''}: no price in the bundled table (${defaultCatalog.dataVersion.id}).`,
        )
        err(`Tried: ${error.tried.join(', ')}`)
        if (error.suggestions.length > 0) err(`Did you mean: ${error.suggestions.join(', ')}?`)
        err('Pass --provider, or register a price with catalog.register() in code.')
        return EXIT.usage
      }
      if (error instanceof InvalidInputError) throw new UsageError(error.message)
      throw error
    }
    const resolved = defaultCatalog.resolve(model, { provider })
    if (args.switches.has('json')) {
      out(
        JSON.stringify(
          {
            ...result.toJSON(),
            resolution: { key: resolved.key, rule: resolved.rule, explain: resolved.explain },
            dataVersion: defaultCatalog.dataVersion.id,
          },
          null,
          2,
        ),
      )
      return EXIT.ok
    }
    const e = result.exact
    const p = resolved.entry.prices
    const rows: Array<[string, string, string]> = [
      ['input (uncached)', e.inputCost, p.input_cost_per_token ?? '-'],
      ['cache read', e.cacheReadCost, p.cache_read_input_token_cost ?? p.input_cost_per_token ?? '-'],
      ['cache write', e.cacheWriteCost, p.cache_creation_input_token_cost ?? p.input_cost_per_token ?? '-'],
      ['output', e.outputCost, p.output_cost_per_token ?? '-'],
      ['reasoning', e.reasoningCost, p.output_cost_per_reasoning_token ?? p.output_cost_per_token ?? '-'],
    ]
    if (e.otherCost !== '0') rows.push(['other', e.otherCost, ''])
    out(`${model} -> ${resolved.key} (${resolved.rule}${resolved.entry.retired ? ', retired model' : ''})`)
    out(`  resolution: ${resolved.explain}`)
    out(
      `  provider: ${result.provider}; tier: ${result.serviceTier}${result.batch ? '; batch' : ''}; source: ${result.source}`,
    )
    out('')
    out(`  ${'part'.padEnd(18)}${'cost (USD)'.padStart(20)}   base rate (USD/token)`)
    for (const [name, cost, rate] of rows) out(`  ${name.padEnd(18)}${usd(cost).padStart(20)}   ${rate}`)
    out(`  ${'total'.padEnd(18)}${usd(e.totalCost).padStart(20)}   (${e.totalNanoUsd} nano-USD)`)
    out('')
    out(
      `Prices: ${defaultCatalog.dataVersion.id} (LiteLLM, MIT). Thresholds and tiers re-price the whole call when they apply.`,
    )
    return EXIT.ok
  },
}

export default costCommand
