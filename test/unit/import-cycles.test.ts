/**
 * No import cycle anywhere in src/: every module can be read (and loaded) after the modules it
 * imports. Type-only imports count too: a cycle of types is still two modules that cannot be
 * understood one without the other. The graph comes from the TypeScript compiler's own import
 * scanner over every .ts file and every .vue file's script blocks; relative specifiers are resolved
 * like the bundler does (.ts, .vue, /index.ts).
 */
import { describe, expect, it } from 'vitest'
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import ts from 'typescript'

const root = join(import.meta.dirname, '../..')
const src = join(root, 'src')

function files(dir: string): string[] {
  const out: string[] = []
  for (const name of readdirSync(dir)) {
    const path = join(dir, name)
    if (statSync(path).isDirectory()) out.push(...files(path))
    else if (/\.(ts|vue)$/.test(name) && !/\.d\.ts$/.test(name)) out.push(path)
  }
  return out
}

function scriptOf(path: string): string {
  const text = readFileSync(path, 'utf8')
  if (!path.endsWith('.vue')) return text
  return [...text.matchAll(/<script\b[^>]*>([\s\S]*?)<\/script>/g)].map((m) => m[1]).join('\n')
}

function resolveImport(from: string, spec: string): string | null {
  if (!spec.startsWith('.')) return null
  const base = resolve(dirname(from), spec)
  for (const candidate of [base, `${base}.ts`, `${base}.vue`, join(base, 'index.ts')]) if (existsSync(candidate) && statSync(candidate).isFile()) return candidate
  return null
}

export function importGraph(paths: string[]): Map<string, string[]> {
  const graph = new Map<string, string[]>()
  for (const path of paths) {
    const { importedFiles } = ts.preProcessFile(scriptOf(path), true, false)
    const deps = importedFiles.map((f) => resolveImport(path, f.fileName)).filter((p): p is string => p !== null)
    graph.set(path, [...new Set(deps)])
  }
  return graph
}

/** Strongly connected components with more than one module, or a module importing itself (Tarjan). */
export function cycles(graph: Map<string, string[]>): string[][] {
  let index = 0
  const idx = new Map<string, number>()
  const low = new Map<string, number>()
  const stack: string[] = []
  const onStack = new Set<string>()
  const out: string[][] = []
  const visit = (v: string): void => {
    idx.set(v, index)
    low.set(v, index++)
    stack.push(v)
    onStack.add(v)
    for (const w of graph.get(v) ?? []) {
      if (!idx.has(w)) {
        visit(w)
        low.set(v, Math.min(low.get(v)!, low.get(w)!))
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!))
    }
    if (low.get(v) === idx.get(v)) {
      const scc: string[] = []
      let w: string
      do {
        w = stack.pop()!
        onStack.delete(w)
        scc.push(w)
      } while (w !== v)
      if (scc.length > 1 || (graph.get(v) ?? []).includes(v)) out.push(scc.sort())
    }
  }
  for (const v of graph.keys()) if (!idx.has(v)) visit(v)
  return out
}

describe('imports in src/', () => {
  it('finds a cycle when there is one (the check can fail)', () => {
    const g = new Map([
      ['a', ['b']],
      ['b', ['c']],
      ['c', ['a']],
      ['d', ['a']],
    ])
    expect(cycles(g)).toEqual([['a', 'b', 'c']])
  })

  it('form no cycle', () => {
    const graph = importGraph(files(src))
    expect(graph.size).toBeGreaterThan(50)
    // The graph holds real edges, of .ts and .vue files alike.
    expect(graph.get(join(src, 'main/lab/lab.ts'))).toContain(join(src, 'main/lab/run.ts'))
    expect(graph.get(join(src, 'renderer/src/App.vue'))?.length).toBeGreaterThan(0)
    const found = cycles(graph).map((scc) => scc.map((p) => relative(root, p)).join(' ↔ '))
    expect(found).toEqual([])
  })
})
