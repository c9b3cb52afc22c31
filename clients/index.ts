import createClient, { type Client, type Middleware } from 'openapi-fetch'
import type { paths } from './generated/api.ts'

// The typed client for integrators: paths, parameters, bodies and responses come from the
// generated types (`npm run client:generate`), so a route change that breaks a caller fails
// its type check.
//
//   const api = createApiClient('https://api.example.com', token)
//   const { data, error } = await api.GET('/api/v1/competitions/{id}', { params: { path: { id } } })

export type { paths, components, operations } from './generated/api.ts'
export type ApiClient = Client<paths>

// A fixed token, or a function asked before every request (to refresh an expiring session).
export type TokenSource = string | (() => string | null | undefined | Promise<string | null | undefined>)

export interface ApiClientOptions {
  fetch?: (input: Request) => Promise<Response>
  headers?: Record<string, string>
}

export function createApiClient (baseUrl: string, token?: TokenSource | null, options: ApiClientOptions = {}): ApiClient {
  const client = createClient<paths>({ baseUrl: baseUrl.replace(/\/+$/, ''), fetch: options.fetch, headers: options.headers })
  if (token !== undefined && token !== null) {
    const bearer: Middleware = {
      async onRequest ({ request }) {
        const value = typeof token === 'function' ? await token() : token
        if (value) request.headers.set('authorization', `Bearer ${value}`)
        return request
      }
    }
    client.use(bearer)
  }
  return client
}
