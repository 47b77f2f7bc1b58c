import type { Command } from 'commander'
import { parseScenarioText, formatProblem, ScenarioError } from '../../shared/scenario'
import { readScenarioFile } from '../presets'

export function registerValidate(program: Command): void {
  program
    .command('validate')
    .description('check scenario files and print every problem with its file, field path and line')
    .argument('<files...>', 'scenario files (YAML or JSON)')
    .action(async (files: string[]) => {
      let bad = 0
      for (const file of files) {
        let text: string
        try {
          text = readScenarioFile(file)
        } catch (e) {
          bad++
          if (e instanceof ScenarioError) e.problems.forEach((p) => console.error(formatProblem(p)))
          else console.error(`${file}: ${e instanceof Error ? e.message : String(e)}`)
          continue
        }
        const r = parseScenarioText(text, file)
        if (r.ok) console.log(`${file}: ok (${r.scenario.ops.length} ops)`)
        else {
          bad++
          for (const p of r.problems) console.error(formatProblem(p))
        }
      }
      process.exitCode = bad ? 1 : 0
    })
}
