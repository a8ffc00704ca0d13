import { defineConfig } from 'vitest/config'
import LongestFirst from './test/helpers/sequencer.js'

/**
 * Files that run in a process of their own (Vitest's `isolate`): the long ones, whose import time is small next to
 * their run time, and those that measure or change process-wide state (heap size, CPU-bound loops or short store
 * timeouts under a deadline, AsyncLocalStorage, global providers, signals). Every other file shares a worker's module
 * cache with the files before it; see CONTRIBUTING.md ("How the suite runs") before adding a file here or not.
 */
const OWN_PROCESS = [
  'test/budget/currency-budgets.test.ts',
  'test/budget/exact-money.test.ts',
  'test/budget/property.test.ts',
  'test/budget/windows-all-zones.test.ts',
  'test/cli/**/*.test.ts',
  'test/conformance/**/*.test.ts',
  'test/docs/snippets.test.ts',
  'test/examples/integrations.test.ts',
  'test/examples/quickstart.test.ts',
  'test/integrations/ai-sdk.test.ts',
  'test/integrations/cohere.test.ts',
  'test/integrations/langchain.test.ts',
  'test/integrations/mistral.test.ts',
  'test/integrations/openrouter.test.ts',
  'test/observability/dashboard-browser.test.ts',
  'test/observability/dashboard-cli.test.ts',
  'test/observability/digest-cli.test.ts',
  'test/package/api-report.test.ts',
  'test/package/package.test.ts',
  'test/security/**/*.test.ts',
  'test/server/management.test.ts',
  'test/server/reliability.test.ts',
  'test/server/security.test.ts',
  'test/stores/file-processes.test.ts',
  'test/stores/http-processes.test.ts',
  'test/stores/http.test.ts',
  'test/stores/postgres*.test.ts',
  'test/stores/redis-cluster*.test.ts',
  'test/stores/redis-failure.test.ts',
  'test/stores/redis-manager.test.ts',
  'test/stores/redis-processes.test.ts',
  'test/stores/redis-stall.test.ts',
  'test/stores/redis-time.test.ts',
  'test/stores/redis.test.ts',
]

export default defineConfig({
  test: {
    testTimeout: 60_000,
    // Bundles the CLI and the examples once per run for the tests that start them as processes.
    globalSetup: ['test/helpers/global-setup.ts'],
    hookTimeout: 60_000,
    pool: 'forks',
    // Many tests wait on child processes, servers and disk rather than the CPU, so a third worker keeps the
    // 2-core machine busy.
    maxWorkers: 3,
    sequence: { sequencer: LongestFirst },
    projects: [
      {
        extends: true,
        test: { name: 'own-process', include: OWN_PROCESS, isolate: true },
      },
      {
        extends: true,
        test: {
          name: 'shared',
          include: ['test/**/*.test.ts'],
          exclude: OWN_PROCESS,
          // One module cache per worker instead of one per file: importing src/ and the SDKs again for each
          // small file was most of its time. These files stop what they start and restore what they spy on.
          isolate: false,
          // The type tests (test/**/*.test-d.ts) are not a Vitest typecheck pass: test/docs/snippets.test.ts checks
          // them in its tsc program (Vitest ran that pass alone after every other file; ADR 0120, amendment 6).
        },
      },
    ],
  },
})
