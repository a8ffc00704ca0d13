/**
 * Vitest `globalSetup`: runs once per `vitest run` in the main process, before any test file. It compiles the
 * TypeScript entry points that tests start as real processes (the CLI, the examples, a worker) into plain JavaScript with
 * esbuild, once, and hands the paths to every file through `provide` (read them with {@link bundledEntry}). A
 * spawned `node <bundle>` then starts without tsx: tsx's loader transpiled every `src/` module again in every child,
 * 0.5-1 s of CPU per spawn. The packages they import (the SDKs, the Redis and PostgreSQL clients) are compiled in
 * too, so a process does not resolve and load them file by file from `node_modules`; `llm-budget` by name stays an
 * import, resolved through the package's self-reference to `dist/`, as with tsx. The bundles live under `<repository>/.tmp/` and are
 * removed at the end of the run. See docs/decisions/0120-test-runner-settings.md.
 */
import { chmodSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { build } from 'esbuild'
import type { TestProject } from 'vitest/node'
import { WITH_PACKAGES } from './worker-bundle.js'

const ROOT = join(import.meta.dirname, '..', '..')

/** The entries bundled, by name: the path of each from the repository root. */
export const ENTRIES = {
  cli: 'src/cli/main.ts',
  'example-openai': 'examples/openai.ts',
  'example-anthropic': 'examples/anthropic.ts',
  'example-ai-sdk': 'examples/ai-sdk.ts',
  'example-langchain': 'examples/langchain.ts',
  'example-quickstart': 'examples/quickstart.ts',
  'example-runaway': 'examples/runaway.ts',
  'http-client-worker': 'test/stores/http-workers/client.ts',
} as const

/** The name of a bundled entry. */
export type EntryName = keyof typeof ENTRIES

declare module 'vitest' {
  export interface ProvidedContext {
    /** The bundled `.mjs` file of each entry of {@link ENTRIES}, by name. */
    bundledEntries: Record<EntryName, string>
    /** A directory for this run's shared test fixtures (readable by all users), removed at the end of the run. */
    runDirectory: string
  }
}

interface Shared {
  bundledEntries: Record<EntryName, string>
  runDirectory: string
  directories: string[]
  users: number
}

/**
 * Vitest calls a global setup once for the root configuration and once for each project that inherits it: the work
 * is done by the first call, and the directories are removed by the last teardown.
 */
const state = globalThis as { llmBudgetTestRun?: Promise<Shared> }

export default async function setup(project: TestProject): Promise<() => void> {
  state.llmBudgetTestRun ??= prepare()
  const shared = await state.llmBudgetTestRun
  shared.users++
  project.provide('bundledEntries', shared.bundledEntries)
  project.provide('runDirectory', shared.runDirectory)
  return () => {
    if (--shared.users > 0) return
    for (const directory of shared.directories) rmSync(directory, { recursive: true, force: true })
    delete state.llmBudgetTestRun
  }
}

async function prepare(): Promise<Shared> {
  // The test processes (Vitest's workers, which it forks after this setup with this process's environment, and every
  // process a test starts) talk only to loopback servers over plain HTTP: none needs extra CA certificates, and
  // loading a bundle of them (NODE_EXTRA_CA_CERTS, set on some machines and CI images) costs each Node process about
  // 0.07 s of CPU at start, ~30 s in a run that starts ~400 of them.
  delete process.env['NODE_EXTRA_CA_CERTS']
  mkdirSync(join(ROOT, '.tmp'), { recursive: true })
  // Each entry in a directory of its own directly under .tmp/: the CLI reads its version from
  // `../../package.json` relative to its own file, as from src/cli/ and dist/cli/.
  const directories: string[] = []
  const paths = {} as Record<EntryName, string>
  await Promise.all(
    Object.entries(ENTRIES).map(async ([name, entry]) => {
      const outdir = mkdtempSync(join(ROOT, '.tmp', `${name}-`))
      directories.push(outdir)
      await build({
        ...WITH_PACKAGES,
        entryPoints: { [name]: join(ROOT, entry) },
        outdir,
        outExtension: { '.js': '.mjs' },
        // Lazily imported commands and stores stay lazy (their own chunks), as in dist/.
        splitting: true,
        // The packages they import are compiled in (see WITH_PACKAGES), except this one: an example imports it by
        // name, as a user does, from the built dist/.
        external: ['llm-budget', 'llm-budget/*'],
      })
      paths[name as EntryName] = join(outdir, `${name}.mjs`)
    }),
  )
  // In the system's temporary directory: PostgreSQL, run as `nobody` when the tests run as root, reads its template
  // from here (test/helpers/postgres-server.ts).
  const runDirectory = mkdtempSync(join(tmpdir(), 'llm-budget-test-run-'))
  chmodSync(runDirectory, 0o755)
  directories.push(runDirectory)
  return { bundledEntries: paths, runDirectory, directories, users: 0 }
}
