import { writeFileSync } from 'node:fs'
import * as vega from 'vega'
import { compile, type TopLevelSpec } from 'vega-lite'

// A curve's plot as an SVG file: a Vega-Lite line chart (one line per series) rendered
// headless by Vega, so the bench draws its own figures with no browser or native build.
export interface Point { x: number, y: number, series: string }

export interface PlotSpec {
  title: string
  x: { title: string, log?: boolean }
  y: { title: string, log?: boolean, zero?: boolean }
  points: Point[]
}

export function lineChart (spec: PlotSpec): TopLevelSpec {
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: spec.title,
    width: 420,
    height: 260,
    data: { values: spec.points },
    mark: { type: 'line', point: true },
    encoding: {
      x: { field: 'x', type: 'quantitative', title: spec.x.title, scale: spec.x.log === true ? { type: 'log' } : {}, axis: { format: '~s' } },
      y: { field: 'y', type: 'quantitative', title: spec.y.title, scale: spec.y.log === true ? { type: 'log' } : { zero: spec.y.zero ?? true } },
      color: { field: 'series', type: 'nominal', title: null }
    }
  }
}

export async function writePlot (path: string, spec: PlotSpec): Promise<void> {
  const view = new vega.View(vega.parse(compile(lineChart(spec)).spec), { renderer: 'none' })
  writeFileSync(path, await view.toSVG())
  view.finalize()
}
