import type { Scenario } from '../../shared/scenario'
import type { ModelEnv, Policy, Prediction } from '../../shared/results'

/** What the model's thread is asked: one scenario, one environment, the policies to predict. */
export interface ModelRequest {
  scenario: Scenario
  env: ModelEnv
  policies: Policy[]
}

export type ModelReply = { ok: true; predictions: Partial<Record<Policy, Prediction>> } | { ok: false; message: string }
