/**
 * The user's own scenario files, `<data dir>/scenarios/<name>.yaml` (SPLICE_LAB_HOME moves it):
 * listed beside the presets in the app, saved from its editor. Only valid scenarios are saved, under
 * a name that is an id (no path can be formed from it), written whole through a temporary file.
 */
import { mkdir, readdir, readFile, rename, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { UserScenario } from '../shared/api'
import { ApiError } from '../shared/api'
import { formatProblem, parseScenarioText } from '../shared/scenario'
import { dataDir } from './paths'

export const userScenariosDir = (): string => join(dataDir(), 'scenarios')

export async function listUserScenarios(): Promise<UserScenario[]> {
  const dir = userScenariosDir()
  let names: string[]
  try {
    names = (await readdir(dir)).filter((n) => /^[A-Za-z0-9_-]{1,64}\.ya?ml$/.test(n)).sort()
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return []
    throw e
  }
  return Promise.all(names.map(async (n) => ({ name: n.replace(/\.ya?ml$/, ''), path: join(dir, n), text: await readFile(join(dir, n), 'utf8') })))
}

export async function saveUserScenario(name: string, text: string): Promise<UserScenario> {
  const parsed = parseScenarioText(text, `${name}.yaml`)
  if (!parsed.ok) throw new ApiError('invalid-input', `not saved: ${parsed.problems.map(formatProblem).join('\n')}`)
  const dir = userScenariosDir()
  await mkdir(dir, { recursive: true })
  const path = join(dir, `${name}.yaml`)
  const tmp = `${path}.${process.pid}.tmp`
  await writeFile(tmp, text, 'utf8')
  await rename(tmp, path)
  return { name, path, text }
}
