"""What a link found in a feed may reach, and the one function that follows it.

Network links go through the guarded fetcher (`batch_video.net`). Local files
are read only when the feed itself is a local file the operator gave, and only
inside the feed's folder or the configured image roots; for a remote feed or
the Supabase `products` table there is no local file a link may name. Every
refusal and every unreadable file gets the same words, naming the product and
the field, so the message stored for the shop owner neither reveals which
files exist on the server nor any path on it.
"""

from __future__ import annotations

import errno
import logging
import os
import stat
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit

from batch_video import net
from batch_video.errors import ProductDataError, TransientError
from batch_video.redact import redact_url

logger = logging.getLogger(__name__)

NOT_ALLOWED = "the link is not allowed or not readable"

# A product photo: a minute in all, 40 MB at most.
IMAGE_LIMITS = net.FetchLimits(deadline_s=60.0, max_bytes=40 * 1024 * 1024)


@dataclass(frozen=True)
class LinkPolicy:
    """Where feed links may lead. The default reaches public hosts only and no local file."""

    local_roots: tuple[Path, ...] = ()
    addresses: net.AddressPolicy = field(default_factory=net.AddressPolicy)
    limits: net.FetchLimits = IMAGE_LIMITS

    @classmethod
    def for_source(
        cls,
        source: str,
        *,
        image_roots: Iterable[str | os.PathLike[str]] = (),
        allow: net.AddressPolicy | None = None,
        limits: net.FetchLimits = IMAGE_LIMITS,
    ) -> "LinkPolicy":
        """The policy for links of the catalog `source` (a feed path, an http(s) URL or `supabase:products`).

        Local files only for a local feed file: its folder and `image_roots`.
        """
        roots: tuple[Path, ...] = ()
        text = str(source)
        if text.startswith("file://"):
            text = unquote(urlsplit(text).path)
        if text and "://" not in text and not text.startswith("supabase:"):
            feed_folder = Path(text).expanduser().resolve().parent
            roots = (feed_folder, *(Path(root).expanduser().resolve() for root in image_roots))
        return cls(local_roots=roots, addresses=allow or net.AddressPolicy(), limits=limits)

    def allows_path(self, path: Path) -> bool:
        """Whether `path`, once every symlink is followed, lies inside one of the local roots."""
        if not self.local_roots:
            return False
        try:
            real = path.resolve(strict=True)
        except (OSError, RuntimeError):
            return False
        return any(real == root or root in real.parents for root in self.local_roots)


def read_link(link: str, policy: LinkPolicy, *, product_id: str, field: str = "image_link") -> bytes:
    """The bytes a feed link points at, under `policy`, or a `ProductDataError`/`TransientError` naming product and field."""
    link = (link or "").strip()
    scheme = urlsplit(link).scheme.lower() if "://" in link else ""
    if scheme in net.ALLOWED_SCHEMES:
        return _download(link, policy, product_id=product_id, field=field)
    if scheme == "file":
        path = Path(unquote(urlsplit(link).path))
    elif scheme or not link:
        raise ProductDataError(f"{NOT_ALLOWED} (only http and https links)", product_id=product_id, field=field)
    else:
        path = Path(link)
    return _read_local(path, policy, product_id=product_id, field=field)


def _read_local(path: Path, policy: LinkPolicy, *, product_id: str, field: str) -> bytes:
    def refuse(detail: str) -> ProductDataError:
        # The operator's log says why; the product's error (which the shop owner reads) does not.
        logger.info("product %s, field %s: local file refused: %s", product_id, field, detail)
        return ProductDataError(NOT_ALLOWED, product_id=product_id, field=field)

    if not policy.local_roots:
        raise refuse("local files are not allowed for this feed")
    if not path.is_absolute():
        raise refuse("relative path without a feed folder")
    if not policy.allows_path(path):
        raise refuse("outside the feed folder and image roots, or missing")
    max_bytes = policy.limits.max_bytes
    try:
        # O_NONBLOCK: a FIFO planted in the folder must not hang the open; only regular files are read.
        fd = os.open(path.resolve(), os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    except OSError as err:
        raise refuse(errno.errorcode.get(err.errno, str(err.errno))) from None
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise refuse("not a regular file")
        if info.st_size > max_bytes:
            raise ProductDataError(f"the image file is larger than the {max_bytes} byte cap", product_id=product_id, field=field)
        data = handle.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise ProductDataError(f"the image file is larger than the {max_bytes} byte cap", product_id=product_id, field=field)
    return data


def _download(url: str, policy: LinkPolicy, *, product_id: str, field: str) -> bytes:
    shown = redact_url(url)
    try:
        _, data = net.fetch_bytes(url, policy=policy.addresses, limits=policy.limits, headers={"Accept": "image/*"})
    except net.Refused as err:
        # Which internal address a name resolves to is for the operator's log, not for the shop owner's record.
        logger.warning("product %s, field %s: refused %s: %s", product_id, field, shown, err)
        raise ProductDataError(f"{NOT_ALLOWED} (only public http and https hosts)", product_id=product_id, field=field) from None
    except net.FetchError as err:
        kind = TransientError if err.retryable else ProductDataError
        raise kind(f"could not download {shown}: {err}", product_id=product_id, field=field) from None
    return data


IMAGE_ROOTS_ENV = "BATCH_VIDEO_IMAGE_ROOTS"
FETCH_ALLOW_ENV = "BATCH_VIDEO_FETCH_ALLOW"


def policy_from_env(source: str, environ: "os._Environ[str] | dict[str, str] | None" = None) -> LinkPolicy:
    """`LinkPolicy.for_source` with `BATCH_VIDEO_IMAGE_ROOTS` (paths, `:`-separated) and
    `BATCH_VIDEO_FETCH_ALLOW` (hosts or CIDRs, comma-separated) from the environment."""
    env = os.environ if environ is None else environ
    roots = [part for part in env.get(IMAGE_ROOTS_ENV, "").split(os.pathsep) if part.strip()]
    return LinkPolicy.for_source(source, image_roots=roots, allow=net.AddressPolicy.parse(env.get(FETCH_ALLOW_ENV, "")))
