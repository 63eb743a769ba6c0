"""Files through Django's `default` storage: the local MEDIA_ROOT, or an S3-compatible object
store shared by every machine when settings.AWS_STORAGE_BUCKET_NAME is set.

Names are relative to the storage's root (what FileFields hold: "pieces/midi/piece_3_0.mid"),
so rows written before the object store keep working against MEDIA_ROOT. Nothing here reads
or writes a path a request chose: callers build names from rows and hashes.

Code that needs a file on the local disk (TensorFlow loading a `.keras` file, the audio way
reading a recording) asks `local_copy(name)`: on the local filesystem that is the file itself;
with an object store it is a copy under settings.FILE_CACHE_DIR keyed by the object's content
(its ETag, the MD5 of its bytes for files stored in one part), so each machine downloads a
given content once and a changed file (same name, new content) gets a new copy. The copies
are bounded (settings.FILE_CACHE_MAX_MB): `file_cache_prune` deletes those used longest ago,
after each new copy and on the beat's schedule.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import shutil
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.core.files.base import ContentFile, File
from django.core.files.storage import FileSystemStorage, Storage, default_storage

log = logging.getLogger(__name__)


def storage() -> Storage:
    """The site's file storage (settings.STORAGES["default"])."""
    return default_storage


def is_local() -> bool:
    """The storage is a folder on this machine's disk (MEDIA_ROOT)."""
    return isinstance(default_storage, FileSystemStorage)


def write_atomic(path: Path, data: bytes) -> None:
    """Write `path` under a temporary name and rename it into place: a reader sees the old
    file or the whole new one, never half of it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def file_write(name: str, data: bytes) -> str:
    """Store `data` under exactly `name` (replacing what was there); returns the name."""
    if is_local():
        write_atomic(Path(default_storage.path(name)), data)
        return name
    # S3Storage overwrites (AWS_S3_FILE_OVERWRITE) and a PUT is atomic: readers see the old
    # object or the new one.
    return default_storage.save(name, ContentFile(data))


def file_put(name: str, path: Path) -> str:
    """Store the local file `path` under exactly `name` (streamed, not read into memory)."""
    if is_local():
        dest = Path(default_storage.path(name))
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=".tmp-")
        os.close(fd)
        try:
            shutil.copyfile(path, tmp)
            os.replace(tmp, dest)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return name
    with open(path, "rb") as fh:
        return default_storage.save(name, File(fh, name=Path(name).name))


def file_read(name: str) -> bytes:
    """The bytes stored under `name`; FileNotFoundError when there are none."""
    with default_storage.open(name, "rb") as fh:
        return fh.read()


# Bytes read (and sent) at a time when a stored file is streamed (4 KiB-8 MiB): what one slice
# of an answer holds in memory, whatever the file's size.
STREAM_CHUNK_BYTES = 64 * 1024


class FileSlices:
    """A stored file opened for reading byte ranges, reading only the bytes asked for.

    On the local disk the file is opened once and seeked (a file replaced meanwhile, by
    `write_atomic`'s rename, is read as it was when opened). In an object store the object
    is looked up once (a HEAD, for its size) and a range is one ranged GET, streamed:
    django-storages' S3File would download the whole object before the first read. Any
    other storage is opened and seeked. FileNotFoundError when nothing is stored under
    `name`; SuspiciousFileOperation for a name outside the storage."""

    def __init__(self, name: str) -> None:
        self._object = None
        if is_local():
            self._fh = open(default_storage.path(name), "rb")  # noqa: SIM115 (closed by slice)
            self.size = os.fstat(self._fh.fileno()).st_size
            return
        self._fh = default_storage.open(name, "rb")
        obj = getattr(self._fh, "obj", None)  # S3File: the boto3 Object, loaded by a HEAD
        if obj is not None and hasattr(obj, "get") and hasattr(obj, "content_length"):
            self._object, self.size = obj, int(obj.content_length)
        else:
            self.size = int(self._fh.size)

    def slice(self, start: int, length: int, chunk: int = STREAM_CHUNK_BYTES) -> Iterator[bytes]:
        """`length` bytes from byte `start`, `chunk` bytes at a time; closes the file when
        done (or when the reader stops early)."""
        try:
            if length <= 0:
                return
            if self._object is not None:
                body = self._object.get(Range=f"bytes={start}-{start + length - 1}")["Body"]
                try:
                    yield from body.iter_chunks(chunk)
                finally:
                    body.close()
                return
            self._fh.seek(start)
            left = length
            while left > 0:
                data = self._fh.read(min(chunk, left))
                if not data:
                    break
                left -= len(data)
                yield data
        finally:
            self.close()

    def close(self) -> None:
        self._fh.close()


def file_exists(name: str) -> bool:
    return bool(name) and default_storage.exists(name)


def file_delete(name: str) -> None:
    """Remove `name` (nothing happens when it is not there)."""
    default_storage.delete(name)


def local_copy(name: str) -> Path:
    """A file on this machine's disk with the content stored under `name`.

    The local filesystem storage gives its own file; an object store's file is downloaded
    once per content into settings.FILE_CACHE_DIR/<key>/<file name> (the file name is kept:
    Keras reads the format from the suffix). FileNotFoundError when nothing is stored."""
    if is_local():
        path = Path(default_storage.path(name))
        if not path.is_file():
            raise FileNotFoundError(f"{name} is not in the media folder")
        return path
    key = content_key(name)
    dest = Path(settings.FILE_CACHE_DIR) / key[:2] / key / Path(name).name
    if dest.is_file():
        try:  # used now: the last to be pruned (access times are not kept on every disk)
            os.utime(dest)
            return dest
        except FileNotFoundError:  # pruned this instant by another process: fetch it again
            pass
    fd, tmp = _temporary_in(dest.parent)
    try:
        with os.fdopen(fd, "wb") as out, default_storage.open(name, "rb") as src:
            shutil.copyfileobj(src, out, 1024 * 1024)
        os.replace(tmp, dest)  # two processes fetching at once both end with a whole file
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    file_cache_prune()  # this machine's copies stay within FILE_CACHE_MAX_MB
    return dest


def _temporary_in(folder: Path) -> tuple[int, str]:
    """A new temporary file in `folder`, made with it; a prune that removed the folder the
    instant after it was made (it was empty) is met by making it again."""
    for attempt in range(3):
        folder.mkdir(parents=True, exist_ok=True)
        try:
            return tempfile.mkstemp(dir=folder, prefix=".tmp-")
        except FileNotFoundError:
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


# A copy's folder is named by its content key (`content_key`): only these are pruned, never the
# "scratch" folder where training and the index write files on their way to the storage.
_KEY_FOLDER = re.compile(r"^(s3|sha256)-[0-9A-Za-z_-]+$")
# Seconds after which a temporary file of a download that never finished (its process was
# killed) is deleted too.
_STALE_TMP_S = 3600


@dataclass(frozen=True)
class CachePruned:
    """What one pruning of FILE_CACHE_DIR found and did (sizes in bytes)."""

    kept_bytes: int
    removed_files: int
    removed_bytes: int


def file_cache_prune(*, max_bytes: int | None = None, keep_s: float | None = None) -> CachePruned:
    """Delete the local copies under settings.FILE_CACHE_DIR used longest ago (their last
    `local_copy`) until they take at most `max_bytes` (settings.FILE_CACHE_MAX_MB; 0 or less:
    no bound).

    Safe beside processes that use the copies: a copy used in the last `keep_s` seconds
    (settings.FILE_CACHE_KEEP_S) is never deleted, because a process may have just been
    handed its path; a file already open stays readable after its name is deleted (POSIX);
    a folder is removed only when empty, so a download starting in it keeps it (or makes it
    again); and `local_copy` fetches again a copy whose name vanished. Several processes
    may prune at once."""
    mib = float(settings.FILE_CACHE_MAX_MB)
    limit = int(mib * 1024 * 1024) if max_bytes is None else int(max_bytes)
    keep = float(settings.FILE_CACHE_KEEP_S if keep_s is None else keep_s)
    root = Path(settings.FILE_CACHE_DIR)
    now = time.time()
    copies: list[tuple[float, int, Path]] = []
    folders: list[Path] = []
    for shard in _subdirs(root):
        for folder in _subdirs(shard):
            if not _KEY_FOLDER.match(folder.name):
                continue
            folders.append(folder)
            for entry in _entries(folder):
                try:
                    info = entry.stat(follow_symlinks=False)
                except FileNotFoundError:
                    continue
                if entry.name.startswith(".tmp-"):  # a download under way, or abandoned
                    if now - info.st_mtime > _STALE_TMP_S:
                        Path(entry.path).unlink(missing_ok=True)
                    continue
                used = max(info.st_mtime, info.st_atime)
                copies.append((used, info.st_size, Path(entry.path)))
    total = sum(size for _, size, _ in copies)
    removed = removed_bytes = 0
    if limit > 0 and total > limit:
        for used, size, path in sorted(copies, key=lambda c: c[0]):
            if total <= limit:
                break
            if now - used < keep:
                continue  # in use, or just fetched: kept even past the bound
            try:
                path.unlink()
            except FileNotFoundError:  # another process pruned it first
                continue
            try:  # its folder with it, when nothing else is in it (a download under way)
                path.parent.rmdir()
            except OSError:
                pass
            total -= size
            removed += 1
            removed_bytes += size
    for folder in folders:  # empty ones left by downloads that failed
        try:
            if now - folder.stat().st_mtime >= keep:
                folder.rmdir()  # only when empty: OSError otherwise
        except OSError:
            pass
    if removed:
        log.info(
            "file cache: deleted %d local copies (%.1f MB); %.1f MB kept",
            removed,
            removed_bytes / 1e6,
            total / 1e6,
        )
    return CachePruned(kept_bytes=total, removed_files=removed, removed_bytes=removed_bytes)


def _entries(folder: Path) -> list[os.DirEntry]:
    try:
        with os.scandir(folder) as it:
            return list(it)
    except (FileNotFoundError, NotADirectoryError):
        return []


def _subdirs(folder: Path) -> list[Path]:
    return [Path(e.path) for e in _entries(folder) if e.is_dir(follow_symlinks=False)]


def content_key(name: str) -> str:
    """What identifies the content stored under `name` without downloading it: the object
    store's ETag (one HEAD request), else the SHA-256 of the bytes."""
    client = getattr(default_storage, "connection", None)
    if client is not None and hasattr(default_storage, "bucket_name"):
        from botocore.exceptions import ClientError
        from storages.utils import clean_name

        key = default_storage._normalize_name(clean_name(name))
        try:
            head = client.meta.client.head_object(Bucket=default_storage.bucket_name, Key=key)
        except ClientError as err:
            if err.response.get("ResponseMetadata", {}).get("HTTPStatusCode") == 404:
                raise FileNotFoundError(f"{name} is not in the object store") from None
            raise
        etag = str(head.get("ETag", "")).strip('"').replace("-", "_")
        if etag:
            return f"s3-{etag}-{int(head.get('ContentLength', 0))}"
    return "sha256-" + hashlib.sha256(file_read(name)).hexdigest()


class SiteFileStore:
    """The site's storage as the library's FileStore (musiclib.config.configure(files=...))."""

    def local_path(self, name: str) -> Path:
        return local_copy(name)

    def put(self, name: str, path: Path) -> str:
        stored = file_put(name, path)
        Path(path).unlink(missing_ok=True)
        return stored
