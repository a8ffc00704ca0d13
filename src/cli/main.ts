/**
 * Entry of the `llm-budget` CLI (built to dist/cli/main.js with a shebang).
 * To add a command: write `src/cli/commands/<name>.ts` exporting a {@link Command} as default and add one
 * line to `COMMANDS` in `registry.ts`. Commands are imported lazily.
 *
 * @packageDocumentation
 */
import { readFileSync } from 'node:fs'
import { dispatch } from './dispatch.js'
import { COMMANDS } from './registry.js'

/** The package version, from the package.json two folders up (both `src/cli/` and `dist/cli/`). */
function packageVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
      version?: unknown
    }
    return typeof pkg.version === 'string' ? pkg.version : 'unknown'
  } catch {
    return 'unknown'
  }
}

/**
 * A line writer for stdout or stderr. When the reader goes away (`llm-budget report | head`), the stream fails
 * with EPIPE: the rest of the output is dropped quietly instead of ending in an unhandled error.
 */
function lineWriter(stream: NodeJS.WriteStream): (line: string) => void {
  let closed = false
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') closed = true
    else throw error
  })
  return (line) => {
    if (!closed) stream.write(`${line}\n`)
  }
}

const code = await dispatch(
  COMMANDS,
  process.argv.slice(2),
  { out: lineWriter(process.stdout), err: lineWriter(process.stderr) },
  { version: packageVersion() },
)
process.exitCode = code
