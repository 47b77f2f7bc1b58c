import { defineStore } from 'pinia'
import { computed, ref, shallowRef, watch } from 'vue'
import type { PresetInfo } from '../../../shared/api'
import { parseScenarioText, type ScenarioProblem } from '../../../shared/scenario'
import type { Policy, Prediction } from '../../../shared/results'
import { call, messageOf } from '../api'
import { createWorkerModel, type ModelClient } from '../modelClient'

export { FILESYSTEMS } from '../../../shared/vocabulary'

/** Scenarios: the preset library, the editor's text with its problems, and the model's preview. */
export const useScenariosStore = defineStore('scenarios', () => {
  const presets = ref<PresetInfo[]>([])
  const presetsError = ref<string | null>(null)
  const selectedPreset = ref<string | null>(null)
  const text = ref('')
  const source = ref('<editor>')
  const fs = ref<string>('tmpfs')
  const pageSize = ref(4096)
  const predictions = shallowRef<Record<Policy, Prediction> | null>(null)
  const predictionError = ref<string | null>(null)
  const predicting = ref(false)
  const predictMs = ref<number | null>(null)
  let model: ModelClient | null = null

  /** Parsed on every edit: the validator is fast, and problems show as the person types. */
  const parsed = computed(() => (text.value.trim() ? parseScenarioText(text.value, source.value, pageSize.value) : null))
  const problems = computed<ScenarioProblem[]>(() => (parsed.value && !parsed.value.ok ? parsed.value.problems : []))
  const scenario = computed(() => (parsed.value?.ok ? parsed.value.scenario : null))
  const dirty = computed(() => {
    const p = presets.value.find((x) => x.name === selectedPreset.value)
    return !p || p.text !== text.value
  })

  async function loadPresets(): Promise<void> {
    presetsError.value = null
    try {
      presets.value = await call('listPresets')
      // The seed's first case is where everyone starts.
      const first = presets.value.find((p) => p.name === 'write-after-splice') ?? presets.value[0]
      if (!text.value && first) choose(first.name)
    } catch (e) {
      presetsError.value = messageOf(e)
    }
  }

  function choose(name: string): void {
    const p = presets.value.find((x) => x.name === name)
    if (!p) return
    selectedPreset.value = name
    source.value = `preset ${name}`
    text.value = p.text
  }

  function setModel(m: ModelClient): void {
    model = m
  }

  async function predict(): Promise<void> {
    const s = scenario.value
    if (!s) {
      predictions.value = null
      return
    }
    predicting.value = true
    predictionError.value = null
    try {
      model ??= createWorkerModel()
      const r = await model.predict(s, s.fs ?? fs.value, pageSize.value)
      predictions.value = r.predictions
      predictMs.value = r.ms
    } catch (e) {
      if (messageOf(e) === 'superseded') return
      predictions.value = null
      predictionError.value = messageOf(e)
    } finally {
      predicting.value = false
    }
  }

  let timer: ReturnType<typeof setTimeout> | null = null
  watch([scenario, fs, pageSize], () => {
    if (timer) clearTimeout(timer)
    timer = setTimeout(() => void predict(), 150)
  })

  return {
    presets, presetsError, selectedPreset, text, source, fs, pageSize, predictions, predictionError, predicting, predictMs,
    parsed, problems, scenario, dirty, loadPresets, choose, predict, setModel,
  }
})
