/**
 * Runs a stock-rules experiment (docs/stock-rules/*.c) inside a VM target's guest, as run.sh and
 * run-inputs.sh run it on this machine, one block per filesystem. The guest has no compiler: the
 * program is compiled here as a static binary and uploaded through the console. Its disks are the
 * VM target's (ext4 with 4 KiB blocks, xfs, btrfs: made on the host, 512 MiB), tmpfs is mounted in
 * the guest, and ext4 with 1 KiB blocks — what run.sh's 320 MiB loop image gets from mke2fs — is a
 * small image made here and mounted on a loop device in the guest.
 *
 *   npx tsx scripts/stock-rules-vm.ts debian-6.1 experiments.c        > docs/stock-rules/results-6.1.txt
 *   npx tsx scripts/stock-rules-vm.ts debian-6.1 folios.c 1024        > docs/stock-rules/folios-6.1.txt
 *   npx tsx scripts/stock-rules-vm.ts debian-6.1 returns.c            > docs/stock-rules/returns-6.1.txt
 *   npx tsx scripts/stock-rules-vm.ts debian-6.1 --inputs [filter]    > docs/stock-rules/inputs-6.1.txt
 *
 * The kernel is a kernel-store name or a bzImage path (as `--target vm:<kernel>`). Progress goes to
 * stderr; qemu is killed on every exit path.
 */
import { execFile } from 'node:child_process'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { gzipSync } from 'node:zlib'
import { connectVm } from '../src/main/target/vm/vm-target'
import { resolveKernelImage } from '../src/main/target/vm/kernel-image'
import { shellQuote } from '../src/main/target/quote'
import type { Target } from '../src/main/target/types'

const HERE = fileURLToPath(new URL('../docs/stock-rules/', import.meta.url))
/** A program's whole run in the guest (TCG is 4-30× slower than this machine). */
const PROGRAM_TIMEOUT_MS = 20 * 60_000
const GUEST_DIR = '/tmp/stock-rules'

/** How a filesystem variant is mounted in the guest; `device` names one of the VM's disks. */
interface Variant {
  name: string
  kind: 'tmpfs' | 'disk' | 'ext4-image'
  device?: 'ext4' | 'xfs' | 'btrfs'
  options?: string
}

/** run.sh's filesystems: its ext4 (a 320 MiB image) has mke2fs's 1 KiB blocks. */
const RUN_VARIANTS: Variant[] = [
  { name: 'tmpfs', kind: 'tmpfs' },
  { name: 'ext4', kind: 'ext4-image' },
  { name: 'xfs', kind: 'disk', device: 'xfs' },
  { name: 'btrfs', kind: 'disk', device: 'btrfs' },
]
/** run-inputs.sh's filesystems. */
const INPUT_VARIANTS: Variant[] = [
  { name: 'tmpfs', kind: 'tmpfs' },
  { name: 'ext4', kind: 'disk', device: 'ext4' },
  { name: 'ext4-b1024', kind: 'ext4-image' },
  { name: 'xfs', kind: 'disk', device: 'xfs' },
  { name: 'btrfs', kind: 'disk', device: 'btrfs' },
  { name: 'btrfs-nodatasum', kind: 'disk', device: 'btrfs', options: 'nodatasum' },
]

function run(cmd: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) =>
    execFile(cmd, args, { env: { ...process.env, PATH: `${process.env.PATH ?? ''}:/usr/sbin:/sbin` } }, (err, _o, stderr) =>
      err ? reject(new Error(`${cmd} ${args.join(' ')}: ${stderr.trim() || err.message}`)) : resolve(),
    ),
  )
}

async function must(t: Target, command: string, timeoutMs = 120_000): Promise<string> {
  const r = await t.exec(command, { timeoutMs })
  if (r.code !== 0) throw new Error(`in the guest, ${command}: exit ${r.code}: ${r.output.trim()}`)
  return r.output
}

/** Uploads `bytes` gzipped and unpacks them at `path` in the guest. */
async function uploadGz(t: Target, path: string, bytes: Buffer, mode: number): Promise<void> {
  await t.upload(`${path}.gz`, gzipSync(bytes, { level: 9 }))
  await must(t, `gunzip -f ${shellQuote(`${path}.gz`)} && chmod ${mode.toString(8)} ${shellQuote(path)}`)
}

async function main(): Promise<void> {
  const [kernel, ...rest] = process.argv.slice(2)
  if (!kernel) throw new Error('usage: stock-rules-vm.ts <kernel> [program.c [arg]] | --inputs [filter]')
  const inputs = rest[0] === '--inputs'
  const program = inputs ? 'inputs.c' : rest[0]?.endsWith('.c') ? rest[0] : 'experiments.c'
  const arg = (inputs || rest[0]?.endsWith('.c') ? rest[1] : rest[0]) ?? ''
  const variants = inputs ? INPUT_VARIANTS : RUN_VARIANTS

  const work = await mkdtemp(join(tmpdir(), 'stock-rules-vm-'))
  let target: Awaited<ReturnType<typeof connectVm>> | null = null
  try {
    const exe = join(work, 'exp')
    await run('gcc', ['-O2', '-Wall', '-Wno-unused-result', '-static', '-o', exe, join(HERE, program)])
    const image = join(work, 'ext4-1k.img')
    await writeFile(image, '')
    await run('truncate', ['-s', '64M', image])
    await run('mkfs.ext4', ['-q', '-F', '-b', '1024', image])

    process.stderr.write(`booting vm:${kernel}…\n`)
    target = await connectVm({ kernel, image: await resolveKernelImage(kernel), onProgress: (m) => process.stderr.write(`${m}\n`) })
    const t = target
    const disks = await t.scratchDevices()
    await must(t, `mkdir -p ${GUEST_DIR}/img && mount -t tmpfs -o size=96m tmpfs ${GUEST_DIR}/img`)
    await uploadGz(t, `${GUEST_DIR}/exp`, await readFile(exe), 0o755)
    await uploadGz(t, `${GUEST_DIR}/img/ext4-1k.img`, await readFile(image), 0o644)
    process.stdout.write(`kernel ${(await must(t, 'uname -r')).trim()} (vm:${kernel}, ${process.argv.slice(3).join(' ') || program})\n`)

    for (const v of variants) {
      const m = `${GUEST_DIR}/mnt-${v.name}`
      let source: string
      if (v.kind === 'tmpfs') source = 'tmpfs'
      else if (v.kind === 'ext4-image') source = (await must(t, `losetup -f --show ${GUEST_DIR}/img/ext4-1k.img 2>/dev/null || { l=$(losetup -f) && losetup "$l" ${GUEST_DIR}/img/ext4-1k.img && echo "$l"; }`)).trim()
      else {
        const d = disks[v.device!]
        if (!d) throw new Error(`vm:${kernel} has no ${v.device} disk`)
        source = d
      }
      const mountCmd = v.kind === 'tmpfs' ? `mount -t tmpfs -o size=64m tmpfs ${m}` : `mount ${v.options ? `-o ${v.options} ` : ''}${source} ${m}`
      await must(t, `mkdir -p ${m} && ${mountCmd} && mkdir -p ${m}/run-${v.name}`)
      process.stdout.write(`== ${v.name}\n`)
      try {
        const r = await t.exec(`${GUEST_DIR}/exp ${m}/run-${v.name} ${shellQuote(arg)}`, { timeoutMs: PROGRAM_TIMEOUT_MS })
        process.stdout.write(r.output.endsWith('\n') || !r.output ? r.output : `${r.output}\n`)
        if (r.code !== 0) process.stdout.write(`# exit ${r.code}\n`)
      } finally {
        await must(t, `rm -rf ${m}/run-${v.name}; sync; umount ${m}${v.kind === 'ext4-image' ? `; losetup -d ${source}` : ''}`)
      }
    }
  } finally {
    await target?.dispose()
    await rm(work, { recursive: true, force: true })
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n`)
  process.exitCode = 1
})
