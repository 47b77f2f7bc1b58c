/**
 * The CLI's two output streams. A reader that goes away (`splice-lab run all | head -1`, or
 * `2>&1 | head`) ends the output, not the command's duty to leave its target clean: the EPIPE is
 * taken here, once for every command, later writes are dropped, and commands that work on a target
 * hear of it through stopSignal() (stop.ts) and stop as they do on Ctrl-C. The exit status is then 0:
 * the reader had what it wanted.
 */
let gone = false
const listeners = new Set<() => void>()

/** Installs the EPIPE handling on stdout and stderr (once, at start-up). */
export function guardOutput(): void {
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (e: NodeJS.ErrnoException) => {
      // Node emits EPIPE for every later write too; each is dropped.
      if (e.code !== 'EPIPE') throw e
      if (gone) return
      gone = true
      for (const l of listeners) l()
    })
  }
}

/** Whether a reader of the output went away. */
export function outputGone(): boolean {
  return gone
}

/** Calls `listener` once when a reader of the output goes away; returns how to stop listening. */
export function onOutputGone(listener: () => void): () => void {
  listeners.add(listener)
  return () => listeners.delete(listener)
}

export interface Progress {
  say(text: string): void
  clear(): void
}

/** The progress line on stderr: rewritten in place on a terminal, one line per step otherwise. */
export function progress(): Progress {
  const tty = process.stderr.isTTY
  let shown = false
  return {
    say(text) {
      if (tty) {
        const cols = process.stderr.columns || 100
        process.stderr.write(`\r\x1b[K${text.length > cols - 1 ? text.slice(0, cols - 2) + '…' : text}`)
        shown = true
      } else process.stderr.write(text + '\n')
    },
    clear() {
      if (tty && shown) process.stderr.write('\r\x1b[K')
      shown = false
    },
  }
}
