/**
 * `llm-budget migrate --store postgres://user@host:port/db`: applies the PostgreSQL store's missing schema
 * migrations (in one transaction) and prints the schema version before and after. Refuses a database whose schema
 * is newer than this llm-budget knows.
 *
 * @packageDocumentation
 */
import { EXIT, UsageError, parseArgs, type Command } from '../dispatch.js'
import { isPostgresUrl, openPostgres } from '../open-postgres.js'

const USAGE = `Usage: llm-budget migrate --store postgres://user@host:port/db

Creates or upgrades the PostgreSQL store's tables (versioned migrations, one transaction). The store also
migrates on first use unless it was created with \`migrate: false\`; run this to do it ahead of a deploy.

Exit codes: 0 migrated (or already current), 1 failure (database unreachable, schema newer than this
llm-budget), 2 bad arguments.`

const command: Command = {
  name: 'migrate',
  summary: 'create or upgrade the PostgreSQL tables: migrate --store postgres://user@host/db',
  usage: USAGE,
  async run({ argv, out }) {
    const { positionals, values } = parseArgs(argv, { values: ['store'] })
    if (positionals.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[0])}`)
    const spec = values.get('store')
    if (spec === undefined) throw new UsageError('--store postgres://... is required')
    if (!isPostgresUrl(spec))
      throw new UsageError(
        `--store must be a postgres:// URL (only the PostgreSQL store has migrations), got ${JSON.stringify(spec.slice(0, 80))}`,
      )
    const opened = await openPostgres(spec, { migrate: true })
    try {
      const result = await opened.store.migrate()
      out(
        result.applied.length === 0
          ? `${opened.label}: schema version ${result.to}, already current`
          : `${opened.label}: schema version ${result.from} -> ${result.to} (applied ${result.applied.join(', ')})`,
      )
      return EXIT.ok
    } finally {
      await opened.close()
    }
  },
}

export default command
