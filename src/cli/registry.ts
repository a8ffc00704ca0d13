/**
 * The commands of the `llm-budget` CLI, apart from its entry (`main.ts`, which runs them on `process.argv` as soon as
 * it is imported), so that tests can run a command in their own process with `dispatch(COMMANDS, argv, io)`.
 *
 * @packageDocumentation
 */
import type { CommandEntry } from './dispatch.js'

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
