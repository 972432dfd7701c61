"""Edge voices known to exist, for validating voice names without the network.

The live list (`edge_tts.list_voices()`) is used when reachable; this list
catches typos offline. It holds the Romanian voices and common neighbours.
"""

KNOWN_EDGE_VOICES: frozenset[str] = frozenset(
    {
        "ro-RO-AlinaNeural", "ro-RO-EmilNeural",
        "en-US-AriaNeural", "en-US-GuyNeural", "en-US-JennyNeural", "en-US-AnaNeural",
        "en-US-ChristopherNeural", "en-US-EricNeural", "en-US-MichelleNeural",
        "en-US-RogerNeural", "en-US-SteffanNeural", "en-US-AndrewNeural", "en-US-AvaNeural",
        "en-US-BrianNeural", "en-US-EmmaNeural", "en-US-AndrewMultilingualNeural",
        "en-US-AvaMultilingualNeural", "en-US-BrianMultilingualNeural", "en-US-EmmaMultilingualNeural",
        "en-GB-LibbyNeural", "en-GB-MaisieNeural", "en-GB-RyanNeural", "en-GB-SoniaNeural", "en-GB-ThomasNeural",
        "de-DE-AmalaNeural", "de-DE-ConradNeural", "de-DE-KatjaNeural", "de-DE-KillianNeural",
        "de-DE-FlorianMultilingualNeural", "de-DE-SeraphinaMultilingualNeural",
        "fr-FR-DeniseNeural", "fr-FR-EloiseNeural", "fr-FR-HenriNeural",
        "fr-FR-RemyMultilingualNeural", "fr-FR-VivienneMultilingualNeural",
        "it-IT-DiegoNeural", "it-IT-ElsaNeural", "it-IT-IsabellaNeural", "it-IT-GiuseppeMultilingualNeural",
        "es-ES-AlvaroNeural", "es-ES-ElviraNeural", "es-ES-XimenaNeural",
        "hu-HU-NoemiNeural", "hu-HU-TamasNeural",
        "bg-BG-BorislavNeural", "bg-BG-KalinaNeural",
        "pl-PL-MarekNeural", "pl-PL-ZofiaNeural",
        "uk-UA-OstapNeural", "uk-UA-PolinaNeural",
        "ru-RU-DmitryNeural", "ru-RU-SvetlanaNeural",
        "pt-BR-AntonioNeural", "pt-BR-FranciscaNeural", "pt-BR-ThalitaMultilingualNeural",
        "pt-PT-DuarteNeural", "pt-PT-RaquelNeural",
        "nl-NL-ColetteNeural", "nl-NL-FennaNeural", "nl-NL-MaartenNeural",
        "cs-CZ-AntoninNeural", "cs-CZ-VlastaNeural",
        "sk-SK-LukasNeural", "sk-SK-ViktoriaNeural",
        "el-GR-AthinaNeural", "el-GR-NestorasNeural",
        "tr-TR-AhmetNeural", "tr-TR-EmelNeural",
        "hr-HR-GabrijelaNeural", "hr-HR-SreckoNeural",
        "sr-RS-NicholasNeural", "sr-RS-SophieNeural",
    }
)  # fmt: skip
