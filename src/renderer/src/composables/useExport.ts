/** Run exports as browser downloads (the Electron shell and the lab server alike). */
import type { ExportFormat } from '../../../shared/api'
import { useHistoryStore } from '../stores/history'

export const EXPORTS: { format: ExportFormat; label: string; title: string }[] = [
  { format: 'json', label: 'JSON', title: 'The run record' },
  { format: 'csv', label: 'CSV', title: 'Tracepoint counts per op' },
  { format: 'series-csv', label: 'Series', title: 'Pages shared, stolen, copied, reloads and bytes per 100 ms' },
  { format: 'perfetto', label: 'Perfetto', title: 'Op slices, kernel events and counters for ui.perfetto.dev' },
]

export function useExport(): (id: string, format: ExportFormat) => Promise<void> {
  const history = useHistoryStore()
  return async (id, format) => {
    const file = await history.exportRun(id, format)
    if (!file) return
    const url = URL.createObjectURL(new Blob([file.content], { type: file.mime }))
    const a = document.createElement('a')
    a.href = url
    a.download = file.filename
    a.click()
    setTimeout(() => URL.revokeObjectURL(url), 1000)
  }
}
