"""The LLM seam: base (the protocol every backend speaks, capabilities), registry (backends by name), fake and toy
(scripted replies for tests), probe (what a compatible server honours), localserver and llamaserve (the embedded
llama.cpp server and its sampler), jumpforward (what a grammar forces: pure, no llama_cpp needed)."""
