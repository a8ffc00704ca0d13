/**
 * Worker scripts of the multi-process tests as plain JavaScript: {@link bundleWorker} compiles a `.ts` worker and
 * the `src/` modules it imports into one ESM file with esbuild, so that each worker process starts with
 * `node <file>` instead of `node --import tsx <file.ts>` (tsx's loader thread and per-module transpiling cost about
 * 1 s of CPU per process; the bundle about a quarter of that). Packages (ioredis, redis, pg, ...) stay imports,
 * resolved from the repository's `node_modules`: the bundle is written under `.tmp/` in the repository.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { basename, join } from 'node:path'
import { build } from 'esbuild'

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
  await build({
    entryPoints: [entry],
    outfile: path,
    bundle: true,
    packages: 'external',
    platform: 'node',
    format: 'esm',
    target: 'es2022',
    logLevel: 'silent',
  })
  return { path, remove: () => rmSync(directory, { recursive: true, force: true }) }
}
