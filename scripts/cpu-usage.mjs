// Where a test run's CPU goes, per Node process. Preloaded into every Node process of a run, it appends one JSON
// line per process at its exit (its CPU time, its command line, and for a Vitest worker the test files it ran) to
// the file named by CPU_USAGE_LOG; run directly, it sums that file by command:
//
//   CPU_USAGE_LOG=/tmp/cpu.log NODE_OPTIONS="--import=$PWD/scripts/cpu-usage.mjs" npx vitest run
//   node scripts/cpu-usage.mjs /tmp/cpu.log
//
// A Vitest worker writes one line per test file it ran (the CPU spent while that file was its current one, sampled
// every 20 ms) and one for its own start; it also writes when Vitest ends it with SIGTERM (as it ends most
// workers). A process killed with SIGKILL (the kill -9 loop's writers) writes nothing, nor do programs that are not
// Node (redis-server, postgres, Chromium, npm's children): compare the sum with `/usr/bin/time` around the whole run.
// See docs/decisions/0120-test-runner-settings.md.
import { appendFileSync, readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

const log = process.env.CPU_USAGE_LOG
const direct = process.argv[1] === fileURLToPath(import.meta.url)

if (!direct && log) {
  const started = Date.now()
  const cpuSeconds = (usage) => (usage.user + usage.system) / 1e6
  // A Vitest worker's CPU by test file: the file it is running (`filepath` of its worker state) is sampled, and the
  // CPU since the last change is charged to the file that was current until then ('' before the first one).
  const perFile = new Map()
  let current = ''
  let since = process.cpuUsage()
  const charge = () => {
    const now = process.cpuUsage()
    perFile.set(current, (perFile.get(current) ?? 0) + cpuSeconds(now) - cpuSeconds(since))
    since = now
  }
  setInterval(() => {
    const file = globalThis.__vitest_worker__?.filepath
    if (file === undefined || file === current) return
    charge()
    current = file
  }, 20).unref()
  let written = false
  const write = () => {
    if (written) return
    written = true
    charge()
    const base = {
      pid: process.pid,
      argv: process.argv.slice(1).join(' ').slice(0, 300),
      wall: (Date.now() - started) / 1000,
    }
    const short = (file) => String(file).split('/test/').pop()
    const lines =
      globalThis.__vitest_worker__ === undefined
        ? [{ ...base, files: [], cpu: cpuSeconds(process.cpuUsage()) }]
        : [...perFile].map(([file, cpu]) => ({ ...base, files: [file === '' ? '(worker start)' : short(file)], cpu }))
    try {
      appendFileSync(log, lines.map((line) => `${JSON.stringify(line)}\n`).join(''))
    } catch {
      // The log is a measurement aid: never fail a process over it.
    }
  }
  process.on('exit', write)
  // Vitest ends its workers with SIGTERM, which skips 'exit'. When nothing else listens, the signal is raised again
  // after the line is written, so the process ends as it would have.
  const onTerm = () => {
    write()
    if (process.listenerCount('SIGTERM') > 1) return
    process.off('SIGTERM', onTerm)
    process.kill(process.pid, 'SIGTERM')
  }
  process.on('SIGTERM', onTerm)
}

if (direct) {
  const path = process.argv[2]
  if (!path) {
    console.error('usage: node scripts/cpu-usage.mjs <log written with CPU_USAGE_LOG>')
    process.exit(2)
  }
  const rows = readFileSync(path, 'utf8')
    .trim()
    .split('\n')
    .map((text) => JSON.parse(text))
  const groups = new Map()
  let total = 0
  for (const row of rows) {
    const name =
      row.files.length > 0
        ? `vitest worker: ${row.files.join(', ').slice(0, 100)}`
        : row.argv
            .replace(/\{.*$/, '{...}')
            .replace(/-[A-Za-z0-9]{6}\//g, '-*/')
            .replace(/\/tmp\/\S*/g, '/tmp/...')
            .slice(0, 110)
    const group = groups.get(name) ?? { processes: 0, cpu: 0 }
    group.processes++
    group.cpu += row.cpu
    groups.set(name, group)
    total += row.cpu
  }
  console.log(`${rows.length} processes, ${total.toFixed(1)} s of CPU`)
  console.log('   cpu s  procs  command')
  for (const [name, group] of [...groups].sort((a, b) => b[1].cpu - a[1].cpu).slice(0, 60))
    console.log(`${group.cpu.toFixed(1).padStart(8)}  ${String(group.processes).padStart(5)}  ${name}`)
}
