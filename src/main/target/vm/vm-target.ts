/**
 * A kernel booted under qemu as a target. Commands go through the guest's serial console, driven
 * with the same pty session and framing as a local or ssh shell (session.ts); streams go through
 * virtio-serial ports of their own (ports.ts); scratch disks are images made on the host (disks.ts).
 *
 * A guest that oopses, panics, locks up or stops answering is a finding, not the end of the target:
 * the console watcher (console-watch.ts) or a watchdog notices, the event is recorded as an incident
 * with its console text, qemu is killed, and a fresh guest boots; a command that was running fails
 * with a 'crash' error naming the incident, and the next one runs on the new guest.
 */
import { randomBytes } from 'node:crypto'
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { access, constants as fsConstants, rm } from 'node:fs/promises'
import { release, tmpdir } from 'node:os'
import { join } from 'node:path'
import { StringDecoder } from 'node:string_decoder'
import type { BuiltProbe, ExecOptions, ExecResult, StreamHandle, Target, TargetCrash, TargetFacts, TerminalInput } from '../types'
import { PtySession, DEFAULT_TIMEOUT_MS } from '../session'
import { TargetError, errorMessage } from '../errors'
import { detectFacts } from '../facts'
import { newNonce } from '../framing'
import { uploadThroughShell } from '../upload'
import { cacheDir } from '../../paths'
import { ConsoleWatcher, type ConsoleAlarm } from './console-watch'
import { DISK_FILESYSTEMS, diskVariants, makeDisk, type Disk, type DiskFilesystem } from './disks'
import { ensureInitramfs, type Initramfs, type InitramfsOptions } from './initramfs'
import { StreamPort, type PortRun } from './ports'
import { checkBootArgs, kernelCommandLine, supervisedQemu, type Accelerator, type QemuConfig } from './qemu'
import { diskSerial } from './guest'

/**
 * Something the guest's kernel did that is a finding, not a failure of the lab: an oops, panic,
 * lockup, WARN or hang, with the console text that shows it.
 */
export interface VmIncident {
  kind: 'panic' | 'oops' | 'lockup' | 'warning' | 'hang' | 'exit'
  /** ISO time it was seen. */
  at: string
  /** One line for people: the kernel's own first line of it, or what the lab saw. */
  message: string
  /** The console around it (the lab's framing removed). */
  console: string
  /** The guest was rebooted (a WARN leaves it running). */
  rebooted: boolean
  /** Boot number of the guest it happened in (1 = the first boot). */
  boot: number
}

export interface VmOptions {
  /** The kernel as the person named it (store name or path), for the label and the facts. */
  kernel: string
  /** The bzImage to boot. */
  image: string
  /** Extra kernel command-line words (checked by checkBootArgs). */
  bootArgs?: string[]
  /** Guest memory in MiB. Default 1024. */
  memoryMb?: number
  /** vCPUs. Default 2 (races need two). */
  cpus?: number
  /** Default 'auto': KVM when /dev/kvm is usable and boots, else TCG. */
  accel?: 'auto' | Accelerator
  /** Scratch disks to attach. Default ext4, xfs and btrfs. */
  disks?: DiskFilesystem[]
  /** Stream ports (concurrent streams). Default 4: the probe, a trace, a raw trace, one spare. */
  ports?: number
  /** qemu start to a ready console. Default 300 s: TCG on a loaded 2-core machine. */
  bootTimeoutMs?: number
  /** How long a KVM boot gets before the lab calls KVM broken here and uses TCG. Default 20 s. */
  kvmTimeoutMs?: number
  /** Default qemu-system-x86_64 from PATH. */
  qemu?: string
  initramfs?: InitramfsOptions
  /** The raw console, from the first byte of every boot. */
  onTerminalData?: (data: string) => void
  onTerminal?: (terminal: TerminalInput) => void
  /** What the start is doing (building the initramfs, booting, falling back to TCG). */
  onProgress?: (message: string) => void
}

/** A stream's command gets this long to end after SIGINT before SIGKILL (as local streams). */
const STREAM_STOP_MS = 1_500
/** A running stream whose port has been silent this long (portd sends a keepalive every second) means a hung guest. */
export const STREAM_SILENCE_MS = 30_000
/** After an oops or lockup report, how long the kernel gets to finish printing before qemu is killed. */
const CRASH_SETTLE_MS = 3_000
/** Waiting for a free stream port (all busy) or for its daemon's hello. */
const PORT_WAIT_MS = 60_000
const VM_DIR_PREFIX = 'splice-lab-vm-'

interface Guest {
  boot: number
  session: PtySession
  ports: StreamPort[]
  watcher: ConsoleWatcher
  config: QemuConfig
  /** The first crash report seen on the console (an oops, panic or lockup). */
  crash: ConsoleAlarm | null
  /** The guest stopped answering (a command's resync failed, or a stream went silent). */
  unresponsive: string | null
  exited: boolean
  /** Resolves with the incident once the guest's end has been handled (null: disposed). */
  ended: Promise<VmIncident | null>
  end: (i: VmIncident | null) => void
}

export class VmTarget implements Target {
  readonly kind = 'vm' as const
  readonly label: string
  /** The VM's own directory on the host (stream sockets, disk images). */
  readonly dir: string
  private readonly bootArgs: string[]
  private readonly diskKinds: DiskFilesystem[]
  private initramfs!: Initramfs
  private accel: Accelerator = 'tcg'
  private accelWhy = ''
  private guest: Guest | null = null
  private booting: Promise<Guest> | null = null
  private bootCount = 0
  private firstBootMs = 0
  private factsCache: TargetFacts | null = null
  private dead: TargetError | null = null
  private disposed = false
  private readonly streams = new Set<StreamHandle>()
  /** Every qemu started and not yet ended (a guest still booting included), for dispose. */
  private readonly sessions = new Set<PtySession>()
  private readonly incidentsSeen: VmIncident[] = []
  private readonly terminalListeners = new Set<(d: string) => void>()
  private readonly disconnectListeners = new Set<(code: number) => void>()
  private readonly incidentListeners = new Set<(i: VmIncident) => void>()
  private readonly crashListeners = new Set<(c: TargetCrash) => void>()
  private readonly silenceTimer: ReturnType<typeof setInterval>

  constructor(private readonly o: VmOptions) {
    this.label = `vm:${o.kernel}`
    this.bootArgs = checkBootArgs(o.bootArgs ?? [])
    this.diskKinds = o.disks ?? [...DISK_FILESYSTEMS]
    const memory = o.memoryMb ?? 1024
    if (!Number.isInteger(memory) || memory < 128 || memory > 65536) throw new Error(`memory: ${memory} MiB is not a guest memory size (128 to 65536 MiB)`)
    const cpus = o.cpus ?? 2
    if (!Number.isInteger(cpus) || cpus < 1 || cpus > 64) throw new Error(`cpus: ${cpus} is not a vCPU count (1 to 64)`)
    cleanStaleVmDirs()
    this.dir = join(tmpdir(), `${VM_DIR_PREFIX}${process.pid}-${randomBytes(4).toString('hex')}`)
    mkdirSync(this.dir, { mode: 0o700 })
    if (o.onTerminalData) this.terminalListeners.add(o.onTerminalData)
    this.silenceTimer = setInterval(() => this.checkSilence(), 1_000)
    this.silenceTimer.unref()
  }

  /** Everything the target has seen go wrong in its guests, oldest first. */
  get incidents(): readonly VmIncident[] {
    return this.incidentsSeen
  }

  /** How many times a guest has booted (1 after start). */
  get boots(): number {
    return this.bootCount
  }

  /** qemu's pid in the current guest (for tests and diagnostics), or null between guests. */
  get qemuPid(): number | null {
    return this.guest && !this.guest.exited ? this.guest.session.pid : null
  }

  /** Builds the initramfs, boots the first guest (KVM first when it may work) and reads the facts. */
  async start(): Promise<void> {
    const progress = this.o.onProgress ?? (() => undefined)
    await access(this.o.image, fsConstants.R_OK).catch(() => {
      throw new TargetError('connect', `${this.label}: cannot read the kernel image ${this.o.image}`)
    })
    progress('making the guest’s initramfs…')
    this.initramfs = await ensureInitramfs(this.o.initramfs)
    const started = Date.now()
    this.accel = await this.chooseAccel()
    const guest = await this.bootAccel(progress)
    this.firstBootMs = Date.now() - started
    this.guest = guest
    progress('reading the guest’s facts…')
    this.factsCache = await this.readFacts(guest)
  }

  /**
   * KVM when asked for or when /dev/kvm is usable and KVM has not already failed on this host;
   * the verdict of a failed KVM boot is kept (cacheDir()/vm/kvm.json) so later starts go straight
   * to TCG instead of waiting for KVM to fail again.
   */
  private async chooseAccel(): Promise<Accelerator> {
    const want = this.o.accel ?? 'auto'
    if (want === 'tcg') {
      this.accelWhy = 'TCG was asked for'
      return 'tcg'
    }
    if (want === 'kvm') {
      this.accelWhy = 'KVM was asked for'
      return 'kvm'
    }
    const usable = await access('/dev/kvm', fsConstants.R_OK | fsConstants.W_OK).then(
      () => true,
      () => false,
    )
    if (!usable) {
      this.accelWhy = existsSync('/dev/kvm') ? 'TCG: /dev/kvm is not accessible to this user' : 'TCG: this machine has no /dev/kvm'
      return 'tcg'
    }
    const failed = readKvmVerdict()
    if (failed) {
      this.accelWhy = `TCG: KVM failed on this host before (${failed}); delete ${kvmVerdictPath()} to try it again`
      return 'tcg'
    }
    return 'kvm'
  }

  /** Boots with the chosen accelerator; a KVM boot that fails or hangs falls back to TCG. */
  private async bootAccel(progress: (m: string) => void): Promise<Guest> {
    if (this.accel === 'kvm' && (this.o.accel ?? 'auto') === 'auto') {
      progress('booting the guest under KVM…')
      try {
        const g = await this.boot(this.o.kvmTimeoutMs ?? 20_000)
        this.accelWhy = 'KVM: /dev/kvm is usable and the guest booted under it'
        return g
      } catch (e) {
        const why = errorMessage(e)
        writeKvmVerdict(why)
        this.accel = 'tcg'
        this.accelWhy = `TCG: KVM failed here (${why})`
        progress('KVM failed; booting the guest under TCG…')
      }
    } else progress(`booting the guest under ${this.accel.toUpperCase()}…`)
    return this.boot(this.o.bootTimeoutMs ?? 300_000)
  }

  /** Starts qemu and waits for the console's shell and every stream daemon. */
  private async boot(timeoutMs: number): Promise<Guest> {
    if (this.disposed) throw new TargetError('disposed', 'the target session was closed')
    const disks = await this.freshDisks()
    const ports = Array.from({ length: this.o.ports ?? 4 }, (_, i) => join(this.dir, `port${i}.sock`))
    for (const p of ports) rmSync(p, { force: true })
    const ready = newNonce()
    const config: QemuConfig = {
      qemu: this.o.qemu ?? 'qemu-system-x86_64',
      kernel: this.o.image,
      initrd: this.initramfs.path,
      accel: this.accel,
      memoryMb: this.o.memoryMb ?? 1024,
      cpus: this.o.cpus ?? 2,
      ready,
      ports,
      disks,
      bootArgs: this.bootArgs,
    }
    const session = new PtySession(supervisedQemu(config))
    this.sessions.add(session)
    session.onExit(() => this.sessions.delete(session))
    let end!: (i: VmIncident | null) => void
    const ended = new Promise<VmIncident | null>((r) => (end = r))
    const guest: Guest = {
      boot: ++this.bootCount,
      session,
      ports: ports.map((p, i) => new StreamPort(i, p)),
      watcher: new ConsoleWatcher(),
      config,
      crash: null,
      unresponsive: null,
      exited: false,
      ended,
      end,
    }
    session.onTerminalData((d) => this.onConsole(guest, d))
    session.onExit((code) => this.onGuestExit(guest, code))
    this.o.onTerminal?.({ write: (d) => session.writeTerminal(d), resize: (c, r) => session.resize(c, r) })
    const deadline = Date.now() + timeoutMs
    try {
      await Promise.all([session.waitReady(ready, timeoutMs), ...guest.ports.map((p) => p.connect(deadline))])
      await withTimeout(
        Promise.all(guest.ports.map((p) => p.ready())),
        Math.max(1_000, deadline - Date.now()),
        'the guest’s stream daemons did not start (is CONFIG_VIRTIO_CONSOLE built in?)',
      )
      if (guest.exited) throw new TargetError('connect', 'qemu exited during boot')
    } catch (e) {
      guest.exited = true
      session.kill()
      for (const p of guest.ports) p.close()
      const early = session.startupOutput.replace(/\r/g, '').split('\n').map((l) => l.trim()).filter(Boolean).slice(-6).join(' | ')
      throw new TargetError('connect', `${this.label}: the guest did not boot under ${this.accel.toUpperCase()}: ${errorMessage(e)}${early ? `: ${early}` : ''}`, session.startupOutput)
    }
    return guest
  }

  /** Fresh scratch images for every boot: a crashed guest may have left them inconsistent. */
  private async freshDisks(): Promise<Disk[]> {
    return Promise.all(diskVariants(this.diskKinds).map((v) => makeDisk(this.dir, v)))
  }

  private async readFacts(g: Guest): Promise<TargetFacts> {
    const f = await detectFacts(g.session)
    const r = await g.session.exec(
      't=/sys/kernel/tracing; echo "tracers=$(cat $t/available_tracers 2>/dev/null)"; [ -e $t/kprobe_events ] && echo kprobes=1; [ -e $t/uprobe_events ] && echo uprobes=1; for d in /sys/block/vd*; do [ -e "$d/serial" ] && echo "disk=$(cat "$d/serial") ${d##*/}"; done; true',
      30_000,
    )
    const tracers = /^tracers=(.*)$/m.exec(r.output)?.[1]?.split(/\s+/).filter((t) => t && t !== 'nop') ?? []
    const extraEvents = [...tracers.map((t) => `${t} tracer`), ...(/^kprobes=1$/m.test(r.output) ? ['kprobe events'] : []), ...(/^uprobes=1$/m.test(r.output) ? ['uprobe events'] : [])]
    const seenDisks = new Set([...r.output.matchAll(/^disk=(\S+) (\S+)$/gm)].map((m) => m[1]!))
    const mkfs: TargetFacts['mkfs'] = {}
    for (const fs of this.diskKinds) mkfs[fs] = seenDisks.has(diskSerial(fs))
    const missing = diskVariants(this.diskKinds).filter((v) => !seenDisks.has(diskSerial(v.variant))).map((v) => v.variant)
    const notes = f.notes.filter((n) => !/C compiler/.test(n) && !/passwordless sudo/.test(n))
    notes.unshift(`guest booted under ${this.accel.toUpperCase()} in ${(this.firstBootMs / 1000).toFixed(1)} s (${this.accelWhy})`)
    if (missing.length) notes.push(`the guest did not see its ${missing.join(', ')} disk(s) (kernel without CONFIG_VIRTIO_BLK?)`)
    return {
      ...f,
      compiler: { path: null, why: 'the guest has no compiler: the probe is built on the host into its initramfs' },
      mkfs,
      notes,
      vm: {
        kernel: this.o.kernel,
        image: this.o.image,
        accelerator: this.accel,
        acceleratorWhy: this.accelWhy,
        bootArgs: this.bootArgs,
        cmdline: kernelCommandLine(g.config),
        memoryMb: g.config.memoryMb,
        cpus: g.config.cpus,
        bootMs: this.firstBootMs,
        extraEvents,
      },
    }
  }

  // ---- the guest's console and its end ----

  private onConsole(g: Guest, data: string): void {
    for (const l of this.terminalListeners) l(data)
    for (const alarm of g.watcher.push(data)) {
      if (alarm.kind === 'warning') {
        // A WARN is a finding but the kernel goes on: record it once its stack has been printed.
        setTimeout(() => this.record(g, { kind: 'warning', message: alarm.line, console: g.watcher.consoleFrom(alarm.index, 5), rebooted: false }), 1_000).unref()
        continue
      }
      if (g.crash) continue
      g.crash = alarm
      // A panic ends qemu by itself (panic=-1, -no-reboot); an oops or lockup may leave the guest
      // limping: give the kernel a moment to print the whole report, then end it.
      setTimeout(() => {
        if (!g.exited) g.session.kill()
      }, CRASH_SETTLE_MS).unref()
    }
  }

  private checkSilence(): void {
    const g = this.guest
    if (!g || g.exited || g.crash || g.unresponsive) return
    const now = Date.now()
    const silent = g.ports.find((p) => p.busy && now - p.lastHeard > STREAM_SILENCE_MS)
    if (!silent) return
    g.unresponsive = `stream port ${silent.index} heard nothing (not even portd's keepalive) for ${STREAM_SILENCE_MS / 1000} s`
    g.session.kill()
  }

  private onGuestExit(g: Guest, code: number): void {
    const wasUp = !g.exited
    g.exited = true
    for (const p of g.ports) p.close()
    if (this.disposed || !wasUp || this.guest !== g) {
      g.end(null)
      return
    }
    this.guest = null
    const crash = g.crash
    const incident: Omit<VmIncident, 'at' | 'boot'> = crash
      ? { kind: crash.kind, message: crash.line, console: g.watcher.consoleFrom(crash.index), rebooted: true }
      : g.unresponsive
        ? { kind: 'hang', message: `the guest stopped answering: ${g.unresponsive}`, console: g.watcher.consoleFrom(g.watcher.nextIndex - 40, 0), rebooted: true }
        : { kind: 'exit', message: `qemu exited (code ${code}) without a kernel report (a triple fault or reset, or qemu was killed)`, console: g.watcher.consoleFrom(g.watcher.nextIndex - 40, 0), rebooted: true }
    const recorded = this.record(g, incident)
    g.end(recorded)
    this.booting = this.boot(this.o.bootTimeoutMs ?? 300_000).then(
      (fresh) => {
        this.booting = null
        if (this.disposed) {
          fresh.session.kill()
          throw new TargetError('disposed', 'the target session was closed')
        }
        this.guest = fresh
        return fresh
      },
      (e: unknown) => {
        this.booting = null
        this.dead = new TargetError('dead', `${this.label}: the guest could not be rebooted after ${incident.kind}: ${errorMessage(e)}`)
        for (const l of this.disconnectListeners) l(code)
        throw this.dead
      },
    )
    this.booting.catch(() => undefined)
  }

  private record(g: Guest, i: Omit<VmIncident, 'at' | 'boot'>): VmIncident {
    const incident: VmIncident = { ...i, at: new Date().toISOString(), boot: g.boot }
    this.incidentsSeen.push(incident)
    for (const l of this.incidentListeners) l(incident)
    if (incident.rebooted) {
      const crash = { reason: `${incident.kind === 'hang' ? 'the guest hung' : `kernel ${incident.kind}`}: ${incident.message}`, console: incident.console }
      for (const l of this.crashListeners) l(crash)
    }
    return incident
  }

  /** The guest commands go to: the current one, or the one booting after a crash. */
  private async current(): Promise<Guest> {
    if (this.disposed) throw new TargetError('disposed', 'the target session was closed')
    if (this.dead) throw this.dead
    if (this.guest && !this.guest.exited) return this.guest
    if (this.booting) return this.booting
    throw new TargetError('dead', `${this.label}: no guest is running`)
  }

  // ---- Target ----

  async exec(command: string, options: ExecOptions = {}): Promise<ExecResult> {
    const g = await this.current()
    try {
      return await g.session.exec(command, options.timeoutMs ?? DEFAULT_TIMEOUT_MS)
    } catch (e) {
      if (!(e instanceof TargetError) || (e.code !== 'dead' && e.code !== 'timeout') || this.disposed) throw e
      // A 'dead' session whose qemu still runs was killed by the session itself: the shell did
      // not answer after the command's timeout (session.ts interrupt()).
      if (e.code === 'dead' && !g.exited) g.unresponsive ??= `a command overran its time and the console's shell did not answer: ${e.message}`
      if (e.code === 'timeout' && !g.crash) throw e
      const incident = await g.ended
      if (!incident) throw e
      throw new TargetError('crash', `${this.label}: the guest ${incident.kind === 'hang' ? 'hung' : `reported ${incident.kind === 'exit' ? 'nothing and reset' : `a ${incident.kind}`}`} (${incident.message}) while running: ${summarize(command)}; it was rebooted`, e.partialOutput)
    }
  }

  async upload(path: string, content: string | Uint8Array, mode = 0o644): Promise<void> {
    return uploadThroughShell((cmd, o) => this.exec(cmd, o), path, content, mode)
  }

  /** stdout and stderr both reach onData, as a local stream's do. */
  async stream(command: string, onData: (chunk: string) => void, _options: { root?: boolean } = {}): Promise<StreamHandle> {
    const out = new StringDecoder('utf8')
    const err = new StringDecoder('utf8')
    const text = (d: StringDecoder) => (b: Buffer) => {
      const s = d.write(b)
      if (s) onData(s)
    }
    return this.startStream(command, text(out), text(err))
  }

  async streamBinary(command: string, onData: (chunk: Uint8Array) => void, options: { root?: boolean; onStderr?: (text: string) => void } = {}): Promise<StreamHandle> {
    const err = new StringDecoder('utf8')
    const onStderr = options.onStderr
    return this.startStream(command, onData, (b) => {
      const s = err.write(b)
      if (s) onStderr?.(s)
    })
  }

  /** Everything in the guest runs as root: a stream needs no sudo. */
  private async startStream(command: string, onData: (b: Buffer) => void, onStderr: (b: Buffer) => void): Promise<StreamHandle> {
    const g = await this.current()
    const run = await this.runOnFreePort(g, command, onData, onStderr)
    let finished = false
    void run.done.then(() => (finished = true))
    const handle: StreamHandle = {
      done: run.done,
      stop: async () => {
        if (!finished) {
          run.signal(2) // SIGINT, as a local stream gets
          const timer = setTimeout(() => run.signal(9), STREAM_STOP_MS)
          await run.done
          clearTimeout(timer)
        }
        this.streams.delete(handle)
      },
    }
    this.streams.add(handle)
    void run.done.then(() => this.streams.delete(handle))
    return handle
  }

  /** Starts `command` on the first free port, found and taken in the same turn (two streams starting at once get two ports). */
  private async runOnFreePort(g: Guest, command: string, onData: (b: Buffer) => void, onStderr: (b: Buffer) => void): Promise<PortRun> {
    const deadline = Date.now() + PORT_WAIT_MS
    for (;;) {
      if (g.exited) throw new TargetError('dead', `${this.label}: the guest ended before the stream started`)
      const port = g.ports.find((p) => p.free)
      if (port) return port.run(command, onData, onStderr)
      if (Date.now() > deadline) throw new TargetError('command', `${this.label}: all ${g.ports.length} stream ports stayed busy for ${PORT_WAIT_MS / 1000} s`)
      await new Promise((r) => setTimeout(r, 20))
    }
  }

  async facts(): Promise<TargetFacts> {
    if (this.factsCache) return this.factsCache
    this.factsCache = await this.readFacts(await this.current())
    return this.factsCache
  }

  onTerminalData(listener: (data: string) => void): () => void {
    this.terminalListeners.add(listener)
    return () => this.terminalListeners.delete(listener)
  }

  writeTerminal(data: string): void {
    this.guest?.session.writeTerminal(data)
  }

  resizeTerminal(cols: number, rows: number): void {
    this.guest?.session.resize(cols, rows)
  }

  /** The target is gone for good: a guest ended and no fresh one would boot. */
  onDisconnect(listener: (code: number) => void): () => void {
    this.disconnectListeners.add(listener)
    return () => this.disconnectListeners.delete(listener)
  }

  /** Every incident, a WARN that left the guest running included. */
  onIncident(listener: (incident: VmIncident) => void): () => void {
    this.incidentListeners.add(listener)
    return () => this.incidentListeners.delete(listener)
  }

  /** The guest crashed or hung and is being rebooted: runs in flight end with this. */
  onCrash(listener: (crash: TargetCrash) => void): () => void {
    this.crashListeners.add(listener)
    return () => this.crashListeners.delete(listener)
  }

  /** Resolves once a guest is up (after a crash: the rebooted one); rejects when none can come back. */
  async whenReady(): Promise<void> {
    await this.current()
  }

  /** The probe in the guest's initramfs, built on the host from the current source. */
  async provideProbe(): Promise<BuiltProbe> {
    return { path: this.initramfs.probePath, hash: this.initramfs.probeHash, compiled: false }
  }

  /** The binary trace reader in the guest's initramfs, built on the host. */
  async provideTracepipe(): Promise<string> {
    return this.initramfs.tracepipePath
  }

  /** The guest's scratch disks as block devices holding fresh filesystems, by scratch variant (found by their serials). */
  async scratchDevices(): Promise<Record<string, string>> {
    const r = await this.exec('for d in /sys/block/vd*; do [ -e "$d/serial" ] && echo "$(cat "$d/serial") /dev/${d##*/}"; done; true')
    const out: Record<string, string> = {}
    for (const { variant } of diskVariants(this.diskKinds)) {
      const m = new RegExp(`^${diskSerial(variant)} (/dev/vd[a-z]+)$`, 'm').exec(r.output)
      if (m) out[variant] = m[1]!
    }
    return out
  }

  /** Kills qemu (the guest's disks are scratch: nothing to shut down cleanly) and removes its files. */
  async dispose(): Promise<void> {
    if (this.disposed) return
    this.disposed = true
    clearInterval(this.silenceTimer)
    const g = this.guest
    this.guest = null
    // Kill first: a guest being rebooted would otherwise hold dispose for its whole boot timeout.
    const live = [...this.sessions]
    const gone = live.map((s) => new Promise<void>((r) => (s.alive ? s.onExit(() => r()) : r())))
    for (const s of live) s.kill()
    await withTimeout(Promise.all(gone), 5_000, '').catch(() => undefined)
    await this.booting?.catch(() => undefined)
    for (const s of [...this.streams]) await s.stop().catch(() => undefined)
    await g?.session.dispose()
    await rm(this.dir, { recursive: true, force: true })
    this.terminalListeners.clear()
  }
}

/** Opens a VM target: builds what it needs, boots, and reads the facts; nothing is left running on failure. */
export async function connectVm(o: VmOptions): Promise<VmTarget> {
  const t = new VmTarget(o)
  try {
    await t.start()
  } catch (e) {
    await t.dispose().catch(() => undefined)
    throw e
  }
  return t
}

/**
 * Removes the run directories (sockets, disk images) of labs that no longer run. Their qemu died
 * with them (parent-death signal), so only files are left.
 */
export function cleanStaleVmDirs(): string[] {
  const removed: string[] = []
  let names: string[] = []
  try {
    names = readdirSync(tmpdir())
  } catch {
    return removed
  }
  for (const n of names) {
    const m = new RegExp(`^${VM_DIR_PREFIX}(\\d+)-[0-9a-f]+$`).exec(n)
    if (!m || pidAlive(Number(m[1]))) continue
    rmSync(join(tmpdir(), n), { recursive: true, force: true })
    removed.push(n)
  }
  return removed
}

/** The process exists and has not ended (a zombie has: only its parent's wait is missing). */
function pidAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return stat[stat.lastIndexOf(')') + 2] !== 'Z'
  } catch {
    return false
  }
}

const kvmVerdictPath = (): string => join(cacheDir(), 'vm', 'kvm.json')

/** Why KVM failed on this host before, if it did (keyed by the host kernel). */
function readKvmVerdict(): string | null {
  try {
    const v = JSON.parse(readFileSync(kvmVerdictPath(), 'utf8')) as { host?: string; why?: string; at?: string }
    return v.host === release() && v.why ? `${v.at?.slice(0, 10) ?? ''}: ${v.why}` : null
  } catch {
    return null
  }
}

function writeKvmVerdict(why: string): void {
  try {
    mkdirSync(join(cacheDir(), 'vm'), { recursive: true })
    writeFileSync(kvmVerdictPath(), JSON.stringify({ host: release(), at: new Date().toISOString(), why: why.slice(0, 2000) }, null, 1) + '\n')
  } catch {
    // Only a shortcut for the next start.
  }
}

function withTimeout<T>(p: Promise<T>, ms: number, message: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(message)), ms)
    p.then(
      (v) => {
        clearTimeout(t)
        resolve(v)
      },
      (e: unknown) => {
        clearTimeout(t)
        reject(e instanceof Error ? e : new Error(String(e)))
      },
    )
  })
}

function summarize(command: string): string {
  const first = command.split('\n')[0] ?? ''
  return first.length > 120 ? first.slice(0, 117) + '…' : first
}
