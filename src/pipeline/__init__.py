"""medadapt: adapting open LLMs to multilingual medical NLP, one file target at a time."""

__version__ = "0.1.0"
