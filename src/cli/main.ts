/**
 * Entry of the `llm-budget` CLI (built to dist/cli/main.js with a shebang).
 * To add a command: write `src/cli/commands/<name>.ts` exporting a {@link Command} as default and add one
 * line to `COMMANDS` below. Commands are imported lazily.
 *
 * @packageDocumentation
 */
import { readFileSync } from 'node:fs'
import { dispatch, type CommandEntry } from './dispatch.js'

/** Registered commands, loaded lazily: one file per command in `commands/`. */
export const COMMANDS: CommandEntry[] = [
  {
    name: 'cost',
    summary: 'price one call: cost <model> --input N --output N',
    load: async () => (await import('./commands/cost.js')).default,
  },
  {
    name: 'serve',
    summary: 'run the budget server: serve --store file:./budget-data --token-file tokens.txt',
    load: async () => (await import('./commands/serve.js')).default,
  },
  {
    name: 'dashboard',
    summary: 'serve the dashboard of a store on 127.0.0.1 with a fresh token: dashboard --store file:./.llm-budget',
    load: async () => (await import('./commands/dashboard.js')).default,
  },
  {
    name: 'digest',
    summary:
      'send the daily or weekly spend digest (for cron): digest --store file:./budget-data --period daily --slack-webhook URL',
    load: async () => (await import('./commands/digest.js')).default,
  },
  {
    name: 'report',
    summary: 'spend per scope, model and day, and budget status: report --store file:./budget-data',
    load: async () => (await import('./commands/report.js')).default,
  },
  {
    name: 'migrate',
    summary: 'create or upgrade the PostgreSQL tables: migrate --store postgres://user@host/db',
    load: async () => (await import('./commands/migrate.js')).default,
  },
  {
    name: 'prices',
    summary: 'write a price file from a LiteLLM table: prices update --from <path|url>',
    load: async () => (await import('./commands/prices.js')).default,
  },
]

/** The package version, from the package.json two folders up (both `src/cli/` and `dist/cli/`). */
function packageVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
      version?: unknown
    }
    return typeof pkg.version === 'string' ? pkg.version : 'unknown'
  } catch {
    return 'unknown'
  }
}

/**
 * A line writer for stdout or stderr. When the reader goes away (`llm-budget report | head`), the stream fails
 * with EPIPE: the rest of the output is dropped quietly instead of ending in an unhandled error.
 */
function lineWriter(stream: NodeJS.WriteStream): (line: string) => void {
  let closed = false
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') closed = true
    else throw error
  })
  return (line) => {
    if (!closed) stream.write(`${line}\n`)
  }
}

const code = await dispatch(
  COMMANDS,
  process.argv.slice(2),
  { out: lineWriter(process.stdout), err: lineWriter(process.stderr) },
  { version: packageVersion() },
)
process.exitCode = code
