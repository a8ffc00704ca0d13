// httpStore against the budget server on loopback: admitted calls per second (reserve + commit, two requests
// per call) from one client process with 100 calls in flight, p50/p99 latency of one call, and the server's
// overhead per request (the handler's time minus the time spent inside the store, from the server's own
// /metrics; and in-process, the fetch handler versus calling the store directly).
//
// The server runs in its own process (memoryStore), like a real deployment; the client is this process.
// Usage: npm run build && node bench/http.bench.mjs   (LLM_BUDGET_DIST=path/to/dist to use another build)
import { spawn } from 'node:child_process'
import { pathToFileURL } from 'node:url'
import { resolve } from 'node:path'

const dist = process.env.LLM_BUDGET_DIST ? resolve(process.env.LLM_BUDGET_DIST) : resolve(import.meta.dirname, '..', 'dist')
const root = pathToFileURL(`${dist}/index.js`).href
const serverModule = pathToFileURL(`${dist}/server.js`).href
const { httpStore, memoryStore } = await import(root)
const { createBudgetHandler } = await import(serverModule)

const CALLS = Number(process.env.CALLS ?? 20_000)
const IN_FLIGHT = 100
const TOKEN = 'bench-token-0123456789abcdef'
const T0 = 1_800_000_000_000
const DAY = 86_400_000

// ------------------------------------------------------------------------------------------------ server
const serverSource = `
  const { createBudgetServer } = await import(${JSON.stringify(serverModule)})
  const { memoryStore } = await import(${JSON.stringify(root)})
  const server = createBudgetServer({ store: memoryStore({ maxRecords: 10000 }), auth: { tokens: { ${JSON.stringify(TOKEN)}: 'bench' } } })
  server.listen(0, '127.0.0.1', () => console.log('port ' + server.address().port))
`
const child = spawn(process.execPath, ['--input-type=module', '-e', serverSource], { stdio: ['ignore', 'pipe', 'inherit'] })
const port = await new Promise((resolvePort, reject) => {
  let text = ''
  child.stdout.on('data', (chunk) => {
    text += chunk
    const match = /port (\d+)/.exec(text)
    if (match) resolvePort(Number(match[1]))
  })
  child.on('exit', (code) => reject(new Error(`server exited with ${code}`)))
})
const url = `http://127.0.0.1:${port}`

async function metrics() {
  const text = await (await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } })).text()
  const sum = (re) => [...text.matchAll(re)].reduce((acc, m) => acc + Number(m[1]), 0)
  return {
    requestSeconds: sum(/llm_budget_http_request_duration_seconds_sum\{route="(?:reserve|commit)"\} ([\d.e-]+)/g),
    requests: sum(/llm_budget_http_request_duration_seconds_count\{route="(?:reserve|commit)"\} (\d+)/g),
    storeSeconds: sum(/llm_budget_store_operation_duration_seconds_sum\{operation="(?:reserve|commit)"\} ([\d.e-]+)/g),
  }
}

// ------------------------------------------------------------------------------------------------ client
const store = httpStore({ url, token: TOKEN })
async function oneCall(i, prefix) {
  const callId = `${prefix}${i}`
  const key = `user:u${i % 1000}|usd`
  const r = await store.reserve({ callId, now: T0, holdExpiresAt: T0 + 60_000, entries: [{ key, amount: 10_000_000, limit: null, expiresAt: null }] })
  if (!r.ok) throw new Error('refused')
  await store.commit({ callId, now: T0 + 1, entries: [{ key, amount: 9_000_000, expiresAt: null }], dedupeUntil: T0 + DAY })
}

async function run(calls, prefix) {
  const latencies = new Float64Array(calls)
  let next = 0
  const start = performance.now()
  await Promise.all(
    Array.from({ length: IN_FLIGHT }, async () => {
      while (next < calls) {
        const i = next++
        const t = performance.now()
        await oneCall(i, prefix)
        latencies[i] = performance.now() - t
      }
    }),
  )
  const seconds = (performance.now() - start) / 1000
  latencies.sort()
  return { perSecond: calls / seconds, p50: latencies[Math.floor(calls * 0.5)], p99: latencies[Math.floor(calls * 0.99)] }
}

await run(2_000, 'warm-')
const before = await metrics()
const result = await run(CALLS, 'run-')
const after = await metrics()
const requests = after.requests - before.requests
const handlerUs = ((after.requestSeconds - before.requestSeconds) / requests) * 1e6
const storeUs = ((after.storeSeconds - before.storeSeconds) / requests) * 1e6
await store.close()
child.kill('SIGTERM')

// ------------------------------------------------------------------------------------------------ in-process overhead
// The fetch handler (Request in, Response out, auth, zod, tenant prefix, JSON) versus the store called directly.
const direct = memoryStore()
const handler = createBudgetHandler({ store: memoryStore(), auth: { tokens: { [TOKEN]: 'bench' } } })
const N = 20_000
function reserveBody(i) {
  return { callId: `p${i}`, now: T0, holdExpiresAt: T0 + 60_000, entries: [{ key: `user:u${i % 1000}|usd`, amount: 10_000_000, limit: null, expiresAt: null }] }
}
async function timeDirect() {
  const t = performance.now()
  for (let i = 0; i < N; i++) await direct.reserve(reserveBody(i))
  return ((performance.now() - t) / N) * 1000
}
async function timeHandler(prefix) {
  const t = performance.now()
  for (let i = 0; i < N; i++) {
    const response = await handler(
      new Request('http://bench/v1/reserve', {
        method: 'POST',
        headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json', 'idempotency-key': `${prefix}${i}` },
        body: JSON.stringify({ ...reserveBody(i), callId: `${prefix}${i}` }),
      }),
    )
    await response.text()
  }
  return ((performance.now() - t) / N) * 1000
}
await timeHandler('w')
const directUs = await timeDirect()
const handlerInProcessUs = await timeHandler('h')

const fmt = (n, d = 0) => n.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d })
console.log(`httpStore -> budget server (memoryStore) on 127.0.0.1, Node ${process.version}, ${CALLS} calls, ${IN_FLIGHT} in flight\n`)
console.log('| measure | value |')
console.log('|---|---|')
console.log(`| admitted calls per second (reserve + commit) | ${fmt(result.perSecond)} |`)
console.log(`| requests per second | ${fmt(result.perSecond * 2)} |`)
console.log(`| call latency p50 (reserve + commit) | ${fmt(result.p50, 2)} ms |`)
console.log(`| call latency p99 | ${fmt(result.p99, 2)} ms |`)
console.log(`| server time per request (node:http handler, from /metrics) | ${fmt(handlerUs, 1)} us |`)
console.log(`| of which inside the store | ${fmt(storeUs, 1)} us |`)
console.log(`| server overhead per request (handler minus store) | ${fmt(handlerUs - storeUs, 1)} us |`)
console.log(`| in-process: fetch handler per reserve (Request to Response) | ${fmt(handlerInProcessUs, 1)} us |`)
console.log(`| in-process: memoryStore.reserve directly | ${fmt(directUs, 2)} us |`)
console.log(`| in-process: handler overhead per request | ${fmt(handlerInProcessUs - directUs, 1)} us |`)
