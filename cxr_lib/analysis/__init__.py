"""Analysis: reading labels from reports, records and runs, evaluation, fidelity, the reader's comparisons, figures."""
