"""Corpus building for continual pretraining: cleaning, de-duplication, blocks."""
