// `llm-budget cost`. The breakdown and an unknown model run the real CLI entry (src/cli/main.ts, bundled once per run)
// in a child process (exit codes 0 and 2, stdout and stderr as a shell sees them); the other tests run the same command
// in this process (runCliHere), without a Node start per run.
import { describe, expect, it } from 'vitest'
import { runCli, runCliHere } from '../helpers/cli.js'

/** Runs the CLI in this process. */
const cli = (...args: string[]) => runCliHere(args)
/** Runs the CLI as a real process. */
const spawned = (...args: string[]) => runCli(args)

describe('llm-budget cost', () => {
  it('prints the breakdown, the total and the resolution rule', async () => {
    const r = await spawned('cost', 'gpt-4o', '--input', '10000', '--output', '500', '--cached', '6000')
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(/gpt-4o -> gpt-4o \(exact\)/)
    expect(r.stdout).toMatch(/cache read\s+\$0\.0075/)
    expect(r.stdout).toMatch(/total\s+\$0\.0225\s+\(22500000 nano-USD\)/)
  })

  it('explains a stripped provider prefix and a date suffix', async () => {
    const r = await cli('cost', 'openai/gpt-4o-2099-01-01', '--input', '1000', '--output', '10')
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(/-> gpt-4o \(date-stripped\)/)
  })

  it('handles Anthropic cache writes (5m and 1h) and reasoning', async () => {
    // claude-sonnet-4-5: 1,000 * 0.000003 + 3,000 * 0.0000003 + 4,000 * 0.00000375 + 2,000 * 0.000006 + 500 * 0.000015 = 0.0384
    const r = await cli(
      'cost',
      'claude-sonnet-4-5',
      '--input',
      '10000',
      '--output',
      '500',
      '--cached',
      '3000',
      '--cache-write',
      '6000',
      '--cache-write-1h',
      '2000',
      '--reasoning',
      '100',
    )
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(/total\s+\$0\.0384/)
  })

  it('uses the provider hint', async () => {
    const r = await cli(
      'cost',
      'gemini-2.5-pro',
      '--provider',
      'gemini',
      '--input',
      '250000',
      '--output',
      '0',
      '--json',
    )
    expect(r.code).toBe(0)
    const json = JSON.parse(r.stdout) as { model: string; exact: { totalCost: string }; resolution: { rule: string } }
    // gemini/gemini-2.5-pro above 200k: 250,000 * 0.0000025 = 0.625
    expect([json.model, json.exact.totalCost, json.resolution.rule]).toEqual([
      'gemini/gemini-2.5-pro',
      '0.625',
      'provider-prefixed',
    ])
  })

  it('unknown model: clear message with suggestions, exit code 2', async () => {
    const r = await spawned('cost', 'gpt-4o-ultra', '--input', '1', '--output', '1')
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
  ])('bad arguments exit 2: %j', async (args) => {
    const r = await cli(...args)
    expect(r.code).toBe(2)
    expect(r.stderr.length).toBeGreaterThan(0)
  })

  it('help lists the commands', async () => {
    const r = await cli('help')
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(/cost/)
  })
})
