/**
 * `llm-budget dashboard --store file:./.llm-budget [--port 0] [--host 127.0.0.1]`: serves the dashboard of
 * one store (read directly, no tenant) for a local look, behind a fresh random token printed once, until
 * SIGTERM or SIGINT.
 *
 * @packageDocumentation
 */
import { randomBytes, timingSafeEqual, createHash } from 'node:crypto'
import { createServer, type Server } from 'node:http'
import { BudgetManager } from '../../budget/manager.js'
import { toHttpError, errorBody } from '../../server/errors.js'
import { dashboardAsset } from '../../server/dashboard/index.js'
import { dashboardData } from '../../server/dashboard/data.js'
import { EXIT, UsageError, parseArgs, type Command } from '../dispatch.js'
import { listen, untilSignal } from '../listen.js'
import { openStore } from '../store-url.js'

const USAGE = `Usage: llm-budget dashboard --store file:<dir>|redis://host:port [--port 0] [--host 127.0.0.1] [--days 30]

Serves the dashboard of a store on this machine, behind a fresh random token printed at start
(open the printed URL; the token travels in the URL fragment, which the browser never sends).

Options:
  --store S   file:./.llm-budget or redis://127.0.0.1:6379 (required)
  --port N    TCP port (default 0: a free one)
  --host H    address to bind (default 127.0.0.1)

Exit codes: 0 stopped cleanly, 1 failure, 2 bad arguments.`

const digest = (text: string): Buffer => createHash('sha256').update(text).digest()

function json(status: number, body: string): { status: number; headers: Record<string, string>; body: string } {
  return {
    status,
    headers: {
      'content-type': 'application/json; charset=utf-8',
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff',
    },
    body,
  }
}

const dashboardCommand: Command = {
  name: 'dashboard',
  summary: 'serve the dashboard of a store on 127.0.0.1 with a fresh token: dashboard --store file:./.llm-budget',
  usage: USAGE,
  async run({ argv, out }) {
    const { positionals, values } = parseArgs(argv, { values: ['store', 'port', 'host'] })
    if (positionals.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[0])}`)
    const storeUrl = values.get('store')
    if (storeUrl === undefined) throw new UsageError('--store is required, e.g. --store file:./.llm-budget')
    const port = Number(values.get('port') ?? '0')
    if (!Number.isSafeInteger(port) || port < 0 || port > 65535)
      throw new UsageError(`--port must be 0 to 65535, got ${values.get('port')}`)
    const host = values.get('host') ?? '127.0.0.1'
    const { store, close, label } = await openStore(storeUrl)
    const manager = new BudgetManager({ store })
    const token = randomBytes(24).toString('base64url')
    const expected = digest(`Bearer ${token}`)

    const answer = async (method: string, path: string, authorization: string | undefined) => {
      const queryAt = path.indexOf('?')
      const pathname = queryAt === -1 ? path : path.slice(0, queryAt)
      if (method !== 'GET' && method !== 'HEAD')
        return json(405, '{"error":{"code":"METHOD_NOT_ALLOWED","message":"use GET"}}')
      const asset = dashboardAsset(pathname)
      if (asset !== undefined) return asset
      if (pathname !== '/dashboard/data') return json(404, '{"error":{"code":"NOT_FOUND","message":"see /dashboard"}}')
      if (authorization === undefined || !timingSafeEqual(digest(authorization), expected)) {
        return {
          ...json(401, '{"error":{"code":"UNAUTHORIZED","message":"use the token printed by llm-budget dashboard"}}'),
          headers: {
            'content-type': 'application/json; charset=utf-8',
            'www-authenticate': 'Bearer realm="llm-budget"',
          },
        }
      }
      const days = new URLSearchParams(queryAt === -1 ? '' : path.slice(queryAt + 1)).get('days')
      const n = days === null ? 30 : /^\d{1,3}$/.test(days) ? Number(days) : 0
      if (n < 1 || n > 366)
        return json(400, '{"error":{"code":"INVALID_INPUT","message":"`days` must be a whole number from 1 to 366"}}')
      return json(200, JSON.stringify(await dashboardData(manager, n)))
    }

    const server: Server = createServer((request, response) => {
      answer(request.method ?? 'GET', request.url ?? '/', request.headers.authorization).then(
        (result) => {
          response.writeHead(result.status, result.headers)
          response.end(request.method === 'HEAD' ? undefined : result.body)
        },
        (error: unknown) => {
          const failure = toHttpError(error)
          response.writeHead(failure.status, { 'content-type': 'application/json; charset=utf-8' })
          response.end(errorBody(failure))
        },
      )
    })
    const origin = await listen(server, port, host, close)
    out(`llm-budget dashboard: listening on http://${origin} (store: ${label})`)
    out(`llm-budget dashboard: open http://${origin}/dashboard#token=${token}`)
    out(`llm-budget dashboard: token ${token} (valid until this process stops)`)
    const signal = await untilSignal()
    out(`llm-budget dashboard: ${signal}: stopping`)
    await new Promise<void>((resolve) => {
      server.close(() => resolve())
      server.closeAllConnections()
    })
    await close()
    return EXIT.ok
  },
}

export default dashboardCommand
