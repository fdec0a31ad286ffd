"""Fixtures of the storefront's tests."""

from __future__ import annotations

import pytest


@pytest.fixture
def media_root(settings, tmp_path):
    """Rendered PDFs go to a folder of the test's own."""
    settings.MEDIA_ROOT = str(tmp_path)
    settings.MULTITENANT_RELATIVE_MEDIA_ROOT = "%s"
    return tmp_path
