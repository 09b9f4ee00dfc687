"""The automated onboarding flow with confirma-sdk: create a client with the Partner Provisioning Token, store
its access token, validate it at start-up, renew it when needed. Runs against any CFIS URL, e.g. the local
sandbox::

    confirma-sandbox --host 127.0.0.1 --port 0      # prints {"baseUrl", "provisioningToken", "partnerCode"}
    python onboard.py <baseUrl> <provisioningToken> <partnerCode>

(or set CONFIRMA_BASE_URL, CONFIRMA_PROVISIONING_TOKEN, CONFIRMA_PARTNER_CODE). Add ``--async`` to run the
same flow with ``confirma.AsyncClient``.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import sys
from typing import Dict, List, Optional

import confirma


def random_business_id() -> str:
    """A fresh, valid Finnish Business ID, so the demo can run repeatedly against one sandbox."""
    weights = (7, 9, 10, 5, 8, 4, 2)
    while True:
        digits = str(random.randint(1_000_000, 9_999_999))
        r = sum(int(d) * w for d, w in zip(digits, weights)) % 11
        if r != 1:
            return f"{digits}-{0 if r == 0 else 11 - r}"


def onboarding_form(partner_code: str) -> confirma.NewClient:
    """What the client filled in on your onboarding form."""
    business_code = random_business_id()
    return confirma.NewClient(
        service=confirma.Service(type=confirma.ServiceType.LIFECYCLE, partner_code=partner_code),
        client=confirma.ClientDetails(
            name="Testiasiakas Oy",
            business_code=business_code,
            vat_reg_nbr="FI" + business_code.replace("-", ""),
            postal_address="Testikuja 7",
            postal_code="00100",
            postal_district="HELSINKI",
            country_code="FI",
            email="laskutus@testiasiakas.fi",
            website="https://www.testiasiakas.fi",
            language_code="FI",
        ),
        contacts=[
            confirma.Contact(role=confirma.ContactRole.PRIMARY, name="Maija Meikäläinen", email="maija@testiasiakas.fi"),
            confirma.Contact(role=confirma.ContactRole.ACCOUNTANT, name="Tilitoimisto Tarkka", email="kirjanpito@tarkka.fi"),
        ],
    )


# Stand-in for your database: where the client's access token is kept (encrypted, in real life).
vault: Dict[str, str] = {}


def run(base_url: str, provisioning_token: confirma.SecretToken, partner_code: str) -> int:
    with confirma.Client(base_url=base_url) as client:
        # 1. Create the client; keep its access token.
        form = onboarding_form(partner_code)
        try:
            created = client.create_client(provisioning_token, form)
        except confirma.ValidationError as err:
            # Show the problems next to the form fields and let the user fix them.
            for field, problems in err.field_errors.items():
                print(f"  {field}: {'; '.join(problems)}")
            return 1
        except confirma.ConflictError:
            print("This company is already a CFIS client: validate or renew its stored token instead.")
            return 1
        except confirma.OutcomeUnknownError as err:
            if err.recovered_token is not None:
                # The service created the client but its answer lacked the client's identifiers: this is the
                # client's only access token. Store it (a retry would get ConflictError).
                vault["pending:" + form.client.business_code] = err.recovered_token.reveal()
                print(f"Client created, identifiers unknown; its token is stored. Request id {err.request_id}.")
                return 1
            print(f"Unknown whether the client was created ({err.message}); request id {err.request_id}.")
            return 1
        vault[created.client_id] = created.access_token.reveal()
        print(f"created {created!r}")

        # 2. On start-up (or before sensitive operations): is the stored token still good?
        token = vault[created.client_id]
        status = client.validate_token(token)
        print(f"validated: {status!r}")

        # 3. Renew periodically, or when validation says it expired. The old token stops working.
        if not status.is_valid or status.expired or created.token_expires_at is not None:
            renewed = client.renew_token(token)
            vault[created.client_id] = renewed.access_token.reveal()
            print(f"renewed: {renewed!r}")
        assert client.validate_token(vault[created.client_id]).is_valid
    return 0


async def run_async(base_url: str, provisioning_token: confirma.SecretToken, partner_code: str) -> int:
    async with confirma.AsyncClient(base_url=base_url) as client:
        created = await client.create_client(provisioning_token, onboarding_form(partner_code))
        status, _ = await asyncio.gather(
            client.validate_token(created.access_token), asyncio.sleep(0)
        )
        print(f"created {created!r}; validated {status!r}")
        renewed = await client.renew_token(created.access_token)
        print(f"renewed {renewed!r}")
        ok = (await client.validate_token(renewed.access_token)).is_valid
    return 0 if ok else 1


def main(argv: Optional[List[str]] = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    use_async = "--async" in args
    args = [a for a in args if a != "--async"]
    base_url = args[0] if len(args) > 0 else os.environ.get("CONFIRMA_BASE_URL")
    ppt = args[1] if len(args) > 1 else os.environ.get("CONFIRMA_PROVISIONING_TOKEN")
    partner_code = args[2] if len(args) > 2 else os.environ.get("CONFIRMA_PARTNER_CODE")
    if not base_url or not ppt or not partner_code:
        print("usage: python onboard.py <baseUrl> <provisioningToken> <partnerCode> [--async]", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    token = confirma.SecretToken(ppt)  # never printed: repr shows SecretToken('[REDACTED]')
    try:
        if use_async:
            return asyncio.run(run_async(base_url, token, partner_code))
        return run(base_url, token, partner_code)
    except confirma.ConfirmaError as err:
        print(f"onboarding failed: {err} (kind={err.kind}, request id={err.request_id})", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
