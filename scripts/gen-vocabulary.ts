/** Writes resources/probe/vocabulary.h from the core's vocabulary (npm run gen:vocab). */
import { writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { VOCABULARY_HEADER_PATH, vocabularyHeader } from '../src/shared/probe/header'

const out = fileURLToPath(new URL(`../${VOCABULARY_HEADER_PATH}`, import.meta.url))
writeFileSync(out, vocabularyHeader())
console.log(`wrote ${VOCABULARY_HEADER_PATH}`)
