"""The exception hierarchy of the SDK.

Every error raised by a ``confirma`` call (other than ``TypeError`` for an argument of the wrong Python type)
is a :class:`ConfirmaError`. The Rust core decides the kind, message and attributes; this module only gives
each kind a Python class. Messages never contain a token. Exceptions pickle with their attributes and their
``__cause__`` intact (for example to cross a ``multiprocessing`` or Celery boundary) -- except the secrets
:attr:`ConfirmaError.recovered_token` and :attr:`ConfirmaError.raw_response`, which are never pickled (an
unpickled error has ``None`` there).
"""

from __future__ import annotations

import builtins
from typing import TYPE_CHECKING, Any, ClassVar, Dict, List, Optional, Tuple, Type

from ._form import FieldIssue, _issues_from_native

if TYPE_CHECKING:
    from ._native import SecretToken

__all__ = [
    "ConfirmaError",
    "ValidationError",
    "AuthenticationError",
    "PermissionDeniedError",
    "ConflictError",
    "RateLimitError",
    "ServiceUnavailableError",
    "TimeoutError",
    "NetworkError",
    "OutcomeUnknownError",
    "UnexpectedResponseError",
    "ConfigurationError",
    "InternalError",
    "StorageError",
    "CredentialsLostError",
]

# Attributes that hold secrets: never part of the pickle state (a pickle must never contain a token).
_SECRET_ATTRIBUTES = ("recovered_token", "raw_response")


def _restore(
    cls: Type[ConfirmaError], args: Tuple[Any, ...], state: Dict[str, Any], cause: Optional[BaseException]
) -> ConfirmaError:
    err = cls.__new__(cls, *args)
    Exception.__init__(err, *args)
    err.__dict__.update(state)
    if cause is not None:
        err.__cause__ = cause
    return err


class ConfirmaError(Exception):
    """Base class of every SDK error.

    Attributes:
        message: the error's own message (``str(err)`` adds the kind and HTTP status).
        kind: the stable snake_case kind (``"permission_denied"``).
        code: the stable machine-readable code (``"CONFIRMA_PERMISSION_DENIED"``).
        status_code: the HTTP status, if a response arrived.
        request_id: the service's request id (or the one the SDK sent), for support requests.
        retryable: whether the same call may succeed later (the SDK has already retried within its budget).
        recovered_token: a token the service issued although the call failed, as a :class:`SecretToken`
            (``None`` otherwise). Set when a create was answered 2xx with an access token but without the
            client's identifiers: the client exists and this is its only token -- store it
            (``err.recovered_token.reveal()``). Never pickled, never in ``repr``/``str``.
        raw_response: a 2xx create/renew answer the SDK could not read, kept whole as a :class:`SecretToken`
            because it may hold a token (``None`` otherwise). Never pickled, never in ``repr``/``str``.
    """

    kind: ClassVar[str] = "unknown"

    message: str
    code: str
    status_code: Optional[int]
    request_id: Optional[str]
    retryable: bool
    recovered_token: Optional[SecretToken] = None
    raw_response: Optional[SecretToken] = None

    def __init__(
        self,
        message: str = "",
        *,
        code: Optional[str] = None,
        status_code: Optional[int] = None,
        request_id: Optional[str] = None,
        retryable: bool = False,
        text: Optional[str] = None,
    ) -> None:
        super().__init__(text if text is not None else message)
        self.message = message
        self.code = code if code is not None else "CONFIRMA_" + type(self).kind.upper()
        self.status_code = status_code
        self.request_id = request_id
        self.retryable = retryable

    def __reduce__(self) -> Any:
        state = {k: v for k, v in self.__dict__.items() if k not in _SECRET_ATTRIBUTES}
        return (_restore, (type(self), self.args, state, self.__cause__))

    # Copies (unlike pickles) stay in the process: they keep the secret attributes.
    def __copy__(self) -> ConfirmaError:
        return _restore(type(self), self.args, dict(self.__dict__), self.__cause__)

    def __deepcopy__(self, memo: Dict[int, Any]) -> ConfirmaError:
        import copy

        return _restore(
            type(self),
            copy.deepcopy(self.args, memo),
            copy.deepcopy(dict(self.__dict__), memo),
            copy.deepcopy(self.__cause__, memo),
        )

    def __repr__(self) -> str:
        parts = [repr(self.message)]
        if self.status_code is not None:
            parts.append(f"status_code={self.status_code}")
        if self.request_id is not None:
            parts.append(f"request_id={self.request_id!r}")
        return f"{type(self).__name__}({', '.join(parts)})"


class ValidationError(ConfirmaError):
    """The request is invalid: found by the SDK before sending (``source == "client"``) or by the service
    (``source == "server"``, HTTP 400/402/422). Fix the fields in :attr:`field_errors` and try again.

    :attr:`issues` holds the same problems as :class:`FieldIssue` objects: a stable ``code`` and its ``params``
    beside the developer text, and ``user_message`` for the form's end user in the client's ``language``
    (``Client(language="fi")``). A server-side problem keeps the server's text and gets the code its text is
    recognised as, else ``"server"``."""

    kind = "validation"
    field_errors: Dict[str, List[str]]
    source: str
    issues: List[FieldIssue]

    def __init__(
        self,
        message: str = "",
        *,
        field_errors: Optional[Dict[str, List[str]]] = None,
        source: str = "client",
        issues: Optional[List[FieldIssue]] = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(message, **kwargs)
        self.field_errors = dict(field_errors or {})
        self.source = source
        self.issues = list(issues or [])


class AuthenticationError(ConfirmaError):
    """The token is missing, unknown, revoked or for another environment (HTTP 401)."""

    kind = "authentication"


class PermissionDeniedError(ConfirmaError):
    """The token may not do this (HTTP 403), e.g. a client token used to create a client."""

    kind = "permission_denied"


class ConflictError(ConfirmaError):
    """The client already exists (HTTP 409): take the existing-client path (validate or renew its token)."""

    kind = "conflict"


class RateLimitError(ConfirmaError):
    """Too many requests (HTTP 429). :attr:`retry_after` is the wait the service asked for, in seconds."""

    kind = "rate_limited"
    retry_after: Optional[float]

    def __init__(self, message: str = "", *, retry_after: Optional[float] = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class ServiceUnavailableError(ConfirmaError):
    """The service failed or is unavailable (HTTP 5xx). :attr:`retry_after` if the service said."""

    kind = "service_unavailable"
    retry_after: Optional[float]

    def __init__(self, message: str = "", *, retry_after: Optional[float] = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class TimeoutError(ConfirmaError, builtins.TimeoutError):
    """The call did not finish within its time limit.

    Also a subclass of the built-in :class:`TimeoutError` (so ``except TimeoutError`` written against the
    built-in catches it too).
    """

    kind = "timeout"

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class NetworkError(ConfirmaError):
    """The connection could not be made or broke. :attr:`connect` is ``True`` when it failed while
    connecting (nothing was sent, so even a create is safe to repeat), ``False`` when it broke later, ``None``
    when unknown."""

    kind = "network"
    connect: Optional[bool]

    def __init__(self, message: str = "", *, connect: Optional[bool] = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.connect = connect


class OutcomeUnknownError(ConfirmaError):
    """A create or renew failed after the request may have reached the service: it may or may not have
    taken effect. Do not blindly repeat it (see the message). :attr:`operation` names the call
    (``"create_client"`` or ``"renew_token"``); ``__cause__`` is the error that made the outcome unknown."""

    kind = "outcome_unknown"
    operation: str

    def __init__(self, message: str = "", *, operation: str = "", **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.operation = operation

    @property
    def cause(self) -> Optional[ConfirmaError]:
        """The error that made the outcome unknown (same as ``__cause__``)."""
        c = self.__cause__
        return c if isinstance(c, ConfirmaError) else None


class UnexpectedResponseError(ConfirmaError):
    """The service answered something the SDK could not understand. :attr:`body_excerpt` holds a bounded,
    token-scrubbed excerpt of the body."""

    kind = "unexpected_response"
    body_excerpt: str

    def __init__(self, message: str = "", *, body_excerpt: str = "", **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.body_excerpt = body_excerpt


class ConfigurationError(ConfirmaError):
    """The client is configured wrongly (bad base URL, plain http to a remote host, bad certificate, a
    timeout that is not a positive number of seconds up to 24 hours), is closed, or was created in the
    parent of a forked process."""

    kind = "configuration"


class InternalError(ConfirmaError):
    """The SDK failed internally: a bug in its native code was contained (it never crashes the process and
    an awaitable always settles). Please report it with the message. For a create or renew, treat the
    outcome as unknown."""

    kind = "internal"


class StorageError(ConfirmaError):
    """The credential store failed: the database is unreachable, holds unreadable data, or the encryption
    key is missing or wrong (``CONFIRMA_STORE_KEY``). :attr:`retryable` says whether trying again later may
    help (an unreachable database) or not (data or a key that stays wrong)."""

    kind = "storage"


class CredentialsLostError(ConfirmaError):
    """A client's token was rotated and the new token is gone (a renewal's answer was lost), or the service
    no longer accepts any stored token. The SDK never serves a dead token silently: ask Confirma Finance
    support for a new token for this client (or re-provision it), then import it."""

    kind = "credentials_lost"


_BY_KIND: Dict[str, Type[ConfirmaError]] = {
    cls.kind: cls
    for cls in (
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
    )
}


def _from_native(
    *,
    kind: str,
    code: str,
    message: str,
    text: str,
    status_code: Optional[int],
    request_id: Optional[str],
    retryable: bool,
    field_errors: Dict[str, List[str]],
    source: Optional[str],
    retry_after: Optional[float],
    body_excerpt: Optional[str],
    operation: Optional[str] = None,
    connect: Optional[bool] = None,
    cause: Optional[ConfirmaError] = None,
    recovered_token: Optional[SecretToken] = None,
    raw_response: Optional[SecretToken] = None,
    issues: Optional[str] = None,
) -> ConfirmaError:
    """Called by the native module to build the exception for a core error."""
    cls = _BY_KIND.get(kind, ConfirmaError)
    common: Dict[str, Any] = dict(
        code=code, status_code=status_code, request_id=request_id, retryable=retryable, text=text
    )
    err: ConfirmaError
    if cls is ValidationError:
        err = ValidationError(
            message,
            field_errors=field_errors,
            source=source or "client",
            issues=_issues_from_native(issues),
            **common,
        )
    elif cls is RateLimitError or cls is ServiceUnavailableError:
        err = cls(message, retry_after=retry_after, **common)  # type: ignore[call-arg]
    elif cls is OutcomeUnknownError:
        err = OutcomeUnknownError(message, operation=operation or "", **common)
    elif cls is NetworkError:
        err = NetworkError(message, connect=connect, **common)
    elif cls is UnexpectedResponseError:
        err = UnexpectedResponseError(message, body_excerpt=body_excerpt or "", **common)
    else:
        err = cls(message, **common)
    if recovered_token is not None:
        err.recovered_token = recovered_token
    if raw_response is not None:
        err.raw_response = raw_response
    if cause is not None:
        err.__cause__ = cause
    return err


def _token_status(is_valid: bool, expired: bool, message: str) -> Any:
    """Unpickles a TokenStatus."""
    from ._native import TokenStatus

    return TokenStatus(is_valid=is_valid, expired=expired, message=message)
