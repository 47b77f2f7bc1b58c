/**
 * `splice-lab`: the command-line shell around the core. Each command lives in its own module and
 * registers itself here.
 */
import { Command } from 'commander'
import { registerValidate } from './validate'
import { registerServe } from './serve'
import { registerRun } from './run'
import { registerPredict } from './predict'
import { registerTrace } from './trace'
import { registerExport } from './export'
import { registerKernel } from './kernel'
import { registerExplore } from './explore'

const program = new Command()
program
  .name('splice-lab')
  .description('Can data already spliced into a pipe still change? Predict, run and compare on real kernels.')
  .showHelpAfterError()

registerValidate(program)
registerServe(program)
registerRun(program)
registerPredict(program)
registerTrace(program)
registerExport(program)
registerKernel(program)
registerExplore(program)

await program.parseAsync(process.argv)
