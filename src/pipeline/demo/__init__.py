"""The embedded demo: generated data in native formats."""
