import { readFile } from 'node:fs/promises'
import type { Command } from 'commander'
import { parseScenarioText, formatProblem } from '../../shared/scenario'

export function registerValidate(program: Command): void {
  program
    .command('validate')
    .description('check scenario files and print every problem with its file, field path and line')
    .argument('<files...>', 'scenario files (YAML or JSON)')
    .action(async (files: string[]) => {
      let bad = 0
      for (const file of files) {
        const r = parseScenarioText(await readFile(file, 'utf8'), file)
        if (r.ok) console.log(`${file}: ok (${r.scenario.ops.length} ops)`)
        else {
          bad++
          for (const p of r.problems) console.error(formatProblem(p))
        }
      }
      process.exitCode = bad ? 1 : 0
    })
}
