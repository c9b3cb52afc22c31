// Writes the OpenAPI document of the current routes to clients/openapi.json, the typed
// client's types to clients/generated/api.ts (openapi-typescript, used by clients/index.ts) and
// a second, independent client to clients/hey-api/ (@hey-api/openapi-ts: one function per
// operationId and one type per component), which CI compiles on its own. Needs no database or Redis: the app is built in
// embedded mode on a throw-away data folder, made ready (never listening), and asked for its
// document.
//
//   npm run client:generate            regenerate both files
//   npm run client:generate -- --check exit 1 when the files differ from the routes
//   ... --dir <folder>                 read/write another folder than clients/ (repeatable)
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { parseArgs } from 'node:util'
import { fileURLToPath } from 'node:url'
import Fastify from 'fastify'
import fp from 'fastify-plugin'
import openapiTS, { astToString, COMMENT_HEADER } from 'openapi-typescript'
import { createClient as heyApiClient } from '@hey-api/openapi-ts'
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

// The hey-api SDK's files, by path below clients/hey-api/. Imports carry .ts like the rest of
// the project; no tsconfig is read, so the output is the same wherever it is run.
async function heyApiFiles (document: Record<string, unknown>): Promise<Record<string, string>> {
  const out = await mkdtemp(path.join(tmpdir(), 'hey-api-'))
  try {
    await heyApiClient({
      input: structuredClone(document),
      output: { path: out, module: { extension: '.ts' }, tsConfigPath: null },
      plugins: ['@hey-api/typescript', '@hey-api/sdk', '@hey-api/client-fetch'],
      logs: { level: 'silent' }
    } as Parameters<typeof heyApiClient>[0])
    const files = (await readdir(out, { recursive: true, withFileTypes: true })).filter((entry) => entry.isFile())
    const contents: Record<string, string> = {}
    for (const file of files) {
      const full = path.join(file.parentPath, file.name)
      contents[path.join('hey-api', path.relative(out, full))] = await readFile(full, 'utf8')
    }
    return contents
  } finally {
    await rm(out, { recursive: true, force: true })
  }
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
  const contents = {
    'openapi.json': `${JSON.stringify(document, null, 2)}\n`,
    [path.join('generated', 'api.ts')]: await typesOf(document),
    ...await heyApiFiles(document)
  }
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
