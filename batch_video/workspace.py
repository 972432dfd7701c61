"""Per-product working folder: where each stage leaves its output for the next.

Layout under `<data>/work/<key>/`: product.json, image.{jpg,png} + image.json,
script.json, voiceover.wav + voiceover.json + captions.srt, video.mp4 +
poster.jpg + render.json. Every JSON file is written atomically so a killed
run never leaves a half-written manifest behind.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any

from batch_video.errors import BatchVideoError
from batch_video.models import (
    CaptionCue,
    PreparedImage,
    Product,
    RenderedVideo,
    Voiceover,
    WordTiming,
)


def default_data_dir() -> Path:
    return Path(os.environ.get("BATCH_VIDEO_DATA_DIR", "data")).resolve()


def write_json_atomic(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle, ensure_ascii=False, indent=1, default=str)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class StageOutputMissing(BatchVideoError):
    """An upstream stage has not produced its output for this product yet."""


class ProductWorkspace:
    """Reads and writes one product's stage outputs."""

    def __init__(self, data_dir: Path, key: str) -> None:
        self.key = key
        self.root = Path(data_dir) / "work" / key

    def path(self, name: str) -> Path:
        self.root.mkdir(parents=True, exist_ok=True)
        return self.root / name

    def _read(self, name: str, stage: str) -> dict[str, Any]:
        path = self.root / name
        if not path.exists():
            raise StageOutputMissing(
                f"{stage} output {path} is missing; materialize the upstream asset first",
                product_id=self.key,
                stage=stage,
            )
        return json.loads(path.read_text(encoding="utf-8"))

    # product_record
    def save_product(self, product: Product) -> Path:
        path = self.path("product.json")
        write_json_atomic(path, product.to_dict())
        return path

    def load_product(self) -> Product:
        return Product.from_dict(self._read("product.json", "product_record"))

    # product_image
    def save_image(self, image: PreparedImage) -> None:
        data = asdict(image)
        data["path"] = str(image.path)
        write_json_atomic(self.path("image.json"), data)

    def load_image(self) -> PreparedImage:
        data = self._read("image.json", "product_image")
        data["path"] = Path(data["path"])
        data["warnings"] = tuple(data.get("warnings") or ())
        return PreparedImage(**_known(PreparedImage, data))

    # voiceover_script
    def save_script(self, text: str, settings_hash: str) -> None:
        write_json_atomic(self.path("script.json"), {"text": text, "settings_hash": settings_hash})

    def load_script(self) -> str:
        return self._read("script.json", "voiceover_script")["text"]

    # voiceover_audio
    def save_voiceover(self, voiceover: Voiceover, cues: tuple[CaptionCue, ...]) -> None:
        data = asdict(voiceover)
        data["audio_path"] = str(voiceover.audio_path)
        data["cues"] = [[c.start, c.end, len(c.words)] for c in cues]
        write_json_atomic(self.path("voiceover.json"), data)

    def load_voiceover(self) -> tuple[Voiceover, tuple[CaptionCue, ...]]:
        data = self._read("voiceover.json", "voiceover_audio")
        words = tuple(WordTiming(**w) for w in data.get("words") or ())
        cue_specs = data.pop("cues", [])
        data["audio_path"] = Path(data["audio_path"])
        data["words"] = words
        voiceover = Voiceover(**_known(Voiceover, data))
        cues: list[CaptionCue] = []
        index = 0
        for start, end, count in cue_specs:
            cues.append(CaptionCue(start=start, end=end, words=words[index : index + count]))
            index += count
        return voiceover, tuple(cues)

    # rendered_video
    def save_render(self, video: RenderedVideo, inputs_hash: str) -> None:
        data = asdict(video)
        data["video_path"] = str(video.video_path)
        data["poster_path"] = str(video.poster_path)
        data["inputs_hash"] = inputs_hash
        write_json_atomic(self.path("render.json"), data)

    def load_render(self) -> tuple[RenderedVideo, str]:
        data = self._read("render.json", "rendered_video")
        inputs_hash = data.pop("inputs_hash", "")
        data["video_path"] = Path(data["video_path"])
        data["poster_path"] = Path(data["poster_path"])
        data["warnings"] = tuple(data.get("warnings") or ())
        return RenderedVideo(**_known(RenderedVideo, data)), inputs_hash


def _known(cls: type, data: dict[str, Any]) -> dict[str, Any]:
    names = {f.name for f in fields(cls)}
    return {k: v for k, v in data.items() if k in names}
