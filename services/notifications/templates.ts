import { currencyExponent } from '../../lib/currencies.ts'
import { en } from './locales/en.ts'
import { es } from './locales/es.ts'

// Message texts by template and locale, in the user's units and time zone. A locale is a
// catalogue in locales/; one that lacks a template, or a user whose locale has no catalogue,
// gets the English text (en-GB finds en, pt-BR finds pt, then en).

type Param = string | number | null | undefined
export type Params = Record<string, Param>

export interface Formatters {
  // A score in the competition's metric (params.metric), in the user's units.
  score: (value: Param) => string
  // Minor units of a currency, e.g. 2500 USD -> $25.00.
  money: (amount: Param, currency: Param) => string
  // An instant in the user's time zone.
  time: (iso: Param) => string
}

export interface Rendered { title: string, body: string }
export type Template = (params: Params, format: Formatters) => Rendered
export type Catalogue = Record<TemplateName, Template>
export const TEMPLATE_NAMES = ['overtaken', 'entered_top', 'starting_soon', 'started', 'ending_soon', 'ended', 'sync_reminder',
  'final', 'cancelled', 'prize_paid', 'deposit_succeeded', 'deposit_failed', 'withdrawal_paid', 'withdrawal_failed',
  'flag_raised', 'flag_cleared', 'auto_join_failed'] as const
export type TemplateName = typeof TEMPLATE_NAMES[number]

const CATALOGUES: Record<string, Partial<Catalogue>> = { en, es }

export interface Reader { locale: string, timeZone: string, units: 'metric' | 'imperial' }

function catalogueTemplate (locale: string, template: TemplateName): Template {
  const language = locale.split('-')[0]!
  return CATALOGUES[locale]?.[template] ?? CATALOGUES[language]?.[template] ?? en[template]
}

function formatters (reader: Reader, params: Params): Formatters {
  const number = (value: number, options?: Intl.NumberFormatOptions) => new Intl.NumberFormat(reader.locale, options).format(value)
  return {
    score (value) {
      const n = Number(value ?? 0)
      switch (params.metric) {
        case 'steps': return `${number(n)} steps`
        case 'active_kcal': return `${number(n)} kcal`
        case 'active_minutes': return `${number(n)} active minutes`
        case 'distance_m': return reader.units === 'imperial'
          ? `${number(n / 1609.344, { maximumFractionDigits: 1 })} mi`
          : `${number(n / 1000, { maximumFractionDigits: 1 })} km`
        default: return `${number(n)} points`
      }
    },
    money (amount, currency) {
      const code = String(currency)
      const digits = currencyExponent(code)
      return new Intl.NumberFormat(reader.locale, { style: 'currency', currency: code, minimumFractionDigits: digits, maximumFractionDigits: digits })
        .format(Number(amount) / 10 ** digits)
    },
    time (iso) {
      return new Intl.DateTimeFormat(reader.locale, { timeZone: reader.timeZone, dateStyle: 'medium', timeStyle: 'short' }).format(new Date(String(iso)))
    }
  }
}

// The title and body of a notification for this reader. A locale Intl does not know falls
// back to English formatting too.
export function render (template: TemplateName, params: Params, reader: Reader): Rendered {
  const locale = Intl.NumberFormat.supportedLocalesOf([reader.locale]).length > 0 ? reader.locale : 'en'
  const forReader = { ...reader, locale }
  return catalogueTemplate(locale, template)(params, formatters(forReader, params))
}
