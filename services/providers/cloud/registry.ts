import type { Config } from '../../../schemas/env.ts'
import { createFitbitProvider } from './fitbit.ts'
import type { ProviderHttp } from './http.ts'
import type { ClientCredentials, CloudProvider, CloudProviderName } from './types.ts'

// Each cloud provider's module made from config. A provider is on when its client id and
// secret are set; adding a provider is a module and a line here.
type Factory = (config: Config, credentials: ClientCredentials, http: ProviderHttp) => CloudProvider

const FACTORIES: Record<CloudProviderName, { credentials: (c: Config) => ClientCredentials, create: Factory } | undefined> = {
  fitbit: {
    credentials: (c) => ({ clientId: c.FITBIT_CLIENT_ID, clientSecret: c.FITBIT_CLIENT_SECRET }),
    create: (c, credentials, http) => createFitbitProvider({
      credentials,
      http,
      apiUrl: c.FITBIT_API_URL,
      authorizeUrl: c.FITBIT_AUTHORIZE_URL,
      verificationCode: c.FITBIT_VERIFICATION_CODE,
      subscriberId: c.FITBIT_SUBSCRIBER_ID
    })
  },
  garmin: undefined,
  strava: undefined,
  oura: undefined
}

export interface ConfiguredProvider { provider: CloudProvider, credentials: ClientCredentials }

export function configuredProviders (config: Config, httpFor: (name: CloudProviderName) => ProviderHttp): ConfiguredProvider[] {
  const configured: ConfiguredProvider[] = []
  for (const [name, factory] of Object.entries(FACTORIES) as Array<[CloudProviderName, typeof FACTORIES[CloudProviderName]]>) {
    if (factory === undefined) continue
    const credentials = factory.credentials(config)
    if (credentials.clientId === '' || credentials.clientSecret === '') continue
    configured.push({ provider: factory.create(config, credentials, httpFor(name)), credentials })
  }
  return configured
}
