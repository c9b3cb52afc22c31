import type { Config } from '../../../schemas/env.ts'
import { createFitbitProvider } from './fitbit.ts'
import { createGarminProvider } from './garmin.ts'
import { createOuraProvider } from './oura.ts'
import { createStravaProvider } from './strava.ts'
import type { ProviderHttp } from './http.ts'
import type { ClientCredentials, CloudProvider, CloudProviderName } from './types.ts'

// Each cloud provider's module made from config. A provider is on when its client id and
// secret are set; adding a provider is a module and a line here.
type Factory = (config: Config, credentials: ClientCredentials, http: ProviderHttp) => CloudProvider

const FACTORIES: Record<CloudProviderName, { credentials: (c: Config) => ClientCredentials, create: Factory }> = {
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
  garmin: {
    credentials: (c) => ({ clientId: c.GARMIN_CLIENT_ID, clientSecret: c.GARMIN_CLIENT_SECRET }),
    create: (c, credentials, http) => createGarminProvider({
      credentials, http, apiUrl: c.GARMIN_API_URL, tokenUrl: c.GARMIN_TOKEN_URL, authorizeUrl: c.GARMIN_AUTHORIZE_URL
    })
  },
  strava: {
    credentials: (c) => ({ clientId: c.STRAVA_CLIENT_ID, clientSecret: c.STRAVA_CLIENT_SECRET }),
    create: (c, credentials, http) => createStravaProvider({
      credentials, http, apiUrl: c.STRAVA_API_URL, verifyToken: c.STRAVA_VERIFY_TOKEN, subscriptionId: c.STRAVA_SUBSCRIPTION_ID
    })
  },
  oura: {
    credentials: (c) => ({ clientId: c.OURA_CLIENT_ID, clientSecret: c.OURA_CLIENT_SECRET }),
    create: (c, credentials, http) => createOuraProvider({
      credentials, http, apiUrl: c.OURA_API_URL, authorizeUrl: c.OURA_AUTHORIZE_URL, verificationToken: c.OURA_VERIFICATION_TOKEN
    })
  }
}

export interface ConfiguredProvider { provider: CloudProvider, credentials: ClientCredentials }

export function configuredProviders (config: Config, httpFor: (name: CloudProviderName) => ProviderHttp): ConfiguredProvider[] {
  const configured: ConfiguredProvider[] = []
  for (const [name, factory] of Object.entries(FACTORIES) as Array<[CloudProviderName, typeof FACTORIES[CloudProviderName]]>) {
    const credentials = factory.credentials(config)
    if (credentials.clientId === '' || credentials.clientSecret === '') continue
    configured.push({ provider: factory.create(config, credentials, httpFor(name)), credentials })
  }
  return configured
}
