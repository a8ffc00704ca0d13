// Helpers for the file store's process tests: a fast-starting bundle of the store for child processes, and a child
// process wrapper that collects stdout lines.
import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { join, sep } from 'node:path'
import { fileURLToPath } from 'node:url'
import { build, type BuildOptions, type Plugin } from 'esbuild'

const here = fileURLToPath(new URL('.', import.meta.url))
export const WORKER = join(here, 'file-worker.mjs')
const SRC = join(here, '..', '..', 'src')

/**
 * zod's classic entry re-exports every locale (`z.locales`, 60-odd translation tables, a third of the bundle) though
 * it configures only English, which it imports on its own: src/ never reads `z.locales`. Left out of the children's
 * bundle, each of the kill -9 loop's 200 writers parses that much less before its first write.
 */
const withoutZodLocales: Plugin = {
  name: 'without-zod-locales',
  setup(build) {
    build.onResolve({ filter: /^\.\.\/locales\/index\.js$/ }, (args) =>
      args.importer.includes(`${sep}zod${sep}`) ? { path: 'zod-locales', namespace: 'without-zod-locales' } : undefined,
    )
    build.onLoad({ filter: /.*/, namespace: 'without-zod-locales' }, () => ({ contents: 'export {}', loader: 'js' }))
  },
}

/** esbuild options of both store bundles: less text for each child to parse at start; identifiers keep their names. */
const BUNDLE = {
  bundle: true,
  platform: 'node',
  logLevel: 'silent',
  minifyWhitespace: true,
  minifySyntax: true,
  plugins: [withoutZodLocales],
} as const satisfies BuildOptions

/**
 * Bundles `src/stores/file/store.ts` (`createFileStore`: the store with fault hooks) and, when given, the manager
 * entry into `directory`; returns the module paths.
 */
export async function bundleStore(
  directory: string,
  extra: Record<string, string> = {},
): Promise<Record<string, string>> {
  const entryPoints: Record<string, string> = { 'file-store': join(SRC, 'stores', 'file', 'store.ts') }
  for (const [name, path] of Object.entries(extra)) entryPoints[name] = join(SRC, path)
  await build({
    ...BUNDLE,
    entryPoints,
    format: 'esm',
    outdir: directory,
    outExtension: { '.js': '.mjs' },
    splitting: true,
  })
  return Object.fromEntries(Object.keys(entryPoints).map((name) => [name, join(directory, `${name}.mjs`)]))
}

/**
 * The kill -9 loop's writers load the store from a single CommonJS file compiled with a V8 code cache: an ES module's
 * source is parsed and compiled again in every process (a third of a writer's start-up), while a `vm.Script` given
 * `cachedData` skips that work for every function the cache holds. Bundles `src/stores/file/store.ts` as
 * `file-store.cjs` in `directory` (the same source and esbuild options as {@link bundleStore}), then has one worker
 * process load it and write the cache (`file-store.cache`) with the same Node binary and flags as the writers, so V8
 * accepts it. Returns the two paths, for the worker's FILE_STORE_MODULE and FILE_STORE_CODE_CACHE.
 */
export async function bundleStoreWithCodeCache(directory: string): Promise<{ module: string; cache: string }> {
  await build({
    ...BUNDLE,
    entryPoints: { 'file-store': join(SRC, 'stores', 'file', 'store.ts') },
    format: 'cjs',
    outdir: directory,
    outExtension: { '.js': '.cjs' },
  })
  const paths = { module: join(directory, 'file-store.cjs'), cache: join(directory, 'file-store.cache') }
  const child = startWorker({ FILE_STORE_MODULE: paths.module, FILE_STORE_CODE_CACHE: paths.cache, MODE: 'code-cache' })
  const end = await child.exited
  if (end.code !== 0) throw new Error(`writing the code cache failed (${end.code ?? end.signal}): ${end.stderr}`)
  return paths
}

/** A child process running the worker, with its stdout split into lines. */
export interface Child {
  process: ChildProcess
  lines: string[]
  /** Resolves with the first line matching the predicate. */
  waitFor(predicate: (line: string) => boolean): Promise<string>
  /** Resolves with the exit code or signal when the process ends. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>
}

export function startWorker(env: Record<string, string>): Child {
  const child = spawn(process.execPath, [WORKER], { env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'] })
  const lines: string[] = []
  const waiters: { predicate: (line: string) => boolean; resolve: (line: string) => void }[] = []
  let buffered = ''
  let stderr = ''
  child.stdout!.setEncoding('utf8')
  child.stdout!.on('data', (chunk: string) => {
    buffered += chunk
    let newline = buffered.indexOf('\n')
    while (newline !== -1) {
      const line = buffered.slice(0, newline)
      buffered = buffered.slice(newline + 1)
      lines.push(line)
      for (const waiter of [...waiters]) {
        if (waiter.predicate(line)) {
          waiters.splice(waiters.indexOf(waiter), 1)
          waiter.resolve(line)
        }
      }
      newline = buffered.indexOf('\n')
    }
  })
  child.stderr!.setEncoding('utf8')
  child.stderr!.on('data', (chunk: string) => {
    stderr += chunk
  })
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>((resolve) => {
    child.on('close', (code, signal) => resolve({ code, signal, stderr }))
  })
  return {
    process: child,
    lines,
    exited,
    waitFor(predicate) {
      const found = lines.find(predicate)
      if (found !== undefined) return Promise.resolve(found)
      return new Promise((resolve, reject) => {
        waiters.push({ predicate, resolve })
        void exited.then((end) =>
          reject(
            new Error(`worker exited (${end.code ?? end.signal}) before the expected line; stderr: ${end.stderr}`),
          ),
        )
      })
    },
  }
}
