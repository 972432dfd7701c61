"""Per-product working folder: where each stage leaves its output for the next.

Layout under `<data>/work/<key>/`: product.json, image.{jpg,png} + image.json,
extra/<n>/image.{jpg,png} + extra_images.json (the additional photos),
script.json, voiceover.wav + voiceover.json + captions.srt, video.mp4 +
poster.jpg + render.json + verdict.json. Every file is written atomically
(`batch_video.files`) so a killed run never leaves a half-written one behind.

With an object store (the `cluster` profile), each stage's files are uploaded
under content-addressed names and its manifest (the JSON) is written last: the
manifest in the store is the one commit point, so a run killed mid-stage leaves
the previous complete output in place. Reading a stage's output reads its
manifest from the store and downloads only the files that the local folder does
not already hold with the same sha256: the local folder is a cache, and a stage
re-executed on another host finds its inputs.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any

from batch_video import files
from batch_video.errors import BatchVideoError, TransientError
from batch_video.feed.keys import check_safe_key
from batch_video.hashing import file_sha256
from batch_video.models import (
    CaptionCue,
    PreparedImage,
    Product,
    RenderedVideo,
    Voiceover,
    WordTiming,
)
from batch_video.objectstore import ObjectStore

logger = logging.getLogger(__name__)


class StageOutputMissing(BatchVideoError):
    """An upstream stage has not produced its output for this product yet."""


class ProductWorkspace:
    """Reads and writes one product's stage outputs (in `store` too, when one is given)."""

    def __init__(self, data_dir: Path, key: str, store: ObjectStore | None = None) -> None:
        self.key = check_safe_key(key)  # never a path: `../../x` is a valid Dagster partition key
        self.root = Path(data_dir) / "work" / key
        self.store = store

    def path(self, name: str) -> Path:
        self.root.mkdir(parents=True, exist_ok=True)
        return self.root / name

    def write_text(self, name: str, text: str) -> Path:
        path = self.path(name)
        files.write_text(path, text)
        return path

    def local(self, stored: str | os.PathLike[str]) -> Path:
        """A file named in a manifest, in this host's folder (manifests name files relative to the product's
        folder, never a host's paths; an absolute or escaping name from an older manifest keeps its file name)."""
        path = Path(stored)
        if path.is_absolute() or ".." in path.parts:
            return self.root / path.name
        return self.root / path

    def relative(self, path: Path) -> str:
        """How a manifest names a file of this product's folder (extra/1/image.jpg)."""
        return path.relative_to(self.root).as_posix() if path.is_relative_to(self.root) else path.name

    # -- one commit point per stage ---------------------------------------------

    def _object_key(self, name: str) -> str:
        return f"{self.key}/{name}"

    def _write(self, name: str, data: dict[str, Any], file_names: tuple[str, ...] = ()) -> Path:
        """Write a stage's manifest; with a store, upload its files first and the manifest last."""
        path = self.path(name)
        if self.store is None:
            _write_json(path, data)
            return path
        previous = self._remote_manifest(name)
        stored: dict[str, dict[str, Any]] = {}
        for file_name in file_names:
            local = self.root / file_name
            digest = file_sha256(local)
            # Content-addressed: an object never changes once written, so a half-done upload
            # of a new version never replaces the complete old one.
            object_key = self._object_key(f"files/{digest[:24]}/{file_name}")
            if not self.store.exists(object_key):
                self.store.put_file(object_key, local)
            stored[file_name] = {"object": object_key, "sha256": digest, "size": local.stat().st_size}
        data = {**data, "files": stored}
        _write_json(path, data)
        self.store.put_bytes(self._object_key(name), json.dumps(data, ensure_ascii=False, indent=1, default=str).encode())
        self._discard_replaced(previous, stored)
        return path

    def _remote_manifest(self, name: str) -> dict[str, Any] | None:
        assert self.store is not None
        raw = self.store.get_bytes(self._object_key(name))
        return json.loads(raw) if raw is not None else None

    def _discard_replaced(self, previous: dict[str, Any] | None, current: dict[str, dict[str, Any]]) -> None:
        """Delete the objects the replaced manifest named and the new one does not (best effort: only costs space)."""
        assert self.store is not None
        keep = {entry["object"] for entry in current.values()}
        old = [entry["object"] for entry in ((previous or {}).get("files") or {}).values()
               if isinstance(entry, dict) and entry.get("object") and entry["object"] not in keep]
        try:
            self.store.delete(old)
        except BatchVideoError as exc:
            logger.warning("product %s: could not delete replaced objects %s: %s", self.key, old, exc)

    def _read(self, name: str, stage: str) -> dict[str, Any]:
        if self.store is not None:
            data = self._remote_manifest(name)
            if data is None:
                raise StageOutputMissing(
                    f"{stage} output {name} is missing from {self.store.describe()}; materialize the upstream asset first",
                    product_id=self.key,
                    stage=stage,
                )
            self._fetch_files(data, stage)
            _write_json(self.path(name), data)
            return data
        path = self.root / name
        if not path.exists():
            raise StageOutputMissing(
                f"{stage} output {path} is missing; materialize the upstream asset first",
                product_id=self.key,
                stage=stage,
            )
        return json.loads(path.read_text(encoding="utf-8"))

    def _fetch_files(self, data: dict[str, Any], stage: str) -> None:
        """Download the manifest's files this host does not hold already (same sha256)."""
        assert self.store is not None
        for file_name, entry in (data.get("files") or {}).items():
            local = self.local(file_name)
            if local.exists() and local.stat().st_size == entry.get("size") and file_sha256(local) == entry.get("sha256"):
                continue
            if not self.store.download(entry["object"], local):
                raise StageOutputMissing(
                    f"{stage} output {file_name} ({entry['object']}) is missing from {self.store.describe()}",
                    product_id=self.key,
                    stage=stage,
                )
            if file_sha256(local) != entry.get("sha256"):
                local.unlink(missing_ok=True)
                raise TransientError(f"{entry['object']} in {self.store.describe()} does not match its manifest's sha256",
                                     product_id=self.key, stage=stage)
            logger.info("product %s: fetched %s from %s", self.key, file_name, self.store.describe())

    # product_record
    def save_product(self, product: Product) -> Path:
        return self._write("product.json", product.to_dict())

    def load_product(self) -> Product:
        return Product.from_dict(self._read("product.json", "product_record"))

    # product_image
    def save_image(self, image: PreparedImage) -> None:
        data = asdict(image)
        data["path"] = image.path.name
        self._write("image.json", data, (image.path.name,))

    def load_image(self) -> PreparedImage:
        data = self._read("image.json", "product_image")
        data["path"] = self.local(data["path"])
        data["warnings"] = tuple(data.get("warnings") or ())
        return PreparedImage(**_known(PreparedImage, data))

    def save_extra_images(self, extras: tuple[PreparedImage, ...], skipped: tuple[str, ...]) -> None:
        """The additional photos that become scenes, and those left out with their reasons."""
        photos = [{**asdict(extra), "path": self.relative(extra.path)} for extra in extras]
        self._write("extra_images.json", {"photos": photos, "skipped": list(skipped)},
                    tuple(photo["path"] for photo in photos))

    def load_extra_images(self) -> tuple[tuple[PreparedImage, ...], tuple[str, ...]]:
        """(additional photos, skipped ones' reasons); none for a workspace prepared before they existed."""
        try:
            data = self._read("extra_images.json", "product_image")
        except StageOutputMissing:
            return (), ()
        photos = tuple(
            PreparedImage(**_known(PreparedImage, {**p, "path": self.local(p["path"]), "warnings": tuple(p.get("warnings") or ())}))
            for p in data.get("photos") or ()
        )
        return photos, tuple(data.get("skipped") or ())

    # voiceover_script
    def save_script(self, text: str, settings_hash: str) -> None:
        self._write("script.json", {"text": text, "settings_hash": settings_hash})

    def load_script(self) -> str:
        return self._read("script.json", "voiceover_script")["text"]

    # voiceover_audio
    def save_voiceover(self, voiceover: Voiceover, cues: tuple[CaptionCue, ...]) -> None:
        data = asdict(voiceover)
        data["audio_path"] = voiceover.audio_path.name
        data["cues"] = [[c.start, c.end, len(c.words)] for c in cues]
        files = (voiceover.audio_path.name,) + (("captions.srt",) if (self.root / "captions.srt").exists() else ())
        self._write("voiceover.json", data, files)

    def load_voiceover(self) -> tuple[Voiceover, tuple[CaptionCue, ...]]:
        data = self._read("voiceover.json", "voiceover_audio")
        data.pop("files", None)
        words = tuple(WordTiming(**w) for w in data.get("words") or ())
        cue_specs = data.pop("cues", [])
        data["audio_path"] = self.local(data["audio_path"])
        data["words"] = words
        voiceover = Voiceover(**_known(Voiceover, data))
        cues: list[CaptionCue] = []
        index = 0
        for start, end, count in cue_specs:
            cues.append(CaptionCue(start=start, end=end, words=words[index : index + count]))
            index += count
        return voiceover, tuple(cues)

    # rendered_video (one set of files per format; the first format's keep the plain names)
    @staticmethod
    def for_format(name: str, fmt: str = "") -> str:
        """`render.json` -> `render-square.json` for another format than the first."""
        if not fmt:
            return name
        stem, dot, ext = name.partition(".")
        return f"{stem}-{fmt}{dot}{ext}"

    def save_render(self, video: RenderedVideo, inputs_hash: str, fmt: str = "") -> None:
        data = asdict(video)
        data["video_path"] = video.video_path.name
        data["poster_path"] = video.poster_path.name
        data["inputs_hash"] = inputs_hash
        data["video_sha256"] = file_sha256(video.video_path)  # a reuse checks the file on disk against it
        self._write(self.for_format("render.json", fmt), data, (video.video_path.name, video.poster_path.name))

    def load_render(self, fmt: str = "") -> tuple[RenderedVideo, str]:
        data = self._read(self.for_format("render.json", fmt), "rendered_video")
        inputs_hash = data.pop("inputs_hash", "")
        data["video_path"] = self.local(data["video_path"])
        data["poster_path"] = self.local(data["poster_path"])
        data["warnings"] = tuple(data.get("warnings") or ())
        return RenderedVideo(**_known(RenderedVideo, data)), inputs_hash

    def recorded_video_sha256(self, fmt: str = "") -> str:
        """The digest of the video when it was rendered ("" for a render.json older than digests).

        Read from this host's copy of render.json, which `load_render` has just fetched.
        """
        try:
            path = self.root / self.for_format("render.json", fmt)
            return str(json.loads(path.read_text(encoding="utf-8")).get("video_sha256") or "")
        except (OSError, ValueError):
            return ""

    def save_verdict(self, inputs_hash: str, passed: bool, summary: str, fmt: str = "") -> None:
        """The quality checks' verdict on the render of `inputs_hash`."""
        self._write(self.for_format("verdict.json", fmt), {"inputs_hash": inputs_hash, "passed": passed, "summary": summary})

    def load_verdict(self, inputs_hash: str, fmt: str = "") -> tuple[bool, str]:
        """(passed, summary) of the checks on the render of `inputs_hash`; missing if that render was never checked."""
        data = self._read(self.for_format("verdict.json", fmt), "rendered_video")
        if data.get("inputs_hash") != inputs_hash:
            raise StageOutputMissing(
                f"the current render ({inputs_hash}) has not been checked; materialize rendered_video first",
                product_id=self.key,
                stage="rendered_video",
            )
        return bool(data["passed"]), str(data.get("summary") or "")


def _known(cls: type, data: dict[str, Any]) -> dict[str, Any]:
    names = {f.name for f in fields(cls)}
    return {k: v for k, v in data.items() if k in names}


def _write_json(path: Path, data: Any) -> None:
    files.write_json(path, data, indent=1, default=str)
