"""Evaluation: generation backends, parsing, metrics, log-likelihood scoring, uncertainty."""
