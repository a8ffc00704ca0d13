// What the callgrind benches (bench/*-instructions.mjs) share: the check that the tools are installed, valgrind's
// arguments for one callgrind output file in a temporary directory, and the total read back from it.
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/** Exits with a message unless each of `tools` is on the PATH. */
export function requireTools(tools = ['valgrind']) {
  for (const tool of tools) {
    if (spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0) {
      console.error(`${tool} is not installed (apt-get install -y ${tool === 'redis-server' ? tool : 'valgrind'})`)
      process.exit(1)
    }
  }
}

/** The total instructions a callgrind output file records. */
export function callgrindTotal(file) {
  const total = /(?:summary|totals):\s*(\d+)/.exec(readFileSync(file, 'utf8'))
  if (total === null) throw new Error(`no instruction total in ${file}`)
  return Number(total[1])
}

/**
 * Calls `run` with valgrind's arguments for callgrind writing to a new temporary file (to put before the program),
 * waits for it, and answers the total instructions the file records; the file is removed after.
 */
export async function countInstructions(run) {
  const dir = mkdtempSync(join(tmpdir(), 'llm-budget-callgrind-'))
  try {
    await run(['--tool=callgrind', `--callgrind-out-file=${join(dir, 'out')}`])
    return callgrindTotal(join(dir, 'out'))
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}
