/**
 * The preset library: the scenarios shipped in resources/scenarios/*.yaml. A preset is an ordinary
 * scenario file whose `name` equals its file name; it must validate like any other scenario.
 *
 * The directory is found by resourcePath() (lab/resources.ts), which looks next to the running
 * file (out/main/cli.js, tsx, vitest), in the current directory and, in a packaged Electron app,
 * under process.resourcesPath — so the CLI, the app and the tests read the same files.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { basename, extname, join } from 'node:path'
import { loadScenarioOrThrow, parseScenarioText, ScenarioError, SCENARIO_LIMITS, type Scenario } from '../shared/scenario'
import { resourcePath } from './lab/resources'
import type { PresetInfo } from '../shared/api'

export interface PresetEntry {
  /** The scenario's `name` (= the file name without .yaml). */
  name: string
  title: string
  description: string
  /** Absolute path of the YAML file. */
  path: string
}

const PRESET_EXT = new Set(['.yaml', '.yml', '.json'])

/** Absolute path of resources/scenarios. Throws when it cannot be found (set SPLICE_LAB_RESOURCES). */
export function presetsDir(): string {
  return resourcePath('scenarios')
}

function presetFiles(dir: string): string[] {
  return readdirSync(dir)
    .filter((f) => PRESET_EXT.has(extname(f)))
    .sort()
    .map((f) => join(dir, f))
}

/**
 * Every preset, sorted by name. A preset that does not validate is still listed (its title says so)
 * so a broken file is visible rather than silently missing; loadPreset() on it throws the problems.
 */
export function listPresets(pageSize = 4096): PresetEntry[] {
  const out: PresetEntry[] = []
  for (const path of presetFiles(presetsDir())) {
    const name = basename(path, extname(path))
    const r = parseScenarioText(readFileSync(path, 'utf8'), path, pageSize)
    if (r.ok) out.push({ name, title: r.scenario.title ?? name, description: r.scenario.description.trim(), path })
    else out.push({ name, title: `${name} (invalid)`, description: r.problems.map((p) => `${p.path}: ${p.message}`).join('; '), path })
  }
  return out.sort((a, b) => a.name.localeCompare(b.name))
}

/** The preset's YAML text (for the editor). */
export function presetText(name: string): string {
  return readFileSync(resolvePreset(name), 'utf8')
}

function looksLikePath(s: string): boolean {
  return s.includes('/') || PRESET_EXT.has(extname(s))
}

/** A preset name or a scenario file path → the file to read. Throws ScenarioError naming the choices. */
export function resolvePreset(nameOrPath: string): string {
  if (looksLikePath(nameOrPath)) {
    if (existsSync(nameOrPath) && statSync(nameOrPath).isFile()) return nameOrPath
    throw new ScenarioError([{ source: nameOrPath, path: '', message: 'no such scenario file' }])
  }
  const dir = presetsDir()
  for (const ext of PRESET_EXT) {
    const p = join(dir, nameOrPath + ext)
    if (existsSync(p)) return p
  }
  const names = presetFiles(dir).map((p) => basename(p, extname(p)))
  throw new ScenarioError([
    { source: nameOrPath, path: '', message: `no preset or scenario file "${nameOrPath}"; presets: ${names.join(', ')}` },
  ])
}

/**
 * A preset by name, or any scenario file by path, parsed and validated. Throws ScenarioError with
 * file, field path and line for an invalid scenario, or listing the preset names for an unknown one.
 */
export function loadPreset(nameOrPath: string, pageSize = 4096): Scenario {
  const path = resolvePreset(nameOrPath)
  return loadScenarioOrThrow(readScenarioFile(path), path, pageSize)
}

/** The presets with their YAML text, for the app's library and editor. */
export async function presetInfos(): Promise<PresetInfo[]> {
  return Promise.all(listPresets().map(async (e) => ({ name: e.name, title: e.title, description: e.description, text: await readFile(e.path, 'utf8') })))
}

/**
 * A scenario file's text, refused past the size the API accepts (SCENARIO_LIMITS.maxTextChars
 * bytes) before it is read: a 100 MB file took the CLI 54 s and 3.4 GB to refuse.
 */
export function readScenarioFile(path: string): string {
  const size = statSync(path).size
  if (size > SCENARIO_LIMITS.maxTextChars)
    throw new ScenarioError([{ source: path, path: '', message: `the file is ${size} bytes; scenarios are at most ${SCENARIO_LIMITS.maxTextChars} bytes` }])
  return readFileSync(path, 'utf8')
}
