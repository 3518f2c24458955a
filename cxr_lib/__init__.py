"""cxr_lib: MedGemma as a second opinion on PneumoniaMNIST chest X-rays, with and without super-resolution.

Importing the package is cheap: torch, transformers and gradio are imported inside the modules
that need them.
"""

__version__ = "0.1.0"
