"""``confirma.Client`` (blocking) and ``confirma.AsyncClient`` (asyncio)."""

from __future__ import annotations

import math
from types import TracebackType
from typing import Any, List, Mapping, Optional, Type, Union

from . import _native
from ._models import NewClient, _new_client_value
from ._native import CreatedClient, RenewedToken, SecretToken, TokenStatus

__all__ = ["Client", "AsyncClient", "Token", "NewClientInput"]

Token = Union[str, SecretToken]
"""A token argument: the raw string or a :class:`SecretToken`."""

NewClientInput = Union[NewClient, Mapping[str, Any]]
"""A new client: a :class:`NewClient`, or a dict shaped like the API contract (camelCase or snake_case)."""



def _native_client(
    environment: str,
    base_url: Optional[str],
    timeout: float,
    connect_timeout: float,
    total_timeout: float,
    max_retries: int,
    validation: str,
    user_agent_suffix: Optional[str],
    proxy: Optional[str],
    root_certificates_pem: Optional[str],
    max_response_bytes: int,
) -> _native.NativeClient:
    seconds: List[float] = []
    for name, value in (("timeout", timeout), ("connect_timeout", connect_timeout), ("total_timeout", total_timeout)):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise TypeError(f"{name} must be a number of seconds, not {type(value).__name__}")
        try:
            seconds.append(float(value))
        except OverflowError:
            # An int too large for a float: the core rejects it (ConfigurationError naming the option).
            seconds.append(math.inf)
    if isinstance(max_retries, bool) or not isinstance(max_retries, int):
        raise TypeError(f"max_retries must be an int, not {type(max_retries).__name__}")
    if isinstance(max_response_bytes, bool) or not isinstance(max_response_bytes, int):
        raise TypeError(f"max_response_bytes must be an int, not {type(max_response_bytes).__name__}")
    for name, text in (
        ("environment", environment),
        ("validation", validation),
        ("base_url", base_url),
        ("user_agent_suffix", user_agent_suffix),
        ("proxy", proxy),
        ("root_certificates_pem", root_certificates_pem),
    ):
        if text is not None and not isinstance(text, str):
            raise TypeError(f"{name} must be a str, not {type(text).__name__}")
    return _native.NativeClient(
        environment,
        base_url,
        seconds[0],
        seconds[1],
        seconds[2],
        max_retries,
        validation,
        user_agent_suffix,
        proxy,
        root_certificates_pem,
        max_response_bytes,
    )


class _Base:
    _native: _native.NativeClient

    def __init__(
        self,
        environment: str = "staging",
        *,
        base_url: Optional[str] = None,
        timeout: float = 30.0,
        connect_timeout: float = 10.0,
        total_timeout: float = 60.0,
        max_retries: int = 2,
        validation: str = "strict",
        user_agent_suffix: Optional[str] = None,
        proxy: Optional[str] = None,
        root_certificates_pem: Optional[str] = None,
        max_response_bytes: int = 1024 * 1024,
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
    def closed(self) -> bool:
        return self._native.closed

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.base_url!r}, validation={self.validation!r})"


class Client(_Base):
    """The blocking CFIS onboarding client.

    ``Client(environment="staging" | "production", *, base_url=None, timeout=30.0, connect_timeout=10.0,
    total_timeout=60.0, max_retries=2, validation="strict" | "lenient", user_agent_suffix=None, proxy=None,
    root_certificates_pem=None, max_response_bytes=1048576)``. ``base_url`` overrides ``environment`` (plain ``http://`` only for loopback
    hosts, such as the local sandbox). Timeouts are in seconds: ``timeout`` per attempt, ``total_timeout`` for a
    whole call including retries; each must be > 0 and at most 24 hours. ``max_response_bytes`` caps a
    response body (1 KiB..64 MiB): a larger one is :class:`UnexpectedResponseError` (validate) or
    :class:`OutcomeUnknownError` (create, renew).

    Thread-safe: share one client between threads (they share its connection pool). Calls release the GIL
    while the Rust core works. Use it as a context manager, or call :meth:`close`.
    """

    def create_client(self, provisioning_token: Token, new_client: NewClientInput) -> CreatedClient:
        """Creates a client account with the Partner Provisioning Token.

        Validated locally first (every problem at once, :class:`ValidationError`). Never repeated after the
        request may have reached the service: such a failure is :class:`OutcomeUnknownError`. A
        :class:`ConflictError` means the client already exists.
        """
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

    async def create_client(self, provisioning_token: Token, new_client: NewClientInput) -> CreatedClient:
        """Creates a client account; see :meth:`Client.create_client`."""
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
