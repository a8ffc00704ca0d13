// Where a test run's CPU goes, per Node process. Preloaded into every Node process of a run, it appends one JSON
// line per process at its exit (its CPU time, its command line, and for a Vitest worker the test files it ran) to
// the file named by CPU_USAGE_LOG; run directly, it sums that file by command:
//
//   CPU_USAGE_LOG=/tmp/cpu.log NODE_OPTIONS="--import=$PWD/scripts/cpu-usage.mjs" npx vitest run
//   node scripts/cpu-usage.mjs /tmp/cpu.log
//
// A process killed with SIGKILL (the kill -9 loop's writers) writes nothing, nor do programs that are not Node
// (redis-server, postgres, Chromium, npm's children), nor a Vitest worker that Vitest itself ends at the close of
// the run: compare the sum with `/usr/bin/time` around the whole run.
// See docs/decisions/0120-test-runner-settings.md.
import { appendFileSync, readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

const log = process.env.CPU_USAGE_LOG
const direct = process.argv[1] === fileURLToPath(import.meta.url)

if (!direct && log) {
  const started = Date.now()
  process.on('exit', () => {
    const usage = process.cpuUsage()
    // A Vitest worker knows the files it ran last; every other process is named by its command line.
    const worker = globalThis.__vitest_worker__
    const files = (worker?.ctx?.files ?? []).map((file) =>
      String(file.filepath ?? file)
        .split('/test/')
        .pop(),
    )
    const line = {
      pid: process.pid,
      files,
      argv: process.argv.slice(1).join(' ').slice(0, 300),
      cpu: (usage.user + usage.system) / 1e6,
      wall: (Date.now() - started) / 1000,
    }
    try {
      appendFileSync(log, `${JSON.stringify(line)}\n`)
    } catch {
      // The log is a measurement aid: never fail a process over it.
    }
  })
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
