// Runs the real CLI entry (src/cli/main.ts through tsx) in a child process.
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

const root = fileURLToPath(new URL('../../', import.meta.url))

function cli(...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], { cwd: root, encoding: 'utf8', timeout: 30_000 })
  return { code: result.status, stdout: result.stdout, stderr: result.stderr }
}

describe('llm-budget cost', () => {
  it('prints the breakdown, the total and the resolution rule', () => {
    const r = cli('cost', 'gpt-4o', '--input', '10000', '--output', '500', '--cached', '6000')
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(/gpt-4o -> gpt-4o \(exact\)/)
    expect(r.stdout).toMatch(/cache read\s+\$0\.0075/)
    expect(r.stdout).toMatch(/total\s+\$0\.0225\s+\(22500000 nano-USD\)/)
  })

  it('explains a stripped provider prefix and a date suffix', () => {
    const r = cli('cost', 'openai/gpt-4o-2099-01-01', '--input', '1000', '--output', '10')
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(/-> gpt-4o \(date-stripped\)/)
  })

  it('handles Anthropic cache writes (5m and 1h) and reasoning', () => {
    // claude-sonnet-4-5: 1,000 * 0.000003 + 3,000 * 0.0000003 + 4,000 * 0.00000375 + 2,000 * 0.000006 + 500 * 0.000015 = 0.0384
    const r = cli('cost', 'claude-sonnet-4-5', '--input', '10000', '--output', '500', '--cached', '3000', '--cache-write', '6000', '--cache-write-1h', '2000', '--reasoning', '100')
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(/total\s+\$0\.0384/)
  })

  it('uses the provider hint', () => {
    const r = cli('cost', 'gemini-2.5-pro', '--provider', 'gemini', '--input', '250000', '--output', '0', '--json')
    expect(r.code).toBe(0)
    const json = JSON.parse(r.stdout) as { model: string; exact: { totalCost: string }; resolution: { rule: string } }
    // gemini/gemini-2.5-pro above 200k: 250,000 * 0.0000025 = 0.625
    expect([json.model, json.exact.totalCost, json.resolution.rule]).toEqual(['gemini/gemini-2.5-pro', '0.625', 'provider-prefixed'])
  })

  it('unknown model: clear message with suggestions, exit code 2', () => {
    const r = cli('cost', 'gpt-4o-ultra', '--input', '1', '--output', '1')
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(/Unknown model `gpt-4o-ultra`/)
    expect(r.stderr).toMatch(/Did you mean: gpt-4o, gpt-4o-mini/)
  })

  it.each([
    [['cost', 'gpt-4o', '--output', '1']],
    [['cost', 'gpt-4o', '--input', '-5', '--output', '1']],
    [['cost', 'gpt-4o', '--input', '1.5', '--output', '1']],
    [['cost', 'gpt-4o', '--input', '10', '--output', '1', '--cached', '20']],
    [['cost', '--input', '10', '--output', '1']],
    [['cost', 'gpt-4o', '--input', '10', '--output', '1', '--bogus']],
    [['nope']],
  ])('bad arguments exit 2: %j', (args) => {
    const r = cli(...args)
    expect(r.code).toBe(2)
    expect(r.stderr.length).toBeGreaterThan(0)
  })

  it('help lists the commands', () => {
    const r = cli('help')
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(/cost/)
  })
})
