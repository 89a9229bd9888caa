"""Voice: spoken answers transcribed on this machine (stt), how they were delivered (delivery), questions read aloud
(tts). Everything here is optional: without the `voice` extra the rest of the product works as before."""
