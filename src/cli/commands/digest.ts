/**
 * `llm-budget digest --store S --period daily|weekly [--slack-webhook URL] [--webhook URL]`: sends the digest
 * of the previous day or week, for cron. Every host may run it: the period is claimed through the store and
 * only the first sends.
 *
 * @packageDocumentation
 */
import { BudgetManager } from '../../budget/manager.js'
import { sendDigest, type SendDigestOptions } from '../../budget/digest.js'
import { EXIT, UsageError, parseArgs, type Command } from '../dispatch.js'
import { openStore } from '../store-url.js'

const USAGE = `Usage: llm-budget digest --store file:<dir>|redis://host:port --period daily|weekly [--slack-webhook URL] [--webhook URL]

Sends the spend digest of the previous UTC day or ISO week (totals, top users, models and teams, budgets
near their limit, budgets projected to overrun). Safe to run from several hosts: only the first sends.

Exit codes: 0 sent or already sent by another host, 1 a destination failed, 2 bad arguments.`

const digestCommand: Command = {
  name: 'digest',
  summary:
    'send the daily or weekly spend digest (for cron): digest --store file:./budget-data --period daily --slack-webhook URL',
  usage: USAGE,
  async run({ argv, out, err }) {
    const { positionals, values } = parseArgs(argv, { values: ['store', 'period', 'slack-webhook', 'webhook'] })
    if (positionals.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[0])}`)
    const storeUrl = values.get('store')
    if (storeUrl === undefined) throw new UsageError('--store is required')
    const period = values.get('period')
    if (period !== 'daily' && period !== 'weekly') throw new UsageError('--period must be daily or weekly')
    const options: SendDigestOptions = { period }
    const slack = values.get('slack-webhook')
    const webhook = values.get('webhook')
    if (slack !== undefined) options.slack = { webhookUrl: slack }
    if (webhook !== undefined) options.webhook = { url: webhook }
    if (slack === undefined && webhook === undefined) throw new UsageError('pass --slack-webhook or --webhook')
    const { store, close } = await openStore(storeUrl)
    try {
      const result = await sendDigest(new BudgetManager({ store }), options)
      if (!result.sent) {
        out(`llm-budget digest: ${result.digest.periodId} was already sent`)
        return EXIT.ok
      }
      for (const error of result.errors)
        err(`llm-budget digest: delivery failed: ${error instanceof Error ? error.message : String(error)}`)
      out(
        `llm-budget digest: sent ${result.digest.periodId} (${result.digest.total.cost} USD in ${result.digest.total.calls} calls)`,
      )
      return result.errors.length === 0 ? EXIT.ok : EXIT.failure
    } finally {
      await close()
    }
  },
}

export default digestCommand
