"""File helpers: atomic writes, hashing and JSON reading shared by every stage."""
