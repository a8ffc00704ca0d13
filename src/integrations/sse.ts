/**
 * Server-sent events: parsing one event block, as OpenAI and Anthropic stream them.
 *
 * @packageDocumentation
 */

/** One server-sent event. */
export interface SseEvent {
  event: string | undefined
  data: string
}

/** Parse one SSE block (the lines between blank lines). */
export function parseSseBlock(block: string): SseEvent | null {
  let event: string | undefined
  const data: string[] = []
  for (const line of block.split(/\r\n|\r|\n/)) {
    if (line === '' || line.startsWith(':')) continue
    const colon = line.indexOf(':')
    const field = colon === -1 ? line : line.slice(0, colon)
    let value = colon === -1 ? '' : line.slice(colon + 1)
    if (value.startsWith(' ')) value = value.slice(1)
    if (field === 'event') event = value
    else if (field === 'data') data.push(value)
  }
  if (data.length === 0 && event === undefined) return null
  return { event, data: data.join('\n') }
}
