"""The service's own errors: each carries the HTTP status and the message a client sees."""


class ServiceError(Exception):
    """An error with a message fit for clients; server.py maps it to `status_code` once."""

    status_code = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BadRequest(ServiceError):
    status_code = 422


class NotFound(ServiceError):
    status_code = 404


class PayloadTooLarge(ServiceError):
    status_code = 413


class NotSupported(ServiceError):
    status_code = 501


class ModelUnavailable(ServiceError):
    """The model failed after the client's bounded retries (timeout, 429, 5xx)."""

    status_code = 502


class PoolUnavailable(ServiceError):
    """The code session pool cannot be reached or refused the call."""

    status_code = 503
