/**
 * `splice-lab`: the command-line shell around the core. Commands register themselves from their own
 * modules so each stays small.
 */
import { readFile } from 'node:fs/promises'
import { Command } from 'commander'
import { parseScenarioText, formatProblem } from '../../shared/scenario'

const program = new Command()
program.name('splice-lab').description('Can data already spliced into a pipe still change? Predict, run and compare.').showHelpAfterError()

program
  .command('validate')
  .description('check scenario files and print every problem with its field path')
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

await program.parseAsync(process.argv)
