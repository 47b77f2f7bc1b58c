/**
 * The seam between the API service and the core modules it drives (targets, presets, runs, model,
 * trace export). Only this file names them, so the service reads as API logic and the wiring is
 * visible in one place.
 */
import type { Target, TerminalInput } from '../target/types'
import { connectTarget, type TargetSpec } from '../target'
import * as presets from '../presets'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { listRunRecords as listRecordFiles, loadRunRecord, loadRunTrace } from '../lab/records'
import { runsDir } from '../paths'
import { runScenario } from '../lab/run'
import { openTracer } from '../lab/tracer'
import { defaultKits } from '../lab/kits'
import { bucketsCsv, eventsOfText, perOpCsv, toPerfetto } from '../../shared/trace/export'
import type { ExportFormat, TargetConfig, PresetInfo } from '../../shared/api'
import { ApiError } from '../../shared/api'
import type { RunEvent, RunRecord } from '../../shared/run/types'
import type { Scenario, Filesystem } from '../../shared/scenario'

/**
 * Opens a pty session to the target. Terminal output flows to `onTerminalData` from the first byte,
 * so a password or host-key prompt during the connect reaches the person in the terminal view.
 */
export async function openTarget(
  config: TargetConfig,
  onProgress: (message: string) => void,
  onTerminalData: (data: string) => void,
  onTerminal?: (input: TerminalInput) => void,
): Promise<Target> {
  const spec: TargetSpec =
    config.kind === 'local'
      ? { kind: 'local' }
      : { kind: 'ssh', host: config.host, user: config.user, port: config.port, identity: config.identityFile }
  onProgress(config.kind === 'local' ? 'starting a local shell…' : `ssh ${config.user ? `${config.user}@` : ''}${config.host}… answer any prompt in the terminal below`)
  // A person may be typing a password or checking a host key: give them two minutes.
  return connectTarget(spec, { readyTimeoutMs: config.kind === 'ssh' ? 120_000 : 15_000, onTerminalData, onTerminal })
}

/** The shipped presets with their YAML text, for the library and the editor. */
export async function listPresets(): Promise<PresetInfo[]> {
  const entries = presets.listPresets()
  return Promise.all(entries.map(async (e) => ({ name: e.name, title: e.title, description: e.description, text: await readFile(e.path, 'utf8') })))
}

export interface StartedRun {
  done: Promise<RunRecord>
}

/**
 * Starts a run: a private ftrace instance when the target allows one (else the run says why there is
 * no trace), the probe, the comparison, the saved record. runScenario cleans the target on every
 * path (scratch, tracer, probe), cancellation included.
 */
export function startRun(
  target: Target,
  scenario: Scenario,
  options: { runId: string; fs: Filesystem | undefined; pageSize: number; signal: AbortSignal; onEvent: (e: RunEvent) => void },
): StartedRun {
  const done = (async () => {
    const tracer = await openTracer(target, { pageSize: options.pageSize })
    return runScenario(target, scenario, {
      runId: options.runId,
      fs: options.fs,
      tracer,
      signal: options.signal,
      onEvent: options.onEvent,
      kits: defaultKits(),
    })
  })()
  return { done }
}

/** Saved run records, newest first; files that do not read as records are reported, not shown half-shaped. */
export async function listRunRecords(warn: (message: string) => void): Promise<RunRecord[]> {
  const out: RunRecord[] = []
  for (const entry of await listRecordFiles()) {
    if (entry.record) out.push(entry.record)
    else warn(entry.problem ?? `${entry.path}: unreadable`)
  }
  return out
}

export async function loadRun(id: string): Promise<RunRecord> {
  const path = join(runsDir(), `${id}.json`)
  try {
    return await loadRunRecord(path)
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new ApiError('not-found', `no run record ${id} (looked for ${path})`)
    throw new ApiError('unreadable', e instanceof Error ? e.message : String(e))
  }
}

/**
 * JSON: the record itself. CSV: the run's per-op tracepoint counts. Series CSV: its live series, one row per 100 ms.
 * Perfetto: Chrome's Trace Event Format; op slices from the probe's markers, kernel events as
 * instants and the series as counters when the run kept its raw trace (`<id>.trace.txt`), else op
 * slices from the probe's per-op durations.
 */
export async function exportRecord(record: RunRecord, format: ExportFormat, dir = runsDir()): Promise<string> {
  if (format === 'json') return JSON.stringify(record, null, 2) + '\n'
  if (format === 'csv') return perOpCsv(record)
  if (format === 'series-csv') return bucketsCsv(record.trace?.buckets ?? [])
  const raw = await loadRunTrace(record.id, dir)
  const { events, left, lost } = raw === null ? { events: [], left: 0, lost: [] } : eventsOfText(raw)
  const file = toPerfetto(record, { buckets: record.trace?.buckets ?? [], bucketsT0: record.trace?.t0, events, eventsLeftOut: left, lost })
  const kept = record.trace?.raw
  if (kept?.droppedChars) file.metadata.rawTraceNotKept = `${kept.droppedChars} characters of trace_pipe text after the first ${kept.chars}`
  return JSON.stringify(file)
}
