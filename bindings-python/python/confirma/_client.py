"""``confirma.Client`` (blocking) and ``confirma.AsyncClient`` (asyncio)."""

from __future__ import annotations

import math
from types import TracebackType
from typing import TYPE_CHECKING, Any, Mapping, Optional, Type, Union

from . import _native
from ._models import NewClient, _new_client_value
from ._native import CreatedClient, RenewedToken, SecretToken, TokenStatus

if TYPE_CHECKING:
    from ._lifecycle import StoreArg

__all__ = ["Client", "AsyncClient", "Token", "NewClientInput"]

Token = Union[str, SecretToken]
"""A token argument: the raw string or a :class:`SecretToken`."""

NewClientInput = Union[NewClient, Mapping[str, Any]]
"""A new client: a :class:`NewClient`, or a dict shaped like the API contract (camelCase or snake_case)."""



def _seconds(name: str, value: Optional[float]) -> Optional[float]:
    """A duration option: a number (not a bool) or ``None``; its value is judged by the core."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number of seconds, not {type(value).__name__}")
    return _float(value)


def _count(name: str, value: Optional[int]) -> Optional[float]:
    """An integer option: an ``int`` (not a bool) or ``None``; its value is judged by the core."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, not {type(value).__name__}")
    return _float(value)


def _float(value: float) -> float:
    try:
        return float(value)
    except OverflowError:
        # An int too large for a float: out of every bound, the core says which (ConfigurationError).
        return math.inf if value > 0 else -math.inf


def _text(name: str, value: Optional[str]) -> Optional[str]:
    if value is not None and not isinstance(value, str):
        raise TypeError(f"{name} must be a str, not {type(value).__name__}")
    return value


def _native_client(
    environment: str,
    base_url: Optional[str],
    timeout: Optional[float],
    connect_timeout: Optional[float],
    total_timeout: Optional[float],
    max_retries: Optional[int],
    validation: Optional[str],
    user_agent_suffix: Optional[str],
    proxy: Optional[str],
    root_certificates_pem: Optional[str],
    max_response_bytes: Optional[int],
    language: Optional[str] = None,
) -> _native.NativeClient:
    """Checks the options' Python types (``TypeError``) and hands them to the core, which parses them,
    applies its defaults to the ``None`` ones and checks every bound (``ConfigurationError``)."""
    if not isinstance(environment, str):
        raise TypeError(f"environment must be a str, not {type(environment).__name__}")
    return _native.NativeClient(
        environment=environment,
        base_url=_text("base_url", base_url),
        timeout=_seconds("timeout", timeout),
        connect_timeout=_seconds("connect_timeout", connect_timeout),
        total_timeout=_seconds("total_timeout", total_timeout),
        max_retries=_count("max_retries", max_retries),
        validation=_text("validation", validation),
        user_agent_suffix=_text("user_agent_suffix", user_agent_suffix),
        proxy=_text("proxy", proxy),
        root_certificates_pem=_text("root_certificates_pem", root_certificates_pem),
        max_response_bytes=_count("max_response_bytes", max_response_bytes),
        language=_text("language", language),
    )


class _Base:
    _native: _native.NativeClient

    def __init__(
        self,
        environment: str = "staging",
        *,
        base_url: Optional[str] = None,
        timeout: Optional[float] = None,
        connect_timeout: Optional[float] = None,
        total_timeout: Optional[float] = None,
        max_retries: Optional[int] = None,
        validation: Optional[str] = None,
        user_agent_suffix: Optional[str] = None,
        proxy: Optional[str] = None,
        root_certificates_pem: Optional[str] = None,
        max_response_bytes: Optional[int] = None,
        language: Optional[str] = None,
    ) -> None:
        self._native = _native_client(
            environment,
            base_url,
            timeout,
            connect_timeout,
            total_timeout,
            max_retries,
            validation,
            user_agent_suffix,
            proxy,
            root_certificates_pem,
            max_response_bytes,
            language,
        )

    @property
    def base_url(self) -> str:
        """The resolved base URL (ends with ``/``)."""
        return self._native.base_url

    @property
    def user_agent(self) -> str:
        """The User-Agent sent with every request."""
        return self._native.user_agent

    @property
    def validation(self) -> str:
        """``"strict"`` or ``"lenient"``."""
        return self._native.validation

    @property
    def language(self) -> str:
        """``"fi"``, ``"sv"`` or ``"en"``: the language of :attr:`FieldIssue.user_message` on this client's errors."""
        return self._native.language

    @property
    def closed(self) -> bool:
        return self._native.closed

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(base_url={self.base_url!r}, validation={self.validation!r}, "
            f"language={self.language!r})"
        )


class Client(_Base):
    """The blocking CFIS onboarding client.

    ``Client(environment="staging", *, base_url=None, timeout=None, connect_timeout=None, total_timeout=None,
    max_retries=None, validation=None, user_agent_suffix=None, proxy=None, root_certificates_pem=None,
    max_response_bytes=None, language=None)``. An option left at ``None`` takes the core's default:

    ============================  ==========================================================================
    ``environment``               ``"staging"`` (default) or ``"production"`` (also ``"prod"``), any case
    ``base_url``                  overrides ``environment`` (plain ``http://`` only for loopback hosts, such
                                  as the local sandbox)
    ``timeout``                   per attempt, seconds (default 30.0)
    ``connect_timeout``           seconds (default 10.0)
    ``total_timeout``             a whole call including retries, seconds (default 60.0)
    ``max_retries``               retries after the first attempt, 0..10 (default 2)
    ``validation``                ``"strict"`` (default) or ``"lenient"``, any case
    ``user_agent_suffix``         appended to the User-Agent
    ``proxy``                     an HTTP(S) proxy URL
    ``root_certificates_pem``     extra trusted root certificates (PEM)
    ``max_response_bytes``        the largest response body read, 1 KiB..64 MiB (default 1048576): a larger
                                  one is :class:`UnexpectedResponseError` (validate) or
                                  :class:`OutcomeUnknownError` (create, renew)
    ``language``                  ``"fi"``, ``"sv"`` or ``"en"`` (default): the language of the end-user
                                  ``user_message`` of :attr:`ValidationError.issues`
    ============================  ==========================================================================

    Timeouts must be > 0 and at most 24 hours. An option of the wrong Python type is a ``TypeError``; a
    value out of its bounds is a :class:`ConfigurationError` naming the option.

    Thread-safe: share one client between threads (they share its connection pool). Calls release the GIL
    while the Rust core works. Use it as a context manager, or call :meth:`close`.
    """

    def create_client(
        self, provisioning_token: Token, new_client: NewClientInput, *, store: Optional["StoreArg"] = None
    ) -> CreatedClient:
        """Creates a client account with the Partner Provisioning Token.

        Validated locally first (every problem at once, :class:`ValidationError`). Never repeated after the
        request may have reached the service: such a failure is :class:`OutcomeUnknownError`. A
        :class:`ConflictError` means the client already exists.

        With ``store`` (a :class:`SqliteStore`, :class:`PostgresStore`, :class:`MemoryStore` or your own
        :class:`CredentialStore`), the create is recorded in the store *before* it is sent and the new
        credentials are committed *before* this returns, so a crash never loses the only copy of the token;
        a :class:`TokenManager` over the same store then keeps it alive. A create whose outcome is unknown
        is resolved by calling this again with the same business code (never a second client). With your
        own store the key is ``CONFIRMA_STORE_KEY`` (or call ``TokenManager(client, store, key=...)
        .create_client(...)``).
        """
        if store is not None:
            from ._lifecycle import _native_store

            return self._native.create_client_stored(
                provisioning_token, _new_client_value(new_client), _native_store(store)
            )
        return self._native.create_client(provisioning_token, _new_client_value(new_client))

    def validate_token(self, token: Token) -> TokenStatus:
        """Checks a client access token. An unknown or expired token is not an error: the result says
        ``is_valid=False`` (and ``expired=True`` for an expired token)."""
        return self._native.validate_token(token)

    def renew_token(self, token: Token) -> RenewedToken:
        """Renews a client access token (an expired one too). The old token stops working; store the new
        one (``result.access_token.reveal()``)."""
        return self._native.renew_token(token)

    def close(self) -> None:
        """Closes the connection pool. Later calls raise :class:`ConfigurationError`."""
        self._native.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        self.close()


class AsyncClient(_Base):
    """The asyncio CFIS onboarding client: the same options and methods as :class:`Client`, as coroutines.

    The Rust core's runtime does the work; the event loop is never blocked. Cancelling the awaiting task
    cancels the request (the Rust future is dropped). A create or renew cancelled after its request was sent
    may still have taken effect on the service: the core logs a WARNING on the ``confirma`` logger; treat it
    like :class:`OutcomeUnknownError`. Safe to share between tasks (and event loops). Use ``async with`` or
    :meth:`aclose`.
    """

    async def create_client(
        self, provisioning_token: Token, new_client: NewClientInput, *, store: Optional["StoreArg"] = None
    ) -> CreatedClient:
        """Creates a client account; see :meth:`Client.create_client` (also for ``store``). Cancelling the
        task after the create was recorded only stops the waiting: the core finishes and commits it."""
        if store is not None:
            from ._lifecycle import _native_store

            stored: CreatedClient = await self._native.create_client_stored_async(
                provisioning_token, _new_client_value(new_client), _native_store(store)
            )
            return stored
        result: CreatedClient = await self._native.create_client_async(
            provisioning_token, _new_client_value(new_client)
        )
        return result

    async def validate_token(self, token: Token) -> TokenStatus:
        """Checks a client access token; see :meth:`Client.validate_token`."""
        result: TokenStatus = await self._native.validate_token_async(token)
        return result

    async def renew_token(self, token: Token) -> RenewedToken:
        """Renews a client access token; see :meth:`Client.renew_token`."""
        result: RenewedToken = await self._native.renew_token_async(token)
        return result

    async def aclose(self) -> None:
        """Closes the connection pool. Later calls raise :class:`ConfigurationError`."""
        self._native.close()

    def close(self) -> None:
        """Synchronous :meth:`aclose`."""
        self._native.close()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        await self.aclose()
