export * from './index.js'
declare const sdk: typeof import('./index.js')
export default sdk
