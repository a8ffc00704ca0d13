// Runs examples/{openai,anthropic,ai-sdk,langchain}.ts as a user would, each in a Node process of its own (compiled
// once per run by test/helpers/global-setup.ts instead of transpiled by tsx in every process; the example still
// imports `llm-budget` by name through the package's self-reference to the built dist/): offline by default against
// the fake endpoint of `llm-budget/testing`, and with OPENAI_BASE_URL / ANTHROPIC_BASE_URL against local
// wire-format servers through the real SDKs.
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startAnthropicServer } from '../integrations/servers/anthropic.js'
import { startOpenAIServer, type WireServer } from '../integrations/servers/openai.js'
import { ROOT } from '../helpers/cli.js'
import { bundledEntry } from '../helpers/entries.js'

const run = promisify(execFile)
const EXAMPLES = ['openai', 'anthropic', 'ai-sdk', 'langchain'] as const
/** The environment without any provider setting, as on a machine that never configured one. */
const OFFLINE = Object.fromEntries(Object.entries(process.env).filter(([name]) => !/^(OPENAI|ANTHROPIC)_/.test(name)))

async function example(name: (typeof EXAMPLES)[number], env: NodeJS.ProcessEnv): Promise<string> {
  // A hang fails here (30 s) instead of stalling the suite.
  const { stdout } = await run(process.execPath, [bundledEntry(`example-${name}`)], {
    cwd: ROOT,
    env,
    timeout: 30_000,
  })
  return stdout
}

/** The output of each example run offline, run once however many tests read it (the run does not change). */
const offlineRuns = new Map<string, Promise<string>>()
function offline(name: (typeof EXAMPLES)[number]): Promise<string> {
  let run = offlineRuns.get(name)
  if (run === undefined) offlineRuns.set(name, (run = example(name, OFFLINE)))
  return run
}

describe('examples, offline (no provider settings)', () => {
  for (const name of EXAMPLES) {
    it(`examples/${name}.ts runs against the fake endpoint and charges two calls`, async () => {
      const stdout = await offline(name)
      expect(stdout).toMatch(/^offline: a fake (OpenAI|Anthropic) endpoint answers/)
      // Two calls (one plain, one streamed), each charged once from the usage the fake reported.
      expect(stdout.match(/recorded \S+: \$\d/g)).toHaveLength(2)
      expect(stdout).toMatch(/spent \$0\.\d+ of \$\d/)
      expect(stdout).toContain('Hello! 1, 2, 3.')
    })
  }

  it('examples/openai.ts refuses the call its budget cannot hold, before it is sent', async () => {
    const stdout = await offline('openai')
    expect(stdout).toMatch(/refused: Budget exceeded for user:alice \(daily\)/)
    // gpt-4o-mini at 3 input tokens ('Say hello.' / 4, rounded up) and 20 output: 3 * 0.00000015 + 20 * 0.0000006
    expect(stdout).toContain('alice spent $0.0000249 of $1')
  })
})

describe('examples, against local wire servers (OPENAI_BASE_URL / ANTHROPIC_BASE_URL)', () => {
  let openai: WireServer
  let anthropic: WireServer
  beforeAll(async () => {
    openai = await startOpenAIServer()
    anthropic = await startAnthropicServer()
  })
  afterAll(async () => {
    await openai.close()
    await anthropic.close()
  })

  for (const name of EXAMPLES) {
    it(`examples/${name}.ts runs and records spend`, async () => {
      const before = openai.count() + anthropic.count()
      const stdout = await example(name, {
        ...OFFLINE,
        OPENAI_BASE_URL: `${openai.url}/v1`,
        ANTHROPIC_BASE_URL: anthropic.url,
        OPENAI_API_KEY: 'sk-local',
        ANTHROPIC_API_KEY: 'sk-ant-local',
      })
      expect(stdout).toMatch(/^calling http:\/\/127\.0\.0\.1:/)
      expect(stdout).toMatch(/recorded \S+: \$\d/)
      expect(stdout).toMatch(/spent \$0\.\d+ of \$\d/)
      expect(openai.count() + anthropic.count() - before).toBeGreaterThanOrEqual(2)
    })
  }
})
