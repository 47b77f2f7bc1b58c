/**
 * What the scenario editor offers at the cursor, from the scenario schema (src/shared/scenario):
 * top-level keys, the keys of a file, buffer or pipe, the op kinds after "op:", an op's own keys once
 * its kind is written, filesystems after "fs:". Read from the lines above the cursor (block style,
 * as the presets are written); flow style (`{ op: … }`) gets op kinds and keys of the op it names.
 */
import { BufferSpec, FileSpec, OP_KINDS, Op, PipeSpec, ScenarioSchema } from '../../../shared/scenario'
import { FILESYSTEMS } from '../../../shared/vocabulary'

export interface Offer {
  /** Where the completed word starts in the line. */
  from: number
  options: { label: string; detail?: string; type: 'keyword' | 'property' | 'enum' }[]
}

const OP_SHAPES = new Map<string, string[]>(Op.options.map((o) => [String(o.shape.op.value), Object.keys(o.shape)]))
const SECTION_KEYS: Record<string, string[]> = {
  files: Object.keys(FileSpec.shape),
  buffers: Object.keys(BufferSpec.shape),
  pipes: Object.keys(PipeSpec.shape),
}
const TOP_KEYS = Object.keys(ScenarioSchema.shape)

const indentOf = (l: string): number => l.length - l.trimStart().length

/** `lines` are the document's lines, `line` the cursor's (0-based), `col` its column. */
export function offer(lines: readonly string[], line: number, col: number): Offer | null {
  const before = lines[line]!.slice(0, col)
  // A value after "op:" (block or flow).
  const opValue = /(?:^|[{,\s-])op:\s*([\w-]*)$/.exec(before)
  if (opValue) return { from: col - opValue[1]!.length, options: OP_KINDS.map((k) => ({ label: k, type: 'enum', detail: 'op' })) }
  const fsValue = /^\s*fs:\s*(\w*)$/.exec(before)
  if (fsValue) return { from: col - fsValue[1]!.length, options: FILESYSTEMS.map((f) => ({ label: f, type: 'enum', detail: 'filesystem' })) }
  // A key inside a flow mapping: "{ op: splice, fr".
  const flow = /\{([^{}]*?)(?:,\s*|\{\s*)?([\w-]*)$/.exec(before)
  if (flow && before.includes('{')) {
    const kind = /op:\s*([\w-]+)/.exec(flow[1]!)?.[1]
    const keys = kind ? OP_SHAPES.get(kind) : undefined
    if (keys) return keyOffer(col, flow[2]!, keys, new Set([...flow[1]!.matchAll(/([\w-]+):/g)].map((m) => m[1]!)))
  }
  // A key at the start of a line (possibly after "- ").
  const key = /^(\s*)(-\s+)?([\w-]*)$/.exec(before)
  if (!key) return null
  const indent = key[1]!.length + (key[2]?.length ?? 0)
  const word = key[3]!
  if (indent === 0) return keyOffer(col, word, TOP_KEYS, keysAt(lines, line, 0))
  const section = sectionOf(lines, line)
  if (!section) return null
  if (section === 'ops') {
    const item = itemLines(lines, line, indent, !!key[2])
    const kind = item.map((l) => /^\s*(?:-\s+)?op:\s*([\w-]+)/.exec(l)?.[1]).find(Boolean)
    if (!kind) return keyOffer(col, word, ['op'], new Set())
    const present = new Set(item.map((l) => /^\s*(?:-\s+)?([\w-]+):/.exec(l)?.[1]).filter((k): k is string => !!k))
    return keyOffer(col, word, OP_SHAPES.get(kind) ?? [], present)
  }
  const keys = SECTION_KEYS[section]
  if (!keys) return null
  const item = itemLines(lines, line, indent, !!key[2])
  const present = new Set(item.map((l) => /^\s*(?:-\s+)?([\w-]+):/.exec(l)?.[1]).filter((k): k is string => !!k))
  return keyOffer(col, word, keys, present)
}

function keyOffer(col: number, word: string, keys: readonly string[], present: Set<string>): Offer {
  return { from: col - word.length, options: keys.filter((k) => !present.has(k) || k === word).map((k) => ({ label: `${k}: `, type: 'property', detail: 'key' })) }
}

/** The top-level key whose block holds this line ("ops", "files", …). */
function sectionOf(lines: readonly string[], line: number): string | null {
  for (let i = line; i >= 0; i--) {
    const m = /^([\w-]+):/.exec(lines[i]!)
    if (m) return m[1]!
  }
  return null
}

/** The lines of the list item the cursor is in: from its "- " line down to the cursor's line. */
function itemLines(lines: readonly string[], line: number, indent: number, startsItem: boolean): string[] {
  if (startsItem) return [lines[line]!]
  for (let i = line - 1; i >= 0; i--) {
    const l = lines[i]!
    if (!l.trim()) continue
    if (/^\s*-\s/.test(l) && indentOf(l) < indent) return lines.slice(i, line + 1) as string[]
    if (indentOf(l) < indent - 2) break
  }
  return [lines[line]!]
}

function keysAt(lines: readonly string[], line: number, indent: number): Set<string> {
  const out = new Set<string>()
  lines.forEach((l, i) => {
    if (i === line || indentOf(l) !== indent) return
    const m = /^([\w-]+):/.exec(l.trimStart())
    if (m) out.add(m[1]!)
  })
  return out
}
