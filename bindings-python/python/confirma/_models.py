"""Input models for :meth:`confirma.Client.create_client`.

These are plain, immutable data holders. They do not validate: the Rust core validates the request (every
problem at once, with field paths like ``client.email``) when it is sent, exactly as for a ``dict``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any, Dict, Mapping, Optional, Sequence, Tuple, Union

__all__ = ["ServiceType", "ContactRole", "Service", "ClientDetails", "Contact", "NewClient"]


class ServiceType(str, enum.Enum):
    """The CFIS service a client subscribes to. A plain string is accepted wherever this is."""

    LIFECYCLE = "LIFECYCLE"
    INTERMEDIATION = "INTERMEDIATION"
    COOP = "COOP"

    def __str__(self) -> str:
        return self.value


class ContactRole(str, enum.Enum):
    """The role of a contact person. One ``PRIMARY`` contact is required, at most one per role."""

    PRIMARY = "PRIMARY"
    TECHNICAL = "TECHNICAL"
    ACCOUNTANT = "ACCOUNTANT"

    def __str__(self) -> str:
        return self.value


def _wire(value: Any) -> Any:
    return value.value if isinstance(value, enum.Enum) else value


@dataclass(frozen=True)
class Service:
    """The ``service`` section: which service, and your partner code as agreed with Confirma Finance."""

    type: Union[ServiceType, str]
    partner_code: str

    def to_dict(self) -> Dict[str, Any]:
        return {"type": _wire(self.type), "partnerCode": self.partner_code}


@dataclass(frozen=True)
class ClientDetails:
    """The ``client`` section: the company being onboarded."""

    name: str
    business_code: str
    postal_address: str
    postal_code: str
    postal_district: str
    country_code: str
    email: str
    language_code: str
    vat_reg_nbr: Optional[str] = None
    telephone: Optional[str] = None
    website: Optional[str] = None

    def to_dict(self) -> Dict[str, Any]:
        out: Dict[str, Any] = {
            "name": self.name,
            "businessCode": self.business_code,
            "postalAddress": self.postal_address,
            "postalCode": self.postal_code,
            "postalDistrict": self.postal_district,
            "countryCode": self.country_code,
            "email": self.email,
            "languageCode": self.language_code,
        }
        for key, value in (("vatRegNbr", self.vat_reg_nbr), ("telephone", self.telephone), ("website", self.website)):
            if value is not None:
                out[key] = value
        return out


@dataclass(frozen=True)
class Contact:
    """A contact person of the new client."""

    role: Union[ContactRole, str]
    name: str
    email: str
    telephone: Optional[str] = None

    def to_dict(self) -> Dict[str, Any]:
        out: Dict[str, Any] = {"role": _wire(self.role), "name": self.name, "email": self.email}
        if self.telephone is not None:
            out["telephone"] = self.telephone
        return out


@dataclass(frozen=True)
class NewClient:
    """A client to create: ``NewClient(service=Service(...), client=ClientDetails(...), contacts=[Contact(...)])``."""

    service: Service
    client: ClientDetails
    contacts: Tuple[Contact, ...] = field(default_factory=tuple)

    def __init__(self, service: Service, client: ClientDetails, contacts: Sequence[Contact] = ()) -> None:
        object.__setattr__(self, "service", service)
        object.__setattr__(self, "client", client)
        object.__setattr__(self, "contacts", tuple(contacts))

    def to_dict(self) -> Dict[str, Any]:
        """The request body as the API contract shapes it (camelCase keys)."""
        return {
            "service": _part(self.service),
            "client": _part(self.client),
            "contacts": [_part(c) for c in self.contacts],
        }


def _part(value: Any) -> Any:
    to_dict = getattr(value, "to_dict", None)
    return to_dict() if callable(to_dict) else value


def _new_client_value(new_client: Any) -> Any:
    """What the native layer receives: a NewClient becomes its dict, a mapping goes through as it is (the
    core validates its shape and reports problems with field paths); anything else is a TypeError."""
    if isinstance(new_client, NewClient):
        return new_client.to_dict()
    if isinstance(new_client, Mapping):
        return new_client
    raise TypeError(f"new_client must be a confirma.NewClient or a dict, not {type(new_client).__name__}")
