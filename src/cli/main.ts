/**
 * Entry of the `llm-budget` CLI (built to dist/cli/main.js with a shebang).
 * To add a command: write `src/cli/commands/<name>.ts` exporting a {@link Command} as default and add one
 * line to `COMMANDS` below. Commands are imported lazily.
 *
 * @packageDocumentation
 */
import { dispatch, type CommandEntry } from './dispatch.js'

/** Registered commands, loaded lazily: one file per command in `commands/`. */
export const COMMANDS: CommandEntry[] = [
  { name: 'cost', summary: 'price one call: cost <model> --input N --output N', load: async () => (await import('./commands/cost.js')).default },
  { name: 'serve', summary: 'run the budget server: serve --store file:./budget-data --token-file tokens.txt', load: async () => (await import('./commands/serve.js')).default },
  { name: 'report', summary: 'spend per scope, model and day, and budget status: report --store file:./budget-data', load: async () => (await import('./commands/report.js')).default },
  { name: 'migrate', summary: 'create or upgrade the PostgreSQL tables: migrate --store postgres://user@host/db', load: async () => (await import('./commands/migrate.js')).default },
  { name: 'prices', summary: 'write a price file from a LiteLLM table: prices update --from <path|url>', load: async () => (await import('./commands/prices.js')).default },
]

const code = await dispatch(COMMANDS, process.argv.slice(2), {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
})
process.exitCode = code
