"""The stages for one product, composed over a ProductWorkspace.

Dagster assets call one stage each; `batch-video render` calls them all in a
row. Both go through these functions, so there is one code path.
"""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from batch_video import captions, feed, images, links, render, script, tts
from batch_video.errors import ProductDataError
from batch_video.hashing import file_sha256
from batch_video.links import LinkPolicy
from batch_video.models import CaptionCue, FeedReadResult, PreparedImage, Product, RenderedVideo, Voiceover
from batch_video.settings import BatchSettings
from batch_video.workspace import ProductWorkspace, StageOutputMissing

logger = logging.getLogger(__name__)

# Bump when the renderer's output changes for the same inputs.
RENDER_VERSION = "2"


def find_product(catalog: FeedReadResult, key: str) -> Product:
    """The product for a partition key, or a ProductDataError saying why not."""
    product = catalog.by_key().get(key)
    if product is not None:
        return product
    for problem in catalog.problems:
        if problem.product_id and feed.slugify_key(problem.product_id) == key:
            raise ProductDataError(
                f"{problem.reason} (raw value {problem.raw_value!r})",
                product_id=problem.product_id,
                field=problem.field,
                stage="product_record",
            )
    raise ProductDataError(
        f"no product with partition key {key!r} in feed {catalog.source}",
        product_id=key,
        field="id",
        stage="product_record",
    )


def prepare_image_stage(ws: ProductWorkspace, product: Product, policy: LinkPolicy) -> PreparedImage:
    """The product photo; `policy` says where its link may lead (see `LinkPolicy.for_source`)."""
    try:
        image = images.prepare_image(product, ws.root, policy=policy)
    except ProductDataError as err:
        raise err.with_context(product_id=product.id, stage="product_image")
    ws.save_image(image)
    return image


def script_stage(ws: ProductWorkspace, product: Product, settings: BatchSettings) -> str:
    text = script.build_script(product, settings)
    ws.save_script(text, settings.settings_hash())
    return text


def voiceover_stage(
    ws: ProductWorkspace,
    product: Product,
    text: str,
    settings: BatchSettings,
    cache_dir: Path | None,
) -> tuple[Voiceover, tuple[CaptionCue, ...]]:
    voiceover = tts.synthesize_voiceover(
        text, ws.path("voiceover.wav"), settings, cache_dir=cache_dir, product_id=product.id
    )
    cues = captions.build_caption_cues(voiceover.words)
    ws.path("captions.srt").write_text(captions.to_srt(cues), encoding="utf-8")
    ws.save_voiceover(voiceover, cues)
    return voiceover, cues


@dataclass(frozen=True)
class RenderOutcome:
    video: RenderedVideo
    reused: bool
    inputs_hash: str


def render_inputs_hash(product: Product, image: PreparedImage, voiceover: Voiceover, settings: BatchSettings) -> str:
    """Everything that changes the rendered pixels or sound."""
    digest = hashlib.sha256()
    for part in (
        RENDER_VERSION,
        product.content_hash or repr(product.to_dict()),
        file_sha256(image.path),
        voiceover_digest(voiceover),
        settings.settings_hash(),
    ):
        digest.update(part.encode())
        digest.update(b"\0")
    return digest.hexdigest()[:16]


def render_stage(
    ws: ProductWorkspace,
    product: Product,
    image: PreparedImage,
    voiceover: Voiceover,
    cues: tuple[CaptionCue, ...],
    settings: BatchSettings,
    *,
    progress: Callable[[int, int], None] | None = None,
    force: bool = False,
) -> RenderOutcome:
    """Render, or reuse the previous video when none of its inputs changed."""
    inputs_hash = render_inputs_hash(product, image, voiceover, settings)
    if not force:
        try:
            previous, previous_hash = ws.load_render()
        except (StageOutputMissing, ValueError, TypeError, KeyError):
            # No render yet, or a render.json from an older layout: render afresh.
            previous, previous_hash = None, ""
        if previous and previous_hash == inputs_hash and previous.video_path.exists():
            logger.info("product %s: inputs unchanged, reusing %s", product.id, previous.video_path)
            return RenderOutcome(previous, True, inputs_hash)
    started = time.monotonic()
    video = render.render_video(
        product,
        image,
        voiceover,
        ws.path("video.mp4"),
        ws.path("poster.jpg"),
        settings,
        cues=cues if settings.captions else (),
        progress=progress,
    )
    logger.info("product %s: rendered in %.1f s", product.id, time.monotonic() - started)
    ws.save_render(video, inputs_hash)
    return RenderOutcome(video, False, inputs_hash)


def render_product(
    catalog: FeedReadResult,
    key: str,
    data_dir: Path,
    settings: BatchSettings,
    *,
    cache_dir: Path | None = None,
    force: bool = False,
) -> RenderOutcome:
    """All stages for one product, without Dagster (the `render` CLI)."""
    ws = ProductWorkspace(data_dir, key)
    product = find_product(catalog, key)
    ws.save_product(product)
    image = prepare_image_stage(ws, product, links.policy_from_env(catalog.source))
    text = script_stage(ws, product, settings)
    voiceover, cues = voiceover_stage(ws, product, text, settings, cache_dir)
    return render_stage(ws, product, image, voiceover, cues, settings, force=force)


def voiceover_digest(voiceover: Voiceover) -> str:
    """What the voiceover sounds like and says: changes with the voice, the provider that spoke and any trim."""
    digest = hashlib.sha256()
    digest.update(file_sha256(voiceover.audio_path).encode())
    digest.update(repr(voiceover.words).encode())
    return digest.hexdigest()[:16]


def text_digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]
