import { parseArgs } from 'node:util'

// Command-line options of the project's scripts, described once: the same table parses the
// arguments and prints the usage, so `--help` lists every option with its default, and a
// mistyped option gets a one-line reason and the usage (exit 2) instead of a stack trace.

export interface CliOption {
  type: 'string' | 'boolean'
  default?: string | boolean
  // Shown after the option name, e.g. <uuid>.
  value?: string
  description: string
}

export interface CliSpec<O extends Record<string, CliOption>> {
  command: string
  summary: string
  options: O
}

type Values<O extends Record<string, CliOption>> = {
  [K in keyof O]: O[K]['type'] extends 'boolean' ? boolean : (O[K]['default'] extends string ? string : string | undefined)
}

export function usage<O extends Record<string, CliOption>> (spec: CliSpec<O>): string {
  const rows = Object.entries(spec.options).map(([name, option]) => {
    const left = `  --${name}${option.type === 'string' ? ` <${option.value ?? 'value'}>` : ''}`
    const shown = option.type === 'string' && option.default !== undefined && option.default !== '' ? ` (default: ${String(option.default)})` : ''
    return [left, `${option.description}${shown}`] as const
  })
  rows.push(['  -h, --help', 'Print this help and exit'])
  const width = Math.max(...rows.map(([left]) => left.length)) + 2
  return `Usage: ${spec.command} [options]\n\n${spec.summary}\n\nOptions:\n` +
    rows.map(([left, right]) => left.padEnd(width) + right).join('\n') + '\n'
}

export function parseCli<O extends Record<string, CliOption>> (spec: CliSpec<O>, args = process.argv.slice(2)): Values<O> {
  const options = Object.fromEntries(Object.entries(spec.options).map(([name, o]) =>
    [name, { type: o.type, ...(o.default !== undefined ? { default: o.default } : {}) }]))
  let values: Record<string, unknown>
  try {
    values = parseArgs({ args, options: { ...options, help: { type: 'boolean', short: 'h', default: false } } as never }).values
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n\n${usage(spec)}`)
    process.exit(2)
  }
  if (values.help === true) {
    process.stdout.write(usage(spec))
    process.exit(0)
  }
  delete values.help
  return values as Values<O>
}
