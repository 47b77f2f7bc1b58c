/**
 * The probe's TypeScript ends. output.ts: the JSON line shapes and ObservationBuilder (the "output"
 * half). program.ts (compileProgram, probeArgs) and markers.ts (trace_marker format) belong to the
 * "probe" half (COORDINATION.md): their owner adds their exports here.
 */
export * from './output'
export * from './markers'
