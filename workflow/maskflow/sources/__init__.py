"""Data sources: where a dataset's raw files come from (synthetic, url, path, sklearn)."""
