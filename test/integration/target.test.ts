/**
 * The local pty target against a real bash: framing, quoting, timeouts, uploads, streams, dispose,
 * flow control, and facts (tracefs mounted when missing, in a private mount namespace).
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import fc from 'fast-check'
import { readFileSync, rmSync } from 'node:fs'
import { execFileSync, spawn, spawnSync } from 'node:child_process'
import { noCompilerPath } from './fixtures/nocc'
import { connectTarget, shellQuote, TargetError, type Target } from '../../src/main/target'
import { PtySession, shellBootstrap, HIGH_WATERMARK } from '../../src/main/target/session'
import { detectFacts } from '../../src/main/target/facts'
import { newNonce } from '../../src/main/target/framing'
import { LocalTarget } from '../../src/main/target/local'
import type { SessionSpawn } from '../../src/main/target/session'

/** The local target as user nobody (setpriv), to see what an unprivileged session gets. */
class NobodyTarget extends LocalTarget {
  private asNobody(s: SessionSpawn): SessionSpawn {
    return { ...s, file: 'setpriv', args: ['--reuid=65534', '--regid=65534', '--clear-groups', s.file, ...s.args], cwd: '/', env: { HOME: '/', TMPDIR: '/tmp' } }
  }
  protected override shellSpawn(bootstrap: string): SessionSpawn {
    return this.asNobody(super.shellSpawn(bootstrap))
  }
  protected override streamSpawn(command: string): SessionSpawn {
    return this.asNobody(super.streamSpawn(command))
  }
}

const CI = process.env.CI === 'true'
const isRoot = process.getuid?.() === 0

describe('local pty target', () => {
  let t: Target
  beforeAll(async () => {
    t = await connectTarget('local')
  })
  afterAll(async () => {
    await t?.dispose()
  })

  it('round-trips any string through bash -c "printf %s <quoted>" (property)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.string({ unit: 'binary', maxLength: 60 }).filter((s) => !s.includes('\0')), async (s) => {
        // Through a file, byte-exact: the pty would turn \n into \r\n and mangle control characters.
        const r = await t.exec(`bash -c ${shellQuote(`printf %s ${shellQuote(s)}`)} | base64 -w0`)
        expect(r.code).toBe(0)
        expect(Buffer.from(r.output, 'base64').toString('utf8')).toBe(s)
      }),
      { numRuns: 150 },
    )
  })

  it('recovers output that looks like a sentinel, and keeps exit statuses', async () => {
    const r = await t.exec(`printf '%s\\n' SPLAB_deadbeef_E 0 SPLAB_; exit_with() { return 42; }; exit_with`)
    expect(r).toEqual({ code: 42, output: 'SPLAB_deadbeef_E\n0\nSPLAB_\n' })
    expect((await t.exec('if then fi')).code).not.toBe(0)
  })

  it('takes command lines longer than the tty line limit', async () => {
    const long = 'y'.repeat(20_000)
    expect((await t.exec(`printf %s ${long} | wc -c`)).output.trim()).toBe('20000')
  })

  it('interrupts a command that overruns its timeout and stays usable', async () => {
    const err = await t.exec('echo started; sleep 30', { timeoutMs: 400 }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(TargetError)
    expect((err as TargetError).code).toBe('timeout')
    expect((err as TargetError).partialOutput).toContain('started')
    expect((await t.exec('echo still here')).output).toBe('still here\n')
  })

  it('escalates to SIGQUIT when a command ignores SIGINT, and stays usable', async () => {
    // The subshell ignores SIGINT and execs bash, which inherits that; ulimit -c 0: no core file.
    const err = await t.exec(`(ulimit -c 0; trap '' INT; exec bash -c 'echo deaf; sleep 30')`, { timeoutMs: 400 }).catch((e: unknown) => e)
    expect((err as TargetError).code).toBe('timeout')
    expect((err as TargetError).partialOutput).toContain('deaf')
    expect((await t.exec('echo after quit')).output).toBe('after quit\n')
  })

  it('uploads binary content intact (sha256 checked) with the given mode', async () => {
    const bytes = Uint8Array.from({ length: 300_000 }, (_, i) => (i * 131 + (i >> 8)) & 255)
    const path = `/tmp/splice-lab-upload-test-${process.pid}/nested/f.bin`
    await t.upload(path, bytes, 0o750)
    const r = await t.exec(`stat -c '%s %a' ${shellQuote(path)}; sha256sum < ${shellQuote(path)} | cut -c1-16; rm -rf /tmp/splice-lab-upload-test-${process.pid}`)
    const { createHash } = await import('node:crypto')
    expect(r.output).toBe(`300000 750\n${createHash('sha256').update(bytes).digest('hex').slice(0, 16)}\n`)
  })

  it('streams a long command on its own channel while exec keeps working', async () => {
    let got = ''
    const s = await t.stream('i=0; while :; do echo tick $i; i=$((i+1)); sleep 0.05; done', (d) => (got += d))
    expect((await t.exec('echo parallel')).output).toBe('parallel\n')
    const until = Date.now() + 5000
    while (!got.includes('tick 3') && Date.now() < until) await new Promise((r) => setTimeout(r, 20))
    await s.stop()
    expect(got).toMatch(/^tick 0\ntick 1\ntick 2\ntick 3\n/)
    await s.done
  })

  it('drops what a person types into the driven shell (with a notice), idle or while a command runs', async () => {
    let seen = ''
    const off = t.onTerminalData((d) => (seen += d))
    try {
      t.writeTerminal('exit 3\r')
      expect((await t.exec('echo alive')).output).toBe('alive\n')
      expect(seen).toContain('typing reaches only a password or host-key prompt while connecting')
      // A command reading the terminal does not get it either: no prompt of ssh's is waiting.
      const asking = t.exec('read -r -t 1 answer < /dev/tty; echo "got $answer"', { timeoutMs: 10_000 })
      await new Promise((r) => setTimeout(r, 200))
      t.writeTerminal('yes\r')
      expect((await asking).output).toBe('got \n')
    } finally {
      off()
    }
  })

  it('a stream ends when the lab process dies, not only when it is stopped', async () => {
    // A child node process opens a stream and is then killed with SIGKILL (no cleanup runs).
    const script = `
      const { connectTarget } = await import(${JSON.stringify(new URL('../../src/main/target/index.ts', import.meta.url).pathname)})
      const t = await connectTarget('local')
      await t.stream('exec sleep 30.6543', () => undefined)
      console.log('streaming')
      setInterval(() => undefined, 1000)
    `
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] })
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (d: Buffer) => d.toString().includes('streaming') && resolve())
      child.on('exit', (code) => reject(new Error(`the child exited early (${code})`)))
    })
    const running = (): string => spawnSync('pgrep', ['-f', 'sleep 30.6543'], { encoding: 'utf8' }).stdout.trim()
    expect(running()).not.toBe('')
    child.kill('SIGKILL')
    const until = Date.now() + 5000
    while (running() && Date.now() < until) await new Promise((r) => setTimeout(r, 100))
    expect(running()).toBe('')
  })

  it('reports a stream killed by a signal as 128+signal, never as a clean exit', async () => {
    let out = ''
    const s = await t.stream('echo $$; exec sleep 30', (d) => (out += d))
    const until = Date.now() + 5000
    while (!/\d+\n/.test(out) && Date.now() < until) await new Promise((r) => setTimeout(r, 20))
    process.kill(Number(out.trim()), 'SIGKILL')
    expect(await s.done).toBe(128 + 9)
    expect(await (await t.stream('exit 7', () => undefined)).done).toBe(7)
  })

  it('reports facts about this machine', async () => {
    const f = await t.facts()
    expect(f.kernel).toBe((await t.exec('uname -r')).output.trim())
    expect(f.pageSize).toBe(Number((await t.exec('getconf PAGESIZE')).output.trim()))
    expect(typeof f.tracefs.writable).toBe('boolean')
  })
})

describe('session ends', () => {
  it('reports dead (not hung) when a command ignores SIGINT and SIGQUIT', async () => {
    const t = await connectTarget('local')
    try {
      const err = await t.exec(`(trap '' INT QUIT; exec sleep 60)`, { timeoutMs: 300 }).catch((e: unknown) => e)
      expect((err as TargetError).code).toBe('dead')
      expect((err as TargetError).message).toMatch(/did not answer after SIGINT and SIGQUIT/)
      expect(((await t.exec('true').catch((e: unknown) => e)) as TargetError).code).toBe('dead')
    } finally {
      await t.dispose()
    }
  }, 20_000)

  it('says the session is dead when the shell dies mid-command, and dispose kills streams', async () => {
    const t = await connectTarget('local')
    const s = await t.stream('sleep 300', () => undefined)
    const disconnected = new Promise<number>((r) => t.onDisconnect(r))
    const err = await t.exec('kill -9 $$').catch((e: unknown) => e)
    expect((err as TargetError).code).toBe('dead')
    expect(typeof (await disconnected)).toBe('number')
    expect((await t.exec('true').catch((e: unknown) => e)) as TargetError).toBeInstanceOf(TargetError)
    await t.dispose()
    await s.done
  })

  it('reports a clear error when the compiler is missing from PATH', async () => {
    const bin = noCompilerPath()
    const t = await connectTarget({ kind: 'local', env: { PATH: bin } })
    try {
      const f = await t.facts()
      expect(f.compiler.path).toBeNull()
      expect(f.compiler.why).toMatch(/apt install gcc libc6-dev/)
    } finally {
      await t.dispose()
      rmSync(bin, { recursive: true, force: true })
    }
  })
})

describe('pty flow control', () => {
  // The pause/resume logic itself is unit-tested (src/main/target/flow.test.ts): a local pty hands
  // over ~4 KiB per event-loop turn, so here the kernel's own pty buffer blocks the writer first.
  it('carries a 12 MB output intact past a slow reader, with the queue bounded', async () => {
    const nonce = newNonce()
    const session = new PtySession({ file: '/bin/sh', args: ['-c', shellBootstrap(nonce)] })
    try {
      await session.waitReady(nonce, 15_000)
      // A slow terminal view: 1 ms per chunk, so output piles up faster than it is read.
      session.onTerminalData(() => {
        const until = performance.now() + 1
        while (performance.now() < until);
      })
      const bytes = 12_000_000
      const r = await session.exec(`head -c ${bytes} /dev/zero | tr '\\0' x; echo`, 50_000)
      expect(r.code).toBe(0)
      expect(r.output.length).toBe(bytes + 1)
      expect(/^x+\n$/.test(r.output)).toBe(true)
      expect(session.flow.maxQueued).toBeLessThanOrEqual(HIGH_WATERMARK + (64 << 10))
    } finally {
      await session.dispose()
    }
  }, 60_000)
})

describe.skipIf(!isRoot && !CI)('facts on a machine without tracefs mounted', () => {
  it('mounts tracefs as root and says so (in a private mount namespace, the host is untouched)', async () => {
    const nonce = newNonce()
    const session = new PtySession({ file: 'unshare', args: ['--mount', '--propagation', 'private', '/bin/sh', '-c', shellBootstrap(nonce)] })
    try {
      await session.waitReady(nonce, 15_000)
      const um = await session.exec('umount /sys/kernel/tracing && test ! -e /sys/kernel/tracing/trace_marker && echo gone')
      expect(um.output).toBe('gone\n')
      const f = await detectFacts(session)
      expect(f.tracefs.path).toBe('/sys/kernel/tracing')
      expect(f.tracefs.writable).toBe(true)
      expect(f.notes).toContain('tracefs was not mounted; mounted it at /sys/kernel/tracing')
      expect((await session.exec('test -e /sys/kernel/tracing/trace_marker && echo back')).output).toBe('back\n')
    } finally {
      await session.dispose()
    }
    // The host's tracefs never went away.
    const { existsSync } = await import('node:fs')
    expect(existsSync('/sys/kernel/tracing/trace_marker')).toBe(true)
  })
})

describe.skipIf(!isRoot && !CI)('facts as an unprivileged user', () => {
  it('reports no root, no trace, no loop filesystems as notes instead of failing', async () => {
    const nonce = newNonce()
    const session = new PtySession({
      file: 'setpriv',
      args: ['--reuid=65534', '--regid=65534', '--clear-groups', '/bin/sh', '-c', shellBootstrap(nonce)],
      cwd: '/',
      env: { HOME: '/', TMPDIR: '/tmp' },
    })
    try {
      await session.waitReady(nonce, 15_000)
      const f = await detectFacts(session)
      expect(f.root).toBe(false)
      expect(f.sudo).toBe(false)
      expect(f.tracefs.writable).toBe(false)
      expect(f.tracefs.why).toMatch(/needs root or passwordless sudo|needs root/)
      expect(f.mkfs).toEqual({ ext4: false, xfs: false, btrfs: false })
      // From the mount table: statfs says "ext2/ext3" for ext4 too.
      expect(f.scratch.fs).toBe(execFileSync('findmnt', ['-n', '-o', 'FSTYPE', '-T', '/tmp'], { encoding: 'utf8' }).trim())
      expect(f.notes).toContain('not root and no passwordless sudo: only tmpfs or a given --dir can be used')
      const paranoid = Number(readFileSync('/proc/sys/kernel/perf_event_paranoid', 'utf8'))
      expect(f.perf.available).toBe(paranoid <= -1)
      expect(f.kernel).not.toBe('')
    } finally {
      await session.dispose()
    }
  })

  it('refuses root commands with a clear error instead of running them unprivileged', async () => {
    const t = new NobodyTarget()
    await t.start({ readyTimeoutMs: 15_000 })
    try {
      expect((await t.exec('id -u')).output).toBe('65534\n')
      const err = await t.exec('id -u', { root: true }).catch((e: unknown) => e as TargetError)
      expect((err as TargetError).code).toBe('command')
      expect((err as TargetError).message).toMatch(/needs root.*neither root nor allowed passwordless sudo/)
      const serr = await t.stream('cat /sys/kernel/tracing/trace_pipe', () => undefined, { root: true }).catch((e: unknown) => e as TargetError)
      expect((serr as TargetError).code).toBe('command')
    } finally {
      await t.dispose()
    }
  })
})
