"""The interactive app (Gradio) and the OpenAI-compatible server."""
