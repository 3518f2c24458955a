"""The three models trained here: the CNN, the chest X-ray Swin2SR and the high-resolution reader; each selected on the val split."""
