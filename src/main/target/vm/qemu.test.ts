import { describe, it, expect } from 'vitest'
import { checkBootArgs, kernelCommandLine, qemuArgs, supervisedQemu, type QemuConfig } from './qemu'

const config: QemuConfig = {
  qemu: 'qemu-system-x86_64',
  kernel: '/k/bzImage',
  initrd: '/c/initramfs.cpio.gz',
  accel: 'tcg',
  memoryMb: 1024,
  cpus: 2,
  ready: 'abc123',
  ports: ['/d/port0.sock', '/d/port1.sock'],
  disks: [{ fs: 'ext4', variant: 'ext4-b1024', mkfsArgs: ['-b', '1024'], path: '/d/ext4-b1024.img' }],
  bootArgs: ['splice_policy=copy'],
}

describe('qemu command line', () => {
  it('puts the console on stdio without qemu’s ^C handling, and exits instead of rebooting', () => {
    const a = qemuArgs(config)
    expect(a).toContain('stdio,id=console,signal=off')
    expect(a).toContain('-no-reboot')
    expect(a.slice(a.indexOf('-accel'), a.indexOf('-accel') + 4)).toEqual(['-accel', 'tcg', '-cpu', 'max'])
    expect(a.slice(a.indexOf('-smp'), a.indexOf('-smp') + 2)).toEqual(['-smp', '2,sockets=2,cores=1,threads=1'])
  })

  it('gives each stream port a socket and a name, each disk a serial the guest finds it by', () => {
    const a = qemuArgs(config)
    expect(a).toContain('socket,id=port1,path=/d/port1.sock,server=on,wait=off')
    expect(a).toContain('virtserialport,bus=ports.0,chardev=port1,name=splab.stream.1')
    expect(a).toContain('virtio-blk-pci,drive=disk-ext4-b1024,serial=sl-ext4-b1024')
  })

  it('appends the person’s boot arguments after the lab’s own words', () => {
    expect(kernelCommandLine(config)).toBe('console=ttyS0 loglevel=5 panic=-1 splab.ready=abc123 splab.ports=2 splice_policy=copy')
  })

  it('runs qemu under a parent-death signal', () => {
    const s = supervisedQemu(config)
    expect([s.file, ...s.args.slice(0, 7)]).toEqual(['setpriv', '--pdeathsig', 'KILL', '--', 'sh', '-c', 'stty -onlcr && exec "$@"', 'sh'])
    expect(s.args[7]).toBe('qemu-system-x86_64')
  })

  it('refuses boot arguments with spaces or quotes, and those the lab sets itself', () => {
    expect(checkBootArgs(['splice_policy=steal-or-copy', 'nokaslr'])).toEqual(['splice_policy=steal-or-copy', 'nokaslr'])
    expect(() => checkBootArgs(['a b'])).toThrow(/--boot-arg: "a b"/)
    expect(() => checkBootArgs(['x="y"'])).toThrow(/not a kernel parameter/)
    expect(() => checkBootArgs(['console=tty0'])).toThrow(/console= is set by the lab/)
    expect(() => checkBootArgs(['panic=10'])).toThrow(/panic= is set by the lab/)
  })
})
