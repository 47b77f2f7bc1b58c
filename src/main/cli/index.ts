/**
 * `splice-lab`: the command-line shell around the core. Each command lives in its own module and
 * registers itself here.
 */
import { readFileSync } from 'node:fs'
import { Command } from 'commander'
import { listPresets } from '../presets'
import { registerValidate } from './validate'
import { registerServe } from './serve'
import { registerRun } from './run'
import { registerPredict } from './predict'
import { registerTrace } from './trace'
import { registerExport } from './export'
import { registerKernel } from './kernel'
import { registerExplore } from './explore'
import { registerCompare } from './compare'
import { registerCost } from './cost'
import { guardOutput, outputGone } from './output'

guardOutput()

/** The package's version: out/main/cli.js → ../../package.json. */
function version(): string {
  try {
    return (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version
  } catch {
    return 'unknown'
  }
}

const program = new Command()
program
  .name('splice-lab')
  .description('Can data already spliced into a pipe still change? Predict, run and compare on real kernels.')
  .version(version(), '-V, --version')
  .showHelpAfterError()

program
  .command('presets')
  .description('list the preset scenarios (names for run, predict and validate)')
  .action(() => {
    const presets = listPresets()
    const width = Math.max(...presets.map((p) => p.name.length))
    for (const p of presets) console.log(`${p.name.padEnd(width)}  ${p.title}`)
  })

registerValidate(program)
registerServe(program)
registerRun(program)
registerPredict(program)
registerTrace(program)
registerExport(program)
registerKernel(program)
registerExplore(program)
registerCompare(program)
registerCost(program)

await program.parseAsync(process.argv)
if (outputGone()) process.exitCode = 0
