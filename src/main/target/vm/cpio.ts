/**
 * A writer for the cpio "newc" format, the one the kernel unpacks an initramfs from
 * (Documentation/driver-api/early-userspace/buffer-format.rst, init/initramfs.c). Written here
 * rather than piped through cpio(1) so the archive depends only on its contents: no inode numbers,
 * owners or times from the host, and the same inputs give the same bytes.
 */

export type CpioEntry =
  | { path: string; type: 'dir'; mode?: number }
  | { path: string; type: 'file'; data: Buffer; mode: number }
  | { path: string; type: 'symlink'; target: string }
  | { path: string; type: 'char'; major: number; minor: number; mode?: number }

const S_IFDIR = 0o040000
const S_IFREG = 0o100000
const S_IFLNK = 0o120000
const S_IFCHR = 0o020000

const pad4 = (n: number): number => (4 - (n % 4)) % 4
const hex8 = (n: number): string => n.toString(16).padStart(8, '0')

/**
 * The archive of `entries`, with every parent directory added before its contents (the kernel
 * creates entries in order and does not make missing directories), and the trailer.
 */
export function cpioNewc(entries: CpioEntry[]): Buffer {
  const out: Buffer[] = []
  const seen = new Set<string>()
  let ino = 0
  const put = (path: string, mode: number, nlink: number, data: Buffer, rdev: [number, number] = [0, 0]): void => {
    const name = Buffer.from(path + '\0', 'utf8')
    const fields = [++ino, mode, 0, 0, nlink, 0, data.length, 0, 0, rdev[0], rdev[1], name.length, 0]
    const header = Buffer.from('070701' + fields.map(hex8).join(''), 'latin1')
    out.push(header, name, Buffer.alloc(pad4(header.length + name.length)), data, Buffer.alloc(pad4(data.length)))
  }
  const addDir = (path: string, mode = 0o755): void => {
    if (seen.has(path)) return
    seen.add(path)
    put(path, S_IFDIR | mode, 2, Buffer.alloc(0))
  }
  const addParents = (path: string): void => {
    const parts = path.split('/')
    for (let i = 1; i < parts.length; i++) addDir(parts.slice(0, i).join('/'))
  }
  for (const e of entries) {
    const path = e.path.replace(/^\/+/, '')
    if (!path || path.split('/').some((p) => p === '' || p === '.' || p === '..')) throw new Error(`cpio: bad path ${JSON.stringify(e.path)}`)
    addParents(path)
    switch (e.type) {
      case 'dir':
        addDir(path, e.mode)
        break
      case 'file':
        if (seen.has(path)) throw new Error(`cpio: ${path} twice`)
        seen.add(path)
        put(path, S_IFREG | (e.mode & 0o7777), 1, e.data)
        break
      case 'symlink':
        if (seen.has(path)) throw new Error(`cpio: ${path} twice`)
        seen.add(path)
        put(path, S_IFLNK | 0o777, 1, Buffer.from(e.target, 'utf8'))
        break
      case 'char':
        if (seen.has(path)) throw new Error(`cpio: ${path} twice`)
        seen.add(path)
        put(path, S_IFCHR | (e.mode ?? 0o600), 1, Buffer.alloc(0), [e.major, e.minor])
        break
    }
  }
  put('TRAILER!!!', 0, 1, Buffer.alloc(0))
  return Buffer.concat(out)
}
