"""Models: the VLM and its backends, stand-ins, upscalers, the CNN and the high-resolution reader."""
