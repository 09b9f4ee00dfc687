"""The onboarding form kit through the public API: the schema, field issues with end-user messages in
Finnish, Swedish and English, missing fields, and the issues on ValidationError (client- and server-side)."""

from __future__ import annotations

import asyncio
import copy
import dataclasses
import pickle
from typing import Any, Dict, List

import pytest

import confirma
from conftest import Sandbox, business_id, new_client_dict


def _form(**client: Any) -> Dict[str, Any]:
    form = new_client_dict("QUICK3", bid="1572860-0")
    form["client"].update(client)
    return form


def test_schema_in_each_language() -> None:
    titles = {"fi": "Y-tunnus", "sv": "FO-nummer", "en": "Business ID"}
    for lang, title in titles.items():
        schema = confirma.form_schema(lang)
        assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
        assert schema["properties"]["client"]["properties"]["businessCode"]["title"] == title
        ui = schema["x-confirma-form"]
        assert ui["language"] == lang
        assert [g["id"] for g in ui["groups"]] == ["service", "company", "contacts"]
        assert ui["uiRequirements"][0]["id"] == "acceptTerms" and ui["uiRequirements"][0]["required"] is True
        assert ui["fields"]["service.partnerCode"]["hidden"] is True
        assert set(ui["messages"]) == set(confirma.message_catalog(lang))
    assert confirma.form_schema() == confirma.form_schema("en")
    assert confirma.form_schema("fi-FI")["x-confirma-form"]["language"] == "fi"
    labels = confirma.form_schema("sv")["properties"]["service"]["properties"]["type"]["x-confirma-labels"]
    assert set(labels) == {"LIFECYCLE", "INTERMEDIATION", "COOP"}


def test_unknown_language_and_wrong_types() -> None:
    with pytest.raises(confirma.ConfigurationError, match="`fi`, `sv` or `en`"):
        confirma.form_schema("de")
    with pytest.raises(confirma.ConfigurationError):
        confirma.validate_form({}, language="xx")
    with pytest.raises(confirma.ConfigurationError):
        confirma.validate_form({}, validation="loose")
    with pytest.raises(TypeError):
        confirma.form_schema(3)  # type: ignore[arg-type]
    with pytest.raises(confirma.ConfigurationError):
        confirma.Client(base_url="http://127.0.0.1:1", language="de")


def test_validate_form_gives_codes_and_messages_in_three_languages() -> None:
    assert confirma.validate_form(_form()) == []
    bad = _form(businessCode="1572860-1", vatRegNbr="")
    texts = {}
    for lang in ("fi", "sv", "en"):
        [issue] = confirma.validate_form(bad, language=lang)
        assert isinstance(issue, confirma.FieldIssue)
        assert (issue.field, issue.code) == ("client.businessCode", "business_id_check_digit")
        assert issue.message.startswith("must be a Finnish Business ID"), "developer English unchanged"
        texts[lang] = issue.user_message
    assert texts["fi"].startswith("Y-tunnus ei ole oikein")
    assert texts["sv"].startswith("FO-numret är inte korrekt")
    assert texts["en"].startswith("The Business ID is not correct")
    # Parameters, and lenient mode.
    [vat] = confirma.validate_form(_form(vatRegNbr="FI01120389"), language="fi")
    assert vat.code == "vat_mismatch" and vat.params == {"expected": "FI15728600"}
    assert confirma.validate_form(bad, validation="lenient") == []
    # Every problem at once, any shape, never an exception for a bad form.
    many = confirma.validate_form({"client": {"name": 5, "emial": "x"}, "contacts": [{"role": "BOSS"}]})
    codes = {(i.field, i.code) for i in many}
    assert ("client.name", "type_string") in codes and ("client.emial", "unknown_field") in codes
    assert ("contacts[0].role", "contact_role_unknown") in codes and ("service", "required") in codes
    junks: List[Any] = [[], None, "x", 3]
    for junk in junks:
        [issue] = confirma.validate_form(junk)
        assert (issue.field, issue.code) == ("$", "form_object")
    # A NewClient is a form too.
    nc = confirma.NewClient(
        service=confirma.Service(type="LIFECYCLE", partner_code="QUICK3"),
        client=confirma.ClientDetails(
            name="Testiasiakas Oy",
            business_code="1572860-0",
            postal_address="Testikuja 7",
            postal_code="123",
            postal_district="HELSINKI",
            country_code="FI",
            email="laskutus@testiasiakas.fi",
            language_code="FI",
        ),
        contacts=[confirma.Contact(role="PRIMARY", name="Maija", email="maija@testiasiakas.fi")],
    )
    assert [i.code for i in confirma.validate_form(nc)] == ["postal_code_format"]


def test_field_issue_is_a_frozen_value() -> None:
    [issue] = confirma.validate_form(_form(email="nope"), language="sv")
    with pytest.raises(dataclasses.FrozenInstanceError):
        issue.code = "x"  # type: ignore[misc]
    assert pickle.loads(pickle.dumps(issue)) == issue
    assert issue.user_message == "Kontrollera e-postadressen. Den ska ha formen namn@foretag.fi."


def test_missing_fields_of_a_prefilled_form() -> None:
    prefilled = {"client": {"name": "Testiasiakas Oy", "businessCode": "1572860-0", "countryCode": "FI"}}
    missing = confirma.missing_fields(prefilled, language="fi")
    assert [i.field for i in missing] == [
        "client.email",
        "client.languageCode",
        "client.postalAddress",
        "client.postalCode",
        "client.postalDistrict",
        "contacts",
        "service.type",
    ]
    assert {i.code for i in missing} == {"required"}
    assert {i.user_message for i in missing} == {"Tämä tieto on pakollinen."}
    assert confirma.missing_fields(_form()) == []


def test_message_catalog_has_every_code_in_every_language() -> None:
    catalogs = {lang: confirma.message_catalog(lang) for lang in ("fi", "sv", "en")}
    assert set(catalogs["fi"]) == set(catalogs["sv"]) == set(catalogs["en"])
    assert {"required", "business_id_check_digit", "vat_mismatch", "terms_required"} <= set(catalogs["en"])
    assert catalogs["sv"]["required"] == "Uppgiften är obligatorisk."


def test_client_side_validation_error_carries_issues_in_the_clients_language(sandbox: Sandbox) -> None:
    form = new_client_dict(sandbox.partner_code, bid="1572860-1")
    form["client"]["vatRegNbr"] = ""
    with confirma.Client(base_url=sandbox.base_url, language="FI") as client:
        assert client.language == "fi"
        assert "language='fi'" in repr(client)
        with pytest.raises(confirma.ValidationError) as info:
            client.create_client(sandbox.provisioning_token, form)
    err = info.value
    assert err.source == "client"
    [issue] = err.issues
    assert issue.code == "business_id_check_digit"
    assert issue.user_message.startswith("Y-tunnus ei ole oikein")
    assert err.field_errors == {"client.businessCode": [issue.message]}, "field_errors unchanged"
    # The issues survive pickling and copying with the error.
    assert pickle.loads(pickle.dumps(err)).issues == err.issues
    assert copy.deepcopy(err).issues == err.issues
    # Default language: English.
    with confirma.Client(base_url=sandbox.base_url) as client:
        with pytest.raises(confirma.ValidationError) as info:
            client.create_client(sandbox.provisioning_token, form)
    assert info.value.issues[0].user_message.startswith("The Business ID is not correct")


def test_server_side_validation_error_keeps_the_servers_text_with_a_code(sandbox: Sandbox) -> None:
    # Lenient on the client, so the sandbox (strict) rejects the postal code.
    form = new_client_dict(sandbox.partner_code, bid=business_id())
    form["client"]["postalCode"] = "123"
    with confirma.Client(base_url=sandbox.base_url, validation="lenient", language="sv") as client:
        with pytest.raises(confirma.ValidationError) as info:
            client.create_client(sandbox.provisioning_token, form)
    err = info.value
    assert err.source == "server"
    issue = next(i for i in err.issues if i.field == "client.postalCode")
    assert issue.message in err.field_errors["client.postalCode"], "the server's text"
    assert issue.code == "postal_code_format"
    assert issue.user_message == "Postnumret ska bestå av 5 siffror, till exempel 00100."


def test_async_client_takes_the_language(sandbox: Sandbox) -> None:
    async def main() -> None:
        async with confirma.AsyncClient(base_url=sandbox.base_url, language="sv") as client:
            form = new_client_dict(sandbox.partner_code)
            form["contacts"][0]["email"] = "not-an-email"
            with pytest.raises(confirma.ValidationError) as info:
                await client.create_client(sandbox.provisioning_token, form)
            assert info.value.issues[0].user_message.startswith("Kontrollera e-postadressen")

    asyncio.run(main())
