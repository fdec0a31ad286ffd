"""Backing up one tenant and moving it to another installation.

An export is a tar file with:

- ``manifest.json``: the format version, the schema name, the PostgreSQL version, and the
  tenant's ``Tenant`` and ``Domain`` rows (they live in ``public``, outside the dump);
- ``schema.dump``: ``pg_dump --schema=<schema> --format=custom`` of the tenant's schema;
- ``media/``: the tenant's folder under MEDIA_ROOT (invoice PDFs, logos).

An import restores the dump under the same or a new schema name. pg_restore cannot
rename a schema, and the original name may be taken (the same tenant still lives here, or
a backup is restored next to it), so pg_restore writes the script and the schema
qualifier is rewritten in its DDL before psql runs it; the data blocks pass through
untouched. Provider-side rows (the reseller account's balance and upstream services in
``public``) are not part of a tenant's export; an imported reseller gets a new, empty
account at the provider.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tarfile
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core import serializers
from django.db import connection, transaction
from django_tenants.utils import get_public_schema_name, schema_exists

from tenants.due_work import due_work_mark_all
from tenants.models import Domain, Tenant
from tenants.services import (
    CITUS_SCHEMA_SHARDING,
    hostname_validate,
    schema_distribute,
    schema_name_validate,
)

FORMAT_VERSION = 1
MANIFEST = "manifest.json"
DUMP = "schema.dump"
MEDIA = "media"

# What other apps keep about a tenant outside its schema (resale: a reseller's account at
# the provider) is made again by them, in the transaction that restores the tenant's rows;
# each app adds its listener in its AppConfig.ready.
tenant_imported_listeners: list[Callable[[Tenant], None]] = []


class BackupError(Exception):
    pass


def _server_major() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version_num")
        return int(cursor.fetchone()[0]) // 10000


def _tool_major(path: str) -> int | None:
    try:
        output = subprocess.run(
            [path, "--version"], capture_output=True, text=True, check=True, timeout=30
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    match = re.search(r"\)\s*(\d+)", output) or re.search(r"(\d+)\.\d+", output)
    return int(match.group(1)) if match else None


def pg_tool(name: str) -> str:
    """The client tool matching the server: a dump made by an older pg_dump than the
    server is refused, and the packaged binary on PATH may be another major version."""
    major = _server_major()
    candidates = [f"/usr/lib/postgresql/{major}/bin/{name}"]
    candidates += sorted(
        (str(p) for p in Path("/usr/lib/postgresql").glob(f"*/bin/{name}")),
        key=lambda p: -int(p.split("/")[4]) if p.split("/")[4].isdigit() else 0,
    )
    on_path = shutil.which(name)
    if on_path:
        candidates.append(on_path)
    # The embedded server of `make run` / `make test` (pgserver) ships its own tools.
    try:
        # pgserver is a development dependency: only a local restore without pg_restore uses it.
        import pgserver

        candidates.append(str(Path(pgserver.__file__).parent / "pginstall" / "bin" / name))
    except ImportError:
        pass
    for candidate in candidates:
        if os.access(candidate, os.X_OK):
            found = _tool_major(candidate)
            if found is not None and found >= major:
                return candidate
    raise BackupError(f"No {name} of PostgreSQL {major} or later was found on this machine.")


def _connection_args() -> tuple[list[str], dict[str, str]]:
    db = connection.settings_dict
    args = ["--dbname", db["NAME"]]
    if db.get("HOST"):
        args += ["--host", db["HOST"]]
    if db.get("PORT"):
        args += ["--port", str(db["PORT"])]
    if db.get("USER"):
        args += ["--username", db["USER"]]
    env = dict(os.environ)
    if db.get("PASSWORD"):
        env["PGPASSWORD"] = db["PASSWORD"]
    return args, env


def _run(command: list[str], env: dict[str, str], **kwargs: Any) -> None:
    result = subprocess.run(command, env=env, capture_output=True, text=True, **kwargs)
    if result.returncode != 0:
        raise BackupError(f"{Path(command[0]).name} failed: {result.stderr.strip()[-2000:]}")


def _rows(queryset: Any) -> list[dict[str, Any]]:
    return [
        {"pk": item["pk"], **item["fields"]} for item in serializers.serialize("python", queryset)
    ]


def media_dir(schema_name: str) -> Path:
    return Path(settings.MEDIA_ROOT) / (settings.MULTITENANT_RELATIVE_MEDIA_ROOT % schema_name)


def tenant_export(*, schema_name: str, out: Path | str) -> Path:
    """Writes the tenant of ``schema_name`` to the tar file ``out``."""
    out = Path(out)
    connection.set_schema_to_public()
    tenant = Tenant.objects.filter(schema_name=schema_name).first()
    if tenant is None or schema_name == get_public_schema_name():
        raise BackupError(f"There is no tenant with the schema “{schema_name}”.")
    manifest = {
        "format": FORMAT_VERSION,
        "schema": schema_name,
        "postgresql": _server_major(),
        "tenant": _rows(Tenant.objects.filter(pk=tenant.pk))[0],
        "domains": _rows(Domain.objects.filter(tenant=tenant).order_by("-is_primary", "id")),
    }
    args, env = _connection_args()
    with tempfile.TemporaryDirectory() as work:
        dump = Path(work) / DUMP
        _run(
            [
                pg_tool("pg_dump"),
                *args,
                f"--schema={schema_name}",
                "--format=custom",
                "--no-owner",
                "--no-privileges",
                "--file",
                str(dump),
            ],
            env,
        )
        manifest_path = Path(work) / MANIFEST
        manifest_path.write_text(json.dumps(manifest, indent=2, default=str))
        out.parent.mkdir(parents=True, exist_ok=True)
        with tarfile.open(out, "w") as archive:
            archive.add(manifest_path, arcname=MANIFEST)
            archive.add(dump, arcname=DUMP)
            media = media_dir(schema_name)
            if media.is_dir():
                archive.add(media, arcname=MEDIA)
    return out


def _ddl_rewrite(source: Path, target: Path, old: str, new: str) -> None:
    qualifier = re.compile(rf'(?<![\w"])("{re.escape(old)}"|{re.escape(old)})(?=\.)')
    schema_stmt = re.compile(
        rf'^(CREATE|ALTER|COMMENT ON) SCHEMA ("{re.escape(old)}"|{re.escape(old)})\b'
    )
    quoted_new = '"' + new.replace('"', '""') + '"'
    in_data = False
    with source.open(encoding="utf-8") as reader, target.open("w", encoding="utf-8") as writer:
        # On a Citus coordinator with schema-based sharding the schema would be distributed
        # at its CREATE SCHEMA, and Citus refuses on distributed tables the ALTER TABLE …
        # ADD GENERATED … AS IDENTITY that pg_dump writes after each CREATE TABLE. The
        # schema is restored as a plain one (psql runs the script in one transaction,
        # which this setting lasts for) and distributed once complete (schema_distribute).
        writer.write(f"SELECT pg_catalog.set_config('{CITUS_SCHEMA_SHARDING}', 'off', true);\n")
        for line in reader:
            if in_data:
                # Row data of a COPY block: values are never touched.
                writer.write(line)
                if line == "\\.\n":
                    in_data = False
                continue
            if line.startswith("--"):
                writer.write(line)
                continue
            line = schema_stmt.sub(lambda m: f"{m.group(1)} SCHEMA {quoted_new}", line)
            line = qualifier.sub(quoted_new, line)
            writer.write(line)
            if line.startswith("COPY ") and line.rstrip().endswith("FROM stdin;"):
                in_data = True


def _safe_members(archive: tarfile.TarFile, prefix: str) -> list[tarfile.TarInfo]:
    members = []
    for member in archive.getmembers():
        if not (member.name == prefix or member.name.startswith(prefix + "/")):
            continue
        if member.issym() or member.islnk() or ".." in Path(member.name).parts:
            raise BackupError(f"Refusing a suspicious path in the archive: {member.name}")
        members.append(member)
    return members


def tenant_import(
    *, archive_path: Path | str, schema_name: str | None = None, domain: str | None = None
) -> Tenant:
    """Restores an export as a new tenant of this installation, under ``schema_name``
    (default: its original schema) and, when given, ``domain`` as its only host."""
    connection.set_schema_to_public()
    with tarfile.open(archive_path, "r") as archive:
        manifest = json.loads(archive.extractfile(MANIFEST).read())
        if manifest.get("format") != FORMAT_VERSION:
            raise BackupError(f"Unknown export format {manifest.get('format')!r}.")
        old = manifest["schema"]
        new = schema_name_validate(schema_name or old)
        if schema_exists(new) or Tenant.objects.filter(schema_name=new).exists():
            raise BackupError(f"The schema “{new}” already exists here.")
        domains = manifest["domains"]
        if domain:
            domains = [
                {"domain": hostname_validate(domain), "is_primary": True, "is_verified": True}
            ]
        taken = Domain.objects.filter(domain__in=[d["domain"] for d in domains])
        if taken.exists():
            raise BackupError(
                f"The host “{taken.first().domain}” already belongs to a tenant here."
            )
        tenant_fields = {
            k: v for k, v in manifest["tenant"].items() if k not in ("pk", "schema_name")
        }
        if new != old:
            tenant_fields["slug"] = new.replace("_", "-")
        if Tenant.objects.filter(slug=tenant_fields["slug"]).exists():
            raise BackupError(
                f"A tenant with the short name “{tenant_fields['slug']}” exists here."
            )

        with tempfile.TemporaryDirectory() as work:
            work_dir = Path(work)
            archive.extract(DUMP, work_dir, filter="data")
            script = work_dir / "restore.sql"
            rewritten = work_dir / "restore-renamed.sql"
            args, env = _connection_args()
            _run(
                [
                    pg_tool("pg_restore"),
                    "--no-owner",
                    "--no-privileges",
                    "--file",
                    str(script),
                    str(work_dir / DUMP),
                ],
                env,
            )
            _ddl_rewrite(script, rewritten, old, new)
            _run(
                [
                    pg_tool("psql"),
                    *args,
                    "--no-psqlrc",
                    "--quiet",
                    "--set",
                    "ON_ERROR_STOP=1",
                    "--single-transaction",
                    "--file",
                    str(rewritten),
                ],
                env,
            )
            media_members = _safe_members(archive, MEDIA)
            try:
                schema_distribute(new)
                tenant = _rows_create(tenant_fields, new, domains)
            except Exception:
                with connection.cursor() as cursor:
                    cursor.execute(f'DROP SCHEMA IF EXISTS "{new}" CASCADE')
                raise
            if media_members:
                staging = work_dir / "media-extract"
                archive.extractall(staging, members=media_members, filter="data")
                target = media_dir(new)
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copytree(staging / MEDIA, target, dirs_exist_ok=True)
    return tenant


@transaction.atomic
def _rows_create(tenant_fields: dict[str, Any], schema_name: str, domains: list[dict]) -> Tenant:
    tenant = Tenant(schema_name=schema_name)
    for name, value in tenant_fields.items():
        field = Tenant._meta.get_field(name)
        setattr(tenant, field.attname, field.to_python(value))
    tenant.save()
    for row in domains:
        Domain.objects.create(
            tenant=tenant,
            domain=row["domain"],
            is_primary=row.get("is_primary", False),
            is_verified=row.get("is_verified", False),
        )
    # The restored rows came by COPY, which marks nothing: the first sweeps look.
    due_work_mark_all(schema_name=schema_name)
    for listener in tenant_imported_listeners:
        listener(tenant)
    return tenant
