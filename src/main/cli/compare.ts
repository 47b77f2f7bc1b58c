/**
 * `splice-lab compare A B`: two runs or batches side by side per scenario × filesystem — what each
 * side's kernel did, the outcomes that differ first (src/shared/run/compare.ts).
 */
import { existsSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import type { Command } from 'commander'
import { parseRunRecord, RunRecords } from '../lab/records'
import { runsDir } from '../paths'
import { compareRuns, formatComparison, kernelLabel } from '../../shared/run/compare'
import type { RunRecord } from '../../shared/run/types'

/**
 * A side: a record file, a batch file (`run --out`: a JSON list of records), a run id under the
 * lab's runs directory, or `kernel:<k>`: every saved run on that kernel — `uname -r`, a VM's kernel
 * name (debian-6.1), or the whole label `compare` prints — the latest of each scenario × filesystem counts. Each record of a batch is validated like a saved one; a bad one is named
 * by its index.
 */
export async function loadSide(what: string, records = new RunRecords()): Promise<RunRecord[]> {
  if (what.startsWith('kernel:')) {
    const kernel = what.slice('kernel:'.length)
    const all = await records.list(() => undefined)
    const mine = all.filter((r) => [r.target.kernel, r.target.vm?.kernel, kernelLabel(r.target)].includes(kernel))
    if (!mine.length) throw new Error(`${what}: no saved run on kernel "${kernel}" (saved kernels: ${[...new Set(all.map((r) => kernelLabel(r.target)))].join(', ') || 'none'})`)
    return mine
  }
  if (!existsSync(what)) {
    if (what.endsWith('.json') || what.includes('/')) throw new Error(`${what}: no such file`)
    return [await records.load(what)]
  }
  const text = await readFile(what, 'utf8')
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (e) {
    throw new Error(`${what}: not JSON: ${e instanceof Error ? e.message : String(e)}`)
  }
  if (!Array.isArray(value)) return [parseRunRecord(text, what)]
  return value.map((r, i) => parseRunRecord(JSON.stringify(r), `${what} [${i}]`))
}

export async function runCompare(a: string, b: string, o: { json?: boolean }): Promise<number> {
  let sides: [RunRecord[], RunRecord[]]
  try {
    sides = [await loadSide(a), await loadSide(b)]
  } catch (e) {
    console.error(`splice-lab compare: ${e instanceof Error ? e.message : String(e)}`)
    return 2
  }
  const c = compareRuns(...sides)
  console.log(o.json ? JSON.stringify(c, null, 1) : formatComparison(c))
  return 0
}

export function registerCompare(program: Command): void {
  program
    .command('compare')
    .description('two runs or batches side by side per scenario × filesystem: what each kernel did, the differences first')
    .argument('<a>', `run id (a record under ${runsDir()}), record file, batch file (run --out), or kernel:<uname -r | VM kernel name> (every saved run on it)`)
    .argument('<b>', 'the same, for the other side')
    .option('--json', 'print the comparison as JSON')
    .action(async (a: string, b: string, o: { json?: boolean }) => {
      process.exitCode = await runCompare(a, b, o)
    })
}
