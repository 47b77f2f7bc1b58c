/**
 * `splice-lab run`: run scenarios on a target, compare each op with the model, print the verdict per
 * scenario × filesystem and a final table. Exit status 1 when a run failed to execute (or could not
 * connect); disagreements are findings, reported but not failures of the command.
 */
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { runsDir } from '../paths'
import type { Command } from 'commander'
import { errorMessage } from '../target'
import { openLab, targetLine, targetOptions, type TargetCliOptions } from './connect'
import { listPresets, loadPreset } from '../presets'
import type { Lab } from '../lab/lab'
import { formatRun, formatTable, type RunRow } from './run-format'
import { progress, type Progress } from './output'
import { stopSignal, type Stop } from './stop'
import { POLICIES } from '../../shared/results'
import type { Scenario } from '../../shared/scenario/schema'
import { FILESYSTEMS, isFilesystem, type Filesystem } from '../../shared/vocabulary'
import type { RunRecord } from '../../shared/run/types'
import { checkExpect, expectPath, isPreset, recordExpect, type ExpectCheck } from '../expect-files'

interface RunCliOptions extends TargetCliOptions {
  fs?: string
  dir?: string
  trace?: boolean
  text?: boolean
  json?: boolean
  out?: string
  recordExpect?: boolean
}

export function parseFsList(text: string): Filesystem[] {
  const out: Filesystem[] = []
  for (const part of text.split(',').map((s) => s.trim()).filter(Boolean)) {
    if (!isFilesystem(part)) throw new Error(`--fs: unknown filesystem "${part}" (expected ${FILESYSTEMS.join(', ')})`)
    if (!out.includes(part)) out.push(part)
  }
  if (!out.length) throw new Error('--fs: give at least one filesystem')
  return out
}

export function registerRun(program: Command): void {
  targetOptions(program.command('run'))
    .description('run scenarios on a real kernel and compare every op with the model')
    .argument('<scenario>', 'a scenario file, a preset name, or "all" (every preset)')
    .option('--fs <list>', 'filesystems to run on (comma-separated: tmpfs,ext4,xfs,btrfs); loop-backed scratch mounts need root')
    .option('--dir <path>', 'run in this directory on the target instead of scratch mounts')
    .option('--trace', 'trace the probe in a private ftrace instance')
    .option('--text', 'with --trace: read the text trace_pipe instead of the binary per-CPU trace_pipe_raw')
    .option('--json', 'print the run records as JSON instead of text')
    .option('--out <file>', 'also write the run records (JSON) to this file')
    .option('--record-expect', "write each preset's observed outcomes beside it (<name>.expect/<kernel>.<fs>.json) instead of comparing with them")
    .action(async (which: string, o: RunCliOptions) => {
      process.exitCode = await runCommand(which, o)
    })
}

async function runCommand(which: string, o: RunCliOptions): Promise<number> {
  let scenarios: Scenario[]
  let fsList: (Filesystem | undefined)[]
  try {
    scenarios = which === 'all' ? listPresets().map((p) => loadPreset(p.name)) : [loadPreset(which)]
    fsList = o.fs ? parseFsList(o.fs) : [undefined]
    if (o.recordExpect && which !== 'all' && !isPreset(which)) throw new Error('--record-expect: expected outcomes are kept for presets only, not for a scenario file')
  } catch (e) {
    console.error(errorMessage(e))
    return 2
  }
  const p = progress()
  const lab = await openLab('run', o, p)
  if (!lab) return 1
  const records: (RunRecord & { expect?: ExpectCheck })[] = []
  const rows: RunRow[] = []
  const stop = stopSignal()
  try {
    for (const note of lab.notes) console.error(note)
    const facts = await lab.facts()
    if (!o.json) {
      console.log(targetLine(lab.target.label, facts))
      for (const n of facts.notes) console.log(`  note: ${n}`)
    }
    for (const scenario of scenarios) {
      for (const fs of fsList) {
        if (stop.signal.aborted || lab.disconnected) break
        const record = await runOne(lab, scenario, fs, o, stop, p)
        const expect = which === 'all' || isPreset(which) ? await expectStep(record, o) : undefined
        records.push(expect ? { ...record, expect } : record)
        rows.push({ scenario: scenario.name, fs: record.fs, record })
        if (!o.json) console.log(`${formatRun(record)}\nrun ${record.id}: record ${join(runsDir(), `${record.id}.json`)}${expect ? `\n${formatExpect(expect)}` : ''}`)
      }
    }
  } catch (e) {
    p.clear()
    if (!stop.quiet) console.error(`splice-lab run: ${errorMessage(e)}`)
    return 1
  } finally {
    stop.release()
    await lab.dispose()
  }
  if (o.json) console.log(JSON.stringify(records, null, 1))
  else console.log(formatTable(rows, POLICIES))
  if (o.out) await writeFile(o.out, JSON.stringify(records, null, 1) + '\n')
  return records.some((r) => r.error) || stop.signal.aborted ? 1 : 0
}

/**
 * With --record-expect, keep what the kernel did beside the preset (not for a run that failed to
 * execute: that is the lab's failure, not the kernel's outcome); without it, compare with the file
 * of this kernel and filesystem when there is one.
 */
async function expectStep(record: RunRecord, o: RunCliOptions): Promise<ExpectCheck | undefined> {
  if (!o.recordExpect) return (await checkExpect(record)) ?? undefined
  if (record.error) return { file: expectPath(record), differences: [`not recorded: the run failed (${record.error.message})`] }
  return { file: await recordExpect(record), differences: [], recorded: true }
}

function formatExpect(e: ExpectCheck): string {
  if (e.recorded) return `expect ${e.file}: recorded`
  if (!e.differences.length) return `expect ${e.file}: same outcomes`
  return [`expect ${e.file}: ${e.differences.length} difference(s)`, ...e.differences.map((d) => `  ${d}`)].join('\n')
}

async function runOne(lab: Lab, scenario: Scenario, fsWanted: Filesystem | undefined, o: RunCliOptions, stop: Stop, p: Progress): Promise<RunRecord> {
  const fs = fsWanted ?? (o.dir ? undefined : (scenario.fs ?? 'tmpfs'))
  const tag = `${scenario.name}${fs ? ` on ${fs}` : ''}`
  let done = 0
  const record = await lab.run(scenario, {
    fs,
    dir: o.dir,
    trace: o.trace ? { text: o.text } : false,
    signal: stop.signal,
    onEvent: (e) => {
      if (e.type === 'phase') p.say(`${tag}: ${e.phase} — ${e.message}`)
      else if (e.type === 'op') p.say(`${tag}: op ${++done}/${e.total} ${e.observation.path} ${e.observation.op}`)
      else if (e.type === 'log' && e.level !== 'info' && !o.json && !stop.quiet) {
        p.clear()
        console.error(`${tag}: ${e.level}: ${e.message}`)
      }
    },
  })
  p.clear()
  return record
}
