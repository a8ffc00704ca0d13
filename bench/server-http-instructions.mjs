// The instructions the budget server process runs per store operation on the real HTTP path (`node:http`, the
// request read and the answer written, besides the handler), counted by valgrind's callgrind (ADR 0064, sixth pass).
// The server runs under callgrind with `--single-threaded` (the collector and the compiler on the main thread) and
// an old space and semi-spaces sized so that no mark-compact runs; `httpStore` drives it from this process with 100
// calls in flight (reserve + commit, 3 scopes, a spend record): WARM calls then COUNT more, minus a run with the WARM
// calls alone, over the COUNT calls' operations. Compare with bench/server-instructions.mjs (HEAP=fixed), the
// fetch handler alone in process. Not run by `npm run bench` (it needs valgrind and takes several minutes).
//
// Usage: npm run build && node bench/server-http-instructions.mjs
//        (LLM_BUDGET_DIST=path to another build; WARM, COUNT calls, defaults 3,000 and 4,000; RUNS=n pairs)
import { spawn } from 'node:child_process'
import { resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import { admittedCall } from './http-call.mjs'
import { countInstructions, requireTools } from './callgrind.mjs'

const TOKEN = 'bench-token-0123456789abcdef'
const dist = resolve(process.env.LLM_BUDGET_DIST ?? resolve(import.meta.dirname, '..', 'dist'))

if (process.argv[2] === 'server') {
  const { createBudgetServer } = await import(pathToFileURL(`${dist}/server.js`).href)
  const { memoryStore } = await import(pathToFileURL(`${dist}/index.js`).href)
  const server = createBudgetServer({
    store: memoryStore({ maxRecords: 10000 }),
    auth: { tokens: { [TOKEN]: 'bench' } },
  })
  server.listen(0, '127.0.0.1', () => console.log(`port ${server.address().port}`))
  // Any line on stdin stops the server.
  process.stdin.on('data', () => {
    server.closeAllConnections()
    server.close(() => process.exit(0))
  })
} else {
  requireTools()
  const WARM = Number(process.env.WARM ?? 3_000)
  const COUNT = Number(process.env.COUNT ?? 4_000)
  const RUNS = Number(process.env.RUNS ?? 1)
  const { httpStore } = await import(pathToFileURL(`${dist}/index.js`).href)

  /** Total instructions of the server process while it serves `calls` calls. */
  const instructions = (calls) =>
    countInstructions(async (callgrind) => {
      const child = spawn(
        'valgrind',
        [
          ...callgrind,
          process.execPath,
          '--single-threaded',
          '--initial-old-space-size=1024',
          '--min-semi-space-size=16',
          '--max-semi-space-size=16',
          '--hash-seed=1',
          '--random-seed=1',
          import.meta.filename,
          'server',
        ],
        { env: { ...process.env, LLM_BUDGET_DIST: dist }, stdio: ['pipe', 'pipe', 'ignore'] },
      )
      let out = ''
      child.stdout.on('data', (chunk) => (out += chunk))
      const exited = new Promise((resolveExit) => child.on('exit', resolveExit))
      while (!/port (\d+)/.test(out)) await new Promise((wait) => setTimeout(wait, 200))
      const store = httpStore({
        url: `http://127.0.0.1:${/port (\d+)/.exec(out)[1]}`,
        token: TOKEN,
        timeoutMs: 600_000,
        circuitBreaker: false,
      })
      let next = 0
      await Promise.all(
        Array.from({ length: 100 }, async () => {
          while (next < calls) {
            const i = next++
            await admittedCall(store, `c${i}`, i)
          }
        }),
      )
      await store.close()
      child.stdin.write('stop\n')
      await exited
    })

  console.log(`budget server over HTTP (httpStore, 100 in flight, /v2/batch), ${dist}\n`)
  console.log(`| instructions per operation (callgrind, ${WARM} + ${COUNT} calls minus ${WARM}) |`)
  console.log('|---|')
  for (let run = 0; run < RUNS; run++) {
    const perOp = ((await instructions(WARM + COUNT)) - (await instructions(WARM))) / (COUNT * 2)
    console.log(`| ${Math.round(perOp).toLocaleString('en-US')} |`)
  }
}
