"""Confirma Finance Integrations (CFIS) onboarding SDK.

Create client accounts with the Partner Provisioning Token, validate client access tokens and renew them::

    import confirma

    with confirma.Client("staging") as client:
        status = client.validate_token(token)
        if status.expired:
            renewed = client.renew_token(token)
            store(renewed.access_token.reveal())

:class:`AsyncClient` offers the same methods as coroutines. To keep tokens alive for years, let a
:class:`TokenManager` (or :class:`AsyncTokenManager`) renew them over a store::

    store = confirma.SqliteStore("credentials.db")          # key: CONFIRMA_STORE_KEY
    with confirma.Client("staging") as client, confirma.TokenManager(client, store) as manager:
        created = client.create_client(provisioning_token, form, store=store)
        token = manager.token(created.client_id)             # from memory; renewed when due

 Errors are :class:`ConfirmaError` subclasses. Log
records go to the ``confirma`` logger; they never contain a token. The work is done by a Rust core (native
module ``confirma._native``).
"""

import atexit as _atexit
import os as _os

from . import _native
from ._client import AsyncClient, Client, NewClientInput, Token
from ._errors import (
    AuthenticationError,
    ConfigurationError,
    ConfirmaError,
    ConflictError,
    InternalError,
    StorageError,
    CredentialsLostError,
    NetworkError,
    OutcomeUnknownError,
    PermissionDeniedError,
    RateLimitError,
    ServiceUnavailableError,
    TimeoutError,
    UnexpectedResponseError,
    ValidationError,
)
from ._form import FieldIssue, form_schema, message_catalog, missing_fields, validate_form
from ._lifecycle import (
    AsyncEventStream,
    AsyncTokenManager,
    CredentialStatus,
    CredentialStore,
    EventRow,
    EventStream,
    MemoryStore,
    PostgresStore,
    SqliteStore,
    StoreRow,
    TokenEvent,
    TokenManager,
    check_store,
)
from ._models import ClientDetails, Contact, ContactRole, NewClient, Service, ServiceType
from ._native import CORE_VERSION as _CORE_VERSION
from ._native import CreatedClient, RenewedToken, SecretToken, TokenStatus
from ._native import __version__ as __version__

__all__ = [
    "Client",
    "AsyncClient",
    "Token",
    "NewClientInput",
    "SecretToken",
    "CreatedClient",
    "TokenStatus",
    "RenewedToken",
    "NewClient",
    "Service",
    "ClientDetails",
    "Contact",
    "ServiceType",
    "ContactRole",
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
    "TokenManager",
    "AsyncTokenManager",
    "SqliteStore",
    "PostgresStore",
    "MemoryStore",
    "CredentialStore",
    "StoreRow",
    "EventRow",
    "check_store",
    "CredentialStatus",
    "TokenEvent",
    "EventStream",
    "AsyncEventStream",
    "FieldIssue",
    "form_schema",
    "validate_form",
    "missing_fields",
    "message_catalog",
]

# Runtime threads stop entering Python before the interpreter finalizes (see src/runtime.rs).
_atexit.register(_native._shutdown)
# ... and before that (atexit runs last-registered first), open token managers are closed: their listener
# threads end before the interpreter finalizes.
from ._lifecycle import _close_all as _close_all_managers  # noqa: E402

_atexit.register(_close_all_managers)
if hasattr(_os, "register_at_fork"):
    _os.register_at_fork(after_in_child=_native._after_fork_child)

del _CORE_VERSION, _close_all_managers
