/**
 * The validator's problems as the editor shows them: one per problem, in the order of the text. A
 * YAML slip makes the parser report its consequences too (every later line it cannot place): only
 * the first is the person's mistake, so only it is shown. zod's "Invalid discriminator value" for an
 * unknown op becomes "unknown op 'X' — expected one of …", with the nearest name when one is close.
 */
import { parseDocument } from 'yaml'
import { OP_KINDS, type ScenarioProblem } from '../../../shared/scenario'

const YAML_PREFIX = 'not valid YAML/JSON: '

export function editorProblems(problems: readonly ScenarioProblem[], text: string): ScenarioProblem[] {
  const yaml = problems.filter((p) => p.message.startsWith(YAML_PREFIX))
  const rest = problems.filter((p) => !p.message.startsWith(YAML_PREFIX))
  const out: ScenarioProblem[] = []
  if (yaml.length) {
    const first = [...yaml].sort(byLine)[0]!
    out.push({ ...first, message: `YAML: ${first.message.slice(YAML_PREFIX.length).replace(/ at line \d+, column (\d+):?$/, ' (column $1)')}` })
  }
  const seen = new Set<string>()
  for (const p of rest) {
    const shaped = /discriminator/i.test(p.message) && /(^|\.)op$/.test(p.path) ? { ...p, message: unknownOp(valueAt(text, p.path)) } : p
    const key = `${shaped.line}\0${shaped.path}\0${shaped.message}`
    if (seen.has(key)) continue
    seen.add(key)
    out.push(shaped)
  }
  return out.sort(byLine)
}

function byLine(a: ScenarioProblem, b: ScenarioProblem): number {
  return (a.line ?? Infinity) - (b.line ?? Infinity)
}

export function unknownOp(value: unknown): string {
  const name = typeof value === 'string' ? value : JSON.stringify(value)
  const near = typeof value === 'string' ? nearest(value, OP_KINDS) : null
  return `unknown op '${name ?? ''}'${near ? ` (did you mean '${near}'?)` : ''} — expected one of ${OP_KINDS.join(', ')}`
}

/** The value at a field path such as "ops[2].op", read from the text (undefined when it does not parse). */
export function valueAt(text: string, path: string): unknown {
  const keys = path.split(/\.|\[(\d+)\]/).filter((k) => k !== undefined && k !== '').map((k) => (/^\d+$/.test(k) ? Number(k) : k))
  try {
    return parseDocument(text).getIn(keys)
  } catch {
    return undefined
  }
}

/** The closest name within two edits, if any. */
export function nearest(word: string, names: readonly string[]): string | null {
  let best: string | null = null
  let bestD = 3
  for (const n of names) {
    const d = distance(word, n)
    if (d < bestD) {
      best = n
      bestD = d
    }
  }
  return best
}

function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j)
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!
    row[0] = i
    for (let j = 1; j <= b.length; j++) {
      const cur = row[j]!
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1))
      prev = cur
    }
  }
  return row[b.length]!
}
