/**
 * The names a model may be priced under: the candidate table keys of a model name (provider prefixes and routes
 * stripped, Bedrock regions and commitments, cross-region prefixes, fine-tunes, one-provider families, date
 * suffixes), in the order the catalog tries them.
 *
 * @packageDocumentation
 */
import type { ResolutionRule } from './types.js'

const DATE_SUFFIX = /(?:-\d{4}-\d{2}-\d{2}|-\d{8}|@\d{8})$/
const BEDROCK_REGION = /^(?:[a-z]{2}(?:-gov)?-[a-z]+-\d|\*)$/
const COMMITMENT = /^\d+-month-commitment$/
const CROSS_REGION = /^(?:us|eu|apac|global|jp|au|us-gov|ca|sa|ap|apne)\.(?=[a-z0-9-]+\.)/
/** Path segments that are routes rather than providers (`bedrock/converse/...`, `bedrock/invoke/...`). */
const ROUTES = new Set(['converse', 'invoke', 'bedrock_converse'])

/** Providers named in model paths besides those of the price table. */
const KNOWN_PROVIDERS = [
  'openai',
  'azure',
  'azure_ai',
  'anthropic',
  'bedrock',
  'vertex_ai',
  'gemini',
  'xai',
  'mistral',
  'deepseek',
  'groq',
  'openrouter',
  'cohere',
  'together_ai',
  'fireworks_ai',
  'perplexity',
  'text-completion-openai',
  'vertex_ai_beta',
]

/** The provider names a model path may start with: the known ones, and the price table's with their first word. */
export function providerNames(tableProviders: readonly string[]): Set<string> {
  const set = new Set<string>(KNOWN_PROVIDERS)
  for (const p of tableProviders) {
    set.add(p)
    const head = p.split('-')[0]
    if (head) set.add(head)
  }
  return set
}

/** One table key to try for a model name, the rule that produced it and the name it came from. */
export interface NameCandidate {
  key: string
  rule: ResolutionRule
  via: string
  checkProvider: boolean
}

/** The table keys to try for `model` (with the caller's provider, if any), most specific first. */
export function nameCandidates(
  model: string,
  provider: string | undefined,
  isProvider: (name: string) => boolean,
): NameCandidate[] {
  const out: NameCandidate[] = []
  const push = (key: string, rule: ResolutionRule, via: string, checkProvider = false): void => {
    out.push({ key, rule, via, checkProvider })
  }
  push(model, 'exact', model, provider !== undefined)
  if (provider && !model.startsWith(`${provider}/`)) push(`${provider}/${model}`, 'provider-prefixed', model)
  // Provider and route prefixes, Bedrock regions and commitments, cross-region inference prefixes.
  const stripped: string[] = []
  let current = model
  for (let guard = 0; guard < 6; guard++) {
    const slash = current.indexOf('/')
    let next: string | undefined
    if (slash > 0) {
      const head = current.slice(0, slash)
      if (isProvider(head) || ROUTES.has(head) || BEDROCK_REGION.test(head) || COMMITMENT.test(head))
        next = current.slice(slash + 1)
    }
    if (next === undefined) {
      // Only names with a point can have a cross-region prefix: the others never compile the expression.
      const cross = current.includes('.') ? CROSS_REGION.exec(current) : null
      if (cross) next = current.slice(cross[0].length)
    }
    if (next === undefined || next === '') break
    stripped.push(next)
    current = next
  }
  for (const s of stripped) {
    push(s, 'provider-stripped', model)
    if (provider && !s.startsWith(`${provider}/`)) push(`${provider}/${s}`, 'provider-stripped', model)
  }
  // Fine-tuned models as providers name them: OpenAI `ft:<base>:<org>:<suffix>:<id>` -> the base fine-tune entry.
  for (const form of [model, ...stripped]) {
    const base = fineTuneBase(form)
    if (base === undefined) continue
    push(base, 'fine-tune', form)
    const legacy = /^(ft:.+)-\d{4}$/.exec(base) // ft:gpt-3.5-turbo-0301 -> ft:gpt-3.5-turbo
    if (legacy) push(legacy[1]!, 'fine-tune', form)
    const date = dateSuffix(base)
    if (date) push(base.slice(0, date.index), 'fine-tune', form)
  }
  // A model family only one provider serves, named without its provider (`mistral-small-latest`).
  if (!provider && !model.includes('/')) {
    const family = familyProvider(model)
    if (family) push(`${family}/${model}`, 'provider-prefixed', model)
  }
  const dated = [model, ...(provider ? [`${provider}/${model}`] : []), ...stripped]
  for (const form of dated) {
    const m = dateSuffix(form)
    if (m) push(form.slice(0, m.index), 'date-stripped', form)
  }
  return out
}

/**
 * The base fine-tune key of an OpenAI fine-tuned model name (`ft:gpt-4o-mini-2024-07-18:my-org:my-suffix:abc123`
 * or with an empty suffix, `ft:...:my-org::abc123`), as LiteLLM prices them; undefined for other names.
 */
function fineTuneBase(name: string): string | undefined {
  if (!name.startsWith('ft:')) return undefined
  const second = name.indexOf(':', 3)
  if (second < 0) return undefined
  const base = name.slice(3, second)
  return base === '' ? undefined : `ft:${base}`
}

/** Model families served by one provider, whose table keys carry that provider's prefix only. */
const FAMILIES: ReadonlyArray<[RegExp, string, string]> = [
  // [expression, provider, a part every match contains (tested first, so other names never compile the expression)]
  [
    /^(?:mistral|codestral|devstral|magistral|ministral|pixtral|open-mistral|open-mixtral|open-codestral)-/,
    'mistral',
    'tral-',
  ],
]

function familyProvider(model: string): string | undefined {
  for (const [re, provider, part] of FAMILIES) if (model.includes(part) && re.test(model)) return provider
  return undefined
}

/** {@link DATE_SUFFIX} of `name`; names not ending in a digit (most) never compile the expression. */
function dateSuffix(name: string): RegExpExecArray | null {
  const last = name.charCodeAt(name.length - 1)
  return last >= 48 && last <= 57 ? DATE_SUFFIX.exec(name) : null
}
