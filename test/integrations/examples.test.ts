/** Runs examples/{openai,anthropic,ai-sdk,langchain}.ts with tsx against the local wire servers. */
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startAnthropicServer } from './servers/anthropic.js'
import { startOpenAIServer, type WireServer } from './servers/openai.js'

const run = promisify(execFile)
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

describe('examples', () => {
  for (const name of ['openai', 'anthropic', 'ai-sdk', 'langchain']) {
    it(`examples/${name}.ts runs and records spend`, async () => {
      const before = openai.count() + anthropic.count()
      const { stdout } = await run('npx', ['tsx', `examples/${name}.ts`], {
        env: { ...process.env, OPENAI_BASE_URL: `${openai.url}/v1`, ANTHROPIC_BASE_URL: anthropic.url, OPENAI_API_KEY: 'sk-local', ANTHROPIC_API_KEY: 'sk-ant-local' },
        timeout: 60_000,
      })
      expect(stdout).toMatch(/recorded \S+: \$\d/)
      expect(stdout).toMatch(/spent \$0\.\d+ of \$\d/)
      expect(openai.count() + anthropic.count() - before).toBeGreaterThanOrEqual(2)
    })
  }
})
