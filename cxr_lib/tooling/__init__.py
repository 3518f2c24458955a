"""Project tooling: building the book and the benchmark."""
