import t from 'tap'
import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import path from 'node:path'
import { promisify } from 'node:util'

const run = promisify(execFile)
const ROOT = fileURLToPath(new URL('../..', import.meta.url))

async function script (file: string, ...args: string[]): Promise<{ code: number, stdout: string, stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [path.join(ROOT, file), ...args], { cwd: ROOT, timeout: 60_000 })
    return { code: 0, stdout, stderr }
  } catch (err) {
    const e = err as { code?: number, stdout?: string, stderr?: string }
    return { code: typeof e.code === 'number' ? e.code : 1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' }
  }
}

const SCRIPTS = [
  { file: 'scripts/token.ts', command: 'npm run token --', options: ['sub', 'email', 'name', 'admin', 'service', 'hours'] },
  {
    file: 'bench/run.ts',
    command: 'npm run bench --',
    options: ['scale', 'seconds', 'warmup', 'connections', 'sockets', 'rounds', 'burst-seconds', 'burst-rate', 'burst-connections',
      'tick-ms', 'out', 'postgres', 'redis', 'only', 'cpu-prof', 'wait-quiet', 'deadline-minutes']
  }
]

for (const { file, command, options } of SCRIPTS) {
  t.test(`${command} --help prints the usage with every option; a wrong option says why`, async (t) => {
    const help = await script(file, '--help')
    t.equal(help.code, 0, help.stderr)
    t.equal(help.stderr, '')
    t.match(help.stdout, new RegExp(`^Usage: ${command} \\[options\\]`))
    for (const option of [...options, 'help']) {
      t.match(help.stdout, new RegExp(`^ +(-h, )?--${option}\\b.* \\S`, 'm'), `--${option} is listed with a description`)
    }
    t.equal((await script(file, '-h')).stdout, help.stdout, '-h is the same')

    const wrong = await script(file, '--no-such-option')
    t.equal(wrong.code, 2)
    t.match(wrong.stderr, /^Unknown option '--no-such-option'/)
    t.match(wrong.stderr, /Usage: /)
    t.notMatch(wrong.stderr, /\n\s+at /, 'no stack trace')
    t.equal(wrong.stdout, '')
  })
}
