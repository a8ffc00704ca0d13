// ESLint: typescript-eslint's strict rules over the sources, tests, examples, benchmarks and scripts.
// Formatting is Prettier's job (`.prettierrc.json`); `npm run lint` runs both checks.
import js from '@eslint/js'
import tseslint from 'typescript-eslint'

// The Node.js globals our scripts and benchmarks use (TypeScript checks the .ts files itself).
const NODE_GLOBALS = Object.fromEntries(
  [
    'AbortController',
    'AbortSignal',
    'Buffer',
    'URL',
    'URLSearchParams',
    'TextDecoder',
    'TextEncoder',
    'console',
    'process',
    'performance',
    'fetch',
    'Request',
    'Response',
    'Headers',
    'structuredClone',
    'queueMicrotask',
    'setTimeout',
    'clearTimeout',
    'setInterval',
    'clearInterval',
    'setImmediate',
    'clearImmediate',
    'globalThis',
  ].map((name) => [name, 'readonly']),
)

export default tseslint.config(
  { ignores: ['dist/', 'coverage/', 'node_modules/', '.tmp/', '.llm-budget/', 'docs/api/', 'src/cost/data/prices.ts'] },
  js.configs.recommended,
  ...tseslint.configs.strict,
  {
    languageOptions: { ecmaVersion: 2022, sourceType: 'module', globals: NODE_GLOBALS },
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-non-null-assertion': 'off',
      'no-undef': 'error',
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' },
      ],
    },
  },
  { files: ['**/*.ts'], rules: { 'no-undef': 'off' } },
  // Tests read JSON answers of many shapes and assert on them field by field; \`any\` is allowed there only.
  { files: ['test/**/*.ts'], rules: { '@typescript-eslint/no-explicit-any': 'off' } },
)
