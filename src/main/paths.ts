/**
 * Where the lab keeps its things on the workstation. SPLICE_LAB_HOME moves all of it (tests point it
 * at a temp dir); otherwise XDG locations.
 */
import { homedir } from 'node:os'
import { join } from 'node:path'

function base(kind: 'config' | 'data' | 'cache'): string {
  const home = process.env.SPLICE_LAB_HOME
  if (home) return join(home, kind)
  const xdg = { config: 'XDG_CONFIG_HOME', data: 'XDG_DATA_HOME', cache: 'XDG_CACHE_HOME' }[kind]
  const fallback = { config: '.config', data: '.local/share', cache: '.cache' }[kind]
  return join(process.env[xdg] || join(homedir(), fallback), 'splice-lab')
}

export const configDir = (): string => base('config')
/** Run records live in dataDir()/runs/<id>.json. */
export const runsDir = (): string => join(base('data'), 'runs')
export const cacheDir = (): string => base('cache')
/** The user's data: run records (runsDir) and saved scenarios. */
export const dataDir = (): string => base('data')
