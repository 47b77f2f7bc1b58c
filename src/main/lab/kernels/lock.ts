/**
 * One build per tree at a time: a lock file holding the builder's pid, created exclusively. A lock
 * whose process is gone (a build that was killed) is taken over.
 */
import { readFile, rm, writeFile } from 'node:fs/promises'
import { StoreError } from './store'

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'
  }
}

export async function acquireLock(path: string): Promise<() => Promise<void>> {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      await writeFile(path, String(process.pid), { flag: 'wx' })
      return () => rm(path, { force: true })
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e
      const pid = Number((await readFile(path, 'utf8').catch(() => '')).trim())
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && alive(pid))
        throw new StoreError(`another build of this kernel is running (pid ${pid}); wait for it to finish`)
      await rm(path, { force: true })
    }
  }
  throw new StoreError(`cannot take the build lock ${path}`)
}
