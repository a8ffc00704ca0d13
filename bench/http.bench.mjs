// httpStore against the budget server on loopback, next to the machine's limit measured in the same run: bare
// keep-alive `fetch` round trips to a trivial `node:http` server. Reports admitted calls per second (reserve +
// commit on 3 scopes: user, team, org) with 100 calls in flight, with same-tick batching (the default) and with
// one request per operation; their ratio to bare round trips per second (goal: at least 1.0x, i.e. an admitted
// call costs no more than one bare round trip); p50/p99 call latency; and the server's overhead per operation.
//
// Server overhead per operation (goal: at most 10 us on the default, batched path) is measured as CPU time, not
// wall time, both sides in the budget server's own process: the process's CPU time (user + system, all threads,
// so HTTP parsing, body reading, JSON, auth, validation, idempotency keys, tenant view, batching, metrics and
// garbage collection all count) per store operation served, minus the CPU time per operation of the same reserve
// + commit calls applied directly to a fresh memoryStore inside that same process after the runs. CPU time keeps
// other processes on this shared machine out of both figures; measuring the direct baseline in the server process
// gives it the same Node flags, JIT state and heap.
//
// The floor (measured in the same run, the same way): a minimal `node:http` server that reads the body, `JSON.parse`s
// it, applies each operation to a memoryStore, `JSON.stringify`s the answers and sends them, and nothing else (no
// auth, validation, idempotency keys, tenant namespace, metrics). `httpStore` drives it exactly as it drives the
// budget server (`/v2/batch`, lone requests for an operation alone in its tick), so its overhead per operation is
// what `node:http`, JSON and a promise per operation cost on this machine: the lowest overhead any budget server in
// Node can have. The budget server's overhead above it is what the server's own behaviour costs.
//
// The servers run in their own processes, like a real deployment; the clients are this process.
import { spawn } from 'node:child_process'
import { pathToFileURL } from 'node:url'
import { resolve } from 'node:path'
import { admittedCall, DAY, T0 } from './http-call.mjs'

const dist = process.env.LLM_BUDGET_DIST
  ? resolve(process.env.LLM_BUDGET_DIST)
  : resolve(import.meta.dirname, '..', 'dist')
const root = pathToFileURL(`${dist}/index.js`).href
const serverModule = pathToFileURL(`${dist}/server.js`).href
const { httpStore, memoryStore } = await import(root)
const { createBudgetHandler } = await import(serverModule)

const CALLS = Number(process.env.CALLS ?? 20_000)
const IN_FLIGHT = 100
const TOKEN = 'bench-token-0123456789abcdef'

function startChild(source) {
  const child = spawn(process.execPath, ['--input-type=module', '-e', source], { stdio: ['pipe', 'pipe', 'inherit'] })
  const port = new Promise((resolvePort, reject) => {
    let text = ''
    child.stdout.on('data', (chunk) => {
      text += chunk
      const match = /port (\d+)/.exec(text)
      if (match) resolvePort(Number(match[1]))
    })
    child.on('exit', (code) => reject(new Error(`server exited with ${code}`)))
  })
  return { child, port }
}

/** Asks a server process `command` (a line on its stdin) and resolves with the number it answers. */
function askServer(server, command, answer) {
  return new Promise((resolveAnswer) => {
    const onData = (chunk) => {
      const match = new RegExp(`${answer} ([\\d.]+)`).exec(String(chunk))
      if (match) {
        server.child.stdout.off('data', onData)
        resolveAnswer(Number(match[1]))
      }
    }
    server.child.stdout.on('data', onData)
    server.child.stdin.write(`${command}\n`)
  })
}

/** A server process's CPU time so far, microseconds. */
const serverCpu = (server) => askServer(server, 'cpu', 'cpu')

// ------------------------------------------------------------------------------------------------ servers
const trivial = startChild(`
  const { createServer } = await import('node:http')
  const server = createServer((req, res) => {
    req.resume()
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end('{"ok":true}')
    })
  })
  server.keepAliveTimeout = 5000
  server.listen(0, '127.0.0.1', () => console.log('port ' + server.address().port))
`)
// What the budget server and the floor both answer on stdin: "cpu" asks for the process's CPU time so far (us);
// "direct N" applies N calls (reserve + commit) to a fresh memoryStore in the process and answers its CPU time per
// operation (us).
const control = `
  const { memoryStore } = await import(${JSON.stringify(root)})
  const T0 = ${T0}
  const DAY = ${DAY}
  const admittedCall = ${admittedCall.toString()}
  const callsWith = ${callsWith.toString()}
  let lines = ''
  process.stdin.on('data', async (chunk) => {
    lines += chunk
    let end
    while ((end = lines.indexOf('\\n')) !== -1) {
      const [command, n] = lines.slice(0, end).split(' ')
      lines = lines.slice(end + 1)
      if (command === 'cpu') {
        const { user, system } = process.cpuUsage()
        console.log('cpu ' + (user + system))
      } else if (command === 'direct') {
        const one = callsWith(memoryStore({ maxRecords: 10000 }), 'd-')
        for (let i = 0; i < 2000; i++) await one(i)
        const before = process.cpuUsage()
        for (let i = 2000; i < 2000 + Number(n); i++) await one(i)
        const { user, system } = process.cpuUsage(before)
        console.log('direct ' + (user + system) / (Number(n) * 2))
      } else if (command === 'operations') {
        console.log('operations ' + globalThis.operations)
      }
    }
  })
`
const budget = startChild(`
  const { createBudgetServer } = await import(${JSON.stringify(serverModule)})
  ${control}
  const server = createBudgetServer({ store: memoryStore({ maxRecords: 10000 }), auth: { tokens: { ${JSON.stringify(TOKEN)}: 'bench' } } })
  server.listen(0, '127.0.0.1', () => console.log('port ' + server.address().port))
`)
// The floor: the wire format's positional operations turned into the requests they stand for, as the budget server
// does, but nothing checked; a lone request's body used as it is.
const floor = startChild(`
  const { createServer } = await import('node:http')
  ${control}
  const store = memoryStore({ maxRecords: 10000 })
  globalThis.operations = 0
  const reserve = (op) => {
    const entries = []
    for (let j = 5; j < op.length; j += 4) entries.push({ key: op[j], amount: op[j + 1], limit: op[j + 2], expiresAt: op[j + 3] })
    return store.reserve({ callId: op[2], now: op[3], holdExpiresAt: op[4], entries })
  }
  const commit = (op) => {
    const entries = []
    for (let j = 6; j < op.length; j += 3) entries.push({ key: op[j], amount: op[j + 1], expiresAt: op[j + 2] })
    return store.commit(op[5] === null
      ? { callId: op[2], now: op[3], entries, dedupeUntil: op[4] }
      : { callId: op[2], now: op[3], entries, dedupeUntil: op[4], record: op[5] })
  }
  const answer = async (path, body) => {
    if (path === '/v2/batch') {
      const results = await Promise.all(body.ops.map((op) => (op[0] === 'r' ? reserve(op) : commit(op))))
      globalThis.operations += results.length
      return { v: 2, results: results.map((result) => [200, result]) }
    }
    globalThis.operations++
    return path === '/v1/reserve' ? store.reserve(body) : store.commit(body)
  }
  const server = createServer((request, response) => {
    const chunks = []
    request.on('data', (chunk) => chunks.push(chunk))
    request.on('end', async () => {
      const body = Buffer.from(JSON.stringify(await answer(request.url, JSON.parse(Buffer.concat(chunks).toString()))))
      response.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': String(body.length) })
      response.end(body)
    })
  })
  server.keepAliveTimeout = 5000
  server.listen(0, '127.0.0.1', () => console.log('port ' + server.address().port))
`)
// Stop the servers whatever happens to this process.
const stopChildren = () => {
  trivial.child.kill('SIGTERM')
  budget.child.kill('SIGTERM')
  floor.child.kill('SIGTERM')
}
process.on('exit', stopChildren)
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => process.exit(1))
const trivialUrl = `http://127.0.0.1:${await trivial.port}`
const url = `http://127.0.0.1:${await budget.port}`
const floorUrl = `http://127.0.0.1:${await floor.port}`

async function metrics() {
  const text = await (await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } })).text()
  const sum = (re) => [...text.matchAll(re)].reduce((acc, m) => acc + Number(m[1]), 0)
  return {
    requests: sum(/llm_budget_http_request_duration_seconds_count\{route="(?:reserve|commit|batch)"\} (\d+)/g),
    operations: sum(/llm_budget_store_operation_duration_seconds_count\{operation="(?:reserve|commit)"\} (\d+)/g),
  }
}

async function pool(calls, one) {
  const latencies = new Float64Array(calls)
  let next = 0
  const start = performance.now()
  await Promise.all(
    Array.from({ length: IN_FLIGHT }, async () => {
      while (next < calls) {
        const i = next++
        const t = performance.now()
        await one(i)
        latencies[i] = performance.now() - t
      }
    }),
  )
  const seconds = (performance.now() - start) / 1000
  latencies.sort()
  return {
    perSecond: calls / seconds,
    p50: latencies[Math.floor(calls * 0.5)],
    p99: latencies[Math.floor(calls * 0.99)],
  }
}

// ------------------------------------------------------------------------------------------------ bare round trips
const bareBody = JSON.stringify({
  callId: 'x',
  now: T0,
  holdExpiresAt: T0 + 60_000,
  entries: [{ key: 'user:u1|usd', amount: 1, limit: null, expiresAt: null }],
})
// A keep-alive connection the trivial server closed as it was reused (seen at load 12-17 on the shared machine) is
// sent again, as any client would: the round trip is counted once, with its retry's time.
const bare = () =>
  pool(CALLS, async () => {
    for (let attempt = 0; ; attempt++) {
      try {
        const response = await fetch(trivialUrl, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: bareBody,
        })
        await response.text()
        return
      } catch (error) {
        if (attempt >= 3) throw error
      }
    }
  })

// ------------------------------------------------------------------------------------------------ httpStore
function callsWith(store, prefix) {
  return (i) => admittedCall(store, `${prefix}${i}`, i)
}

async function measureStore(batch, prefix) {
  // No circuit breaker and a long timeout: on the loaded shared machine (load 15) one request per operation took
  // over 5 s at times and opened the breaker, which measures the machine, not the path.
  const store = httpStore({ url, token: TOKEN, batch, timeoutMs: 60_000, circuitBreaker: false })
  await pool(2_000, callsWith(store, `warm-${prefix}`))
  const before = await metrics()
  const cpuBefore = await serverCpu(budget)
  const result = await pool(CALLS, callsWith(store, prefix))
  const cpuAfter = await serverCpu(budget)
  const after = await metrics()
  await store.close()
  const operations = after.operations - before.operations
  return {
    ...result,
    requestsPerOperation: (after.requests - before.requests) / operations,
    serverCpuUs: (cpuAfter - cpuBefore) / operations,
  }
}

/** The floor server's CPU time per operation (us) serving the same calls from `httpStore`, batched. */
async function measureFloor(prefix) {
  const store = httpStore({ url: floorUrl, token: TOKEN, timeoutMs: 60_000, circuitBreaker: false })
  await pool(2_000, callsWith(store, `warm-${prefix}`))
  const operationsBefore = await askServer(floor, 'operations', 'operations')
  const cpuBefore = await serverCpu(floor)
  await pool(CALLS, callsWith(store, prefix))
  const cpuAfter = await serverCpu(floor)
  const operations = (await askServer(floor, 'operations', 'operations')) - operationsBefore
  await store.close()
  return (cpuAfter - cpuBefore) / operations
}

await bare() // warm-up
const bareBefore = await bare()
// The floor just before and just after the budget server's batched run: the machine's load moves between runs.
const floorBefore = await measureFloor('f1-')
const batched = await measureStore(true, 'b-')
const floorAfter = await measureFloor('f2-')
const single = await measureStore(false, 's-')
const bareAfter = await bare()
// The same reserve + commit calls on a memoryStore called directly in each server's process: CPU us per operation.
const storeUs = await askServer(budget, `direct ${CALLS}`, 'direct')
const floorStoreUs = await askServer(floor, `direct ${CALLS}`, 'direct')
stopChildren()
const floorCpuUs = (floorBefore + floorAfter) / 2
const bareRate = (bareBefore.perSecond + bareAfter.perSecond) / 2

// ------------------------------------------------------------------------------------------------ in-process overhead
// The fetch handler (Request in, Response out, auth, zod, tenant prefix, JSON) per lone reserve versus the store
// called directly (wall time; the batched rows below use CPU time).
const direct = memoryStore()
const handler = createBudgetHandler({ store: memoryStore(), auth: { tokens: { [TOKEN]: 'bench' } } })
const N = 20_000
function reserveBody(i) {
  return {
    callId: `p${i}`,
    now: T0,
    holdExpiresAt: T0 + 60_000,
    entries: [{ key: `user:u${i % 1000}|usd`, amount: 10_000_000, limit: null, expiresAt: null }],
  }
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
        headers: {
          authorization: `Bearer ${TOKEN}`,
          'content-type': 'application/json',
          'idempotency-key': `${prefix}${i}`,
        },
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

// The batched path in this process, without HTTP or another process on the cores: the fetch handler serving
// batches of 100 reserves then their 100 commits (the bodies `callsWith` sends, recorded from a stand-in store),
// CPU time per operation, next to the same calls on a memoryStore called directly. Best of 5 rounds each.
const B = 100
function recordedCalls(prefix, calls) {
  const sent = []
  const recorder = {
    reserve: async (r) => (sent.push(r), { ok: true }),
    commit: async (r) => (sent.push(r), { duplicate: false, balances: [] }),
  }
  return (async () => {
    const one = callsWith(recorder, prefix)
    for (let i = 0; i < calls; i++) await one(i)
    return sent
  })()
}
/** One batch operation as `httpStore` writes it: version 1 (`{ path, key, body }`) or 2 (positional). */
function batchOperation(version, path, key, body) {
  if (version === 1) return `{"path":"${path}","key":"${key}","body":${JSON.stringify(body)}}`
  const num = (n) => (n === null ? 'null' : String(n))
  if (path === '/v1/reserve')
    return `["r","${key}",${JSON.stringify(body.callId)},${body.now},${body.holdExpiresAt}${body.entries.map((e) => `,${JSON.stringify(e.key)},${e.amount},${num(e.limit)},${num(e.expiresAt)}`).join('')}]`
  return `["c","${key}",${JSON.stringify(body.callId)},${body.now},${body.dedupeUntil},${JSON.stringify(body.record)}${body.entries.map((e) => `,${JSON.stringify(e.key)},${e.amount},${num(e.expiresAt)}`).join('')}]`
}
async function batchedInProcess(rounds, calls, version) {
  const handler = createBudgetHandler({
    store: memoryStore({ maxRecords: 10000 }),
    auth: { tokens: { [TOKEN]: 'bench' } },
  })
  const sent = await recordedCalls('ip-', rounds * calls)
  const bodies = []
  for (let from = 0; from < sent.length; from += 2 * B) {
    for (const [path, parity] of [
      ['/v1/reserve', 0],
      ['/v1/commit', 1],
    ]) {
      let body = version === 1 ? '{"operations":[' : '{"ops":['
      for (let i = from + parity, n = 0; i < from + 2 * B; i += 2, n++)
        body += `${n === 0 ? '' : ','}${batchOperation(version, path, `k${i}`, sent[i])}`
      bodies.push(`${body}]}`)
    }
  }
  const perRound = bodies.length / rounds
  let best = Infinity
  for (let round = 0; round < rounds; round++) {
    const cpu = process.cpuUsage()
    for (let k = round * perRound; k < (round + 1) * perRound; k++) {
      const response = await handler(
        new Request(`http://bench/v${version}/batch`, {
          method: 'POST',
          headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
          body: bodies[k],
        }),
      )
      const text = await response.text()
      if (response.status !== 200 || text.includes('"error"')) throw new Error(`batch answered ${response.status}`)
    }
    const { user, system } = process.cpuUsage(cpu)
    if (round > 0) best = Math.min(best, (user + system) / (perRound * B))
  }
  const store = memoryStore({ maxRecords: 10000 })
  let bestDirect = Infinity
  for (let round = 0; round < rounds; round++) {
    const cpu = process.cpuUsage()
    for (let i = round * calls * 2; i < (round + 1) * calls * 2; i += 2) {
      await store.reserve(sent[i])
      await store.commit(sent[i + 1])
    }
    const { user, system } = process.cpuUsage(cpu)
    if (round > 0) bestDirect = Math.min(bestDirect, (user + system) / (calls * 2))
  }
  return { handlerUs: best, directUs: bestDirect }
}
// A build without the version 2 format (an older one, for a comparison) answers /v2/batch with 404.
const speaksV2 =
  (
    await handler(
      new Request('http://bench/v2/batch', {
        method: 'POST',
        headers: { authorization: `Bearer ${TOKEN}` },
        body: '{}',
      }),
    )
  ).status !== 404
const inProcess = await batchedInProcess(6, 4_000, 1)
const inProcessV2 = speaksV2 ? await batchedInProcess(6, 4_000, 2) : null

const fmt = (n, d = 0) => n.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d })
console.log(
  `httpStore -> budget server (memoryStore) on 127.0.0.1, Node ${process.version}, ${CALLS} calls, ${IN_FLIGHT} in flight, 3 scopes per call\n`,
)
console.log('| measure | batched (default) | one request per operation |')
console.log('|---|---|---|')
console.log(`| admitted calls per second (reserve + commit) | ${fmt(batched.perSecond)} | ${fmt(single.perSecond)} |`)
console.log(
  `| ratio to bare keep-alive fetch round trips per second (${fmt(bareRate)}; goal >= 1.0x) | ${fmt(batched.perSecond / bareRate, 2)}x | ${fmt(single.perSecond / bareRate, 2)}x |`,
)
console.log(
  `| HTTP requests per store operation | ${fmt(batched.requestsPerOperation, 3)} | ${fmt(single.requestsPerOperation, 3)} |`,
)
console.log(`| call latency p50 (reserve + commit) | ${fmt(batched.p50, 2)} ms | ${fmt(single.p50, 2)} ms |`)
console.log(`| call latency p99 | ${fmt(batched.p99, 2)} ms | ${fmt(single.p99, 2)} ms |`)
console.log(`| server CPU per operation | ${fmt(batched.serverCpuUs, 1)} us | ${fmt(single.serverCpuUs, 1)} us |`)
console.log(
  `| server overhead per operation (CPU minus the store's own ${fmt(storeUs, 1)} us in the same process; goal <= 10 us) | ${fmt(batched.serverCpuUs - storeUs, 1)} us | ${fmt(single.serverCpuUs - storeUs, 1)} us |`,
)
console.log(
  `| the floor: a minimal node:http server's CPU per operation, batched (before / after the budget server's run) | ${fmt(floorBefore, 1)} / ${fmt(floorAfter, 1)} us | |`,
)
console.log(
  `| the floor's overhead per operation (CPU minus the store's own ${fmt(floorStoreUs, 1)} us in its process) | ${fmt(floorCpuUs - floorStoreUs, 1)} us | |`,
)
console.log(
  `| budget server overhead above the floor's (its CPU per operation as a multiple of the floor's) | ${fmt(batched.serverCpuUs - storeUs - (floorCpuUs - floorStoreUs), 1)} us (${fmt(batched.serverCpuUs / floorCpuUs, 2)}x) | |`,
)
console.log('')
console.log('| baseline | value |')
console.log('|---|---|')
console.log(
  `| bare keep-alive fetch round trips per second, before / after the runs above | ${fmt(bareBefore.perSecond)} / ${fmt(bareAfter.perSecond)} |`,
)
console.log(`| in-process: fetch handler per reserve (Request to Response) | ${fmt(handlerInProcessUs, 1)} us |`)
console.log(`| in-process: memoryStore.reserve directly | ${fmt(directUs, 2)} us |`)
console.log(`| in-process: handler overhead per request | ${fmt(handlerInProcessUs - directUs, 1)} us |`)
for (const [version, row] of [
  [1, inProcess],
  [2, inProcessV2],
]) {
  if (row === null) continue
  console.log(
    `| in-process, batches of ${B} (/v${version}/batch): fetch handler CPU per operation / memoryStore directly / overhead | ${fmt(row.handlerUs, 1)} / ${fmt(row.directUs, 1)} / ${fmt(row.handlerUs - row.directUs, 1)} us |`,
  )
}
