/**
 * The seam between the API service and the core modules it drives (targets, presets, runs, model,
 * trace export). Only this file names them, so the service reads as API logic and the wiring is
 * visible in one place. Pieces of the core that are not there report 'unavailable' honestly.
 */
import type { Target } from '../target/types'
import type { TargetConfig, PresetInfo } from '../../shared/api'
import { ApiError } from '../../shared/api'
import type { RunEvent, RunRecord } from '../../shared/run/types'
import type { Scenario, Filesystem } from '../../shared/scenario'

const missing = (what: string): never => {
  throw new ApiError('unavailable', `${what} is not part of this build yet`)
}

/** Opens a pty session to the target; `onProgress` gets lines for the connect progress. */
export async function openTarget(_config: TargetConfig, _onProgress: (message: string) => void): Promise<Target> {
  return missing('Connecting to targets')
}

export async function listPresets(): Promise<PresetInfo[]> {
  return missing('The preset library')
}

export interface StartedRun {
  done: Promise<RunRecord>
}

export function startRun(
  _target: Target,
  _scenario: Scenario,
  _options: { fs: Filesystem | undefined; signal: AbortSignal; onEvent: (e: RunEvent) => void },
): StartedRun {
  return missing('Running scenarios')
}

export async function listRunRecords(): Promise<RunRecord[]> {
  return []
}

export async function loadRun(_id: string): Promise<RunRecord> {
  return missing('Reading run records')
}

export function exportRecord(_record: RunRecord, _format: 'csv' | 'perfetto'): string {
  return missing('Trace export')
}
