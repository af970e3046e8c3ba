"""Dataset registry, native-format readers, and task prompts."""
