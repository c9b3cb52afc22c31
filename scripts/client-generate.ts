// Writes the OpenAPI document of the current routes to clients/openapi.json and the typed
// client's types to clients/generated/api.ts. Needs no database or Redis: the app is built in
// embedded mode on a throw-away data folder, made ready (never listening), and asked for its
// document.
//
//   npm run client:generate            regenerate both files
//   npm run client:generate -- --check exit 1 when the files differ from the routes
//   ... --dir <folder>                 read/write another folder than clients/ (repeatable)
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { parseArgs } from 'node:util'
import { fileURLToPath } from 'node:url'
import Fastify from 'fastify'
import fp from 'fastify-plugin'
import openapiTS, { astToString, COMMENT_HEADER } from 'openapi-typescript'
import app from '../app.ts'
import { loadConfig } from '../plugins/config.ts'
import { serverOptions } from '../lib/server-options.ts'

const ROOT = fileURLToPath(new URL('..', import.meta.url))

async function buildDocument (): Promise<Record<string, unknown>> {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'openapi-'))
  // Run as root, the embedded PostgreSQL runs below it as the postgres user.
  await chmod(dataDir, 0o755)
  // Only these keys, never the caller's environment, so every machine writes the same document.
  const config = loadConfig({ DATA_DIR: dataDir, LOG_LEVEL: 'error', PUBLIC_URL: '', DATABASE_URL: '', REDIS_URL: '' })
  const fastify = Fastify(serverOptions(config))
  try {
    await fastify.register(fp(app), { config })
    await fastify.ready()
    return fastify.swagger() as unknown as Record<string, unknown>
  } finally {
    await fastify.close()
    await rm(dataDir, { recursive: true, force: true })
  }
}

async function typesOf (document: Record<string, unknown>): Promise<string> {
  const ast = await openapiTS(document as unknown as Parameters<typeof openapiTS>[0], { alphabetize: true })
  return `${COMMENT_HEADER}// Regenerate with \`npm run client:generate\`; CI fails when this file is out of date.\n\n${astToString(ast)}`
}

async function readOrEmpty (file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8')
  } catch {
    return ''
  }
}

async function main (): Promise<number> {
  const { values } = parseArgs({ options: { check: { type: 'boolean', default: false }, dir: { type: 'string', multiple: true, default: ['clients'] } } })
  const document = await buildDocument()
  const contents = { 'openapi.json': `${JSON.stringify(document, null, 2)}\n`, [path.join('generated', 'api.ts')]: await typesOf(document) }
  const files = values.dir.flatMap((dir) => Object.entries(contents).map(([name, content]) => [path.resolve(ROOT, dir, name), content] as const))

  if (values.check) {
    const stale = []
    for (const [file, content] of files) {
      if (await readOrEmpty(file) !== content) stale.push(path.relative(ROOT, file))
    }
    if (stale.length > 0) {
      console.error(`The routes changed but the client was not regenerated (out of date: ${stale.join(', ')}). Run: npm run client:generate`)
      return 1
    }
    console.log('the OpenAPI document and the generated client match the routes')
    return 0
  }

  for (const [file, content] of files) {
    await mkdir(path.dirname(file), { recursive: true })
    await writeFile(file, content)
    console.log(`wrote ${path.relative(ROOT, file)}`)
  }
  return 0
}

process.exitCode = await main()
