/**
 * Worker scripts of the multi-process tests as plain JavaScript: {@link bundleWorker} compiles a `.ts` worker and
 * the `src/` modules it imports into one ESM file with esbuild, so that each worker process starts with
 * `node <file>` instead of `node --import tsx <file.ts>` (tsx's loader thread and per-module transpiling cost about
 * 1 s of CPU per process; the bundle about a quarter of that). The packages it imports (ioredis, redis, pg, ...) are
 * compiled into the file too: loading one from `node_modules` through Node's resolver, file by file, cost a worker
 * more than its own code (importing node-redis and the Redis store: 0.67 s of CPU from `node_modules`, 0.34 s
 * bundled). The bundle is written under `.tmp/` in the repository.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { basename, join } from 'node:path'
import { build, type BuildOptions } from 'esbuild'

/**
 * esbuild options for a Node process's ES module bundle that carries the packages it imports: CommonJS packages in
 * it `require()` Node's built-in modules, so each output file gets a `require` of its own.
 */
export const WITH_PACKAGES = {
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'es2022',
  logLevel: 'silent',
  banner: {
    js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);",
  },
} as const satisfies BuildOptions

const ROOT = join(import.meta.dirname, '..', '..')

/** A bundled worker: run it with `spawn(process.execPath, [path, ...args])`. */
export interface WorkerBundle {
  /** The bundled `.mjs` file. */
  path: string
  /** Deletes the bundle. */
  remove: () => void
}

/** Bundles the worker at `entry` (a `.ts` file) into a fresh directory under `<repository>/.tmp/`. */
export async function bundleWorker(entry: string): Promise<WorkerBundle> {
  mkdirSync(join(ROOT, '.tmp'), { recursive: true })
  const directory = mkdtempSync(join(ROOT, '.tmp', 'worker-'))
  const path = join(directory, `${basename(entry).replace(/\.ts$/, '')}.mjs`)
  await build({ ...WITH_PACKAGES, entryPoints: [entry], outfile: path })
  return { path, remove: () => rmSync(directory, { recursive: true, force: true }) }
}
