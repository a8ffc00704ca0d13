import type { Options } from 'tsup'

/**
 * One entry per public subpath (see the `exports` map in package.json).
 * Add a line here when a subpath is added there.
 */
export const entries: Record<string, string> = {
  index: 'src/index.ts',
  cost: 'src/cost/index.ts',
  testing: 'src/testing/index.ts',
  store: 'src/store.ts',
  alerts: 'src/alerts.ts',
  reports: 'src/reports.ts',
  file: 'src/stores/file.ts',
  redis: 'src/stores/redis.ts',
  postgres: 'src/stores/postgres.ts',
  server: 'src/server/index.ts',
  'server/fetch': 'src/server/fetch.ts',
  openai: 'src/integrations/openai.ts',
  anthropic: 'src/integrations/anthropic.ts',
  google: 'src/integrations/google.ts',
  bedrock: 'src/integrations/bedrock.ts',
  mistral: 'src/integrations/mistral.ts',
  cohere: 'src/integrations/cohere.ts',
  groq: 'src/integrations/groq.ts',
  'ai-sdk': 'src/integrations/ai-sdk.ts',
  langchain: 'src/integrations/langchain.ts',
  prometheus: 'src/integrations/prometheus.ts',
  opentelemetry: 'src/integrations/opentelemetry.ts',
}

// `npm run build` (scripts/build.mjs) runs three tsup passes: ESM (the library and the CLI, sharing chunks, so the
// price data is in the ESM output once; scripts/group-chunks.mjs then regroups the chunks so that the cost entry
// loads three files) and CJS (the library), both the default export here, and the bundled
// declarations (.d.ts and .d.cts, `declarationPass` below) of the per-module declarations that
// scripts/emit-declarations.mjs writes (without a type check) while the JavaScript passes run.
// esbuild tree-shakes ESM by itself; tsup's extra Rollup tree-shaking pass would cost build time and remove nothing that matters there.
// The CJS pass does go through Rollup (`treeshake: true`): esbuild cannot split CommonJS, so tsup turns its split ESM
// chunks into CommonJS, without Rollup through sucrase, which also rewrites every `?.` and `??` into helper calls
// (`_optionalChain([...])` allocates an array per call) and keeps a blank line per removed import. Rollup writes
// plain `require`/`exports` and leaves the syntax alone (target es2022 has it): 65 KB less and no helpers.
// scripts/postbuild.mjs then adds the CLI's shebang and drops generated data from the source maps.
// Rollup drops a comment attached to an import it removes, and esbuild's `// src/...` module marker sits right above
// the module's imports: move the marker below them so the CommonJS files keep it. Only import lines move (Rollup
// removes them anyway), so the source maps stay right for the code.
const keepModuleMarkers: NonNullable<Options['plugins']>[number] = {
  name: 'keep-module-markers',
  renderChunk: (code) => ({ code: code.replace(/^(\/\/ src\/\S+\n)((?:import [^;]*;\n)+)/gm, '$2$1') }),
}

// The Redis store's Lua scripts are template strings with their comments on lines of their own (`-- ...`): 16 KB per
// format that Redis never needs. Those lines are dropped from the built files (a Lua comment runs to the end of its
// line; a line starting with `--` holds nothing else; no TypeScript line of these files starts with `--`). The source
// and the tests keep them; `test/package/redis-dist.test.ts` runs the built scripts against a real Redis.
const LUA_COMMENT_LINE = /^[ \t]*--(?:[ \t][^\n]*)?\n/gm
const dropLuaCommentLines: NonNullable<Options['esbuildPlugins']>[number] = {
  name: 'drop-lua-comment-lines',
  setup(build) {
    build.onLoad({ filter: /[\\/]src[\\/]stores[\\/]redis(?:[\\/][\w-]+)?\.ts$/ }, async (args) => {
      const { readFile } = await import('node:fs/promises')
      const text = await readFile(args.path, 'utf8')
      return { contents: text.replace(LUA_COMMENT_LINE, ''), loader: 'ts' }
    })
  },
}

const common = {
  sourcemap: true,
  splitting: true,
  target: 'es2022',
  outDir: 'dist',
  esbuildPlugins: [dropLuaCommentLines],
} as const

/** The library and the CLI as ESM. scripts/group-chunks.mjs then regroups its chunks (see there). */
export const esmPass: Options = { ...common, entry: { ...entries, 'cli/main': 'src/cli/main.ts' }, format: ['esm'] }

/** The library as CommonJS. */
export const cjsPass: Options = {
  ...common,
  entry: entries,
  format: ['cjs'],
  treeshake: true,
  plugins: [keepModuleMarkers],
}

/** Where scripts/emit-declarations.mjs writes one `.d.ts` per module of `src/` (the same tree). */
export const declarationsDir = '.tmp/declarations'

/**
 * Bundles the emitted declarations into `dist/<entry>.d.ts` and `.d.cts` (rollup-plugin-dts inside tsup). Its input
 * is declarations, so it compiles nothing: it only reads, tree-shakes and joins them.
 */
export const declarationPass: Options = {
  entry: Object.fromEntries(
    Object.entries(entries).map(([name, file]) => [
      name,
      file.replace(/^src\//, `${declarationsDir}/`).replace(/\.ts$/, '.d.ts'),
    ]),
  ),
  format: ['esm', 'cjs'],
  dts: { only: true },
  target: 'es2022',
  outDir: 'dist',
}
