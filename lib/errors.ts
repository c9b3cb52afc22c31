import createError from '@fastify/error'

// Coded errors, created once and thrown from services and hooks. The error handler turns
// them into the common shape { statusCode, code, error, message, requestId }.
export const errors = {
  BadRequest: createError('BAD_REQUEST', '%s', 400),
  Unauthorized: createError('UNAUTHORIZED', '%s', 401),
  Forbidden: createError('FORBIDDEN', '%s', 403),
  NotFound: createError('NOT_FOUND', '%s', 404),
  Conflict: createError('CONFLICT', '%s', 409),
  PayloadTooLarge: createError('PAYLOAD_TOO_LARGE', '%s', 413),
  UnsupportedMediaType: createError('UNSUPPORTED_MEDIA_TYPE', '%s', 415),
  Unprocessable: createError('UNPROCESSABLE', '%s', 422),
  InsufficientFunds: createError('INSUFFICIENT_FUNDS', '%s', 409),
  OutstandingDebt: createError('OUTSTANDING_DEBT', '%s', 409),
  LimitExceeded: createError('LIMIT_EXCEEDED', '%s', 422),
  PaymentsDisabled: createError('PAYMENTS_DISABLED', '%s', 503),
  GatewayError: createError('GATEWAY_ERROR', '%s', 502),
  TooManyRequests: createError('RATE_LIMITED', '%s', 429),
  ServiceUnavailable: createError('SERVICE_UNAVAILABLE', '%s', 503),
  Overloaded: createError('OVERLOADED', '%s', 503)
}
