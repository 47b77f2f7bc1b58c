/**
 * `splice-lab export <run>`: a saved run as a file another tool opens — Perfetto / Chrome Trace
 * Event JSON (ops as slices, the kernel's events as instants, the live series as counters), the
 * per-op tracepoint counts or the series as CSV, or the record itself. The same exports as the app's
 * History view.
 */
import { writeFile } from 'node:fs/promises'
import { basename, dirname } from 'node:path'
import { Option, type Command } from 'commander'
import { RunRecords, loadRunRecord } from '../lab/records'
import { runsDir } from '../paths'
import { ExportFormat, SafeId } from '../../shared/api'


/** A run given as a record file's path, or as an id under the lab's runs directory. */
export function recordPath(run: string): string {
  if (run.endsWith('.json')) return run
  if (!SafeId.safeParse(run).success) throw new Error(`"${run}" is neither a record file (.json) nor a run id`)
  return `${runsDir()}/${run}.json`
}

/** Writes the export to `out` (or standard output); returns the exit status. */
export async function runExport(run: string, o: { format: ExportFormat; out?: string }): Promise<number> {
  try {
    const path = recordPath(run)
    const record = await loadRunRecord(path).catch((e: unknown) => {
      throw (e as NodeJS.ErrnoException).code === 'ENOENT' ? new Error(`no run record at ${path}`) : e
    })
    const text = await new RunRecords(dirname(path)).export(record, o.format)
    if (o.out) {
      await writeFile(o.out, text)
      console.error(`${basename(path)} → ${o.out} (${o.format}, ${(text.length / 1024).toFixed(0)} KiB)`)
    } else process.stdout.write(text)
    return 0
  } catch (e) {
    console.error(`splice-lab export: ${e instanceof Error ? e.message : String(e)}`)
    return 1
  }
}

export function registerExport(program: Command): void {
  program
    .command('export')
    .description('write a saved run as a Perfetto trace, CSV or JSON (the raw trace saved beside the record gives the Perfetto file its kernel events)')
    .argument('<run>', `run id (a record under ${runsDir()}) or a record file (.json)`)
    .addOption(new Option('--format <format>', 'perfetto: Chrome/Perfetto trace JSON; csv: tracepoint counts per op; series-csv: shared/stolen/copied/reloads/bytes per 100 ms; json: the record').choices(ExportFormat.options).default('perfetto'))
    .option('--out <file>', 'write here instead of standard output')
    .action(async (run: string, o: { format: ExportFormat; out?: string }) => {
      process.exitCode = await runExport(run, o)
    })
}
