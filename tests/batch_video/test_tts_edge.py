"""The Edge path against the real edge-tts library, driven by a local fake service.

A websocket server on 127.0.0.1 replays a recorded-format service turn
(tests/fixtures/tts/edge_ro_session.json); edge_tts.Communicate connects to it
with its own handshake, message parsing and boundary handling. Failure modes
(403 handshake, 503, "No audio received", stalls) are served the same way.
"""

from __future__ import annotations

import asyncio
import json
import random
import threading
from email.utils import formatdate
from pathlib import Path

import edge_tts.communicate
import pytest
from aiohttp import web

from batch_video.captions import build_caption_cues, to_srt
from batch_video.errors import ConfigError, TransientError
from batch_video.settings import BatchSettings
from batch_video.tts import EdgeProvider, EspeakProvider, Prosody, RetryPolicy, synthesize_voiceover
from batch_video.tts.audio import wav_duration
from batch_video.tts.edge import retry_reason

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "tts"
SESSION = json.loads((FIXTURES / "edge_ro_session.json").read_text(encoding="utf-8"))
MP3 = (FIXTURES / SESSION["audio_file"]).read_bytes()


class FakeEdgeService:
    """Serves one scripted behaviour per connection: ok, 403, 503, no_audio, no_boundaries, stall."""

    def __init__(self, behaviours: list[str]) -> None:
        self.behaviours = list(behaviours)
        self.connections: list[str] = []
        self.requests: list[list[str]] = []  # text messages the client sent, per successful connection
        self.loop = asyncio.new_event_loop()
        self.port = 0
        self._ready = threading.Event()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self) -> "FakeEdgeService":
        self._thread.start()
        assert self._ready.wait(10), "fake Edge service did not start"
        return self

    def __exit__(self, *exc: object) -> None:
        self._stopping.set()
        asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/edge/v1?TrustedClientToken=test"

    def _serve(self) -> None:
        asyncio.set_event_loop(self.loop)
        app = web.Application()
        app.router.add_get("/edge/v1", self._handle)
        self._runner = web.AppRunner(app)
        self.loop.run_until_complete(self._runner.setup())
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        self.loop.run_until_complete(site.start())
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self._ready.set()
        self.loop.run_forever()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        behaviour = self.behaviours.pop(0) if self.behaviours else "ok"
        self.connections.append(behaviour)
        if behaviour in ("403", "503"):
            # the real service rejects the upgrade; edge-tts reads the Date header to fix clock skew on 403
            return web.Response(status=int(behaviour), headers={"Date": formatdate(usegmt=True)})
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        sent: list[str] = []
        for _ in range(2):  # speech.config, then the SSML request
            message = await ws.receive()
            sent.append(message.data)
        self.requests.append(sent)
        if behaviour == "stall":
            while not self._stopping.is_set():  # hold the socket open, say nothing
                await asyncio.sleep(0.05)
        elif behaviour == "no_boundaries":
            for frame in SESSION["frames"]:
                if "Path:audio.metadata" not in frame.get("data", ""):
                    await self._send(ws, frame)
        elif behaviour == "no_audio":
            header = f"X-RequestId:{SESSION['request_id']}\r\nContent-Type:application/json; charset=utf-8\r\n"
            await ws.send_str(header + "Path:turn.start\r\n\r\n{}")
            await ws.send_str(header + "Path:turn.end\r\n\r\n{}")
        else:
            for frame in SESSION["frames"]:
                await self._send(ws, frame)
        await ws.close()
        return ws

    async def _send(self, ws: web.WebSocketResponse, frame: dict) -> None:
        if frame["kind"] == "text":
            await ws.send_str(frame["data"])
            return
        headers = f"X-RequestId:{SESSION['request_id']}\r\n"
        if frame["kind"] == "audio":
            start, end = frame["range"]
            headers += "Content-Type:audio/mpeg\r\n"
            body = MP3[start:end]
        else:  # the empty binary frame that closes the audio stream
            body = b""
        headers += f"X-StreamId:{SESSION['stream_id']}\r\nPath:audio\r\n"
        encoded = headers.encode()
        await ws.send_bytes(len(encoded).to_bytes(2, "big") + encoded + body)


@pytest.fixture
def edge_service(monkeypatch):
    services = []

    def start(*behaviours: str) -> FakeEdgeService:
        service = FakeEdgeService(list(behaviours)).__enter__()
        services.append(service)
        monkeypatch.setattr(edge_tts.communicate, "WSS_URL", service.url)
        return service

    yield start
    for service in services:
        service.__exit__(None, None, None)


def make_provider(sleeps: list[float] | None = None, *, attempts: int = 4, attempt_timeout_s: float = 20.0) -> EdgeProvider:
    return EdgeProvider(
        retry=RetryPolicy(attempts=attempts, base_delay_s=0.01, factor=2.0, max_delay_s=0.1),
        sleep=(sleeps.append if sleeps is not None else (lambda _s: None)),
        rng=random.Random(7),
        connect_timeout_s=5,
        receive_timeout_s=5,
        attempt_timeout_s=attempt_timeout_s,
    )


def test_word_boundaries_from_service_messages_become_srt_cues(edge_service, tmp_path):
    service = edge_service("ok")
    provider = make_provider()
    result = provider.synthesize(SESSION["text"], tmp_path / "v.wav", voice="ro-RO-EmilNeural", prosody=Prosody())

    # what the library sent: word boundaries on, our voice and prosody in the SSML
    config, ssml = service.requests[0]
    assert '"wordBoundaryEnabled":"true"' in config
    assert "ro-RO, EmilNeural" in ssml and "rate='+0%'" in ssml

    expected = []
    for frame in SESSION["frames"]:
        if "Path:audio.metadata" in frame.get("data", ""):
            data = json.loads(frame["data"].split("\r\n\r\n", 1)[1])["Metadata"][0]["Data"]
            expected.append((data["text"]["Text"], data["Offset"] / 1e7, (data["Offset"] + data["Duration"]) / 1e7))
    assert [(w.word, w.start, w.end) for w in result.words] == [(t, pytest.approx(s, abs=1e-3), pytest.approx(e, abs=1e-3)) for t, s, e in expected]
    assert result.timings_estimated is False

    cues = build_caption_cues(result.words, max_words=3)
    srt = to_srt(cues)
    # first cue opens on the first word's offset (1,000,000 ticks lead-in = 0.100 s)
    first_word = expected[0]
    assert srt.startswith(f"1\n00:00:00,{round(first_word[1] * 1000):03d} --> ")
    assert " ".join(c.text for c in cues) == " ".join(t for t, _, _ in expected)
    for cue in cues:
        assert cue.start == pytest.approx(cue.words[0].start)
        assert cue.end >= cue.words[-1].end - 1e-9

    # the MP3 became a WAV whose duration is measured from the audio
    assert (tmp_path / "v.wav").read_bytes()[:4] == b"RIFF"
    assert 2.8 < wav_duration(tmp_path / "v.wav") < 3.3


def test_audio_without_boundaries_gets_estimated_timings(edge_service, tmp_path):
    edge_service("no_boundaries")
    result = make_provider().synthesize(SESSION["text"], tmp_path / "v.wav", voice="ro-RO-EmilNeural", prosody=Prosody())
    assert result.timings_estimated is True
    assert [w.word for w in result.words] == ["Căști", "wireless", "Sony", "Preț", "o", "mie", "de", "lei"]
    # the recorded boundaries are the truth the estimate should come close to
    truth = [json.loads(f["data"].split("\r\n\r\n", 1)[1])["Metadata"][0]["Data"]["Offset"] / 1e7
             for f in SESSION["frames"] if "Path:audio.metadata" in f.get("data", "")]  # fmt: skip
    close = [abs(w.start - t) <= 0.15 for w, t in zip(result.words, truth)]
    assert sum(close) >= 0.8 * len(truth)


def test_403_handshake_is_retried_with_backoff_then_succeeds(edge_service, tmp_path):
    # edge-tts retries a 403 once itself (after fixing clock skew); two 403s make one failed attempt
    service = edge_service("403", "403", "503", "ok")
    sleeps: list[float] = []
    provider = make_provider(sleeps)
    result = provider.synthesize(SESSION["text"], tmp_path / "v.wav", voice="ro-RO-EmilNeural", prosody=Prosody())
    assert service.connections == ["403", "403", "503", "ok"]
    assert provider.attempt_log == ["attempt 1: HTTP 403", "attempt 2: HTTP 503"]
    assert len(sleeps) == 2 and sleeps[1] >= sleeps[0]  # exponential: delay n in [d/2, d], d doubling
    assert 0.005 <= sleeps[0] <= 0.01 and 0.01 <= sleeps[1] <= 0.02
    assert len(result.words) == 8


def test_edge_alone_fails_with_a_clear_error_after_its_retries(edge_service, tmp_path):
    service = edge_service("no_audio", "503", "no_audio", "stall")
    sleeps: list[float] = []
    # The stalled attempt waits this out; it is generous so that the answering ones never hit it on a loaded machine.
    provider = make_provider(sleeps, attempts=4, attempt_timeout_s=5.0)
    settings = BatchSettings(tts_provider="edge")
    with pytest.raises(TransientError) as caught:
        synthesize_voiceover(
            SESSION["text"], tmp_path / "v.wav", settings, product_id="SKU-42",
            providers={"edge": provider, "espeak": EspeakProvider()},
        )  # fmt: skip
    message = str(caught.value)
    assert "product SKU-42" in message and "ro-RO-EmilNeural" in message
    assert "after 4 attempts; last error: timed out" in message
    assert "(attempts: no audio received; HTTP 503; no audio received; timed out)" in message
    assert service.connections == ["no_audio", "503", "no_audio", "stall"]
    assert provider.attempt_log == [
        "attempt 1: no audio received",
        "attempt 2: HTTP 503",
        "attempt 3: no audio received",
        "attempt 4: timed out",
    ]
    # three waits between four attempts, each at least as long as the one before
    assert len(sleeps) == 3 and sleeps == sorted(sleeps)
    assert sleeps[2] >= 2 * 0.01  # base 0.01 s doubling: third wait is in [0.02, 0.04]
    assert not (tmp_path / "v.wav").exists()


def test_auto_uses_edge_when_it_answers(edge_service, tmp_path):
    edge_service("ok")
    settings = BatchSettings(tts_provider="auto")
    voiceover = synthesize_voiceover(
        SESSION["text"], tmp_path / "v.wav", settings, product_id="p1",
        providers={"edge": make_provider(), "espeak": EspeakProvider()}, cache_dir=tmp_path / "cache",
    )  # fmt: skip
    assert voiceover.provider == "edge" and voiceover.fallback_reason is None
    assert voiceover.timings_estimated is False and len(voiceover.words) == 8


def test_boundaries_become_seconds_and_punctuation_is_skipped():
    from batch_video.tts.edge import words_from_boundaries

    words = words_from_boundaries([
        {"type": "WordBoundary", "offset": 1_000_000, "duration": 2_500_000, "text": "Bună"},
        {"type": "WordBoundary", "offset": 3_750_000, "duration": 500_000, "text": "?"},
        {"type": "WordBoundary", "offset": 12_345_678, "duration": 4_000_000, "text": "ziua"},
    ])  # fmt: skip
    assert [(w.word, w.start, w.end) for w in words] == [("Bună", 0.1, 0.35), ("ziua", 1.235, 1.635)]


def test_retry_reason_recognises_the_library_failures():
    import aiohttp
    from aiohttp.client_reqrep import RequestInfo
    from multidict import CIMultiDict, CIMultiDictProxy
    from yarl import URL

    info = RequestInfo(URL("wss://x"), "GET", CIMultiDictProxy(CIMultiDict()), URL("wss://x"))
    assert retry_reason(edge_tts.exceptions.NoAudioReceived("x")) == "no audio received"
    assert retry_reason(aiohttp.WSServerHandshakeError(info, (), status=403)) == "HTTP 403"
    assert retry_reason(aiohttp.WSServerHandshakeError(info, (), status=503)) == "HTTP 503"
    assert retry_reason(aiohttp.WSServerHandshakeError(info, (), status=400)) is None
    assert retry_reason(asyncio.TimeoutError()) == "timed out"
    assert retry_reason(ValueError("bad")) is None


def test_voice_typo_is_a_config_error_naming_the_near_miss(tmp_path):
    provider = EdgeProvider(live_voices=lambda: (_ for _ in ()).throw(OSError("offline")))
    with pytest.raises(ConfigError) as caught:
        provider.validate("ro-RO-EmilNeurl", Prosody())
    assert "ro-RO-EmilNeural" in str(caught.value) and caught.value.field == "voice"
    with pytest.raises(ConfigError):
        provider.validate("Emil", Prosody())
    provider.validate("ro-RO-AlinaNeural", Prosody())
    # offline, a well-formed voice that is not in the shipped list is allowed through
    provider.validate("ja-JP-NanamiNeural", Prosody())
    # with the live list, it is checked strictly
    strict = EdgeProvider(live_voices=lambda: ["ro-RO-EmilNeural"], voice_list_cache=tmp_path / "voices.json")
    with pytest.raises(ConfigError):
        strict.validate("ja-JP-NanamiNeural", Prosody())
    assert json.loads((tmp_path / "voices.json").read_text())["voices"] == ["ro-RO-EmilNeural"]


def test_bad_prosody_is_a_config_error_naming_the_setting():
    with pytest.raises(ConfigError) as caught:
        EdgeProvider(live_voices=None).validate("ro-RO-EmilNeural", Prosody(rate="fast"))
    assert caught.value.field == "tts_rate"
