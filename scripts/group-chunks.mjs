// Regroups esbuild's ESM chunks so that `import 'llm-budget/cost'` loads 3 files instead of 9.
//
// esbuild puts each module in the chunk of the exact set of entries (static and dynamic, the CLI's lazily loaded
// commands included) that reach it, so the cost module's graph was cut into 8 chunks by entries that need one part
// of it (the `prices` command: the catalog but not the calculator; the lazily loaded price-file reader: table.ts but
// not the catalog). Node's loader costs each file a resolve, a read, a compile and a link: about a third of the cold
// import. Rollup re-chunks the built ESM files (no tree shaking, no code change: the modules stay as esbuild wrote
// them) with two groups:
// - `cost`: every chunk made only of `src/cost/` modules (the price data included) that is loaded statically;
// - `base`: the chunks of errors.ts and the small helpers every entry but the store subpath loads.
// A chunk loaded by `import()` (the price-file reader, the LiteLLM import with zod, the CLI commands) stays apart,
// so nothing becomes eager that was lazy. The cost of the grouping: the few entries that used part of a group now
// load all of it (the server and the CLI's report commands load `cheapestModel`'s 27 KB of capabilities, the CLI
// loads errors.ts); no entry loads the price data that did not before. The source maps are chained back to `src/`.
import { readFileSync, readdirSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { rollup } from 'rollup'

const BASE = new Set([
  'src/errors.ts',
  'src/internal/describe.ts',
  'src/internal/suggest.ts',
  'src/internal/format-money.ts',
])

/**
 * Rewrites the ESM output in `dist` (every `.js` file but those under `keep`) into regrouped chunks.
 * @param {string} dist absolute path of the output directory
 * @param {string[]} entries entry names (`cost`, `cli/main`, ...): `dist/<name>.js` keep their names and exports
 */
export async function groupChunks(dist, entries) {
  const before = readdirSync(dist).filter((f) => f.endsWith('.js'))
  const modulesOf = new Map()
  const bundle = await rollup({
    input: Object.fromEntries(entries.map((name) => [name, join(dist, `${name}.js`)])),
    treeshake: false,
    preserveEntrySignatures: 'strict',
    external: (id) => !id.startsWith('.') && !id.startsWith('/'),
    plugins: [
      {
        name: 'built-files',
        load(id) {
          const code = readFileSync(id, 'utf8')
          modulesOf.set(
            id,
            [...code.matchAll(/^\/\/ (src\/\S+)$/gm)].map((m) => m[1]),
          )
          let map
          try {
            map = JSON.parse(readFileSync(`${id}.map`, 'utf8'))
          } catch {
            map = undefined
          }
          return { code: code.replace(/\n\/\/# sourceMappingURL=\S+\s*$/, '\n'), map }
        },
      },
    ],
    onwarn(warning, warn) {
      if (warning.code !== 'CIRCULAR_DEPENDENCY') warn(warning)
    },
  })
  const isEntry = (id) => entries.some((name) => id === join(dist, `${name}.js`))
  const { output } = await bundle.write({
    dir: dist,
    format: 'es',
    entryFileNames: '[name].js',
    // esbuild's names end in its own hash (`litellm-import-PCKJJM66`): keep the name, not that hash.
    chunkFileNames: ({ name }) =>
      name === 'cost' || name === 'base' || name.startsWith('chunk-')
        ? 'chunk-[hash].js'
        : `${name.replace(/-[A-Z0-9]{8}$/, '')}-[hash].js`,
    sourcemap: true,
    minifyInternalExports: false,
    manualChunks(id, { getModuleInfo }) {
      if (isEntry(id) || getModuleInfo(id)?.dynamicImporters.length) return undefined
      const modules = modulesOf.get(id) ?? []
      if (modules.length === 0) return undefined
      if (modules.every((m) => m.startsWith('src/cost/'))) return 'cost'
      if (modules.every((m) => BASE.has(m))) return 'base'
      return undefined
    },
  })
  await bundle.close()
  // Remove esbuild's files that Rollup did not write back (their code now lives in the regrouped chunks).
  const written = new Set(output.map((file) => file.fileName))
  const stale = before.filter((f) => !written.has(f))
  for (const f of stale) {
    rmSync(join(dist, f))
    rmSync(join(dist, `${f}.map`), { force: true })
  }
  return { before: before.length, after: written.size }
}
