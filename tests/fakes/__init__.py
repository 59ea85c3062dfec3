"""Fake AI providers for tests and benchmarks: small FastAPI apps on loopback that speak the
real wire protocols of BFL (FLUX.1 Kontext), Gemini generateContent and OpenAI chat completions.

Each fake records what it was sent (`GET /_fake/requests`), forgets it on `POST /_fake/reset`,
and picks its behaviour from the API key it is called with, so one fake serves every scenario.
Run one on its own with `python -m tests.fakes.bfl --port 9100` (or gemini, openai).
"""
