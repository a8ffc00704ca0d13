#!/usr/bin/env node
// Compares the bundled price table (LiteLLM-derived) with an independently maintained source, the data of
// @pydantic/genai-prices (a dev dependency), on every model both know, and prints the disagreements by size.
//
// Usage: npm run prices:audit [-- --limit 40] [-- --min 0.01] [-- --json <file>]
//
// A model is compared when a genai-prices model id (or one of the names it matches exactly) resolves in our
// catalog under the mapped provider by name alone (exact key, provider prefix, or provider stripped; never by a
// stripped date or another provider's entry). Compared per 1M tokens: input, output, cache read, cache write (the
// base rate of a tiered price; the price in force today of a dated one). Review results in docs/price-audit.md.
import { writeFileSync } from 'node:fs'
import { register } from 'tsx/esm/api'

register()
const { findProvider } = await import('@pydantic/genai-prices')
const { PriceCatalog } = await import('../src/cost/catalog.ts')

/** genai-prices provider id -> LiteLLM provider name. */
const PROVIDERS = {
  openai: 'openai',
  anthropic: 'anthropic',
  google: 'gemini',
  groq: 'groq',
  mistral: 'mistral',
  deepseek: 'deepseek',
  'x-ai': 'xai',
  cohere: 'cohere',
  aws: 'bedrock',
  azure: 'azure',
  openrouter: 'openrouter',
  together: 'together_ai',
  fireworks: 'fireworks_ai',
  perplexity: 'perplexity',
  novita: 'novita',
  ovhcloud: 'ovhcloud',
  cerebras: 'cerebras',
  moonshotai: 'moonshot',
  minimax: 'minimax',
  voyageai: 'voyage',
  zai: 'zai',
}

/** genai-prices price key (USD per 1M tokens) -> LiteLLM field (USD per token). */
const FIELDS = {
  input_mtok: 'input_cost_per_token',
  output_mtok: 'output_cost_per_token',
  cache_read_mtok: 'cache_read_input_token_cost',
  cache_write_mtok: 'cache_creation_input_token_cost',
}
const ALLOWED_RULES = new Set(['exact', 'provider-prefixed', 'provider-stripped'])

function parseArgs(argv) {
  const args = { limit: 40, min: 0.01, json: undefined }
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    const v = argv[i + 1]
    if (a === '--limit') args.limit = Number(v)
    else if (a === '--min') args.min = Number(v)
    else if (a === '--json') args.json = v
    else throw new Error(`unexpected argument ${a}`)
    i++
  }
  return args
}

/**
 * The prices in force today: the last conditional price without a constraint or with a start date that has
 * passed. Time-of-day prices (off-peak discounts, peak surcharges) are left out: the standard price is compared.
 */
function currentPrices(model, today) {
  if (!Array.isArray(model.prices)) return model.prices
  let chosen
  for (const c of model.prices) {
    const constraint = c.constraint
    if (constraint === undefined || (constraint.type === 'start_date' && constraint.start_date <= today))
      chosen = c.prices
  }
  return chosen ?? model.prices[0]?.prices ?? {}
}

function base(value) {
  return typeof value === 'number' ? value : typeof value?.base === 'number' ? value.base : undefined
}

function names(model) {
  const out = new Set([model.id])
  const walk = (m) => {
    if (!m || typeof m !== 'object') return
    if (typeof m.equals === 'string') out.add(m.equals)
    for (const k of ['or', 'and']) if (Array.isArray(m[k])) m[k].forEach(walk)
  }
  walk(model.match)
  return [...out]
}

const args = parseArgs(process.argv.slice(2))
const catalog = new PriceCatalog()
const today = new Date().toISOString().slice(0, 10)
const rows = []
let models = 0
let fields = 0
let agree = 0
const perProvider = {}
for (const [genaiId, litellm] of Object.entries(PROVIDERS)) {
  const provider = findProvider({ providerId: genaiId })
  if (!provider) continue
  for (const model of provider.models) {
    let resolved
    for (const name of names(model)) {
      const r = catalog.tryResolve(name, { provider: litellm })
      if (
        r &&
        ALLOWED_RULES.has(r.rule) &&
        (r.entry.provider === litellm ||
          r.entry.provider.startsWith(`${litellm}_`) ||
          r.entry.provider.startsWith(`${litellm}-`))
      ) {
        resolved = { name, ...r }
        break
      }
    }
    if (!resolved) continue
    models++
    perProvider[genaiId] = (perProvider[genaiId] ?? 0) + 1
    const prices = currentPrices(model, today)
    for (const [theirs, ours] of Object.entries(FIELDS)) {
      const them = base(prices[theirs])
      const mineText = resolved.entry.prices[ours]
      if (them === undefined || mineText === undefined) continue
      fields++
      const us = Number(mineText) * 1e6
      const diff = Math.abs(us - them) / Math.max(Math.abs(us), Math.abs(them), 1e-12)
      if (diff <= args.min) {
        agree++
        continue
      }
      rows.push({
        provider: genaiId,
        model: model.id,
        key: resolved.key,
        field: theirs,
        ours: +us.toPrecision(6),
        theirs: them,
        diff: +diff.toFixed(4),
      })
    }
  }
}
rows.sort((a, b) => b.diff - a.diff || (a.key < b.key ? -1 : 1))
console.log(`prices:audit  bundled table vs @pydantic/genai-prices (data as installed), ${today}`)
console.log(
  `models compared: ${models} (${Object.entries(perProvider)
    .map(([p, n]) => `${p} ${n}`)
    .join(', ')})`,
)
console.log(
  `prices compared: ${fields}; agree within ${(args.min * 100).toFixed(0)}%: ${agree}; disagree: ${rows.length}\n`,
)
console.log('| # | provider | catalog key | price ($/1M) | ours | genai-prices | difference |')
console.log('| - | --- | --- | --- | --- | --- | --- |')
rows.slice(0, args.limit).forEach((r, i) => {
  console.log(
    `| ${i + 1} | ${r.provider} | ${r.key} | ${r.field.replace('_mtok', '')} | ${r.ours} | ${r.theirs} | ${(r.diff * 100).toFixed(1)}% |`,
  )
})
if (rows.length > args.limit) console.log(`\n(${rows.length - args.limit} more; --limit ${rows.length} prints all)`)
if (args.json)
  writeFileSync(args.json, JSON.stringify({ date: today, models, fields, agree, disagreements: rows }, null, 2))
