// ESM consumers (import condition → index.d.mts): named and default imports.
import sdk, { OnboardingClient, SecretToken, type TokenStatus } from 'confirma-sdk'

const client: OnboardingClient = new sdk.OnboardingClient({ environment: 'production' })
const status: Promise<TokenStatus> = client.validateToken(new SecretToken('t'))
export { status }
