"""Per-product working folder: where each stage leaves its output for the next.

Layout under `<data>/work/<key>/`: product.json, image.{jpg,png} + image.json,
script.json, voiceover.wav + voiceover.json + captions.srt, video.mp4 +
poster.jpg + render.json + verdict.json. Every file is written atomically
(`batch_video.files`) so a killed run never leaves a half-written one behind.
"""

from __future__ import annotations

import json
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any

from batch_video import files
from batch_video.errors import BatchVideoError
from batch_video.models import (
    CaptionCue,
    PreparedImage,
    Product,
    RenderedVideo,
    Voiceover,
    WordTiming,
)


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

    def write_text(self, name: str, text: str) -> Path:
        path = self.path(name)
        files.write_text(path, text)
        return path

    def _save(self, name: str, data: Any) -> Path:
        path = self.path(name)
        files.write_json(path, data, indent=1, default=str)
        return path

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
        return self._save("product.json", product.to_dict())

    def load_product(self) -> Product:
        return Product.from_dict(self._read("product.json", "product_record"))

    # product_image
    def save_image(self, image: PreparedImage) -> None:
        data = asdict(image)
        data["path"] = str(image.path)
        self._save("image.json", data)

    def load_image(self) -> PreparedImage:
        data = self._read("image.json", "product_image")
        data["path"] = Path(data["path"])
        data["warnings"] = tuple(data.get("warnings") or ())
        return PreparedImage(**_known(PreparedImage, data))

    # voiceover_script
    def save_script(self, text: str, settings_hash: str) -> None:
        self._save("script.json", {"text": text, "settings_hash": settings_hash})

    def load_script(self) -> str:
        return self._read("script.json", "voiceover_script")["text"]

    # voiceover_audio
    def save_voiceover(self, voiceover: Voiceover, cues: tuple[CaptionCue, ...]) -> None:
        data = asdict(voiceover)
        data["audio_path"] = str(voiceover.audio_path)
        data["cues"] = [[c.start, c.end, len(c.words)] for c in cues]
        self._save("voiceover.json", data)

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
        self._save("render.json", data)

    def load_render(self) -> tuple[RenderedVideo, str]:
        data = self._read("render.json", "rendered_video")
        inputs_hash = data.pop("inputs_hash", "")
        data["video_path"] = Path(data["video_path"])
        data["poster_path"] = Path(data["poster_path"])
        data["warnings"] = tuple(data.get("warnings") or ())
        return RenderedVideo(**_known(RenderedVideo, data)), inputs_hash

    def save_verdict(self, inputs_hash: str, passed: bool, summary: str) -> None:
        """The quality checks' verdict on the render of `inputs_hash`."""
        self._save("verdict.json", {"inputs_hash": inputs_hash, "passed": passed, "summary": summary})

    def load_verdict(self, inputs_hash: str) -> tuple[bool, str]:
        """(passed, summary) of the checks on the render of `inputs_hash`; missing if that render was never checked."""
        data = self._read("verdict.json", "rendered_video")
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
