/**
 * The `llm-budget` CLI as a real process: `src/cli/main.ts` (bundled once per run) run by Node, as `npx llm-budget`
 * runs the built `dist/cli/main.js`. {@link runCli} runs a command to its end; {@link serveCli} starts
 * `llm-budget serve` and waits until it listens. {@link runCliHere} runs a command in this process (the same
 * `dispatch` over the same commands that `main.ts` calls, with its output captured): for the many tests about what
 * a command prints or does, without a Node start per run. Each command keeps tests through
 * {@link runCli} for what only a real process shows (exit codes, stdout/stderr wiring).
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { format } from 'node:util'
import { bundledEntry } from './entries.js'

/** The repository root. */
export const ROOT = join(import.meta.dirname, '..', '..')
/** The CLI entry (source). */
export const CLI_MAIN = join(ROOT, 'src', 'cli', 'main.ts')
/**
 * `node <src/cli/main.ts bundled>`: prefix `args` with this to run the CLI from a shell or a spawn. The bundle is
 * built once per run from the source (test/helpers/global-setup.ts), so a spawn costs a Node start, not a tsx
 * transpile of every `src/` module.
 */
export const CLI_COMMAND: readonly string[] = [process.execPath, bundledEntry('cli')]

/** How a CLI process ended. */
export interface CliResult {
  code: number | null
  stdout: string
  stderr: string
}

/** Options of {@link runCli} and {@link serveCli}. */
export interface CliOptions {
  /** Working directory (default: the repository root). */
  cwd?: string
  /** Environment (default: this process's, without colour settings). */
  env?: NodeJS.ProcessEnv
}

function environment(options: CliOptions): NodeJS.ProcessEnv {
  return options.env ?? { ...process.env, NO_COLOR: undefined, FORCE_COLOR: undefined }
}

/** Runs `llm-budget ...args` to its end and returns its exit code and output; kills it after 60 s. */
export async function runCli(args: readonly string[], options: CliOptions = {}): Promise<CliResult> {
  const child = spawn(CLI_COMMAND[0]!, [...CLI_COMMAND.slice(1), ...args], {
    cwd: options.cwd ?? ROOT,
    env: environment(options),
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000)
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString('utf8')))
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')))
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve))
  clearTimeout(timer)
  return { code, stdout, stderr }
}

/**
 * Runs `llm-budget ...args` in this process: `dispatch(COMMANDS, args)` as `src/cli/main.ts` calls it, in
 * `options.cwd` (the working directory is changed for the run and restored; tests in a file run one at a time, and
 * the `forks` pool allows `process.chdir`). What a spawned process would print is collected the same way: the
 * command's stdout and stderr lines, and anything written meanwhile through `console` (log, info and debug to stdout;
 * warn, error and trace to stderr) or straight to `process.stdout` / `process.stderr`. Takes no `env`: a test that
 * needs another environment uses {@link runCli}.
 */
export async function runCliHere(args: readonly string[], options: { cwd?: string } = {}): Promise<CliResult> {
  const { dispatch } = await import('../../src/cli/dispatch.js')
  const { COMMANDS } = await import('../../src/cli/registry.js')
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }
  let stdout = ''
  let stderr = ''
  const toStdout = (text: string): void => void (stdout += text)
  const toStderr = (text: string): void => void (stderr += text)
  const methods = ['log', 'info', 'debug', 'warn', 'error', 'trace'] as const
  const savedConsole = methods.map((m) => [m, console[m]] as const)
  for (const m of methods) {
    const sink = m === 'log' || m === 'info' || m === 'debug' ? toStdout : toStderr
    console[m] = (...values: unknown[]) => sink(`${format(...values)}\n`)
  }
  const streams = [
    [process.stdout, toStdout],
    [process.stderr, toStderr],
  ] as const
  const savedWrites = streams.map(([stream]) => stream.write)
  for (const [stream, sink] of streams)
    stream.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
      sink(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'))
      const callback = rest.find((r) => typeof r === 'function') as (() => void) | undefined
      callback?.()
      return true
    }) as typeof stream.write
  const previous = process.cwd()
  process.chdir(options.cwd ?? ROOT)
  try {
    const code = await dispatch(
      COMMANDS,
      [...args],
      { out: (line) => toStdout(`${line}\n`), err: (line) => toStderr(`${line}\n`) },
      { version: pkg.version },
    )
    return { code, stdout, stderr }
  } finally {
    process.chdir(previous)
    streams.forEach(([stream], i) => (stream.write = savedWrites[i]!))
    for (const [m, fn] of savedConsole) console[m] = fn
  }
}

/** A running `llm-budget serve`. */
export interface ServingCli {
  child: ChildProcess
  /** `http://127.0.0.1:<port>`, read from the "listening on" line. */
  url: string
  /** Everything printed so far (stdout and stderr). */
  output: () => string
  /** Resolves with the exit code. */
  exit: Promise<number | null>
  /** Sends SIGTERM and waits for the exit code. */
  stop: () => Promise<number | null>
}

/** Starts `llm-budget serve ...args` and resolves once it listens (rejects if it exits first). */
export async function serveCli(args: readonly string[], options: CliOptions = {}): Promise<ServingCli> {
  const child = spawn(CLI_COMMAND[0]!, [...CLI_COMMAND.slice(1), 'serve', ...args], {
    cwd: options.cwd ?? ROOT,
    env: environment(options),
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
  const url = await new Promise<string>((resolve, reject) => {
    const onData = (chunk: Buffer): void => {
      output += chunk.toString('utf8')
      const match = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(output)
      if (match) resolve(match[1]!)
    }
    child.stdout.on('data', onData)
    child.stderr.on('data', onData)
    void exit.then(() => reject(new Error(`llm-budget serve exited before listening: ${output}`)))
  })
  return {
    child,
    url,
    output: () => output,
    exit,
    stop: () => {
      child.kill('SIGTERM')
      return exit
    },
  }
}
