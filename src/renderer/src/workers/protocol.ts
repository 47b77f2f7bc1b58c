import type { Scenario } from '../../../shared/scenario'
import type { Policy, Prediction } from '../../../shared/results'
import type { Filesystem } from '../../../shared/vocabulary'

/** Messages to and from the model worker. */
export interface PredictRequest {
  id: number
  scenario: Scenario
  fs: Filesystem
  pageSize: number
}
export type PredictResponse =
  | { id: number; ok: true; predictions: Record<Policy, Prediction>; ms: number }
  | { id: number; ok: false; message: string }
