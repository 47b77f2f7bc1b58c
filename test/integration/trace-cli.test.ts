/**
 * `splice-lab trace` takes the same target options as `run` and `explore`: a VM target boots with
 * the boot arguments and memory given, its trace arrives over the guest's stream port, and qemu is
 * gone when the command ends. Options that only a VM takes are refused for other targets. A trace
 * of every task leaves out the lab's own reader.
 */
import { describe, it, expect, afterAll } from 'vitest'
import { execFile } from 'node:child_process'
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { TEST_KERNEL, vmSkipReason, waitUntil } from './fixtures/vm'
import { CI, isRoot } from './fixtures/lab'

const skip = await vmSkipReason()
const work = mkdtempSync(join(tmpdir(), 'splice-lab-trace-cli-'))
afterAll(() => rmSync(work, { recursive: true, force: true }))

function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string; pid: number }> {
  return new Promise((resolve) => {
    const child = execFile(process.execPath, ['--import', 'tsx', new URL('../../src/main/cli/index.ts', import.meta.url).pathname, ...args], { timeout: 300_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr, pid: child.pid! }),
    )
  })
}

/** Processes whose command line holds `word` (a qemu started with it as a boot argument). */
function processesWith(word: string): number[] {
  const out: number[] = []
  for (const pid of readdirSync('/proc').filter((n) => /^\d+$/.test(n))) {
    try {
      if (readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(word)) out.push(Number(pid))
    } catch {
      // ended meanwhile
    }
  }
  return out
}

describe('splice-lab trace --target', () => {
  it('refuses --boot-arg and --memory for a target that is not a VM', async () => {
    const r = await cli('trace', '--boot-arg', 'quiet', '--duration', '1', '--out', join(work, 'never.txt'))
    expect(r.code).toBe(1)
    expect(r.stderr).toContain('--boot-arg and --memory are for vm: targets')
  })

  it.skipIf(!isRoot && !CI)("traces every task on this machine but the lab's own reader", async () => {
    const out = join(work, 'local.txt')
    const r = await cli('trace', '--duration', '1', '--events', 'kmem:mm_page_alloc', '--out', out)
    expect(r.code, r.stderr).toBe(0)
    const lines = readFileSync(out, 'utf8').split('\n').filter(Boolean)
    expect(lines.length).toBeGreaterThan(0)
    // The lab reads the ring from this process: tens of thousands of its own allocations a second otherwise.
    expect(lines.filter((l) => new RegExp(`-${r.pid}\\s+\\[`).test(l))).toEqual([])
  })

  it.skipIf(skip !== null)(`records a VM's events with its boot arguments and memory, and leaves no qemu${skip ? ` (skipped: ${skip})` : ''}`, async () => {
    const mark = `splice_lab_trace_cli=${process.pid}`
    const out = join(work, 'vm.txt')
    const r = await cli('trace', '--target', `vm:${TEST_KERNEL}`, '--boot-arg', mark, '--memory', '768', '--duration', '2', '--events', 'kmem:mm_page_alloc,kmem/mm_page_free', '--out', out)
    expect(r.code, r.stderr).toBe(0)
    expect(r.stderr).toMatch(new RegExp(`^target vm:${TEST_KERNEL}: Linux \\S+ x86_64, page 4096 B, root; (KVM|TCG), 768 MiB, boot ${mark}$`, 'm'))
    // The binary reader runs in the guest and streams over a virtio-serial port, not the console.
    expect(r.stderr).toMatch(/^read binary pages: tracepipe helper on vm:/m)
    const counts = Object.fromEntries([...r.stdout.matchAll(/^(\S+)\s+(\d+)$/gm)].map((m) => [m[1]!, Number(m[2])]))
    expect(counts['kmem:mm_page_alloc']).toBeGreaterThan(0)
    expect(r.stdout).toMatch(/^lost events: \d+/m)
    // Every counted event is in the file, and nothing else (the tracer's own flush mark left out).
    const lines = readFileSync(out, 'utf8').split('\n').filter(Boolean)
    expect(lines.length).toBe(counts.total)
    expect(lines.every((l) => /: mm_page_(alloc|free): /.test(l))).toBe(true)
    // Every task but the lab's own reader in the guest (it allocates pages as it reads the ring).
    expect(lines.filter((l) => /^\s*tracepipe-\d+ /.test(l))).toEqual([])
    // qemu dies with the lab (dispose, and the parent-death signal as a backstop).
    expect(await waitUntil(() => processesWith(mark).length === 0, 5000)).toBe(true)
  })
})
