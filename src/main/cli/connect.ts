/**
 * How a command reaches its target: the options that name it (one declaration for every command
 * that connects: run, trace, explore) and the connect itself, with ssh's questions passed through to
 * the person at the terminal.
 */
import type { Command } from 'commander'
import { connectTarget, errorMessage, parseTargetSpec, type Target, type TargetFacts, type TerminalInput } from '../target'
import { Lab, type LabOptions } from '../lab/lab'
import type { Progress } from './output'

/** What targetOptions() declares, as commander hands it to the action. */
export interface TargetCliOptions {
  target: string
  identity?: string
  knownHosts?: string
  bootArg?: string[]
  memory?: string
}

/** The options that say which target to connect to and how. */
export function targetOptions(command: Command): Command {
  return command
    .requiredOption('--target <target>', 'local, ssh://[user@]host[:port], or vm:<kernel-store name | bzImage path>', 'local')
    .option('--identity <file>', 'ssh private key')
    .option('--known-hosts <file>', 'ssh known_hosts file to check the host key against')
    .option('--boot-arg <arg>', 'vm: an extra kernel command-line word (repeatable), recorded with the target', (v: string, all: string[] = []) => [...all, v])
    .option('--memory <MiB>', 'vm: guest memory (default 1024)')
}

/**
 * Until the session is ready, show its terminal on stderr (ssh host-key or password prompts) and
 * pass the person's keystrokes to it; never answer for them. Without a terminal on stdin nobody
 * can answer, and ssh's own refusal is the error.
 */
export async function connectInteractive(o: TargetCliOptions): Promise<Target> {
  const memoryMb = o.memory === undefined ? undefined : Number(o.memory)
  if (memoryMb !== undefined && !Number.isInteger(memoryMb)) throw new Error(`--memory: ${JSON.stringify(o.memory)} is not a whole number of MiB`)
  const parsed = parseTargetSpec(o.target, { identity: o.identity, knownHosts: o.knownHosts, bootArgs: o.bootArg, memoryMb })
  if (parsed.kind !== 'vm' && (o.bootArg?.length || memoryMb !== undefined)) throw new Error('--boot-arg and --memory are for vm: targets')
  if (parsed.kind !== 'ssh') return connectTarget(parsed)
  const interactive = process.stdin.isTTY === true
  let terminal: TerminalInput | null = null
  let ready = false
  const onInput = (d: Buffer): void => terminal?.write(d.toString())
  if (interactive) {
    process.stdin.setRawMode?.(true)
    process.stdin.on('data', onInput)
  }
  try {
    return await connectTarget(parsed, {
      onTerminal: (t) => (terminal = t),
      // ssh writes its questions to its tty, i.e. into the session: show them until the shell is up.
      onTerminalData: (d) => {
        if (!ready && interactive) process.stderr.write(d)
      },
    })
  } finally {
    ready = true
    if (interactive) {
      process.stdin.off('data', onInput)
      process.stdin.setRawMode?.(false)
      process.stdin.pause()
    }
  }
}

/** One line that says what was reached: `target vm:fix-6.1: Linux 6.1.192 x86_64, page 4096 B, root; TCG, 1024 MiB, boot splice_policy=copy`. */
export function targetLine(label: string, f: TargetFacts): string {
  const vm = f.vm ? `; ${f.vm.accelerator.toUpperCase()}, ${f.vm.memoryMb} MiB${f.vm.bootArgs.length ? `, boot ${f.vm.bootArgs.join(' ')}` : ''}` : ''
  return `target ${label}: Linux ${f.kernel} ${f.arch}, page ${f.pageSize} B${f.root ? ', root' : ''}${vm}`
}

/**
 * Connects (saying so on the progress line) and opens the target's Lab; on failure says why, as
 * `splice-lab <command>: …`, and returns null (the command's exit status is then 1).
 */
export async function openLab(command: string, o: TargetCliOptions, p: Progress, options: LabOptions = {}): Promise<Lab | null> {
  p.say(`connecting to ${o.target}…`)
  let target: Target
  try {
    target = await connectInteractive(o)
  } catch (e) {
    p.clear()
    console.error(`splice-lab ${command}: cannot connect to ${o.target}: ${errorMessage(e)}`)
    return null
  }
  try {
    // Lab.open ends the session when it fails.
    const lab = await Lab.open(target, options)
    p.clear()
    return lab
  } catch (e) {
    p.clear()
    console.error(`splice-lab ${command}: ${target.label}: ${errorMessage(e)}`)
    return null
  }
}
