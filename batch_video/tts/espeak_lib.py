"""libespeak-ng through ctypes: synthesis that also reports each word's audio position.

The CLI gives audio only; the library's synth callback also delivers
`espeakEVENT_WORD` events carrying the millisecond where each word starts.
Those serve as ground truth when checking the audio-only word-timing
estimator, and as exact timings where the library is loadable.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import multiprocessing
import threading
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

import numpy as np

AUDIO_OUTPUT_SYNCHRONOUS = 0x02
POS_CHARACTER = 1
ESPEAK_CHARS_UTF8 = 1
EVENT_LIST_TERMINATED = 0
EVENT_WORD = 1
EVENT_SAMPLERATE = 8
EE_OK = 0
# espeak_SetParameter ids
ESPEAK_RATE = 1
ESPEAK_VOLUME = 2
ESPEAK_PITCH = 3

_LIBRARY_NAMES = ("libespeak-ng.so.1", "libespeak-ng.so")
_lock = threading.Lock()  # the library keeps global state: one synthesis at a time


class _EventId(ctypes.Union):
    _fields_ = [("number", ctypes.c_int), ("name", ctypes.c_char_p), ("string", ctypes.c_char * 8)]


class _Event(ctypes.Structure):
    _fields_ = [
        ("type", ctypes.c_int),
        ("unique_identifier", ctypes.c_uint),
        ("text_position", ctypes.c_int),
        ("length", ctypes.c_int),
        ("audio_position", ctypes.c_int),
        ("sample", ctypes.c_int),
        ("user_data", ctypes.c_void_p),
        ("id", _EventId),
    ]


_SYNTH_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.POINTER(_Event))


@dataclass(frozen=True)
class LibraryWord:
    text: str
    char_start: int  # 0-based index into the synthesized text
    start_s: float  # where the library says the word starts in the audio


@dataclass(frozen=True)
class LibrarySynthesis:
    samples: np.ndarray  # int16 mono
    sample_rate: int
    words: tuple[LibraryWord, ...]


class EspeakLibraryUnavailable(RuntimeError):
    pass


_library: ctypes.CDLL | None = None
_sample_rate = 0


def _load() -> ctypes.CDLL:
    global _library, _sample_rate
    if _library is not None:
        return _library
    errors = []
    names = list(_LIBRARY_NAMES)
    found = ctypes.util.find_library("espeak-ng")
    if found:
        names.append(found)
    for name in names:
        try:
            lib = ctypes.CDLL(name)
            break
        except OSError as exc:
            errors.append(f"{name}: {exc}")
    else:
        raise EspeakLibraryUnavailable("libespeak-ng not found (" + "; ".join(errors) + ")")
    lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
    lib.espeak_Initialize.restype = ctypes.c_int
    lib.espeak_SetSynthCallback.argtypes = [_SYNTH_CALLBACK]
    lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
    lib.espeak_SetVoiceByName.restype = ctypes.c_int
    lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
    lib.espeak_SetParameter.restype = ctypes.c_int
    lib.espeak_Synth.argtypes = [
        ctypes.c_void_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int, ctypes.c_uint,
        ctypes.c_uint, ctypes.POINTER(ctypes.c_uint), ctypes.c_void_p,
    ]  # fmt: skip
    lib.espeak_Synth.restype = ctypes.c_int
    lib.espeak_Synchronize.restype = ctypes.c_int
    lib.espeak_Terminate.restype = ctypes.c_int
    _library = lib
    return lib


def _initialize(lib: ctypes.CDLL) -> int:
    global _sample_rate
    if _sample_rate:
        return _sample_rate
    rate = lib.espeak_Initialize(AUDIO_OUTPUT_SYNCHRONOUS, 0, None, 0)
    if rate <= 0:
        _sample_rate = 0
        raise EspeakLibraryUnavailable(f"espeak_Initialize failed ({rate})")
    _sample_rate = rate
    return rate


def available() -> bool:
    try:
        with _lock:
            _initialize(_load())
    except EspeakLibraryUnavailable:
        return False
    return True


def synthesize_with_word_events(
    text: str, *, voice: str = "ro", rate_wpm: int | None = None, pitch: int | None = None, volume: int | None = None
) -> LibrarySynthesis:
    """Speak `text` in-process; return the audio and each word's start time.

    The engine keeps state between utterances (its pitch-flutter phase runs
    on), so only the first synthesis in a process reproduces the `espeak-ng`
    command's audio sample for sample; `synthesize_fresh` gives that for any.
    """
    encoded = text.encode("utf-8") + b"\0"
    # espeak reports text positions in characters (1-based) of the UTF-8 input
    chunks: list[np.ndarray] = []
    events: list[tuple[int, int, int]] = []

    @_SYNTH_CALLBACK
    def on_audio(wav, count, event_ptr):  # type: ignore[no-untyped-def]
        if count > 0 and wav:
            chunks.append(np.ctypeslib.as_array(wav, shape=(count,)).copy())
        index = 0
        while True:
            event = event_ptr[index]
            if event.type == EVENT_LIST_TERMINATED:
                break
            if event.type == EVENT_WORD:
                events.append((event.text_position, event.length, event.audio_position))
            index += 1
        return 0

    with _lock:
        lib = _load()
        _initialize(lib)
        lib.espeak_SetSynthCallback(on_audio)
        if lib.espeak_SetVoiceByName(voice.encode()) != EE_OK:
            raise EspeakLibraryUnavailable(f"espeak-ng has no voice {voice!r}")
        if rate_wpm is not None:
            lib.espeak_SetParameter(ESPEAK_RATE, int(rate_wpm), 0)
        if pitch is not None:
            lib.espeak_SetParameter(ESPEAK_PITCH, int(pitch), 0)
        if volume is not None:
            lib.espeak_SetParameter(ESPEAK_VOLUME, int(volume), 0)
        buffer = ctypes.create_string_buffer(encoded)
        status = lib.espeak_Synth(buffer, len(encoded), 0, POS_CHARACTER, 0, ESPEAK_CHARS_UTF8, None, None)
        lib.espeak_Synchronize()
        if status != EE_OK:
            raise EspeakLibraryUnavailable(f"espeak_Synth failed ({status})")
        sample_rate = _sample_rate
    samples = np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.int16)
    words = []
    for position, length, audio_ms in events:
        start = max(position - 1, 0)
        words.append(LibraryWord(text=text[start : start + length], char_start=start, start_s=audio_ms / 1000.0))
    return LibrarySynthesis(samples=samples, sample_rate=sample_rate, words=tuple(words))


def _synthesize_kwargs(kwargs: dict) -> LibrarySynthesis:
    return synthesize_with_word_events(**kwargs)


def synthesize_fresh(texts: list[str], *, voice: str = "ro", workers: int = 2) -> list[LibrarySynthesis]:
    """Each text synthesized by a newly started process, as the `espeak-ng` command would."""
    # a fork server imports this module once and forks a clean child per text
    # (the server itself never synthesizes, so every child starts fresh)
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([__name__])
    with ProcessPoolExecutor(max_workers=workers, mp_context=context, max_tasks_per_child=1) as pool:
        return list(pool.map(_synthesize_kwargs, [{"text": text, "voice": voice} for text in texts]))
