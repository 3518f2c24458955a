"""Analysis: prompts, reading labels from reports, records and runs, evaluation, fidelity, figures."""
