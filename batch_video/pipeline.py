"""The one path of a product: six stages, each "load inputs, call the library, save outputs, return a result".

    record -> image -> script -> voiceover -> render (with its quality verdict) -> publish

Each stage reads what the previous ones left in the product's workspace
(`batch_video.workspace`), calls the library, saves its own outputs there and
returns a small result. Dagster's assets call one stage each and turn the result
into metadata; `batch-video render` calls `make_video` (record to render). Both go
through these functions, so the command line and a batch cannot disagree about a
product: same inputs, same outputs, the same checks and the same reasons.
"""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

from batch_video import captions, feed, gallery, links, quality, script as scripts, tts
from batch_video.errors import ProductDataError
from batch_video.feed.keys import format_key
from batch_video.hashing import file_sha256
from batch_video.links import LinkPolicy
from batch_video.media import LOUDNESS_TARGET_LUFS
from batch_video.models import CaptionCue, FeedReadResult, PreparedImage, Product, PublishedVideo, RenderedVideo, Voiceover
from batch_video.publish import Generation, Storage, publish_video
from batch_video.records import Records
from batch_video.redact import redact_url
from batch_video.shelf import drop_withdrawn
from batch_video.render import get_preset, render_video, video_duration
from batch_video.settings import BatchSettings
from batch_video.stages import PRODUCT_IMAGE, PRODUCT_RECORD, PUBLISHED_VIDEO, RENDERED_VIDEO
from batch_video.workspace import ProductWorkspace, StageOutputMissing

logger = logging.getLogger(__name__)

# Bump when the renderer's output changes for the same inputs.
RENDER_VERSION = "3"

ProgressFn = Callable[[int, int], None]


# -- results ----------------------------------------------------------------------


@dataclass(frozen=True)
class ImageResult:
    product: Product
    image: PreparedImage  # the main photo
    extras: tuple[PreparedImage, ...] = ()  # usable, distinct additional photos (the next scenes)
    skipped: tuple[str, ...] = ()  # additional photos left out, each with its reason

    @property
    def digest(self) -> str:
        return image_digest(self.image, self.extras)


@dataclass(frozen=True)
class ScriptResult:
    product: Product
    text: str

    @property
    def digest(self) -> str:
        return text_digest(self.text)


@dataclass(frozen=True)
class VoiceoverResult:
    product: Product
    voiceover: Voiceover
    cues: tuple[CaptionCue, ...]

    @property
    def digest(self) -> str:
        return voiceover_digest(self.voiceover)


@dataclass(frozen=True)
class FormatRender:
    """One format's video of a product, and the checks' verdict on it."""

    format: str
    video: RenderedVideo
    verdict: quality.Verdict
    inputs_hash: str
    reused: bool


@dataclass(frozen=True)
class RenderResult:
    product: Product
    video: RenderedVideo  # the first format's
    voiceover: Voiceover
    verdict: quality.Verdict  # every format's checks (one outcome per check, failed if any format failed it)
    inputs_hash: str  # the first format's render; with several formats, of them all
    reused: bool  # nothing changed since the last render: its video was kept
    render_seconds: float  # this stage's render (or reuse) time
    check_seconds: float
    formats: tuple[FormatRender, ...] = ()

    def refusal(self) -> quality.VideoCheckFailed | None:
        """Why this video must not be published (None: it passed every check)."""
        return self.verdict.refusal(product_id=self.product.id)


@dataclass(frozen=True)
class PublishResult:
    product: Product
    video: RenderedVideo
    voiceover: Voiceover
    published: PublishedVideo  # the first format's
    inputs_hash: str
    checks: str = ""  # the video checks' verdict on what was published (every format's)
    formats: tuple[tuple[str, PublishedVideo], ...] = ()  # every format's, the first one included


# -- the six stages ------------------------------------------------------------------


def record(ws: ProductWorkspace, catalog: FeedReadResult) -> Product:
    """The partition's product from the feed, validated, saved as product.json."""
    product = find_product(catalog, ws.key)
    ws.save_product(product)
    return product


def image(ws: ProductWorkspace, policy: LinkPolicy, *, max_extra: int = 4) -> ImageResult:
    """The product photos fetched and normalized; `policy` says where their links may lead (see `LinkPolicy.for_source`).

    The main photo is required; up to `max_extra` additional photos pass the same checks, and one that is
    broken or shows the same picture as another is skipped with a reason, never failing the product.
    """
    product = ws.load_product()
    try:
        photos = gallery.prepare_gallery(product, ws.root, policy=policy, max_extra=max_extra)
    except ProductDataError as err:
        raise err.with_context(product_id=product.id, stage=PRODUCT_IMAGE)
    ws.save_image(photos.main)
    ws.save_extra_images(photos.extras, photos.warnings)
    return ImageResult(product, photos.main, photos.extras, photos.warnings)


def script(ws: ProductWorkspace, settings: BatchSettings) -> ScriptResult:
    """The text the voice reads, normalized for speech."""
    product = ws.load_product()
    text = scripts.build_script(product, settings)
    ws.save_script(text, settings.settings_hash())
    return ScriptResult(product, text)


def voiceover(ws: ProductWorkspace, settings: BatchSettings, *, cache_dir: Path | None) -> VoiceoverResult:
    """The spoken script with word timings, and the caption cues built from them."""
    product = ws.load_product()
    spoken = tts.synthesize_voiceover(
        ws.load_script(), ws.path("voiceover.wav"), settings, cache_dir=cache_dir, product_id=product.id
    )
    cues = captions.build_caption_cues(spoken.words)
    ws.write_text("captions.srt", captions.to_srt(cues))
    ws.save_voiceover(spoken, cues)
    return VoiceoverResult(product, spoken, cues)


def render(ws: ProductWorkspace, settings: BatchSettings, *, progress: ProgressFn | None = None, force: bool = False) -> RenderResult:
    """The video in every format (rendered, or reused when none of its inputs changed) and the checks' verdicts.

    The verdicts are saved with the renders: `publish` refuses a video that failed a check. One voiceover and one
    set of prepared photos serve every format; the first format's files keep the plain names (video.mp4, ...).
    """
    product, prepared = ws.load_product(), ws.load_image()
    extras, _ = ws.load_extra_images()
    spoken, cues = ws.load_voiceover()
    started = time.monotonic()
    check_s = 0.0
    done: list[FormatRender] = []
    for index, fmt in enumerate(settings.format_names()):
        suffix = "" if index == 0 else fmt
        fs = settings.for_format(fmt)
        inputs_hash = render_inputs_hash(product, prepared, spoken, fs, extras)
        video = None if force else _reusable_render(ws, inputs_hash, suffix)
        reused = video is not None
        if video is None:
            began = time.monotonic()
            video = render_video(
                product, prepared, spoken, ws.path(ws.for_format("video.mp4", suffix)),
                ws.path(ws.for_format("poster.jpg", suffix)), fs,
                cues=cues if settings.captions else (), progress=progress, extra_images=extras,
            )
            logger.info("product %s: rendered %s in %.1f s", product.id, fmt, time.monotonic() - began)
        else:
            logger.info("product %s: inputs unchanged, reusing %s", product.id, video.video_path)
        checking = time.monotonic()
        verdict = check_video(video, spoken, fs)
        check_s += time.monotonic() - checking
        ws.save_render(video, inputs_hash, suffix)
        ws.save_verdict(inputs_hash, verdict.passed, verdict.summary, suffix)
        done.append(FormatRender(fmt, video, verdict, inputs_hash, reused))
    first = done[0]
    verdict = first.verdict if len(done) == 1 else combined_verdict(done)
    inputs_hash = first.inputs_hash if len(done) == 1 else text_digest(",".join(f.inputs_hash for f in done))
    total = time.monotonic() - started
    return RenderResult(product, first.video, spoken, verdict, inputs_hash, all(f.reused for f in done),
                        total - check_s, check_s, tuple(done))


def combined_verdict(formats: Sequence[FormatRender]) -> quality.Verdict:
    """One outcome per check over every format: passed only if it passed in each, the message naming the formats."""
    outcomes = []
    for name in dict.fromkeys(o.name for f in formats for o in f.verdict.outcomes):
        per_format = [(f.format, o) for f in formats for o in f.verdict.outcomes if o.name == name]
        bad = [(fmt, o) for fmt, o in per_format if not o.passed]
        message = "; ".join(f"{fmt}: {o.message}" for fmt, o in (bad or per_format))
        metadata = {f"{fmt}_passed": o.passed for fmt, o in per_format}
        outcomes.append(quality.CheckOutcome(name, not bad, message, metadata))
    return quality.Verdict(tuple(outcomes))


def publish(
    ws: ProductWorkspace,
    storage: Storage,
    records: Records,
    settings: BatchSettings,
    *,
    run_id: str | None = None,
    backfill_id: str | None = None,
    generation: Generation | None = None,
) -> PublishResult:
    """The checked videos and posters where the shop's team fetches them, and a record of each for apps.

    The first format is published under the product's key, every other one under `<key>--<format>`. Every
    format's verdict is read before anything is published, so a failed check publishes none of them.

    `generation` (the run and when it started) orders overlapping runs of one product: an older run
    neither replaces nor deletes a newer video (`Superseded`).
    """
    product = ws.load_product()
    spoken, _ = ws.load_voiceover()
    renders, summaries = [], []
    multi = len(settings.format_names()) > 1
    for index, fmt in enumerate(settings.format_names()):
        suffix = "" if index == 0 else fmt
        video, inputs_hash = ws.load_render(suffix)
        passed, summary = ws.load_verdict(inputs_hash, suffix)
        if not passed:
            raise quality.VideoCheckFailed(f"{fmt}: {summary}" if multi else summary, product_id=product.id,
                                           stage=PUBLISHED_VIDEO)
        renders.append((fmt, suffix, video, inputs_hash))
        summaries.append(f"{fmt}: {summary}" if multi else summary)
    published_all = []
    for fmt, suffix, video, inputs_hash in renders:
        published = publish_video(
            storage,
            records,
            key=format_key(ws.key, suffix),
            product_id=product.id,
            video_path=video.video_path,
            poster_path=video.poster_path,
            content_hash=inputs_hash,
            duration_s=video.duration_s,
            settings_hash=settings.for_format(fmt).settings_hash(),
            provider=spoken.provider,
            run_id=run_id,
            backfill_id=backfill_id,
            metadata={"title": product.title, "product_id": product.id, **({"format": fmt} if multi else {})},
            generation=generation,
        )
        # A video taken down while out of stock is replaced: its withdrawn copy goes (never the live one).
        drop_withdrawn(storage, format_key(ws.key, suffix), live_path=published.storage_path)
        published_all.append((fmt, published))
    first_video, first_hash = renders[0][2], renders[0][3]
    inputs_hash = first_hash if len(renders) == 1 else text_digest(",".join(r[3] for r in renders))
    return PublishResult(product, first_video, spoken, published_all[0][1], inputs_hash, checks="; ".join(summaries),
                         formats=tuple(published_all))


def make_video(
    catalog: FeedReadResult,
    ws: ProductWorkspace,
    settings: BatchSettings,
    *,
    cache_dir: Path | None = None,
    force: bool = False,
) -> RenderResult:
    """Record to render for one product in a row, without Dagster (`batch-video render`)."""
    record(ws, catalog)
    image(ws, links.policy_from_env(catalog.source), max_extra=settings.max_extra_photos)
    script(ws, settings)
    voiceover(ws, settings, cache_dir=cache_dir)
    return render(ws, settings, force=force)


# -- the pieces ------------------------------------------------------------------------


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
                stage=PRODUCT_RECORD,
            )
    raise ProductDataError(
        f"no product with partition key {key!r} in feed {redact_url(catalog.source)}",
        product_id=key,
        field="id",
        stage=PRODUCT_RECORD,
    )


def expectations(settings: BatchSettings, voiceover_duration_s: float | None) -> quality.VideoExpectations:
    """What the render of a voiceover with these settings must look like (the preset's format, the voiceover's length)."""
    expected = video_duration(voiceover_duration_s, settings) if voiceover_duration_s is not None else None
    return quality.VideoExpectations.for_preset(
        get_preset(settings.preset), expected_duration_s=expected, target_lufs=LOUDNESS_TARGET_LUFS
    )


def check_video(video: RenderedVideo, spoken: Voiceover, settings: BatchSettings) -> quality.Verdict:
    try:
        return quality.Verdict(tuple(quality.check_video(video.video_path, expectations(settings, spoken.duration_s))))
    except ProductDataError as err:
        raise err.with_context(stage=RENDERED_VIDEO)


def _reusable_render(ws: ProductWorkspace, inputs_hash: str, fmt: str = "") -> RenderedVideo | None:
    """The previous render, if it was made from these inputs and its video on disk is still the one it made."""
    try:
        previous, previous_hash = ws.load_render(fmt)
        recorded = ws.recorded_video_sha256(fmt)
    except (StageOutputMissing, ValueError, TypeError, KeyError):
        return None  # no render yet, or a render.json from an older layout: render afresh
    if previous_hash != inputs_hash:
        return None
    try:
        if not recorded:  # a render.json from before digests were recorded
            return previous if previous.video_path.exists() else None
        # Not removed, replaced or damaged since: a damaged video reused would fail its checks on every retry.
        return previous if file_sha256(previous.video_path) == recorded else None
    except OSError:
        return None


def render_inputs_hash(product: Product, prepared: PreparedImage, spoken: Voiceover, settings: BatchSettings,
                       extras: tuple[PreparedImage, ...] = ()) -> str:
    """Everything that changes the rendered pixels or sound: contents, never file names or times alone
    (the template file included, via the settings hash)."""
    parts = [
        RENDER_VERSION,
        product.content_hash or repr(product.to_dict()),
        file_sha256(prepared.path),
        *(file_sha256(extra.path) for extra in extras),
        voiceover_digest(spoken),
        settings.settings_hash(),
    ]
    if files := settings_files_digest(settings):
        parts.append(files)  # only when set, so renders made without a custom font or logo keep their hash
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part.encode())
        digest.update(b"\0")
    return digest.hexdigest()[:16]


def settings_files_digest(settings: BatchSettings) -> str:
    """What the files the settings name (a custom font, a logo) contain: a new logo under the same name re-renders."""
    parts = []
    for name in ("font_path", "logo_path"):
        path = getattr(settings, name)
        if not path:
            continue
        try:
            parts.append(f"{name}={file_sha256(Path(path))}")
        except OSError:
            parts.append(f"{name}=unreadable")  # the render itself says what is wrong with it
    return ";".join(parts)


def image_digest(prepared: PreparedImage, extras: tuple[PreparedImage, ...] = ()) -> str:
    """What the prepared photos look like: changes when a photo behind the same link changes.

    The main photo alone keeps the digest it always had, so products without additional photos keep their version.
    """
    main = file_sha256(prepared.path)[:16]
    if not extras:
        return main
    digest = hashlib.sha256(main.encode())
    for extra in extras:
        digest.update(b"\0" + file_sha256(extra.path).encode())
    return digest.hexdigest()[:16]


def voiceover_digest(spoken: Voiceover) -> str:
    """What the voiceover sounds like and says: changes with the voice, the provider that spoke and any trim."""
    digest = hashlib.sha256()
    digest.update(file_sha256(spoken.audio_path).encode())
    digest.update(repr(spoken.words).encode())
    return digest.hexdigest()[:16]


def text_digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]
