/**
 * Target configurations, persisted as JSON in configDir()/targets.json. Read and written whole (a
 * handful of entries); every entry is validated on the way in, so a hand-edited file with a bad
 * entry loses that entry with a warning instead of breaking the app.
 */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { TargetConfig } from '../../shared/api'
import { configDir } from '../paths'

const file = (): string => join(configDir(), 'targets.json')

export async function readTargets(warn: (message: string) => void = console.warn): Promise<TargetConfig[]> {
  let text: string
  try {
    text = await readFile(file(), 'utf8')
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return []
    throw e
  }
  let raw: unknown
  try {
    raw = JSON.parse(text)
  } catch (e) {
    warn(`${file()}: not valid JSON (${(e as Error).message}); starting with no targets`)
    return []
  }
  const list = Array.isArray(raw) ? raw : []
  const out: TargetConfig[] = []
  for (const [i, entry] of list.entries()) {
    const parsed = TargetConfig.safeParse(entry)
    if (parsed.success) out.push(parsed.data)
    else warn(`${file()}: entry ${i} ignored: ${parsed.error.issues.map((x) => `${x.path.join('.')}: ${x.message}`).join('; ')}`)
  }
  return out
}

export async function writeTargets(targets: TargetConfig[]): Promise<void> {
  await mkdir(configDir(), { recursive: true })
  // Write then rename, so a crash never leaves half a file.
  const tmp = `${file()}.${process.pid}.tmp`
  await writeFile(tmp, JSON.stringify(targets, null, 2) + '\n', { mode: 0o600 })
  await rename(tmp, file())
}

export const newId = (): string => randomBytes(6).toString('hex')
