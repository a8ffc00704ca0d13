/**
 * `llm-budget serve --store memory|file:<dir>|redis://host:port --token-file <path> [--port 8787]
 * [--host 127.0.0.1]`: runs the budget server until SIGTERM or SIGINT, then stops accepting connections,
 * lets in-flight requests finish and closes the store.
 *
 * @packageDocumentation
 */
import { readFile } from 'node:fs/promises'
import type { IncomingMessage, Server, ServerResponse } from 'node:http'
import { EXIT, UsageError, parseArgs, type Command } from '../dispatch.js'
import { listen, untilSignal } from '../listen.js'
import { openStore } from '../store-url.js'

const USAGE = `Usage: llm-budget serve --token-file <path> [--store memory|file:<dir>|redis://host:port|postgres://...] [--port 8787] [--host 127.0.0.1]

Runs the budget server (the REST API behind httpStore, management endpoints, /metrics, /health).

Options:
  --store S            memory (default; lost on exit), file:./budget-data (durable, one machine),
                       redis://127.0.0.1:6379 (shared; needs the ioredis package), or
                       postgres://user@host:5432/db (shared; needs the pg package; migrates on start)
  --token-file PATH    bearer tokens, one "token tenant" pair per line; # starts a comment (required)
  --port N             TCP port (default 8787; 0 picks a free one)
  --host H             address to bind (default 127.0.0.1; use 0.0.0.0 only behind TLS)
  --shutdown-timeout MS  longest wait for in-flight requests on SIGTERM (default 30000)

Exit codes: 0 stopped cleanly, 1 failure, 2 bad arguments.`

/** Parses a token file: `token tenant` per line, `#` comments, blank lines ignored. */
export function parseTokenFile(text: string): Record<string, string> {
  const tokens: Record<string, string> = Object.create(null) as Record<string, string>
  const lines = text.split(/\r?\n/)
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.replace(/#.*$/, '').trim()
    if (line === '') continue
    const parts = line.split(/\s+/)
    if (parts.length !== 2)
      throw new UsageError(`token file line ${i + 1}: expected "token tenant", got ${parts.length} fields`)
    const [token, tenant] = parts as [string, string]
    if (Object.hasOwn(tokens, token)) throw new UsageError(`token file line ${i + 1}: the same token is listed twice`)
    tokens[token] = tenant
  }
  if (Object.keys(tokens).length === 0) throw new UsageError('the token file lists no tokens')
  return { ...tokens }
}

/**
 * Stops accepting connections, closes idle keep-alive connections while in-flight requests finish, and ends the
 * busy ones after their next answer.
 */
function shutdown(server: Server, timeoutMs: number): Promise<void> {
  return new Promise((resolve) => {
    // A request that arrives after the signal on a kept-alive connection is answered with `Connection: close`, so
    // that a busy client's connection ends after it (it was never idle, and served new work until the timeout).
    server.prependListener('request', (_request: IncomingMessage, response: ServerResponse) =>
      response.setHeader('connection', 'close'),
    )
    const sweep = setInterval(() => server.closeIdleConnections(), 50)
    const deadline = setTimeout(() => server.closeAllConnections(), timeoutMs)
    server.close(() => {
      clearInterval(sweep)
      clearTimeout(deadline)
      resolve()
    })
    server.closeIdleConnections()
  })
}

const serveCommand: Command = {
  name: 'serve',
  summary: 'run the budget server: serve --store file:./budget-data --token-file tokens.txt',
  usage: USAGE,
  async run({ argv, out, err }) {
    const { positionals, values } = parseArgs(argv, {
      values: ['store', 'port', 'host', 'token-file', 'shutdown-timeout'],
    })
    if (positionals.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[0])}`)
    const tokenFile = values.get('token-file')
    if (tokenFile === undefined)
      throw new UsageError('--token-file is required: the server refuses every request without a token')
    const port = Number(values.get('port') ?? '8787')
    if (!Number.isSafeInteger(port) || port < 0 || port > 65535)
      throw new UsageError(`--port must be 0 to 65535, got ${values.get('port')}`)
    const host = values.get('host') ?? '127.0.0.1'
    const shutdownTimeout = Number(values.get('shutdown-timeout') ?? '30000')
    if (!Number.isSafeInteger(shutdownTimeout) || shutdownTimeout < 0)
      throw new UsageError('--shutdown-timeout must be a whole number of milliseconds')
    let tokenText: string
    try {
      tokenText = await readFile(tokenFile, 'utf8')
    } catch (error) {
      throw new UsageError(`cannot read --token-file ${tokenFile}: ${(error as Error).message}`)
    }
    const tokens = parseTokenFile(tokenText)
    const { createBudgetServer } = await import('../../server/node.js')
    const { store, close, label } = await openStore(values.get('store') ?? 'memory')
    let server: Server
    try {
      server = createBudgetServer({
        store,
        auth: { tokens },
        onError: (error, { route }) =>
          err(`llm-budget serve: ${route}: ${error instanceof Error ? error.message : String(error)}`),
      })
    } catch (error) {
      await close()
      throw error
    }
    const origin = await listen(server, port, host, close)
    const tenants = new Set(Object.values(tokens)).size
    out(
      `llm-budget serve: listening on http://${origin} (store: ${label}; ${Object.keys(tokens).length} tokens, ${tenants} tenants)`,
    )
    const signal = await untilSignal()
    out(`llm-budget serve: ${signal}: finishing in-flight requests`)
    await shutdown(server, shutdownTimeout)
    await close()
    out('llm-budget serve: stopped')
    return EXIT.ok
  },
}

export default serveCommand
