/**
 * The probe's TypeScript ends: output.ts (the JSON line shapes, ObservationBuilder, calibration
 * parsing), program.ts (compileProgram, probeArgs), markers.ts (the trace_marker format).
 */
export * from './output'
export * from './markers'
export * from './program'
export * from './limits'
