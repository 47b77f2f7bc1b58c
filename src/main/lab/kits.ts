/**
 * The real model and probe format behind a run (run.ts names what it needs as ProbeKit/ModelKit).
 */
import type { ModelKit, ProbeKit } from './run'
import { ObservationBuilder, compileProgram, probeArgs } from '../../shared/probe'
import { defaultEnv, predictAll } from '../../shared/model'

export const probeKit: ProbeKit = {
  compileProgram: (scenario, options) => compileProgram(scenario, options),
  probeArgs: (options) => probeArgs(options),
  observationBuilder: () => {
    const b = new ObservationBuilder()
    return {
      push(line) {
        let op = null
        for (const l of b.push(line + '\n')) {
          if (l.type === 'op') {
            const { type: _t, run: _r, ...obs } = l
            op = obs
          }
        }
        return op
      },
      finish: (incomplete) => b.finish(incomplete),
    }
  },
}

export const modelKit: ModelKit = { defaultEnv, predictAll }

export function defaultKits(): { probe: ProbeKit; model: ModelKit } {
  return { probe: probeKit, model: modelKit }
}
