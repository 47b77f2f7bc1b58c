/**
 * `splice-lab cost <records…>`: the seed's cost, counted — per preset × filesystem × booted policy,
 * pages stolen and copied, bytes copied and reloads, predicted against measured
 * (src/shared/run/cost.ts).
 */
import type { Command } from 'commander'
import { RunRecords } from '../lab/records'
import { runsDir } from '../paths'
import { loadSide } from './compare'
import { costTable, formatCostTable } from '../../shared/run/cost'
import type { RunRecord } from '../../shared/run/types'

export async function runCost(what: string[], o: { json?: boolean }): Promise<number> {
  const store = new RunRecords()
  const records: RunRecord[] = []
  try {
    for (const w of what) records.push(...(await loadSide(w, store)))
  } catch (e) {
    console.error(`splice-lab cost: ${e instanceof Error ? e.message : String(e)}`)
    return 2
  }
  const t = costTable(records)
  console.log(o.json ? JSON.stringify(t, null, 1) : formatCostTable(t))
  return 0
}

export function registerCost(program: Command): void {
  program
    .command('cost')
    .description('pages stolen and copied, bytes copied and reloads per preset × fs: predicted for the booted policy against measured')
    .argument('<records...>', `run ids (records under ${runsDir()}), record files, or batch files (run --out)`)
    .option('--json', 'print the table as JSON')
    .action(async (what: string[], o: { json?: boolean }) => {
      process.exitCode = await runCost(what, o)
    })
}
