import neostandard from 'neostandard'

export default neostandard({
  ts: true,
  ignores: ['node_modules', 'dist', '.data', 'coverage', '.tap', 'clients/generated']
})
