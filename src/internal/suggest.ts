/**
 * "Did you mean" for names: the edit distance between two strings and the closest candidates to a typo.
 * Used by option validation, duration parsing and model lookup so every message suggests the same way.
 */

/** Levenshtein distance between `a` and `b` (two rows, no allocation per cell). */
export function editDistance(a: string, b: string): number {
  if (a === b) return 0
  let previous = new Array<number>(b.length + 1)
  let current = new Array<number>(b.length + 1)
  for (let j = 0; j <= b.length; j++) previous[j] = j
  for (let i = 1; i <= a.length; i++) {
    current[0] = i
    for (let j = 1; j <= b.length; j++) {
      const substitution = a.charCodeAt(i - 1) === b.charCodeAt(j - 1) ? 0 : 1
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + substitution)
    }
    ;[previous, current] = [current, previous]
  }
  return previous[b.length]!
}

/**
 * The candidate closest to `input` (case-insensitive), or `undefined` when none is within a third of the
 * input's length (at least 2 edits), so a suggestion is offered only when it is plausibly what was meant.
 */
export function closest(input: string, candidates: Iterable<string>): string | undefined {
  const lower = input.toLowerCase()
  let best: string | undefined
  let bestDistance = Math.max(2, Math.floor(input.length / 3)) + 1
  for (const candidate of candidates) {
    const d = editDistance(lower, candidate.toLowerCase())
    if (d < bestDistance) {
      best = candidate
      bestDistance = d
    }
  }
  return best
}
