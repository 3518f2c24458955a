"""Data and cases: PneumoniaMNIST splits, real high-resolution references, images, committed artifacts."""
