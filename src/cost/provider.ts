/**
 * Provider names: what SDKs and gateways call a provider, mapped to LiteLLM's names.
 *
 * @packageDocumentation
 */

const PROVIDER_ALIASES: Record<string, string> = {
  google: 'gemini',
  'google.generative-ai': 'gemini',
  'google.vertex': 'vertex_ai',
  vertex: 'vertex_ai',
  'amazon-bedrock': 'bedrock',
  bedrock_converse: 'bedrock',
  'azure-openai': 'azure',
  mistralai: 'mistral',
  'x-ai': 'xai',
}

/**
 * Normalizes a provider name to LiteLLM's: `openai.chat` -> `openai`, `anthropic.messages` -> `anthropic`,
 * `google` -> `gemini`, `amazon-bedrock` -> `bedrock`.
 */
export function normalizeProvider(provider: string | undefined): string | undefined {
  if (provider === undefined || provider === '' || typeof provider !== 'string') return undefined
  const lower = provider.toLowerCase()
  const direct = PROVIDER_ALIASES[lower]
  if (direct) return direct
  const head = lower.split('.')[0]!
  return PROVIDER_ALIASES[head] ?? head
}
