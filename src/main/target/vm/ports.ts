/**
 * The host's end of a stream port: a unix socket that qemu connects to a virtio-serial port in the
 * guest, where portd (resources/vm/portd.c) runs one command at a time and sends its output back
 * in frames (frames.ts). A port carries one stream; the target keeps a few, so the probe's output
 * and a trace stream run side by side without touching the console.
 */
import { createConnection, type Socket } from 'node:net'
import { FrameDecoder, encodeHostFrame } from './frames'

/** How long to keep trying to reach qemu's socket while qemu starts. */
const CONNECT_MS = 30_000

export interface PortRun {
  /** Resolves with the command's exit status, or -1 when the port closed first (guest gone). */
  readonly done: Promise<number>
  signal(signal: number): void
}

export class StreamPort {
  private socket: Socket | null = null
  private readonly decoder = new FrameDecoder()
  private helloSeen = false
  private helloWaiters: (() => void)[] = []
  private current: { onData: (b: Buffer) => void; onStderr: (b: Buffer) => void; finish: (status: number) => void } | null = null
  private closed = false
  /** When the guest last sent anything on this port (a keepalive counts), ms since the epoch. */
  lastHeard = 0
  /** Protocol errors and portd's own error frames, for diagnostics. */
  readonly errors: string[] = []

  constructor(
    readonly index: number,
    readonly path: string,
  ) {}

  /** Connects to qemu's socket, retrying while qemu creates it. */
  async connect(deadline = Date.now() + CONNECT_MS): Promise<void> {
    for (;;) {
      if (this.closed) throw new Error('stream port closed')
      try {
        this.socket = await new Promise<Socket>((resolve, reject) => {
          const s = createConnection(this.path)
          s.once('connect', () => resolve(s))
          s.once('error', reject)
        })
        break
      } catch (e) {
        if (Date.now() > deadline) throw new Error(`cannot reach stream port ${this.index} (${this.path}): ${(e as Error).message}`)
        await new Promise((r) => setTimeout(r, 50))
      }
    }
    const s = this.socket
    s.on('data', (chunk: Buffer) => this.receive(chunk))
    s.on('error', (e) => this.errors.push(e.message))
    s.on('close', () => this.close())
  }

  /** True once portd said hello and no command runs. */
  get free(): boolean {
    return this.helloSeen && !this.current && !this.closed
  }

  get busy(): boolean {
    return this.current !== null
  }

  /** Resolves when portd has said hello (it is running and the guest end is open). */
  ready(): Promise<void> {
    if (this.helloSeen) return Promise.resolve()
    return new Promise((r) => this.helloWaiters.push(r))
  }

  /** Runs `command` in the guest; its stdout goes to onData, its stderr to onStderr (default: onData too). */
  run(command: string, onData: (b: Buffer) => void, onStderr: (b: Buffer) => void = onData): PortRun {
    if (!this.free || !this.socket) throw new Error(`stream port ${this.index} is not free`)
    let finish!: (status: number) => void
    const done = new Promise<number>((resolve) => (finish = resolve))
    this.current = {
      onData,
      onStderr,
      finish: (status) => {
        this.current = null
        finish(status)
      },
    }
    this.lastHeard = Date.now()
    this.socket.write(encodeHostFrame({ type: 'run', command }))
    return {
      done,
      signal: (signal) => {
        if (this.current && this.socket && !this.closed) this.socket.write(encodeHostFrame({ type: 'signal', signal }))
      },
    }
  }

  private receive(chunk: Buffer): void {
    this.lastHeard = Date.now()
    let frames
    try {
      frames = this.decoder.push(chunk)
    } catch (e) {
      this.errors.push((e as Error).message)
      this.close()
      return
    }
    for (const f of frames) {
      switch (f.type) {
        case 'hello':
          this.helloSeen = true
          for (const w of this.helloWaiters.splice(0)) w()
          break
        case 'output':
          this.current?.onData(f.data)
          break
        case 'stderr':
          this.current?.onStderr(f.data)
          break
        case 'exit':
          this.current?.finish(f.status)
          break
        case 'error':
          this.errors.push(f.text)
          // A refused run (busy, fork failed) ends the stream that asked for it.
          this.current?.onStderr(Buffer.from(`splice-lab: stream port ${this.index}: ${f.text}\n`))
          this.current?.finish(-1)
          break
        case 'keepalive':
          break
      }
    }
  }

  /** Closes the socket; a running command's stream ends with -1. Idempotent. */
  close(): void {
    if (this.closed) return
    this.closed = true
    this.socket?.destroy()
    this.current?.finish(-1)
    for (const w of this.helloWaiters.splice(0)) w()
  }
}
