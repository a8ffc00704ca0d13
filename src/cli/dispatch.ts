/**
 * A small command dispatcher for the `llm-budget` CLI. Each command lives in `src/cli/commands/<name>.ts`
 * and is registered in `src/cli/registry.ts`; commands are loaded lazily, so `cost` does not load the server.
 *
 * @packageDocumentation
 */
import { truncate } from '../internal/describe.js'
import { closest } from '../internal/suggest.js'

/** What a command receives. */
export interface CommandContext {
  /** Arguments after the command name (e.g. for `prices update --from x`, `['update', '--from', 'x']`). */
  argv: string[]
  /** Writes a line to stdout. */
  out: (line: string) => void
  /** Writes a line to stderr. */
  err: (line: string) => void
}

/** A command: returns the process exit code. */
export interface Command {
  /** Name typed on the command line, e.g. `cost`, `serve`, `prices`. */
  name: string
  /** One-line summary for `llm-budget help`. */
  summary: string
  /** Usage line(s). */
  usage: string
  run(context: CommandContext): Promise<number> | number
}

/** A registered command, loaded on first use. */
export interface CommandEntry {
  name: string
  summary: string
  load: () => Promise<Command>
}

/** Exit codes: 0 ok, 1 runtime failure, 2 usage error or unknown model. */
export const EXIT = { ok: 0, failure: 1, usage: 2 } as const

/** Thrown by argument parsing: printed with the usage, exit code 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError'
}

/** Parses `--flag value` / `--flag=value` / `--switch` arguments and positionals. */
export function parseArgs(
  argv: string[],
  spec: { values?: string[]; switches?: string[] },
): { positionals: string[]; values: Map<string, string>; switches: Set<string> } {
  const values = new Map<string, string>()
  const switches = new Set<string>()
  const positionals: string[] = []
  const valueNames = new Set(spec.values ?? [])
  const switchNames = new Set(spec.switches ?? [])
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!
    if (arg === '--') {
      positionals.push(...argv.slice(i + 1))
      break
    }
    if (!arg.startsWith('--') || arg === '--') {
      positionals.push(arg)
      continue
    }
    const eq = arg.indexOf('=')
    const name = eq > 0 ? arg.slice(2, eq) : arg.slice(2)
    if (switchNames.has(name)) {
      if (eq > 0) throw new UsageError(`--${name} takes no value`)
      switches.add(name)
    } else if (valueNames.has(name)) {
      const value = eq > 0 ? arg.slice(eq + 1) : argv[++i]
      if (value === undefined || (eq < 0 && value.startsWith('--'))) throw new UsageError(`--${name} needs a value`)
      if (values.has(name)) throw new UsageError(`--${name} given twice`)
      values.set(name, value)
    } else {
      const known = [...valueNames, ...switchNames, 'help']
      const suggestion = closest(name, known)
      const hint =
        suggestion === undefined
          ? ` (options: ${known.map((k) => `--${k}`).join(', ')})`
          : `; did you mean --${suggestion}?`
      throw new UsageError(`unknown option --${truncate(name, 64)}${hint}`)
    }
  }
  return { positionals, values, switches }
}

/** What {@link dispatch} prints for `--version`. */
export interface DispatchInfo {
  /** The package version, e.g. `0.1.0`. */
  version: string
}

/** Runs the CLI: dispatches `argv[0]` to a command. Returns the exit code. */
export async function dispatch(
  commands: CommandEntry[],
  argv: string[],
  io: Pick<CommandContext, 'out' | 'err'>,
  info: DispatchInfo = { version: 'unknown' },
): Promise<number> {
  const [name, ...rest] = argv
  const help = (): void => {
    io.out('Usage: llm-budget <command> [options]\n\nCommands:')
    for (const c of commands) io.out(`  ${c.name.padEnd(14)}${c.summary}`)
    io.out('\nRun `llm-budget <command> --help` for the options of a command; `llm-budget --version` for the version.')
  }
  if (name === '--version' || name === '-v' || name === 'version') {
    io.out(`llm-budget ${info.version}`)
    return EXIT.ok
  }
  if (name === undefined || name === 'help' || name === '--help' || name === '-h') {
    help()
    return name === undefined ? EXIT.usage : EXIT.ok
  }
  const entry = commands.find((c) => c.name === name)
  if (!entry) {
    const suggestion = closest(
      name,
      commands.map((c) => c.name),
    )
    io.err(
      `llm-budget: unknown command \`${truncate(name, 64)}\`.${suggestion === undefined ? '' : ` Did you mean \`${suggestion}\`?`}`,
    )
    help()
    return EXIT.usage
  }
  const command = await entry.load()
  if (rest.includes('--help') || rest.includes('-h')) {
    io.out(command.usage)
    return EXIT.ok
  }
  try {
    return await command.run({ argv: rest, ...io })
  } catch (error) {
    if (error instanceof UsageError) {
      io.err(`llm-budget ${name}: ${error.message}`)
      io.err(command.usage)
      return EXIT.usage
    }
    io.err(`llm-budget ${name}: ${error instanceof Error ? error.message : String(error)}`)
    return EXIT.failure
  }
}
