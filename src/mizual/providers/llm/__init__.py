"""The chat-model clients (Gemini, OpenAI) that prompt enhancement and the offline editor's
LLM reader share."""
