/**
 * Expected-outcome files of the presets on disk: `resources/scenarios/<name>.expect/<kernel>.<fs>.json`
 * beside the preset's YAML (src/shared/run/expect.ts says what they hold). `run --record-expect`
 * writes them; a plain run compares with the one of its kernel and filesystem when there is one.
 */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises'
import { dirname, join, resolve } from 'node:path'
import { presetsDir, resolvePreset } from './presets'
import { diffExpected, expectedOutcomes, expectFileName, type ExpectedOutcomes } from '../shared/run/expect'
import type { RunRecord } from '../shared/run/types'

/** True when `which` names a preset (a file of presetsDir()), not an arbitrary scenario file. */
export function isPreset(which: string): boolean {
  try {
    return dirname(resolve(resolvePreset(which))) === resolve(presetsDir())
  } catch {
    return false
  }
}

/** What the run's kernel did, as an expect file holds it. */
export function expectedOfRecord(record: RunRecord): ExpectedOutcomes {
  return expectedOutcomes(record.scenario, record.fs, record.target.kernel, record.observation, record.target.vm?.bootArgs)
}

/**
 * The kernel part of an expect file's name: `uname -r`, and for a VM target the kernel it booted and
 * its boot arguments — the Debian 6.1 build and the fix's 6.1 build both call themselves 6.1.192,
 * and the fix behaves differently under each splice_policy=.
 */
export function expectKernelKey(record: RunRecord): string {
  const vm = record.target.vm
  if (!vm) return record.target.kernel
  return [record.target.kernel, vm.kernel.split('/').pop() ?? vm.kernel, ...vm.bootArgs].join('+')
}

export function expectPath(record: RunRecord, dir = presetsDir()): string {
  return join(dir, `${record.scenario.name}.expect`, expectFileName(expectKernelKey(record), record.fs))
}

/** Writes the record's outcomes beside its preset (temp file + rename); returns the path. */
export async function recordExpect(record: RunRecord, dir = presetsDir()): Promise<string> {
  const path = expectPath(record, dir)
  await mkdir(dirname(path), { recursive: true })
  const tmp = `${path}.tmp-${process.pid}`
  await writeFile(tmp, JSON.stringify(expectedOfRecord(record), null, 1) + '\n')
  await rename(tmp, path)
  return path
}

export interface ExpectCheck {
  file: string
  /** One line per difference; empty when the run did what the file expects. */
  differences: string[]
  /** Set when the run wrote the file (--record-expect) instead of comparing with it. */
  recorded?: true
}

/**
 * The differences between the run and the expect file of its kernel and filesystem, or null when
 * there is no such file. Expectations made under other boot arguments are a difference too.
 */
export async function checkExpect(record: RunRecord, dir = presetsDir()): Promise<ExpectCheck | null> {
  const file = expectPath(record, dir)
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null
    throw e
  }
  let expected: ExpectedOutcomes
  try {
    expected = JSON.parse(text) as ExpectedOutcomes
    if (!Array.isArray(expected.ops)) throw new Error('no "ops" list')
  } catch (e) {
    return { file, differences: [`the expect file does not read: ${e instanceof Error ? e.message : String(e)}`] }
  }
  const observed = expectedOfRecord(record)
  const differences = diffExpected(expected, observed)
  const args = (a?: string[]): string => (a ?? []).join(' ')
  if (args(expected.bootArgs) !== args(observed.bootArgs)) differences.unshift(`boot args: expected "${args(expected.bootArgs)}", observed "${args(observed.bootArgs)}"`)
  return { file, differences }
}
