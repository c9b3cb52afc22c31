import { createRequire } from 'node:module'

// Node's table of status texts (404 -> 'Not Found'). node:http is loaded through require on
// purpose: an ESM import of it reads every export to build the module namespace, including
// the lazy WebSocket, CloseEvent and MessageEvent getters, which load Node's bundled undici
// (about 14 MB resident) that this service never uses.
const http = createRequire(import.meta.url)('node:http') as typeof import('node:http')

export const STATUS_CODES = http.STATUS_CODES
