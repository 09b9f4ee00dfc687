// ESM entry of confirma-sdk: the same module instance as the CommonJS entry, so `instanceof`
// works whichever way an application (or its dependencies) load the SDK.
import { createRequire } from 'node:module'

const sdk = createRequire(import.meta.url)('./index.js')

export const {
  OnboardingClient,
  formSchema,
  validateForm,
  missingFields,
  messageCatalog,
  TokenManager,
  SqliteStore,
  PostgresStore,
  MemoryStore,
  checkStore,
  SecretToken,
  ConfirmaError,
  ValidationError,
  AuthenticationError,
  PermissionDeniedError,
  ConflictError,
  RateLimitError,
  ServiceUnavailableError,
  TimeoutError,
  NetworkError,
  OutcomeUnknownError,
  UnexpectedResponseError,
  ConfigurationError,
  InternalError,
  StorageError,
  CredentialsLostError,
  AbortError,
  ERROR_CLASSES,
  VERSION,
  CORE_VERSION
} = sdk

export default sdk
