"""Compliance fixtures: the small fixture library loaded, and a compliance officer of tenant A."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.compliance.loader import load_library
from app.core.actors import system_actor
from app.core.tenancy import tenant_context

FIXTURES = Path(__file__).parent / "fixtures"
LIBRARY = FIXTURES / "library"


@pytest.fixture
def library():
    """The fixture library (EU AI Act, AI RMF, SOC 2 slices and four default controls)."""
    return load_library(LIBRARY)


@pytest.fixture
def officer(tenant_a):
    """A system actor of tenant A with the tenant context open (services are called directly)."""
    with tenant_context(tenant_a):
        yield system_actor(tenant_a, "test")
