import { defineConfig } from 'tsup'

/**
 * One entry per public subpath (see the `exports` map in package.json).
 * Add a line here when a subpath is added there.
 */
export const entries: Record<string, string> = {
  'index': 'src/index.ts',
  'cost': 'src/cost/index.ts',
  'testing': 'src/testing/index.ts',
  'file': 'src/stores/file.ts',
  'redis': 'src/stores/redis.ts',
  'postgres': 'src/stores/postgres.ts',
  'server': 'src/server/index.ts',
  'server/fetch': 'src/server/fetch.ts',
  'http-outbox-file': 'src/stores/http-outbox-file.ts',
  'openai': 'src/integrations/openai.ts',
  'anthropic': 'src/integrations/anthropic.ts',
  'ai-sdk': 'src/integrations/ai-sdk.ts',
  'langchain': 'src/integrations/langchain.ts',
}

export default defineConfig([
  {
    entry: entries,
    format: ['esm', 'cjs'],
    dts: true,
    sourcemap: true,
    clean: true,
    splitting: true,
    treeshake: true,
    target: 'es2022',
    outDir: 'dist',
  },
  {
    entry: { 'cli/main': 'src/cli/main.ts' },
    format: ['esm'],
    sourcemap: true,
    target: 'node18',
    outDir: 'dist',
    banner: { js: '#!/usr/bin/env node' },
  },
])
