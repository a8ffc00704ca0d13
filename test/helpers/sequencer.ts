/**
 * The order test files start in: longest first, so the run does not end waiting on one slow file that happened to
 * start last. Vitest's own order uses the durations of the previous run (its cache); a fresh clone (CI) has none and
 * would fall back to file size, which says little here (the slowest files spawn processes or wait on servers). For
 * files the cache does not know, the durations below are used: seconds a file took in a full run on the 2-core dev
 * machine (the clean-clone CI run of main, 2026-12-07, with this runner configuration). They only decide an order,
 * never whether a test runs; update them when a file gets much faster or slower.
 */
import { BaseSequencer, type TestSpecification } from 'vitest/node'

const KNOWN_SECONDS: Readonly<Record<string, number>> = {
  'test/stores/file-processes.test.ts': 129,
  'test/examples/integrations.test.ts': 34,
  'test/stores/http-processes.test.ts': 30,
  'test/server/security.test.ts': 25,
  'test/budget/exact-money.test.ts': 24,
  'test/conformance/conformance.test.ts': 10,
  'test/package/package.test.ts': 23,
  'test/stores/redis-time.test.ts': 10,
  'test/budget/windows-all-zones.test.ts': 7,
  'test/docs/snippets.test.ts': 20,
  'test/stores/redis-cluster.test.ts': 15,
  'test/stores/postgres-cli.test.ts': 14,
  'test/cli/report.test.ts': 14,
  'test/package/api-report.test.ts': 13,
  'test/cli/serve.test.ts': 12,
  'test/cli/main.test.ts': 11,
  'test/observability/dashboard-cli.test.ts': 11,
  'test/observability/digest-cli.test.ts': 10,
  'test/stores/redis-manager.test.ts': 9,
  'test/observability/dashboard-browser.test.ts': 9,
  'test/stores/postgres-processes.test.ts': 8,
  'test/stores/redis-stall.test.ts': 4,
}

/**
 * Longest first (the previous run's duration when Vitest's cache has it, else {@link KNOWN_SECONDS}, else 0), the
 * own-process files before the shared ones.
 */
export default class LongestFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const root = this.ctx.config.root
    const known = (spec: TestSpecification): { failed: boolean; seconds: number } => {
      const path = spec.moduleId.startsWith(root + '/') ? spec.moduleId.slice(root.length + 1) : spec.moduleId
      const cached = this.ctx.cache.getFileTestResults(`${spec.project.name}:${path}`)
      if (cached !== undefined) return { failed: cached.failed, seconds: cached.duration / 1000 }
      return { failed: false, seconds: KNOWN_SECONDS[path] ?? 0 }
    }
    const order = new Map(files.map((spec) => [spec, known(spec)]))
    const isolated = (spec: TestSpecification): number => Number(spec.project.config.isolate !== false)
    // Files that failed last time first (fast feedback), then the files of a process of their own before the shared
    // ones, then the longest. Vitest keeps a shared (`isolate: false`) worker for the next file only when the next
    // file in its queue is shared too; in one list mixed by duration alone, most shared files came after an
    // own-process one, so their worker was ended and a new one imported src/ and the SDKs again (59 workers in a
    // run instead of about 40). The own-process files are also most of the long ones.
    return [...files].sort((a, b) => {
      const x = order.get(a)!
      const y = order.get(b)!
      return Number(y.failed) - Number(x.failed) || isolated(b) - isolated(a) || y.seconds - x.seconds
    })
  }
}
