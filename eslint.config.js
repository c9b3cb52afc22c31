import neostandard from 'neostandard'

export default [
  ...neostandard({
    ts: true,
    ignores: ['node_modules', 'dist', '.data', 'coverage', '.tap', 'clients/generated', 'clients/hey-api']
  }),
  {
    // An ESM import of node:http evaluates its lazy WebSocket getters, which load Node's bundled
    // undici (about 14 MB resident) into the running service; lib/http-status.ts explains.
    files: ['*.ts', 'plugins/**', 'routes/**', 'services/**', 'schemas/**', 'lib/**'],
    rules: {
      '@typescript-eslint/no-restricted-imports': ['error', {
        paths: [{ name: 'node:http', message: 'Take STATUS_CODES from lib/http-status.ts; only type imports of node:http are free.', allowTypeImports: true }]
      }]
    }
  },
  {
    // Services meet Fastify only in wiring/: plugins stay infrastructure and routes reach the
    // services through the instance's decorators. Services in turn import no Fastify.
    files: ['plugins/**', 'routes/**'],
    rules: {
      '@typescript-eslint/no-restricted-imports': ['error', {
        paths: [{ name: 'node:http', message: 'Take STATUS_CODES from lib/http-status.ts; only type imports of node:http are free.', allowTypeImports: true }],
        patterns: [{ group: ['**/services/**'], message: 'Reach services through the instance (wired in wiring/).' }]
      }]
    }
  },
  {
    files: ['services/**'],
    rules: {
      '@typescript-eslint/no-restricted-imports': ['error', {
        paths: [{ name: 'node:http', message: 'Take STATUS_CODES from lib/http-status.ts; only type imports of node:http are free.', allowTypeImports: true }],
        patterns: [{ group: ['fastify', 'fastify-plugin', '@fastify/*', '**/plugins/**', '**/routes/**', '**/wiring/**'], message: 'Services are plain factories: no Fastify, no plugins, no routes.' }]
      }]
    }
  }
]
