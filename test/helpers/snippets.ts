/**
 * Finds the ```ts blocks of the Markdown documentation and type-checks them, with the example programs and the type
 * tests (every `*.test-d.ts` under `test/`), as a user's strict project would: `module: NodeNext`, imports of `llm-budget`
 * resolved to this repository's built package through the package's self-reference (so `dist/` must be built).
 */
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join, relative } from 'node:path'
import ts from 'typescript'

/** The repository root. */
export const ROOT = join(import.meta.dirname, '..', '..')

/** One ```ts block of a Markdown file. */
export interface Snippet {
  /** The Markdown file, relative to the root (e.g. `docs/stores/redis.md`). */
  file: string
  /** Line of the opening fence (1-based). */
  line: number
  code: string
}

/**
 * Markdown files whose snippets are checked: `*.md` at the root and everything under `docs/`, except the
 * CHANGELOG and the generated API reference (`docs/api/`, written by `npm run docs`).
 */
export function markdownFiles(): string[] {
  const top = readdirSync(ROOT).filter((name) => name.endsWith('.md') && name !== 'CHANGELOG.md')
  const docs = (readdirSync(join(ROOT, 'docs'), { recursive: true }) as string[])
    .map((name) => name.split('\\').join('/'))
    .filter((name) => name.endsWith('.md') && !name.startsWith('api/'))
    .map((name) => `docs/${name}`)
  return [...top, ...docs].sort()
}

const OPEN = /^(\s*)(`{3,}|~{3,})\s*([^\s`]*)/

/** Whether `line` closes a block opened with `fence` (the same character, at least as many, nothing after). */
function closes(line: string, fence: string): boolean {
  const trimmed = line.trim()
  return trimmed.length >= fence.length && trimmed === fence[0]!.repeat(trimmed.length)
}

/** The ```ts (or ```typescript) blocks of one Markdown file; blocks of other languages are skipped whole. */
export function extractSnippets(file: string, text = readFileSync(join(ROOT, file), 'utf8')): Snippet[] {
  const lines = text.split(/\r?\n/)
  const snippets: Snippet[] = []
  for (let i = 0; i < lines.length; i++) {
    const open = OPEN.exec(lines[i]!)
    if (!open) continue
    const [, indent = '', fence = '```', language = ''] = open
    const body: string[] = []
    let j = i + 1
    for (; j < lines.length && !closes(lines[j]!, fence); j++)
      body.push(lines[j]!.startsWith(indent) ? lines[j]!.slice(indent.length) : lines[j]!)
    if (j >= lines.length) throw new Error(`${file}:${i + 1}: a code block is not closed`)
    if (/^(ts|typescript)$/i.test(language)) snippets.push({ file, line: i + 1, code: body.join('\n') })
    i = j
  }
  return snippets
}

/**
 * The type tests: every `*.test-d.ts` under `test/`, relative to the root. They are checked in the snippets' program
 * (one tsc program instead of two, each loading the package's, the SDKs', Node's and the DOM's declarations), not
 * run: their `expectTypeOf` assertions and `@ts-expect-error` lines fail as type errors.
 */
export function typeTestFiles(): string[] {
  return (readdirSync(join(ROOT, 'test'), { recursive: true }) as string[])
    .map((name) => name.split('\\').join('/'))
    .filter((name) => name.endsWith('.test-d.ts'))
    .map((name) => `test/${name}`)
    .sort()
}

/** One test of a type-test file: its suite and test names, and the lines its call spans (1-based, inclusive). */
export interface TypeTest {
  names: string[]
  first: number
  last: number
}

/**
 * The tests of a type-test file, as Vitest's typecheck mode found them: each `it(...)`/`test(...)` call with a
 * string name, inside the `describe(...)`/`suite(...)` calls around it. A type error inside a test's lines fails
 * that test. Modifiers (`.skip`, `.only`, `.each`, ...) are refused: a skipped type test would check nothing.
 */
export function typeTests(file: string, text = readFileSync(join(ROOT, file), 'utf8')): TypeTest[] {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.ES2022, true)
  const line = (pos: number): number => source.getLineAndCharacterOfPosition(pos).line + 1
  const tests: TypeTest[] = []
  const visit = (node: ts.Node, suites: string[]): void => {
    if (ts.isCallExpression(node)) {
      const callee = node.expression
      if (ts.isPropertyAccessExpression(callee) && ts.isIdentifier(callee.expression)) {
        if (['describe', 'suite', 'it', 'test'].includes(callee.expression.text))
          throw new Error(`${file}:${line(node.getStart())}: use plain describe/it in type tests`)
      }
      if (ts.isIdentifier(callee) && ['describe', 'suite', 'it', 'test'].includes(callee.text)) {
        const [name] = node.arguments
        if (name === undefined || !ts.isStringLiteralLike(name))
          throw new Error(`${file}:${line(node.getStart())}: a type test needs a string name`)
        if (callee.text === 'describe' || callee.text === 'suite') {
          ts.forEachChild(node, (child) => visit(child, [...suites, name.text]))
          return
        }
        tests.push({ names: [...suites, name.text], first: line(node.getStart()), last: line(node.getEnd()) })
        return
      }
    }
    ts.forEachChild(node, (child) => visit(child, suites))
  }
  visit(source, [])
  return tests
}

/** The compiler options of a user's strict ESM project (the README's recommendation). */
export const USER_OPTIONS: ts.CompilerOptions = {
  target: ts.ScriptTarget.ES2022,
  module: ts.ModuleKind.NodeNext,
  moduleResolution: ts.ModuleResolutionKind.NodeNext,
  moduleDetection: ts.ModuleDetectionKind.Force,
  lib: ['lib.es2022.d.ts', 'lib.dom.d.ts'],
  types: ['node'],
  strict: true,
  noUncheckedIndexedAccess: true,
  exactOptionalPropertyTypes: true,
  noImplicitOverride: true,
  verbatimModuleSyntax: true,
  skipLibCheck: true,
  noEmit: true,
}

/** A type error, placed in its Markdown file (or example file). */
export interface SnippetError {
  /** `docs/x.md:12` (the line in the Markdown file) or `examples/x.ts:3`. */
  where: string
  message: string
}

/**
 * Type-checks the snippets (each as its own module, written under `.tmp/snippets/`, inside the package so that
 * `llm-budget` resolves to it) and the given `.ts` files. Returns the errors, keyed back to the Markdown lines.
 */
export function typeCheck(snippets: readonly Snippet[], files: readonly string[] = []): SnippetError[] {
  const dir = join(ROOT, '.tmp', 'snippets')
  rmSync(dir, { recursive: true, force: true })
  mkdirSync(dir, { recursive: true })
  const origin = new Map<string, Snippet>()
  snippets.forEach((snippet, n) => {
    const name = join(
      dir,
      `${String(n).padStart(3, '0')}-${snippet.file.replace(/[^a-z0-9]+/gi, '-')}-${snippet.line}.ts`,
    )
    writeFileSync(name, `${snippet.code}\n`)
    origin.set(name, snippet)
  })
  const program = ts.createProgram([...origin.keys(), ...files.map((f) => join(ROOT, f))], USER_OPTIONS)
  const errors: SnippetError[] = []
  for (const d of ts.getPreEmitDiagnostics(program)) {
    const message = ts.flattenDiagnosticMessageText(d.messageText, '\n')
    if (d.file === undefined || d.start === undefined) {
      errors.push({ where: '(program)', message })
      continue
    }
    const { line } = d.file.getLineAndCharacterOfPosition(d.start)
    const snippet = origin.get(d.file.fileName) ?? origin.get(join(d.file.fileName))
    const where =
      snippet !== undefined
        ? `${snippet.file}:${snippet.line + 1 + line}`
        : `${relative(ROOT, d.file.fileName)}:${line + 1}`
    errors.push({ where, message })
  }
  return errors
}
