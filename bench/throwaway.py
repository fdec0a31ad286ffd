"""A migration that exists only for a benchmark or a test: ``migration_added``.

The app's migrations are copied into a temporary package with one more after its last,
and ``MIGRATION_MODULES`` points the app there for as long as the block lasts, so the
code's migration state changes exactly as a deploy with that migration would change it.
Worker processes forked inside the block see it too.
"""

from __future__ import annotations

import importlib
import shutil
import sys
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from django.apps import apps
from django.conf import settings
from django.db.migrations.loader import MigrationLoader
from django.test import override_settings

MIGRATION_TEMPLATE = """from django.db import migrations, models  # noqa: F401


class Migration(migrations.Migration):
    dependencies = [({app_label!r}, {leaf!r})]
    operations = [{operations}]
"""


@contextmanager
def migration_added(*, app_label: str, name: str, operations: str) -> Iterator[tuple[str, str]]:
    """``operations`` is the Python source of the migration's operations list items, e.g.
    ``migrations.RunSQL("...", "...")``. Yields the new migration's (app, name)."""
    loader = MigrationLoader(None, ignore_no_migrations=True)
    leaves = [leaf for app, leaf in loader.graph.leaf_nodes() if app == app_label]
    if len(leaves) != 1:
        raise ValueError(f"{app_label} has {len(leaves)} leaf migrations, not one")
    module = settings.MIGRATION_MODULES.get(app_label) or (
        f"{apps.get_app_config(app_label).name}.migrations"
    )
    source = Path(importlib.import_module(module).__file__).parent
    root = Path(tempfile.mkdtemp(prefix="throwaway-migrations-"))
    package = f"throwaway_{app_label}_{uuid.uuid4().hex[:8]}"
    shutil.copytree(source, root / package, ignore=shutil.ignore_patterns("__pycache__"))
    (root / package / f"{name}.py").write_text(
        MIGRATION_TEMPLATE.format(app_label=app_label, leaf=leaves[0], operations=operations)
    )
    sys.path.insert(0, str(root))
    try:
        with override_settings(
            MIGRATION_MODULES={**settings.MIGRATION_MODULES, app_label: package}
        ):
            yield app_label, name
    finally:
        sys.path.remove(str(root))
        for loaded in [key for key in sys.modules if key.split(".")[0] == package]:
            del sys.modules[loaded]
        shutil.rmtree(root, ignore_errors=True)
