/**
 * Finding files under resources/ (the probe source) from wherever the code runs: the source tree
 * (tests, tsx), the built CLI (out/main), or a packaged app (resources unpacked next to the asar,
 * because the probe is uploaded and compiled, never run from inside the archive).
 */
import { existsSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

export function resourcePath(rel: string): string {
  const candidates: string[] = []
  if (process.env.SPLICE_LAB_RESOURCES) candidates.push(join(process.env.SPLICE_LAB_RESOURCES, rel))
  const packaged = (process as { resourcesPath?: string }).resourcesPath
  if (packaged) candidates.push(join(packaged, 'app.asar.unpacked', 'resources', rel), join(packaged, 'resources', rel))
  for (const start of [dirname(fileURLToPath(import.meta.url)), process.cwd()]) {
    let d = start
    for (let i = 0; i < 6; i++) {
      candidates.push(join(d, 'resources', rel))
      const up = dirname(d)
      if (up === d) break
      d = up
    }
  }
  const found = candidates.find((c) => existsSync(c))
  if (!found) throw new Error(`cannot find resources/${rel} (looked in ${candidates.slice(0, 4).join(', ')}, …); set SPLICE_LAB_RESOURCES`)
  return found
}
