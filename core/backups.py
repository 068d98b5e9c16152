"""Backups: a consistent database dump and every stored file, with a manifest of digests; restore; retention.

A backup set is one folder under ``BACKUP_ROOT`` named after its time (UTC), written under a temporary
name and renamed when complete, so a set that is there is whole:

* ``database.dump`` (PostgreSQL: ``pg_dump`` custom format) or ``database.sqlite3`` (SQLite's backup API);
* ``files/<storage>/<name>``: every file of the media storages (statements, scorecards: ``default``) and
  of the private one (admission evidence: ``private``);
* ``manifest.json``: when, the product's commit, the applied migrations, the row count of every table,
  the dump's and every file's SHA-256 and size.

Consistency: on PostgreSQL the row counts are read in a repeatable-read transaction whose snapshot
``pg_dump`` shares (``--snapshot``), so they describe exactly the dump. Files are copied after the dump:
a statement issued meanwhile is on disk but not in the dump (harmless; it is issued again after a
restore, from the same data, to the same bytes).

Restore checks every digest before it changes anything, refuses a database that already has tables
(unless told to replace them) and a backup of migrations this code does not know, then restores the
dump and the files and compares the row counts with the manifest's.

Retention: :func:`backups_prune` deletes sets older than ``BACKUP_RETENTION_DAYS``, never the newest, and
only inside ``BACKUP_ROOT``, which must be outside every media folder: no statement file is ever deleted.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
import shutil
import sqlite3
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from django.conf import settings
from django.core.files import File
from django.core.files.storage import FileSystemStorage, Storage, storages
from django.db import DEFAULT_DB_ALIAS, connections
from django.utils import timezone
from django.utils.translation import gettext as _

from core.errors import ApplicationError
from core.storage import private_storage

FORMAT = 1
MANIFEST = "manifest.json"
SET_PREFIX = "backup-"
SET_NAME = re.compile(r"backup-\d{8}T\d{6}Z(-\d+)?")
CHUNK = 1024 * 1024


class BackupError(ApplicationError):
    """A backup or restore refused or failed; the message says why and what (if anything) was changed."""


@dataclass(frozen=True)
class BackupResult:
    path: Path
    tables: int
    rows: int
    files: int
    bytes: int


@dataclass(frozen=True)
class RestoreResult:
    path: Path
    tables: int
    rows: int
    files: int


# ---- storages and files --------------------------------------------------------------------------


def backed_up_storages() -> dict[str, Storage]:
    """Every storage that holds the product's files (not the static files, which the build makes)."""
    found = {alias: storages[alias] for alias in settings.STORAGES if alias != "staticfiles"}
    found["private"] = private_storage()
    return found


def _local_folder(storage: Storage) -> Path | None:
    return Path(storage.location).resolve() if isinstance(storage, FileSystemStorage) else None


def backup_root_check() -> Path:
    """``BACKUP_ROOT``, refused when it overlaps a media folder (a prune there could delete statements)."""
    root = Path(settings.BACKUP_ROOT).resolve()
    for storage in backed_up_storages().values():
        folder = _local_folder(storage)
        if folder and (root.is_relative_to(folder) or folder.is_relative_to(root)):
            raise BackupError(
                _("BACKUP_ROOT (%(root)s) must be outside the media folders (%(folder)s).")
                % {"root": root, "folder": folder}
            )
    return root


def _walk(storage: Storage, folder: str = "") -> Iterator[str]:
    try:
        folders, files = storage.listdir(folder)
    except FileNotFoundError:
        return
    for name in sorted(files):
        yield f"{folder}/{name}" if folder else name
    for sub in sorted(folders):
        yield from _walk(storage, f"{folder}/{sub}" if folder else sub)


def _copy_with_digest(source, target: Path) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("wb") as out:
        while chunk := source.read(CHUNK):
            digest.update(chunk)
            out.write(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


# ---- the database --------------------------------------------------------------------------------


def _quote(connection, table: str) -> str:
    return connection.ops.quote_name(table)


def _count_rows(cursor, quote, tables: list[str]) -> dict[str, int]:
    counts = {}
    for table in tables:
        cursor.execute(f"SELECT COUNT(*) FROM {quote(table)}")  # noqa: S608 - names from the catalogue, quoted
        counts[table] = cursor.fetchone()[0]
    return counts


def _migrations(cursor) -> list[str]:
    cursor.execute("SELECT app, name FROM django_migrations ORDER BY app, name")
    return [f"{app}.{name}" for app, name in cursor.fetchall()]


def _pg_environment(connection) -> tuple[list[str], dict[str, str]]:
    """Connection arguments for the PostgreSQL client programs, and their environment (the password)."""
    config = connection.settings_dict
    args = ["--dbname", config["NAME"]]
    if config.get("HOST"):
        args += ["--host", config["HOST"]]
    if config.get("PORT"):
        args += ["--port", str(config["PORT"])]
    if config.get("USER"):
        args += ["--username", config["USER"]]
    env = {**os.environ, "PGCONNECT_TIMEOUT": "10"}
    if config.get("PASSWORD"):
        env["PGPASSWORD"] = config["PASSWORD"]
    if sslmode := config.get("OPTIONS", {}).get("sslmode"):
        env["PGSSLMODE"] = sslmode
    return args, env


def _client_major(program: str) -> tuple[int, str]:
    try:
        output = subprocess.run([program, "--version"], capture_output=True, text=True, check=True).stdout  # noqa: S603
    except (OSError, subprocess.CalledProcessError) as exc:
        raise BackupError(_("%(program)s is not available: %(error)s") % {"program": program, "error": exc}) from exc
    version = re.search(r"(\d+)(?:\.(\d+))?", output)
    return int(version.group(1)), version.group(0)


def _run(command: list[str], env: dict[str, str], program: str) -> None:
    result = subprocess.run(command, env=env, capture_output=True, text=True)  # noqa: S603
    if result.returncode != 0:
        raise BackupError(
            _("%(program)s failed: %(error)s") % {"program": program, "error": result.stderr.strip()[-2000:]}
        )


def _dump_postgresql(connection, target: Path) -> dict:
    import psycopg

    client_major, client_version = _client_major("pg_dump")
    args, env = _pg_environment(connection)
    config = connection.settings_dict
    params = {
        "dbname": config["NAME"],
        "user": config.get("USER") or None,
        "password": config.get("PASSWORD") or None,
        "host": config.get("HOST") or None,
        "port": config.get("PORT") or None,
        "sslmode": config.get("OPTIONS", {}).get("sslmode"),
    }
    params = {key: value for key, value in params.items() if value}
    with psycopg.connect(**params, autocommit=False) as snapshot:
        server_major = snapshot.info.server_version // 10000
        if client_major < server_major:
            raise BackupError(
                _(
                    "Backup refused: pg_dump %(client)s is older than the database server (PostgreSQL %(server)s). "
                    "Install the PostgreSQL %(server)s client programs."
                )
                % {"client": client_version, "server": server_major}
            )
        snapshot.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        snapshot.read_only = True
        with snapshot.cursor() as cursor:
            cursor.execute("SELECT pg_export_snapshot()")
            snapshot_id = cursor.fetchone()[0]
            cursor.execute("SELECT tablename FROM pg_tables WHERE schemaname = current_schema() ORDER BY tablename")
            tables = [name for (name,) in cursor.fetchall()]
            counts = _count_rows(cursor, lambda t: _quote(connection, t), tables)
            migrations = _migrations(cursor)
            # The dump reads the same snapshot, while this transaction keeps it alive.
            _run(
                [
                    "pg_dump",
                    *args,
                    "--format=custom",
                    "--no-owner",
                    "--no-privileges",
                    f"--snapshot={snapshot_id}",
                    f"--file={target}",
                ],
                env,
                "pg_dump",
            )
    return {
        "vendor": "postgresql",
        "server_version": server_major,
        "pg_dump_version": client_version,
        "row_counts": counts,
        "migrations": migrations,
    }


def _dump_sqlite(connection, target: Path) -> dict:
    connection.ensure_connection()
    with sqlite3.connect(target) as copy:
        # SQLite's online backup: a consistent copy even while others write.
        connection.connection.backup(copy)
    with sqlite3.connect(target) as copy:
        cursor = copy.cursor()
        cursor.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
        tables = [name for (name,) in cursor.fetchall()]
        counts = _count_rows(cursor, lambda t: _quote(connection, t), tables)
        migrations = _migrations(cursor)
    copy.close()
    return {"vendor": "sqlite", "row_counts": counts, "migrations": migrations}


def _product_commit() -> str | None:
    try:
        result = subprocess.run(
            ["git", "rev-parse", "HEAD"],  # noqa: S607 - the checkout's own git, if any
            cwd=settings.BASE_DIR,
            capture_output=True,
            text=True,
            timeout=5,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return (result.stdout.strip() or None) if result.returncode == 0 else None


# ---- backup --------------------------------------------------------------------------------------


def _set_name(root: Path, now: dt.datetime) -> str:
    name = f"{SET_PREFIX}{now.astimezone(dt.UTC):%Y%m%dT%H%M%SZ}"
    candidate, n = name, 1
    while (root / candidate).exists():
        n += 1
        candidate = f"{name}-{n}"
    return candidate


def backup_create(*, using: str = DEFAULT_DB_ALIAS) -> BackupResult:
    """Write a new backup set under ``BACKUP_ROOT``; returns where, and what it holds."""
    root = backup_root_check()
    root.mkdir(parents=True, exist_ok=True)
    now = timezone.now()
    name = _set_name(root, now)
    work = root / f".incomplete-{name}-{uuid.uuid4().hex[:8]}"
    work.mkdir()
    try:
        connection = connections[using]
        if connection.in_atomic_block:
            # The dump would miss this transaction's writes (PostgreSQL) or wait for ever on them (SQLite).
            raise BackupError(_("Backups run outside a database transaction."))
        if connection.vendor == "postgresql":
            dump_name = "database.dump"
            database = _dump_postgresql(connection, work / dump_name)
        elif connection.vendor == "sqlite":
            dump_name = "database.sqlite3"
            database = _dump_sqlite(connection, work / dump_name)
        else:
            raise BackupError(
                _("Backups support PostgreSQL and SQLite, not %(vendor)s.") % {"vendor": connection.vendor}
            )
        files = []
        for alias, storage in backed_up_storages().items():
            for stored in _walk(storage):
                relative = PurePosixPath("files", alias, stored)
                with storage.open(stored, "rb") as source:
                    sha256, size = _copy_with_digest(source, work / relative)
                files.append({"storage": alias, "name": stored, "path": str(relative), "sha256": sha256, "size": size})
        counts = database.pop("row_counts")
        manifest = {
            "format": FORMAT,
            "created_at": now.astimezone(dt.UTC).isoformat(),
            "product": {"commit": _product_commit(), "api_version": settings.SPECTACULAR_SETTINGS.get("VERSION")},
            "database": {
                **database,
                "file": dump_name,
                "sha256": file_sha256(work / dump_name),
                "size": (work / dump_name).stat().st_size,
            },
            "row_counts": counts,
            "files": files,
        }
        (work / MANIFEST).write_text(json.dumps(manifest, ensure_ascii=False, indent=2), encoding="utf-8")
        work.rename(root / name)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return BackupResult(
        path=root / name,
        tables=len(counts),
        rows=sum(counts.values()),
        files=len(files),
        bytes=sum(f["size"] for f in files) + manifest["database"]["size"],
    )


# ---- restore -------------------------------------------------------------------------------------


def manifest_read(path: Path) -> dict:
    try:
        manifest = json.loads((path / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise BackupError(_("Restore refused: %(path)s has no readable manifest.json.") % {"path": path}) from exc
    if manifest.get("format") != FORMAT:
        raise BackupError(_("Restore refused: %(path)s is not a backup this version can read.") % {"path": path})
    return manifest


def _inside(path: Path, relative: str) -> Path:
    target = (path / relative).resolve()
    if not target.is_relative_to(path.resolve()):
        raise BackupError(
            _("Restore refused: the manifest names a file outside the backup: %(name)s") % {"name": relative}
        )
    return target


def backup_verify(path: Path, manifest: dict) -> list[str]:
    """The backup's files (the dump included) that are missing or differ from the manifest's digests."""
    entries = [(manifest["database"]["file"], manifest["database"]["sha256"])]
    entries += [(f["path"], f["sha256"]) for f in manifest["files"]]
    problems = []
    for relative, sha256 in entries:
        target = _inside(path, relative)
        if not target.is_file() or file_sha256(target) != sha256:
            problems.append(relative)
    return problems


def _existing_tables(connection) -> list[str]:
    with connection.cursor() as cursor:
        return connection.introspection.table_names(cursor)


def _restore_postgresql(connection, path: Path, manifest: dict, *, replace: bool) -> None:
    client_major, client_version = _client_major("pg_restore")
    dumped_with = manifest["database"].get("pg_dump_version", "0")
    if client_major < int(dumped_with.split(".")[0]):
        raise BackupError(
            _("Restore refused: pg_restore %(client)s is older than the pg_dump %(dump)s that wrote the backup.")
            % {"client": client_version, "dump": dumped_with}
        )
    args, env = _pg_environment(connection)
    connection.close()  # no session of this process holds a lock on what is replaced
    command = ["pg_restore", *args, "--no-owner", "--no-privileges", "--exit-on-error", "--single-transaction"]
    if replace:
        command += ["--clean", "--if-exists"]
    _run([*command, str(path / manifest["database"]["file"])], env, "pg_restore")


def _restore_sqlite(connection, path: Path, manifest: dict) -> None:
    connection.ensure_connection()
    with sqlite3.connect(path / manifest["database"]["file"]) as source:
        source.backup(connection.connection)
    source.close()
    connection.close()


def _stored_sha256(storage: Storage, name: str) -> str:
    digest = hashlib.sha256()
    with storage.open(name, "rb") as current:
        while chunk := current.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _restore_files(manifest: dict, path: Path, storages_by_alias: dict[str, Storage]) -> None:
    for entry in manifest["files"]:
        storage = storages_by_alias[entry["storage"]]
        if storage.exists(entry["name"]):
            if _stored_sha256(storage, entry["name"]) == entry["sha256"]:
                continue  # already there, the same bytes
            storage.delete(entry["name"])  # only with --replace: checked before anything was changed
        with _inside(path, entry["path"]).open("rb") as content:
            saved = storage.save(entry["name"], File(content))
        if saved != entry["name"]:
            raise BackupError(
                _("The file %(name)s was restored as %(saved)s.") % {"name": entry["name"], "saved": saved}
            )


def _files_in_the_way(manifest: dict, storages_by_alias: dict[str, Storage]) -> list[str]:
    """Files already stored under a name the backup restores, with other content."""
    in_the_way = []
    for entry in manifest["files"]:
        storage = storages_by_alias[entry["storage"]]
        if storage.exists(entry["name"]) and _stored_sha256(storage, entry["name"]) != entry["sha256"]:
            in_the_way.append(f"{entry['storage']}/{entry['name']}")
    return in_the_way


def _shown(names: list[str], limit: int = 5) -> str:
    shown = ", ".join(names[:limit])
    return shown + (_(" and %(count)d more") % {"count": len(names) - limit} if len(names) > limit else "")


def backup_restore(*, path: Path, replace: bool = False, using: str = DEFAULT_DB_ALIAS) -> RestoreResult:
    """Restore a backup set into the database ``using`` and the storages. Nothing is changed when refused."""
    from django.db.migrations.loader import MigrationLoader

    path = Path(path)
    manifest = manifest_read(path)
    problems = backup_verify(path, manifest)
    if problems:
        raise BackupError(
            _(
                "Restore refused: %(count)d files of the backup are missing or differ from its manifest "
                "(%(files)s). Nothing was changed."
            )
            % {"count": len(problems), "files": _shown(problems)}
        )
    connection = connections[using]
    vendor = manifest["database"]["vendor"]
    if vendor != connection.vendor:
        raise BackupError(
            _("Restore refused: the backup is of a %(backup)s database, this one is %(current)s.")
            % {"backup": vendor, "current": connection.vendor}
        )
    known = {f"{app}.{name}" for app, name in MigrationLoader(None, ignore_no_migrations=True).disk_migrations}
    unknown = sorted(set(manifest["database"]["migrations"]) - known)
    if unknown:
        raise BackupError(
            _(
                "Restore refused: the backup has migrations this code does not know (%(migrations)s); "
                "restore it with the release that made it."
            )
            % {"migrations": _shown(unknown)}
        )
    storages_by_alias = backed_up_storages()
    missing = sorted({f["storage"] for f in manifest["files"]} - set(storages_by_alias))
    if missing:
        raise BackupError(
            _("Restore refused: the backup names unknown storages: %(names)s.") % {"names": _shown(missing)}
        )
    tables = _existing_tables(connection)
    if tables and not replace:
        raise BackupError(
            _(
                "Restore refused: the database already has %(count)d tables. Restore into an empty database "
                "(created, not migrated), or pass --replace to replace its contents."
            )
            % {"count": len(tables)}
        )
    in_the_way = _files_in_the_way(manifest, storages_by_alias)
    if in_the_way and not replace:
        raise BackupError(
            _(
                "Restore refused: %(count)d stored files differ from the backup's under the same name (%(files)s). "
                "Pass --replace to overwrite them."
            )
            % {"count": len(in_the_way), "files": _shown(in_the_way)}
        )
    if vendor == "postgresql":
        _restore_postgresql(connection, path, manifest, replace=replace)
    else:
        _restore_sqlite(connection, path, manifest)
    _restore_files(manifest, path, storages_by_alias)
    counts = manifest["row_counts"]
    with connection.cursor() as cursor:
        restored = _count_rows(cursor, lambda t: _quote(connection, t), list(counts))
    differ = sorted(table for table in counts if restored[table] != counts[table])
    if differ:
        raise BackupError(
            _("The restored database's row counts differ from the backup's: %(tables)s.") % {"tables": _shown(differ)}
        )
    from django.contrib.contenttypes.models import ContentType

    ContentType.objects.clear_cache()
    return RestoreResult(path=path, tables=len(counts), rows=sum(counts.values()), files=len(manifest["files"]))


# ---- retention -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class BackupSet:
    path: Path
    created_at: dt.datetime


def backup_sets() -> list[BackupSet]:
    """The complete backup sets under ``BACKUP_ROOT``, oldest first (folders without a readable manifest are not)."""
    root = Path(settings.BACKUP_ROOT)
    found = []
    for folder in root.iterdir() if root.is_dir() else []:
        if not (folder.is_dir() and SET_NAME.fullmatch(folder.name)):
            continue
        try:
            created = dt.datetime.fromisoformat(json.loads((folder / MANIFEST).read_text())["created_at"])
        except (OSError, ValueError, KeyError):
            continue
        found.append(BackupSet(path=folder, created_at=created))
    return sorted(found, key=lambda s: (s.created_at, s.path.name))


def backups_prune(*, now: dt.datetime | None = None) -> list[BackupSet]:
    """Delete the backup sets older than ``BACKUP_RETENTION_DAYS``, never the newest; returns those deleted.

    Only folders directly under ``BACKUP_ROOT`` that are backup sets (their name and a manifest) are
    deleted, and ``BACKUP_ROOT`` is never a media folder: statements and evidence are out of reach.
    """
    backup_root_check()
    cutoff = (now or timezone.now()) - dt.timedelta(days=settings.BACKUP_RETENTION_DAYS)
    sets = backup_sets()
    expired = [s for s in sets[:-1] if s.created_at < cutoff]
    for backup in expired:
        shutil.rmtree(backup.path)
    return expired
