"""Models: the VLM (prompts, thoughts, backends, stand-ins), the upscalers, the CNN and the high-resolution reader."""
