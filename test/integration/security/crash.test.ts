/**
 * Issue 15, part 4: after the lab process is SIGKILLed, what it started on the target dies with
 * its session: a stream's command, grandchildren included (the probe runs as a child of the shell
 * that reports its exit status), and nothing it spawns holds the pty master (which would keep the
 * driven shell's session alive, so the next connect would take its scratch for a live run's).
 */
import { describe, expect, it } from 'vitest'
import { spawn, spawnSync } from 'node:child_process'
import { readdirSync, readlinkSync } from 'node:fs'

const targetModule = JSON.stringify(new URL('../../../src/main/target/index.ts', import.meta.url).pathname)

/** Starts a node process that connects the local target, runs `body`, prints "ready" and waits to be killed. */
async function labProcess(body: string): Promise<ReturnType<typeof spawn> & { said: string }> {
  const script = `
    const { connectTarget } = await import(${targetModule})
    const t = await connectTarget('local')
    ${body}
    console.log('ready')
    setInterval(() => undefined, 1000)
  `
  const child = Object.assign(spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] }), { said: '' })
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => {
      child.said += d.toString()
      if (child.said.includes('ready')) resolve()
    })
    child.on('exit', (code) => reject(new Error(`the lab process exited early (${code})`)))
  })
  return child
}

const pids = (command: string): string[] => spawnSync('pgrep', ['-f', `^${command.replace(/\./g, '\\.')}$`], { encoding: 'utf8' }).stdout.trim().split('\n').filter(Boolean)

async function gone(pattern: string, ms: number): Promise<string[]> {
  const until = Date.now() + ms
  while (pids(pattern).length && Date.now() < until) await new Promise((r) => setTimeout(r, 100))
  return pids(pattern)
}

describe('a SIGKILLed lab leaves nothing running', () => {
  it("ends a stream's grandchild (the probe's place) within seconds", async () => {
    const mark = `sleep 31.${process.pid % 10000}1`
    // The probe's command line: a shell that records its pid, execs the probe, then reports the status.
    const child = await labProcess(`await t.stream(${JSON.stringify(`bash -c 'exec ${mark}'; echo status $?`)}, () => undefined)`)
    try {
      const until = Date.now() + 5000
      while (!pids(mark).length && Date.now() < until) await new Promise((r) => setTimeout(r, 50))
      expect(pids(mark)).not.toEqual([])
      child.kill('SIGKILL')
      expect(await gone(mark, 5000)).toEqual([])
    } finally {
      for (const p of pids(mark)) process.kill(Number(p), 'SIGKILL')
    }
  })

  it('ends the driven shell too (its hangup is not held off by a child holding the master)', async () => {
    const mark = `sleep 33.${process.pid % 10000}3`
    const child = await labProcess(`console.log('shell', (await t.exec('echo $$')).output.trim()); await t.stream(${JSON.stringify(`bash -c 'exec ${mark}'; echo status $?`)}, () => undefined)`)
    const shell = Number(/shell (\d+)/.exec(child.said)?.[1] ?? 0)
    try {
      const until = Date.now() + 5000
      while (!pids(mark).length && Date.now() < until) await new Promise((r) => setTimeout(r, 50))
      expect(shell).toBeGreaterThan(0)
      child.kill('SIGKILL')
      const alive = (): boolean => {
        try {
          process.kill(shell, 0)
          return true
        } catch {
          return false
        }
      }
      const gone = Date.now() + 5000
      while (alive() && Date.now() < gone) await new Promise((r) => setTimeout(r, 100))
      expect(alive()).toBe(false)
    } finally {
      for (const p of pids(mark)) process.kill(Number(p), 'SIGKILL')
    }
  })

  it('gives no stream child the pty master', async () => {
    const mark = `sleep 32.${process.pid % 10000}2`
    const child = await labProcess(`await t.stream(${JSON.stringify(`exec ${mark}`)}, () => undefined)`)
    try {
      const until = Date.now() + 5000
      while (!pids(mark).length && Date.now() < until) await new Promise((r) => setTimeout(r, 50))
      const [pid] = pids(mark)
      expect(pid).toBeDefined()
      const fds = readdirSync(`/proc/${pid}/fd`).map((fd) => {
        try {
          return readlinkSync(`/proc/${pid}/fd/${fd}`)
        } catch {
          return ''
        }
      })
      expect(fds.filter((l) => l.includes('ptmx'))).toEqual([])
    } finally {
      child.kill('SIGKILL')
      await gone(mark, 5000)
      for (const p of pids(mark)) process.kill(Number(p), 'SIGKILL')
    }
  })
})
