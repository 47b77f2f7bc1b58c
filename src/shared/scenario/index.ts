export * from './schema'
export * from './size'
export * from './pattern'
export * from './validate'
