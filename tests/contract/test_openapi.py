"""docs/openapi.yaml is valid OpenAPI and agrees with the code: routes, methods, field rules."""

from __future__ import annotations

import copy
import re
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from openapi_spec_validator import validate

from scripts.check_openapi import function_operations, load_document, operations_of, problems
from users_api.errors import ValidationFailed
from users_api.routing import allowed_methods
from users_api.validation import validate_new_user

DOCUMENT = load_document()
SCHEMAS = DOCUMENT["components"]["schemas"]
VALID = {"name": "Ada Lovelace", "email": "ada@example.com"}


def documented_methods(path: str) -> set[str]:
    return {method for method, documented in operations_of(DOCUMENT) if documented == path}


def test_the_document_is_valid_openapi() -> None:
    validate(DOCUMENT)  # raises on the first violation of the OpenAPI 3.1 schema


def test_the_functions_routes_are_the_documents_operations() -> None:
    # Given the routes the function's router registers, and the document's operations
    routes = function_operations()
    documented = {op for op in operations_of(DOCUMENT) if op[0] != "OPTIONS"}
    # Then they are the same (method, path) pairs
    assert routes == documented


@pytest.mark.parametrize("path", ["/", "/users", "/users/{}"])
def test_the_functions_405_table_allows_the_documents_methods(path: str) -> None:
    # The function's table of methods per path (405 answers, preflights) says the same
    concrete = path.replace("{}", "3f0c9a52-0000-4000-8000-000000000000")
    assert set(allowed_methods(concrete) or ()) == documented_methods(path) - {"OPTIONS"}


def test_the_drift_check_names_a_route_the_document_lost() -> None:
    # Given a document without PUT /users/{userId}
    drifted = copy.deepcopy(DOCUMENT)
    del drifted["paths"]["/users/{userId}"]["put"]
    # When it is checked against the function's routes
    found = problems(drifted, function_operations())
    # Then the check says which route is missing
    assert found == ["the function serves PUT /users/{}, which openapi.yaml does not describe"]


def test_the_drift_check_names_an_operation_the_function_lacks() -> None:
    drifted = copy.deepcopy(DOCUMENT)
    drifted["paths"]["/users"]["patch"] = {**drifted["paths"]["/users"]["post"], "operationId": "x"}
    assert problems(drifted, function_operations()) == [
        "openapi.yaml describes PATCH /users, which the function does not serve"
    ]


def test_the_drift_check_rejects_an_invalid_document() -> None:
    broken = copy.deepcopy(DOCUMENT)
    del broken["info"]
    (problem,) = problems(broken, function_operations())
    assert problem.startswith("openapi.yaml is not a valid OpenAPI document")


# --- field rules: the document accepts exactly what the function accepts ----------------------


def document_accepts(schema: dict[str, Any], value: str) -> bool:
    """JSON Schema's string rules; its `$` ends the text (Python's would allow a final newline)."""
    if len(value) > schema.get("maxLength", len(value)):
        return False
    patterns = [rule["pattern"] for rule in (schema, *schema.get("allOf", ())) if "pattern" in rule]
    ecma = [p.removesuffix("$") + r"\Z" if p.endswith("$") else p for p in patterns]
    return all(re.search(pattern, value) is not None for pattern in ecma)


def function_accepts(field: str, value: str) -> bool:
    try:
        validate_new_user({**VALID, field: value})
    except ValidationFailed:
        return False
    return True


TRICKY = st.sampled_from(
    [" ", "\t", "\n", "\x00", "\x1c", "\x7f", "\x85", "\xa0", "\u2003", "\u3000", "\ufeff", "a"]
)
TEXT = st.one_of(
    st.text(), st.lists(TRICKY).map("".join), st.text(alphabet="a \t\x85", max_size=110)
)


@pytest.mark.parametrize(
    ("field", "schema"),
    [("name", "Name"), ("phone", "Phone"), ("address", "Address"), ("email", "Email")],
)
@settings(max_examples=300, derandomize=True, database=None)
@given(value=TEXT)
@example(value=" " * 3 + "a" * 100 + "\u3000")
@example(value="a" * 101)
@example(value="+44 (20) 7946-0000")
@example(value="x" * 500 + "\n")
@example(value="ada.lovelace+tag@mail.example.co.uk")
@example(value="a" * 65 + "@example.com")
def test_a_field_rule_of_the_document_is_the_functions(field: str, schema: str, value: str) -> None:
    assert document_accepts(SCHEMAS[schema], value) == function_accepts(field, value), repr(value)
